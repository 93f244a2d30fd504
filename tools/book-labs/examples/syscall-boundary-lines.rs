//! The syscall boundary, lab 4: print 100,000 short lines with `println!`
//! (one `write` system call per line, since Rust's standard output is line
//! buffered) or, with the argument `buffered`, through a `BufWriter`.
// book-labs: run in tests

// ANCHOR: program
use std::io::{BufWriter, Write};

fn main() {
    let buffered = std::env::args().nth(1).as_deref() == Some("buffered");
    if buffered {
        let mut out = BufWriter::new(std::io::stdout().lock());
        for i in 0..100_000 {
            writeln!(out, "line {i}").unwrap();
        }
    } else {
        for i in 0..100_000 {
            println!("line {i}");
        }
    }
}
// ANCHOR_END: program
