//! Stage 3: `spawn` and `JobHandle::join`.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hidden_thread_pool::{
    Gate, PATIENCE, Pool, Settled, Tally, expect_parallel, finishes_within, in_background_with_tid,
    occupy_workers, payload_text, quiet_intended_panics, settle, tid,
};
use learner::{JobHandle, JobPanicked};

/// Records the message of every panic on one of `threads` from now on,
/// instead of printing it: the test's own failure then comes first.
fn watch_for_panics(threads: &BTreeSet<i32>) -> Arc<Mutex<Vec<String>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (threads, record) = (threads.clone(), Arc::clone(&seen));
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if threads.contains(&tid()) {
            let message = payload_text(info.payload());
            record
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(message);
        } else {
            previous(info);
        }
    }));
    seen
}

/// Waits until every job spawned so far on `pool` (of `workers` workers)
/// has finished and sent its result: `workers` jobs that must all run at
/// once can only start when every worker is done with the jobs before them.
/// Then a `join` finds its result there, however it looks for it, and the
/// test's verdict does not depend on how fast the jobs ran.
fn wait_for_all_results(pool: &Pool, workers: usize, spawned: &str) {
    expect_parallel(
        pool,
        workers,
        &format!(
            "{spawned} (their handles not joined yet), then {workers} more jobs were queued. \
             A job's `send` must not wait for `join`: give the result channel one slot \
             (`sync_channel(1)`), so that the worker is free as soon as the job has run"
        ),
    );
}

/// Joins `handle` on a helper thread, failing the test if it takes longer
/// than `PATIENCE`.
fn join_within<T: Send + 'static>(handle: JobHandle<T>, what: &str) -> Result<T, JobPanicked> {
    finishes_within(PATIENCE, move || handle.join()).unwrap_or_else(|| {
        panic!("join() of {what} did not return within {PATIENCE:?}: the job's result never reached its handle")
    })
}

// Catches: join returning another job's value, or a made-up one (e.g. all results sent through one shared channel).
#[test]
fn join_returns_the_jobs_own_value() {
    let pool = Pool::new(4);
    let mut rng = fastrand::Rng::with_seed(7);
    let handles: Vec<(u64, JobHandle<(u64, String)>)> = (0..200u64)
        .map(|i| {
            let pause = rng.u64(0..200);
            let handle = pool.spawn(move || {
                std::thread::sleep(Duration::from_micros(pause));
                (i * i, format!("job {i}"))
            });
            (i, handle)
        })
        .collect();
    wait_for_all_results(&pool, 4, "200 jobs were spawned on ThreadPool::new(4)");
    // Join the even ones last and in reverse: results finish in any order.
    let (odd, even): (Vec<_>, Vec<_>) = handles.into_iter().partition(|(i, _)| i % 2 == 1);
    for (i, handle) in odd.into_iter().chain(even.into_iter().rev()) {
        let got = join_within(handle, &format!("the handle of job {i}"));
        assert_eq!(
            got,
            Ok((i * i, format!("job {i}"))),
            "pool.spawn(job {i}).join(): each handle must return its own job's value"
        );
    }
    let _ = finishes_within(PATIENCE, move || drop(pool.into_inner()));
}

// Catches: losing the panic's message (e.g. `panic_message(&payload)` on the Box itself, which always gives "<non-string panic payload>", or a fixed message).
#[test]
fn join_reports_the_panic_message() {
    quiet_intended_panics();
    let pool = Pool::new(2);
    let literal = pool.spawn(|| -> u32 { panic!("a literal message, on purpose") });
    let formatted = pool.spawn(|| -> u32 { panic!("formatted on purpose: {} + {} = {}", 2, 2, 5) });
    let other = pool.spawn(|| -> u32 { std::panic::panic_any(42_i32) });
    let fine = pool.spawn(|| 7_u32);
    wait_for_all_results(
        &pool,
        2,
        "4 jobs (3 of them panicking) were spawned on ThreadPool::new(2)",
    );
    for (handle, expected, what) in [
        (
            literal,
            "a literal message, on purpose",
            "panic!(\"a literal message, on purpose\")",
        ),
        (
            formatted,
            "formatted on purpose: 2 + 2 = 5",
            "panic!(\"formatted on purpose: {} + {} = {}\", 2, 2, 5)",
        ),
        (
            other,
            "<non-string panic payload>",
            "std::panic::panic_any(42_i32)",
        ),
    ] {
        let got = join_within(handle, &format!("a job that calls {what}"));
        assert_eq!(
            got,
            Err(JobPanicked {
                message: expected.to_string()
            }),
            "join() of a job that calls {what}: expected Err(JobPanicked {{ message: {expected:?} }}). \
             Catch the panic with catch_unwind and turn its payload into text with \
             panic_message(&*payload)"
        );
    }
    assert_eq!(
        join_within(fine, "a job returning 7 after three panicking jobs"),
        Ok(7),
        "a job spawned after three panicking jobs must still run and return its value"
    );
    let _ = finishes_within(PATIENCE, move || drop(pool.into_inner()));
}

