//! Stage 3 visible tests: `spawn` returns a `JobHandle` whose `join` hands
//! back the job's value, or `JobPanicked` if the job panicked.
//!
//! Run only this stage with `cargo test -p thread-pool --test stage3_handles`.

use std::sync::mpsc;

use rstest::rstest;
use thread_pool::{JobPanicked, ThreadPool};

mod common;

use common::{Gate, INTENTIONAL, recv, shutdown, silence_intentional_panics, within};

#[test]
fn join_returns_the_value_the_job_computed() {
    let pool = ThreadPool::new(2);
    let handle = pool.spawn(|| 6 * 7);
    let value = within("join()", move || handle.join());
    assert_eq!(value, Ok(42), "spawn(|| 6 * 7).join()");
    shutdown(pool);
}

#[rstest]
#[case::one_worker(1)]
#[case::two_workers(2)]
#[case::four_workers(4)]
fn each_handle_gets_its_own_jobs_result(#[case] workers: usize) {
    let pool = ThreadPool::new(workers);
    let handles: Vec<_> = (0..100u64)
        .map(|n| pool.spawn(move || format!("{n} squared is {}", n * n)))
        .collect();
    let results = within("joining 100 handles", move || {
        handles
            .into_iter()
            .rev()
            .map(|handle| handle.join())
            .collect::<Vec<_>>()
    });
    for (n, result) in (0..100u64).rev().zip(results) {
        assert_eq!(
            result,
            Ok(format!("{n} squared is {}", n * n)),
            "the handle of job {n} (joined last to first) returned another job's result"
        );
    }
    assert_eq!(shutdown(pool), 100, "shutdown() after 100 spawned jobs");
}

#[test]
fn join_waits_for_a_job_that_is_still_running() {
    let pool = ThreadPool::new(1);
    let gate = Gate::default();
    let key = gate.key();
    let handle = pool.spawn(move || {
        let opened = key.wait();
        (opened, vec![1, 2, 3])
    });
    gate.wait_started(1);
    let joining = std::thread::spawn(move || within("join()", move || handle.join()));
    gate.open();
    let result = joining
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e));
    assert_eq!(
        result,
        Ok((true, vec![1, 2, 3])),
        "join() should block until the job returns, then give back its value"
    );
    shutdown(pool);
}

#[rstest]
#[case::formatted_message(|| -> u8 { panic!("{} {}", INTENTIONAL, 1 + 1) }, format!("{INTENTIONAL} 2"))]
#[case::static_message(|| -> u8 { panic!("intentional panic from a test job, static") }, format!("{INTENTIONAL}, static"))]
fn join_reports_a_panicking_job_with_its_message(#[case] job: fn() -> u8, #[case] message: String) {
    silence_intentional_panics();
    let pool = ThreadPool::new(1);
    let handle = pool.spawn(job);
    let result = within("join() on a job that panicked", move || handle.join());
    assert_eq!(
        result,
        Err(JobPanicked { message }),
        "join() on a panicking job should return Err(JobPanicked) carrying the panic's \
         message (catch_unwind, then panic_message)"
    );
    let after = pool.spawn(|| "still here");
    assert_eq!(
        within("join() on the next job", move || after.join()),
        Ok("still here"),
        "the one worker should still run jobs after a spawned job panicked"
    );
    shutdown(pool);
}

#[test]
fn a_job_still_runs_when_its_handle_is_dropped() {
    let pool = ThreadPool::new(1);
    let (tx, rx) = mpsc::channel();
    for n in 0..3 {
        let tx = tx.clone();
        drop(pool.spawn(move || {
            tx.send(n).unwrap();
            n
        }));
    }
    for n in 0..3 {
        assert_eq!(
            recv(&rx, "a job whose handle was dropped to run"),
            n,
            "jobs whose handles were dropped should still run, in order"
        );
    }
    let handle = pool.spawn(|| "the worker survived");
    assert_eq!(
        within("join()", move || handle.join()),
        Ok("the worker survived"),
        "sending a result nobody waits for must not panic or stop the worker"
    );
    assert_eq!(shutdown(pool), 4, "shutdown() after four spawned jobs");
}
