//! Lab: which allocations reach the kernel. Allocates a small and a big
//! buffer with markers on standard error, to be read under
//! `strace -e trace=brk,mmap,munmap,write`.
// book-labs: run in tests

// ANCHOR: main
use std::hint::black_box;

fn main() {
    eprintln!("-- small");
    let small = black_box(vec![1u8; 100]);
    eprintln!("-- big");
    let big = black_box(vec![1u8; 1 << 20]); // 1 MiB
    eprintln!("-- drop big");
    drop(big);
    eprintln!("-- done");
    drop(small);
}
// ANCHOR_END: main
