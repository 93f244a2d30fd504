//! The example pack's Rust test for the thread pool's stage `execute`
//! (the thread pool takes Rust tests only: it has no case format).

use std::sync::Arc;

use hidden_thread_pool::{PATIENCE, Pool, Tally};

#[test]
fn a_hundred_small_jobs_all_run() {
    let pool = Pool::new(3);
    let tally = Tally::new();
    for _ in 0..100 {
        let tally = Arc::clone(&tally);
        pool.execute(move || tally.add());
    }
    if let Err(ran) = tally.wait_for(100, PATIENCE) {
        panic!(
            "100 jobs were queued on a pool of 3 workers, but only {ran} ran within {PATIENCE:?}"
        );
    }
    // Dropping the pool is the next stage's business.
    pool.leak();
}
