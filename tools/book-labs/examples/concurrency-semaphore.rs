//! A counting semaphore built from a mutex and a condition variable; six
//! threads share two permits, and at most two are ever inside at once.
// book-labs: run in tests

// ANCHOR: semaphore
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

struct Semaphore {
    permits: Mutex<usize>,
    available: Condvar,
}

impl Semaphore {
    fn new(permits: usize) -> Semaphore {
        Semaphore {
            permits: Mutex::new(permits),
            available: Condvar::new(),
        }
    }

    fn wait(&self) {
        let mut permits = self.permits.lock().unwrap();
        while *permits == 0 {
            permits = self.available.wait(permits).unwrap();
        }
        *permits -= 1;
    }

    fn post(&self) {
        *self.permits.lock().unwrap() += 1;
        self.available.notify_one(); // one permit: one waiter can use it
    }
}

fn main() {
    // At most two of the six threads are ever "inside" at once.
    let sem = Arc::new(Semaphore::new(2));
    // (inside now, most ever inside at once)
    let inside = Arc::new(Mutex::new((0usize, 0usize)));
    let threads: Vec<_> = (0..6)
        .map(|_| {
            let sem = Arc::clone(&sem);
            let inside = Arc::clone(&inside);
            thread::spawn(move || {
                sem.wait();
                {
                    let mut counts = inside.lock().unwrap();
                    counts.0 += 1;
                    counts.1 = counts.1.max(counts.0);
                }
                thread::sleep(Duration::from_millis(5));
                inside.lock().unwrap().0 -= 1;
                sem.post();
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let most = inside.lock().unwrap().1;
    assert!(most <= 2);
    println!("at most {most} threads were inside at once");
}
// ANCHOR_END: semaphore
