//! Stage 1 visible tests: `ThreadPool::new` starts the workers and `execute`
//! hands them jobs through the shared queue.
//!
//! Run only this stage with `cargo test -p thread-pool --test stage1_execute`.
//! Shutdown is stage 2, so these tests never drop a pool: they leave it
//! running until the test program exits.

use std::collections::HashSet;
use std::sync::mpsc;
use std::thread;

use rstest::rstest;
use thread_pool::ThreadPool;

mod common;

use common::{Gate, leak, panic_of, prove_parallel, recv, recv_n};

#[test]
fn a_job_runs_on_a_worker_thread_not_the_caller() {
    let pool = ThreadPool::new(2);
    let (tx, rx) = mpsc::channel();
    pool.execute(move || {
        tx.send(thread::current().id()).unwrap();
    });
    let worker = recv(&rx, "the job to report which thread ran it");
    assert_ne!(
        worker,
        thread::current().id(),
        "the job ran on the thread that called execute(); it should run on one of the pool's workers"
    );
    leak(pool);
}

#[rstest]
#[case::one_worker(1)]
#[case::two_workers(2)]
#[case::four_workers(4)]
fn new_starts_the_requested_number_of_workers(#[case] workers: usize) {
    let pool = ThreadPool::new(workers);
    assert_eq!(
        pool.workers(),
        workers,
        "ThreadPool::new({workers}) should keep one JoinHandle per worker thread"
    );
    leak(pool);
}

#[test]
fn new_refuses_zero_workers() {
    panic_of("ThreadPool::new(0)", || ThreadPool::new(0));
}

#[rstest]
#[case::one_worker(1)]
#[case::two_workers(2)]
#[case::four_workers(4)]
fn every_job_runs_exactly_once(#[case] workers: usize) {
    const JOBS: usize = 200;
    let pool = ThreadPool::new(workers);
    let (tx, rx) = mpsc::channel();
    for job in 0..JOBS {
        let tx = tx.clone();
        pool.execute(move || tx.send((job, thread::current().id())).unwrap());
    }
    let reports = recv_n(&rx, JOBS, "jobs to report in");

    let mut seen: Vec<usize> = reports.iter().map(|&(job, _)| job).collect();
    seen.sort_unstable();
    let missing: Vec<usize> = (0..JOBS)
        .filter(|job| seen.binary_search(job).is_err())
        .collect();
    assert!(
        missing.is_empty(),
        "{JOBS} reports arrived, but jobs {missing:?} never ran (so others ran twice)"
    );

    let threads: HashSet<_> = reports.iter().map(|&(_, thread)| thread).collect();
    assert!(
        threads.len() <= workers,
        "a pool of {workers} ran jobs on {} different threads: it should reuse its \
         {workers} workers, not start a thread per job",
        threads.len()
    );
    assert!(
        !threads.contains(&thread::current().id()),
        "some jobs ran on the thread that called execute()"
    );
    leak(pool);
}

#[test]
fn one_worker_runs_jobs_in_the_order_they_were_queued() {
    let pool = ThreadPool::new(1);
    let (tx, rx) = mpsc::channel();
    for job in 0..50 {
        let tx = tx.clone();
        pool.execute(move || tx.send(job).unwrap());
    }
    let order = recv_n(&rx, 50, "jobs to report in");
    assert_eq!(
        order,
        (0..50).collect::<Vec<_>>(),
        "with one worker, jobs should run oldest first: the queue is first in, first out"
    );
    leak(pool);
}

#[test]
fn execute_returns_without_waiting_for_the_job() {
    let pool = ThreadPool::new(1);
    let gate = Gate::default();
    let key = gate.key();
    let (tx, rx) = mpsc::channel();
    pool.execute(move || tx.send(key.wait()).unwrap());
    // The job cannot finish before the gate opens, so getting here at all
    // means execute() only queued it.
    gate.open();
    assert!(
        recv(&rx, "the gated job to finish"),
        "the job gave up waiting at its gate: execute() ran the job itself and \
         returned only when it was done; it should queue the job and return at once"
    );
    leak(pool);
}

#[rstest]
#[case::two_workers(2)]
#[case::four_workers(4)]
fn n_workers_run_n_jobs_at_the_same_time(#[case] workers: usize) {
    let pool = ThreadPool::new(workers);
    prove_parallel(&pool, workers);
    leak(pool);
}
