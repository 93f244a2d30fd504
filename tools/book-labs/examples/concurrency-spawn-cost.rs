//! What `thread::spawn` costs when the thread does nothing: spawn and join
//! an empty thread a thousand times and print the average.
// book-labs: run in tests

// ANCHOR: spawn_cost
use std::time::Instant;

fn main() {
    let threads = 1_000;
    let started = Instant::now();
    for _ in 0..threads {
        std::thread::spawn(|| {}).join().unwrap();
    }
    let each = started.elapsed() / threads;
    println!("spawn + join of an empty thread: {each:?}");
}
// ANCHOR_END: spawn_cost
