//! Lab: lost updates. Several threads add 1 to one shared counter, three
//! ways: a separate atomic load and store (a race, though not undefined
//! behaviour), an atomic `fetch_add`, and a `Mutex<u64>`. Prints the count
//! each way should reach, the count it did reach, and how many increments
//! vanished.
//!
//! Run it with `cargo run --release -p thread-pool --example lost_update`.
//! It does not use any of the exercise's blanks.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const THREADS: usize = 4;
const PER_THREAD: u64 = 10_000_000;

// ANCHOR: race
/// Read, add, write back: two atomic steps, not one. Another thread's
/// increment that lands between the load and the store is overwritten.
/// (`black_box` stops the compiler from fusing the steps into one
/// instruction, which would only narrow the window, not close it.)
fn racy_increment(counter: &AtomicU64) {
    let seen = counter.load(Ordering::Relaxed);
    counter.store(black_box(seen) + 1, Ordering::Relaxed);
}

/// One indivisible read-modify-write: the CPU's `lock xadd` on x86-64.
fn atomic_increment(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Only one thread at a time can hold the lock, so the read and the write
/// cannot be separated by another thread's increment.
fn locked_increment(counter: &Mutex<u64>) {
    *counter.lock().unwrap() += 1;
}

/// Starts `THREADS` threads together and has each call `increment`
/// `PER_THREAD` times on the same counter.
fn hammer<C: Sync>(counter: &C, increment: fn(&C)) -> Duration {
    let start_line = Barrier::new(THREADS);
    let started = Instant::now();
    thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(|| {
                start_line.wait();
                for _ in 0..PER_THREAD {
                    increment(counter);
                }
            });
        }
    });
    started.elapsed()
}
// ANCHOR_END: race

fn report(name: &str, actual: u64, took: Duration) {
    let expected = THREADS as u64 * PER_THREAD;
    let lost = expected - actual;
    println!(
        "{name:<22} expected {expected:>9}  got {actual:>9}  lost {lost:>9} ({:>5.1}%)  in {:>7.1} ms",
        100.0 * lost as f64 / expected as f64,
        took.as_secs_f64() * 1e3
    );
}

fn main() {
    println!(
        "{THREADS} threads x {PER_THREAD} increments of one shared counter \
         ({} CPUs available)\n",
        thread::available_parallelism().map_or(1, |n| n.get())
    );

    let counter = AtomicU64::new(0);
    let took = hammer(&counter, racy_increment);
    report("load, then store", counter.into_inner(), took);

    let counter = AtomicU64::new(0);
    let took = hammer(&counter, atomic_increment);
    report("fetch_add", counter.into_inner(), took);

    let counter = Mutex::new(0);
    let took = hammer(&counter, locked_increment);
    report("Mutex<u64>", counter.into_inner().unwrap(), took);
}