// Catches: a join that does not wait for the job (e.g. `try_recv`, which finds nothing yet).
#[test]
fn join_waits_for_a_slow_job() {
    let pool = Pool::new(2);
    let gate = Gate::new();
    let job_gate = Arc::clone(&gate);
    let handle = pool.spawn(move || {
        job_gate.wait();
        "slow"
    });
    // The job cannot finish before the gate opens: join must be asleep.
    let (joiner, joined) = in_background_with_tid(move || handle.join());
    if settle(joiner, PATIENCE) == Settled::Gone {
        gate.open();
        let got = joined.recv_timeout(PATIENCE);
        panic!(
            "join() returned {got:?} while its job was still running (the job waits at a gate \
             that was still closed): join must block until the job's result arrives (a \
             blocking `recv`, not `try_recv`)"
        );
    }
    gate.open();
    let got = joined.recv_timeout(PATIENCE).unwrap_or_else(|_| {
        panic!(
            "join() of a job that had finished did not return within {PATIENCE:?}: the job's \
             result never reached its handle"
        )
    });
    assert_eq!(
        got,
        Ok("slow"),
        "join() of a job that waited and then returned \"slow\""
    );
    let _ = finishes_within(PATIENCE, move || drop(pool.into_inner()));
}

// Catches: `spawn` running the job right away on the caller's thread instead of queueing it.
#[test]
fn spawned_jobs_run_on_workers() {
    let pool = Pool::new(2);
    let caller = tid();
    let handles: Vec<_> = (0..20).map(|_| pool.spawn(tid)).collect();
    wait_for_all_results(&pool, 2, "20 jobs were spawned on ThreadPool::new(2)");
    for (i, handle) in handles.into_iter().enumerate() {
        let ran_on =
            join_within(handle, &format!("spawned job {i}")).expect("the job does not panic");
        assert_ne!(
            ran_on, caller,
            "spawned job {i} ran on the thread that called spawn: spawn must queue the job \
             for a worker (through execute) and return the handle at once"
        );
    }
    let _ = finishes_within(PATIENCE, move || drop(pool.into_inner()));
}

// Catches: `send(result).unwrap()` in the job, which panics when the handle was dropped and (before stage 4) kills the worker.
#[test]
fn dropping_a_handle_does_not_hurt_the_pool() {
    let pool = Pool::new(3);
    let workers = expect_parallel(&pool, 3, "3 jobs were queued on a fresh ThreadPool::new(3)");
    let panics = watch_for_panics(&workers);
    let gate = Gate::new();
    occupy_workers(&pool, 3, &gate);
    let done = Tally::new();
    for _ in 0..12 {
        let done = Arc::clone(&done);
        // The handle is dropped at once, long before the job runs.
        drop(pool.spawn(move || done.add()));
    }
    gate.open();
    if let Err(k) = done.wait_for(12, PATIENCE) {
        panic!(
            "12 jobs were spawned (their handles dropped at once) on ThreadPool::new(3), but only {k} ran within {PATIENCE:?}"
        );
    }
    // A job's panic is reported by the panic hook before `catch_unwind`
    // returns; 3 jobs that all run at once are behind every one of the 12.
    expect_parallel(
        &pool,
        3,
        "12 jobs whose handles had been dropped ran, then 3 jobs were queued",
    );
    let seen = panics
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    assert!(
        seen.is_empty(),
        "12 jobs were spawned on ThreadPool::new(3) and their handles dropped; after running, \
         they panicked on the workers {} times, first with: {:?}. Nobody waits for the result \
         of a dropped handle, so `send` returns an error: ignore it (`let _ = sender.send(..)`), \
         do not unwrap it",
        seen.len(),
        seen.first()
    );
    expect_parallel(
        &pool,
        3,
        "12 jobs whose handles had been dropped ran on ThreadPool::new(3), then 3 jobs were queued \
         (a job must not panic when nobody waits for its result: ignore the error of `send`)",
    );
    let _ = finishes_within(PATIENCE, move || drop(pool.into_inner()));
}
