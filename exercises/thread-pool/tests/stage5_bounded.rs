//! Stage 5 visible tests: `with_capacity` bounds the queue; `execute` waits
//! for room (back-pressure) and `try_execute` hands the job back instead.
//!
//! Run only this stage with `cargo test -p thread-pool --test stage5_bounded`.

use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use rstest::rstest;
use thread_pool::ThreadPool;

mod common;

use common::{occupy_every_worker, panic_of, prove_parallel, recv, recv_n, shutdown, within};

#[rstest]
#[case::one_worker_room_for_one(1, 1)]
#[case::one_worker_room_for_three(1, 3)]
#[case::four_workers_room_for_two(4, 2)]
fn try_execute_accepts_exactly_capacity_waiting_jobs(
    #[case] workers: usize,
    #[case] capacity: usize,
) {
    let pool = ThreadPool::with_capacity(workers, capacity);
    let gate = occupy_every_worker(&pool, workers);
    let mut accepted = 0;
    while accepted <= capacity && pool.try_execute(|| {}).is_ok() {
        accepted += 1;
    }
    assert_eq!(
        accepted, capacity,
        "with every worker busy, try_execute() should accept {capacity} jobs (the capacity) \
         and refuse the next one"
    );
    assert_eq!(pool.queued(), capacity, "queued() once the queue is full");
    gate.open();
    assert_eq!(
        shutdown(pool),
        workers + capacity,
        "shutdown() should count the {workers} gated jobs and the {capacity} accepted ones"
    );
}

#[test]
fn try_execute_hands_a_refused_job_back_untouched() {
    let pool = ThreadPool::with_capacity(1, 1);
    let gate = occupy_every_worker(&pool, 1);
    let (tx, rx) = mpsc::channel();
    let first = tx.clone();
    assert!(
        pool.try_execute(move || first.send("queued").unwrap())
            .is_ok(),
        "the queue is empty, so try_execute() should accept one job"
    );
    let refused = pool
        .try_execute(move || tx.send("refused").unwrap())
        .expect_err("the queue is full, so try_execute() should return Err(job)");
    refused();
    assert_eq!(
        recv(&rx, "the refused job, run by the test itself"),
        "refused",
        "the job in Err(job) should be the very closure that was refused"
    );
    gate.open();
    assert_eq!(
        recv(&rx, "the queued job to run"),
        "queued",
        "the accepted job should run once the worker is free"
    );
    assert_eq!(
        shutdown(pool),
        2,
        "shutdown() counts jobs the pool ran: the gated one and the accepted one, \
         not the one handed back"
    );
}

#[test]
fn execute_waits_for_room_in_a_full_queue() {
    let pool = Arc::new(ThreadPool::with_capacity(1, 1));
    let gate = occupy_every_worker(&pool, 1);
    let (ran_tx, ran_rx) = mpsc::channel();
    let early = ran_tx.clone();
    pool.execute(move || early.send("first").unwrap());

    let (returned_tx, returned_rx) = mpsc::channel();
    let submitter = {
        let pool = Arc::clone(&pool);
        thread::spawn(move || {
            pool.execute(move || ran_tx.send("second").unwrap());
            returned_tx.send(()).unwrap();
        })
    };
    // A correct pool never returns here, so this bounded wait can only let a
    // wrong pool pass (if the submitter thread were slower than this), never
    // fail a right one.
    match returned_rx.recv_timeout(Duration::from_millis(200)) {
        Err(RecvTimeoutError::Timeout) => {}
        other => panic!(
            "execute() on a full queue returned ({other:?}) while the queue was still full: \
             it should wait on `not_full` until a worker takes a job"
        ),
    }
    assert_eq!(
        pool.queued(),
        1,
        "a blocked execute() must not push past the capacity of 1"
    );

    gate.open();
    recv(
        &returned_rx,
        "the blocked execute() to return once a worker freed a slot (does a worker \
         signal `not_full` when it takes a job?)",
    );
    submitter.join().unwrap();
    assert_eq!(
        recv_n(&ran_rx, 2, "both queued jobs to run"),
        ["first", "second"],
        "the jobs should run in the order they were queued"
    );
    let pool = Arc::try_unwrap(pool).expect("the submitter thread has ended");
    assert_eq!(shutdown(pool), 3, "shutdown() after three jobs");
}

#[test]
fn many_submitters_share_a_tiny_queue_without_losing_jobs() {
    const SUBMITTERS: usize = 4;
    const EACH: usize = 100;
    let pool = Arc::new(ThreadPool::with_capacity(2, 1));
    let (tx, rx) = mpsc::channel();
    let submitters: Vec<_> = (0..SUBMITTERS)
        .map(|s| {
            let (pool, tx) = (Arc::clone(&pool), tx.clone());
            thread::spawn(move || {
                for n in 0..EACH {
                    let tx = tx.clone();
                    pool.execute(move || tx.send((s, n)).unwrap());
                }
            })
        })
        .collect();
    let mut ran = recv_n(&rx, SUBMITTERS * EACH, "jobs from four submitter threads");
    within("the submitter threads to finish", move || {
        for submitter in submitters {
            submitter.join().unwrap();
        }
    });
    ran.sort_unstable();
    let expected: Vec<_> = (0..SUBMITTERS)
        .flat_map(|s| (0..EACH).map(move |n| (s, n)))
        .collect();
    assert!(
        ran == expected,
        "every job from every submitter should run exactly once"
    );
    let pool = Arc::try_unwrap(pool).expect("the submitter threads have ended");
    assert_eq!(shutdown(pool), SUBMITTERS * EACH, "shutdown() count");
}

#[test]
fn an_unbounded_pool_never_refuses_try_execute() {
    let pool = ThreadPool::new(1);
    let gate = occupy_every_worker(&pool, 1);
    for n in 0..100 {
        assert!(
            pool.try_execute(|| {}).is_ok(),
            "try_execute() on a pool made with new() (no capacity) refused job #{n}"
        );
    }
    assert_eq!(pool.queued(), 100, "queued() after 100 accepted jobs");
    gate.open();
    assert_eq!(shutdown(pool), 101, "shutdown() after 1 + 100 jobs");
}

#[test]
fn a_bounded_pool_still_runs_its_workers_in_parallel() {
    let pool = Arc::new(ThreadPool::with_capacity(4, 1));
    let submitting = Arc::clone(&pool);
    within(
        "queueing 4 jobs, one at a time, into a pool with room for 1 (does a worker \
         signal `not_full` when it takes a job?)",
        move || prove_parallel(&submitting, 4),
    );
    let pool = Arc::try_unwrap(pool).expect("the submitting thread has ended");
    shutdown(pool);
}

#[rstest]
#[case::no_workers(0, 4)]
#[case::no_room(2, 0)]
fn with_capacity_refuses_zero(#[case] workers: usize, #[case] capacity: usize) {
    panic_of(
        &format!("ThreadPool::with_capacity({workers}, {capacity})"),
        || ThreadPool::with_capacity(workers, capacity),
    );
}
