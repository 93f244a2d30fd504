//! Stage 4 visible tests: a job queued with `execute` that panics must not
//! take its worker down with it, and still counts as completed.
//!
//! Run only this stage with `cargo test -p thread-pool --test stage4_panics`.

use std::sync::mpsc;

use rstest::rstest;
use thread_pool::{JobPanicked, ThreadPool};

mod common;

use common::{INTENTIONAL, prove_parallel, recv_n, shutdown, silence_intentional_panics, within};

#[rstest]
#[case::one_worker(1)]
#[case::two_workers(2)]
#[case::four_workers(4)]
fn jobs_after_panicking_ones_still_run(#[case] workers: usize) {
    silence_intentional_panics();
    let pool = ThreadPool::new(workers);
    for n in 0..2 * workers {
        pool.execute(move || panic!("{INTENTIONAL} #{n}"));
    }
    let (tx, rx) = mpsc::channel();
    for n in 0..20 {
        let tx = tx.clone();
        pool.execute(move || tx.send(n).unwrap());
    }
    recv_n(
        &rx,
        20,
        &format!(
            "jobs queued after {} panicking ones (a panic that escapes a job ends its \
             worker thread: catch it in the worker loop)",
            2 * workers
        ),
    );
    shutdown(pool);
}

#[rstest]
#[case::two_workers(2)]
#[case::four_workers(4)]
fn every_worker_is_still_alive_after_panics(#[case] workers: usize) {
    silence_intentional_panics();
    let pool = ThreadPool::new(workers);
    for n in 0..4 * workers {
        pool.execute(move || panic!("{INTENTIONAL} #{n}"));
    }
    // Only all `workers` threads together can get past this barrier.
    prove_parallel(&pool, workers);
    shutdown(pool);
}

#[test]
fn panicked_jobs_count_as_completed() {
    silence_intentional_panics();
    let pool = ThreadPool::new(2);
    for n in 0..3 {
        pool.execute(move || panic!("{INTENTIONAL} #{n}"));
    }
    for _ in 0..5 {
        pool.execute(|| {});
    }
    assert_eq!(
        shutdown(pool),
        8,
        "shutdown() should count all 8 jobs, the 3 that panicked included"
    );
}

#[test]
fn a_panic_without_a_message_is_reported_as_such() {
    silence_intentional_panics();
    let pool = ThreadPool::new(1);
    let handle = pool.spawn(|| -> u8 { std::panic::panic_any(42_i32) });
    assert_eq!(
        within("join()", move || handle.join()),
        Err(JobPanicked {
            message: "<non-string panic payload>".to_string()
        }),
        "a job that panics with a non-string payload (panic_any(42))"
    );
    shutdown(pool);
}
