//! A one-shot gate from a mutex and a condition variable: threads wait at it
//! until it opens, whether they arrive before or after it does.
// book-labs: run in tests

// ANCHOR: gate
use std::sync::{Arc, Condvar, Mutex};
use std::thread;

struct Gate {
    open: Mutex<bool>, // the predicate, protected by the mutex
    opened: Condvar,   // where waiters sleep until it may have changed
}

impl Gate {
    fn wait(&self) {
        let mut open = self.open.lock().unwrap();
        while !*open {
            // Releases the lock while asleep, holds it again on return.
            open = self.opened.wait(open).unwrap();
        }
    }

    fn open(&self) {
        // Change the state under the lock...
        *self.open.lock().unwrap() = true;
        // ...and wake every waiter: each one must see it.
        self.opened.notify_all();
    }
}

fn main() {
    let gate = Arc::new(Gate {
        open: Mutex::new(false),
        opened: Condvar::new(),
    });
    let waiters: Vec<_> = (0..3)
        .map(|i| {
            let gate = Arc::clone(&gate);
            thread::spawn(move || {
                gate.wait();
                i
            })
        })
        .collect();
    gate.open();
    let sum: i32 = waiters.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(sum, 3);
    println!("all three waiters got through the gate");
}
// ANCHOR_END: gate
