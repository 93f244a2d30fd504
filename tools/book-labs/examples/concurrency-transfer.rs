//! Lock ordering: two threads transfer money in opposite directions, each
//! locking both accounts, and never deadlock because both lock the lower id
//! first.
// book-labs: run in tests

// ANCHOR: transfer
use std::sync::{Arc, Mutex};
use std::thread;

struct Account {
    id: u32,
    balance: Mutex<i64>,
}

fn transfer(from: &Account, to: &Account, amount: i64) {
    // Always lock the lower id first, whatever the direction.
    let from_first = from.id < to.id;
    let (first, second) = if from_first { (from, to) } else { (to, from) };
    let mut first_balance = first.balance.lock().unwrap();
    let mut second_balance = second.balance.lock().unwrap();
    // Money moves from `first` to `second`, or back when `to` came first.
    let delta = if from_first { amount } else { -amount };
    *first_balance -= delta;
    *second_balance += delta;
}

fn account(id: u32) -> Arc<Account> {
    Arc::new(Account {
        id,
        balance: Mutex::new(1_000),
    })
}

fn main() {
    let (x, y) = (account(1), account(2));
    let one_way = {
        let (x, y) = (Arc::clone(&x), Arc::clone(&y));
        thread::spawn(move || {
            for _ in 0..10_000 {
                transfer(&x, &y, 1);
            }
        })
    };
    let other_way = {
        let (x, y) = (Arc::clone(&x), Arc::clone(&y));
        thread::spawn(move || {
            for _ in 0..10_000 {
                transfer(&y, &x, 1);
            }
        })
    };
    one_way.join().unwrap();
    other_way.join().unwrap();
    let total = *x.balance.lock().unwrap() + *y.balance.lock().unwrap();
    assert_eq!(total, 2_000);
    println!("20,000 transfers, no deadlock, total still {total}");
}
// ANCHOR_END: transfer
