//! Stage 4: panicking jobs neither kill workers nor lose jobs.

use std::sync::Arc;

use hidden_thread_pool::{
    PATIENCE, Pool, Tally, expect_parallel, finishes_within, quiet_intended_panics,
};

/// Queues `n` jobs that panic (after counting themselves in `ran`).
fn queue_panicking_jobs(pool: &Pool, n: usize, ran: &Arc<Tally>) {
    for i in 0..n {
        let ran = Arc::clone(ran);
        pool.execute(move || {
            ran.add();
            panic!("panicking job {i} (the hidden tests panic on purpose)");
        });
    }
}

// Catches: a panicking job that kills its worker (no catch_unwind around the job in worker_loop), or a worker replaced by a new thread.
#[test]
fn workers_survive_panicking_jobs() {
    quiet_intended_panics();
    let pool = Pool::new(4);
    let before = expect_parallel(&pool, 4, "4 jobs were queued on a fresh ThreadPool::new(4)");
    let ran = Tally::new();
    queue_panicking_jobs(&pool, 8, &ran);
    if let Err(k) = ran.wait_for(8, PATIENCE) {
        panic!(
            "8 panicking jobs were queued on ThreadPool::new(4), but only {k} of them started \
             within {PATIENCE:?}: did the workers die with the first panics? A worker must run \
             each job inside catch_unwind and keep taking jobs"
        );
    }
    let after = expect_parallel(
        &pool,
        4,
        "8 jobs panicked on ThreadPool::new(4), then 4 jobs were queued (a worker whose job \
         panics must catch the panic with catch_unwind and keep taking jobs)",
    );
    assert_eq!(
        after, before,
        "after 8 panicking jobs, ThreadPool::new(4) ran jobs on other threads (ids {after:?}) \
         than before (ids {before:?}): a panicking job must not end its worker thread"
    );
    let _ = finishes_within(PATIENCE, move || drop(pool.into_inner()));
}

// Catches: a pool whose only worker dies with the first panicking job, so every later job is lost.
#[test]
fn jobs_after_a_panic_still_run() {
    quiet_intended_panics();
    let pool = Pool::new(1);
    let ran = Tally::new();
    let done = Tally::new();
    for round in 0..20 {
        queue_panicking_jobs(&pool, 1, &ran);
        for _ in 0..5 {
            let done = Arc::clone(&done);
            pool.execute(move || done.add());
        }
        if let Err(k) = done.wait_for(5 * (round + 1), PATIENCE) {
            panic!(
                "ThreadPool::new(1): after {} panicking jobs, only {k} of the {} ordinary jobs \
                 queued behind them ran within {PATIENCE:?}. Did the worker die with the panic?",
                round + 1,
                5 * (round + 1)
            );
        }
    }
    let _ = finishes_within(PATIENCE, move || drop(pool.into_inner()));
}

// Catches: counting only the jobs that returned normally in `completed` (a panicked job has finished too).
#[test]
fn completed_counts_panicked_jobs() {
    quiet_intended_panics();
    let pool = Pool::new(2);
    let ran = Tally::new();
    for _ in 0..5 {
        let ran = Arc::clone(&ran);
        pool.execute(move || ran.add());
    }
    queue_panicking_jobs(&pool, 7, &ran);
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let ran = Arc::clone(&ran);
            pool.spawn(move || -> () {
                ran.add();
                panic!("spawned job panicking on purpose");
            })
        })
        .collect();
    let pool = pool.into_inner();
    let count = finishes_within(PATIENCE, move || pool.shutdown()).unwrap_or_else(|| {
        panic!("shutdown() of ThreadPool::new(2) after 15 jobs (10 of them panicking) did not return within {PATIENCE:?}")
    });
    drop(handles);
    assert_eq!(
        ran.get(),
        15,
        "every one of the 15 queued jobs must have run when shutdown() returns"
    );
    assert_eq!(
        count, 15,
        "ThreadPool::new(2) ran 5 ordinary jobs, 7 panicking ones (execute) and 3 panicking \
         ones (spawn): shutdown() returned {count}, expected 15 (a job that panicked has \
         completed too: count it after catch_unwind returns, whatever it returned)"
    );
}
