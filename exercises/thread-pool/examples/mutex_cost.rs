//! Lab: what a lock costs. Times a lock/unlock of `std::sync::Mutex` with one
//! thread (uncontended) and with several threads fighting over the same
//! mutex (contended), next to an atomic `fetch_add` on one shared counter.
//! Prints nanoseconds per operation, measured on this machine.
//!
//! Run it with `cargo run --release -p thread-pool --example mutex_cost`.
//! It does not use any of the exercise's blanks.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Barrier, Mutex};
use std::thread;
use std::time::Instant;

/// Operations per measurement, split evenly among the threads.
const OPS: u64 = 10_000_000;

// ANCHOR: measure
/// Splits `OPS` calls of `op` among `threads` threads started together and
/// returns the wall-clock nanoseconds per operation, from the first thread's
/// start to the last one's finish: with several threads, the cost per
/// operation of the machine as a whole.
fn ns_per_op<S: Sync>(threads: u64, shared: &S, op: fn(&S)) -> f64 {
    let per_thread = OPS / threads;
    let start_line = Barrier::new(threads as usize);
    let spans: Vec<(Instant, Instant)> = thread::scope(|scope| {
        let runners: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    start_line.wait();
                    let started = Instant::now();
                    for _ in 0..per_thread {
                        op(shared);
                    }
                    (started, Instant::now())
                })
            })
            .collect();
        runners.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let first_start = spans.iter().map(|&(start, _)| start).min().unwrap();
    let last_end = spans.iter().map(|&(_, end)| end).max().unwrap();
    (last_end - first_start).as_nanos() as f64 / (per_thread * threads) as f64
}

fn lock_unlock(counter: &Mutex<u64>) {
    *black_box(counter).lock().unwrap() += 1;
}

fn atomic_add(counter: &AtomicU64) {
    black_box(counter).fetch_add(1, Ordering::Relaxed);
}
// ANCHOR_END: measure

/// The lowest of three measurements: the run least disturbed by other work.
fn best_of_three(measure: impl Fn() -> f64) -> f64 {
    (0..3).map(|_| measure()).fold(f64::INFINITY, f64::min)
}

fn main() {
    let cpus = thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let mut thread_counts = vec![1, 2, 4];
    if !thread_counts.contains(&cpus) {
        thread_counts.push(cpus);
        thread_counts.sort_unstable();
    }
    println!("{OPS} operations per measurement, best of 3, {cpus} CPUs available\n");
    println!("threads   Mutex lock+unlock   AtomicU64::fetch_add");
    for &threads in &thread_counts {
        let mutex = best_of_three(|| ns_per_op(threads, &Mutex::new(0), lock_unlock));
        let atomic = best_of_three(|| ns_per_op(threads, &AtomicU64::new(0), atomic_add));
        let label = if threads == 1 {
            "1 (uncontended)".to_string()
        } else {
            threads.to_string()
        };
        println!("{label:<15} {mutex:>8.1} ns/op   {atomic:>8.1} ns/op");
    }
    println!(
        "\nWith several threads, ns/op is wall time divided by all the threads' operations \
         together: the cost per operation of the machine as a whole."
    );
}
