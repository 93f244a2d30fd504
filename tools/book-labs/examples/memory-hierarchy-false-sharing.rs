//! False sharing: two threads bump their own counters, in one line or two.
//!
//! Run it with
//! `cargo run --release -p book-labs --example memory-hierarchy-false-sharing`;
//! the optional argument is the number of increments per thread (default
//! 50 million).

// ANCHOR: main
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::Instant;

// Two counters next to each other: 16 bytes, almost surely one cache line.
struct Adjacent {
    a: AtomicU64,
    b: AtomicU64,
}

// A counter that always starts a fresh 64-byte line and fills it.
#[repr(align(64))]
struct Padded(AtomicU64);

struct Separate {
    a: Padded,
    b: Padded,
}

/// Two threads, each adding 1 to its own counter `iters` times; seconds taken.
fn race(a: &AtomicU64, b: &AtomicU64, iters: u64) -> f64 {
    let start = Instant::now();
    thread::scope(|s| {
        s.spawn(|| {
            for _ in 0..iters {
                a.fetch_add(1, Ordering::Relaxed);
            }
        });
        s.spawn(|| {
            for _ in 0..iters {
                b.fetch_add(1, Ordering::Relaxed);
            }
        });
    });
    start.elapsed().as_secs_f64()
}

fn main() {
    let iters: u64 = std::env::args()
        .nth(1)
        .map_or(50_000_000, |a| a.parse().expect("a count"));
    let adjacent = Adjacent {
        a: AtomicU64::new(0),
        b: AtomicU64::new(0),
    };
    let separate = Separate {
        a: Padded(AtomicU64::new(0)),
        b: Padded(AtomicU64::new(0)),
    };
    println!("adjacent at {:p} and {:p}", &adjacent.a, &adjacent.b);
    println!("padded   at {:p} and {:p}", &separate.a.0, &separate.b.0);
    for round in 1..=3 {
        let shared_line = race(&adjacent.a, &adjacent.b, iters);
        let own_lines = race(&separate.a.0, &separate.b.0, iters);
        let ratio = shared_line / own_lines;
        println!(
            "round {round}: adjacent {shared_line:.2} s, \
             padded {own_lines:.2} s, adjacent/padded = {ratio:.1}"
        );
    }
}
// ANCHOR_END: main
