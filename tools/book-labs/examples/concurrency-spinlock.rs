//! A spinlock built from one `AtomicBool` and compare-and-swap, protecting a
//! counter whose increment is (on purpose) a separate load and store.
// book-labs: run in tests

// ANCHOR: spinlock
use std::sync::Arc;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::thread;

struct SpinLock {
    locked: AtomicBool,
}

impl SpinLock {
    fn lock(&self) {
        // One attempt: swap false for true. Acquire: what the previous
        // holder wrote before unlocking is visible once we succeed.
        let try_lock = || {
            self.locked
                .compare_exchange_weak(false, true, Acquire, Relaxed)
                .is_ok()
        };
        while !try_lock() {
            // Someone holds it: wait until it looks free, then try again.
            while self.locked.load(Relaxed) {
                std::hint::spin_loop();
            }
        }
    }

    fn unlock(&self) {
        // Release: publish our writes to the next thread that locks.
        self.locked.store(false, Release);
    }
}

fn main() {
    let lock = Arc::new(SpinLock {
        locked: AtomicBool::new(false),
    });
    let counter = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let lock = Arc::clone(&lock);
            let counter = Arc::clone(&counter);
            thread::spawn(move || {
                for _ in 0..10_000 {
                    lock.lock();
                    // A racy load-then-store, made safe by the lock.
                    let value = counter.load(Relaxed);
                    counter.store(value + 1, Relaxed);
                    lock.unlock();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let total = counter.load(Relaxed);
    assert_eq!(total, 40_000);
    println!("4 threads x 10,000 increments under the lock: {total}");
}
// ANCHOR_END: spinlock
