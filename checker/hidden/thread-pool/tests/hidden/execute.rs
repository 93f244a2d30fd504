//! Stage 1: workers and `execute`.
//!
//! These tests never drop a pool on purpose (that is stage 2): a pool that
//! passed is leaked at the end with `Pool::leak`.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use hidden_thread_pool::{
    PATIENCE, Pool, Tally, expect_not_a_todo, expect_parallel, pin_to, tid, two_cpus,
};
use learner::ThreadPool;

// Catches: holding the queue's lock while the job runs (the pool then runs one job at a time).
#[test]
fn n_workers_run_n_jobs_at_once() {
    for workers in [2, 4] {
        let pool = Pool::new(workers);
        for round in 0..10 {
            let tids = expect_parallel(
                &pool,
                workers,
                &format!("round {round} on ThreadPool::new({workers}): {workers} jobs were queued"),
            );
            assert_eq!(
                tids.len(),
                workers,
                "ThreadPool::new({workers}): {workers} jobs that all ran at the same time \
                 should have run on {workers} different threads, but ran on {}",
                tids.len()
            );
        }
        pool.leak();
    }
}

// Catches: running the job right inside `execute`, on the caller's thread.
#[test]
fn jobs_run_on_worker_threads_not_the_caller() {
    let pool = Pool::new(3);
    let caller = tid();
    let (sender, receiver) = mpsc::channel();
    for _ in 0..100 {
        let sender = sender.clone();
        pool.execute(move || {
            let _ = sender.send(tid());
        });
    }
    for i in 0..100 {
        let ran_on = receiver.recv_timeout(PATIENCE).unwrap_or_else(|_| {
            panic!(
                "100 jobs were queued with execute, but only {i} of them ran within \
                 {PATIENCE:?}: do the workers take jobs from the queue, and does execute \
                 wake one up?"
            )
        });
        assert_ne!(
            ran_on, caller,
            "job {i} ran on the thread that called execute: execute must only queue the \
             job, a worker thread runs it"
        );
    }
    pool.leak();
}

// Catches: starting a new thread for every job instead of reusing the pool's workers.
#[test]
fn the_same_workers_run_every_job() {
    let pool = Pool::new(3);
    let tids = Arc::new(Mutex::new(BTreeSet::new()));
    let done = Tally::new();
    for _ in 0..300 {
        let (tids, done) = (Arc::clone(&tids), Arc::clone(&done));
        pool.execute(move || {
            tids.lock().unwrap().insert(tid());
            done.add();
        });
    }
    if let Err(k) = done.wait_for(300, PATIENCE) {
        panic!("300 jobs were queued on ThreadPool::new(3), but only {k} ran within {PATIENCE:?}");
    }
    let tids = tids.lock().unwrap().clone();
    assert!(
        tids.len() <= 3,
        "300 jobs on ThreadPool::new(3) ran on {} different threads; a pool of 3 workers \
         must run every job on one of its 3 threads (start them once in `new`, not one \
         per job)",
        tids.len()
    );
    pool.leak();
}

// Catches: losing a job, or running one twice, when workers race for the queue (e.g. checking `is_empty` and popping under two different locks).
#[test]
fn every_job_runs_exactly_once() {
    const JOBS: usize = 3000;
    let pool = Pool::new(4);
    let runs: Arc<Vec<AtomicUsize>> = Arc::new((0..JOBS).map(|_| AtomicUsize::new(0)).collect());
    let done = Tally::new();
    for i in 0..JOBS {
        let (runs, done) = (Arc::clone(&runs), Arc::clone(&done));
        pool.execute(move || {
            runs[i].fetch_add(1, Ordering::SeqCst);
            done.add();
        });
    }
    if let Err(k) = done.wait_for(JOBS, PATIENCE) {
        let missing: Vec<usize> = (0..JOBS)
            .filter(|&i| runs[i].load(Ordering::SeqCst) == 0)
            .take(10)
            .collect();
        panic!(
            "{JOBS} jobs were queued on ThreadPool::new(4), but only {k} ran within \
             {PATIENCE:?} (never ran: {missing:?}...). Did a worker die or stop taking jobs?"
        );
    }
    for (i, count) in runs.iter().enumerate() {
        let count = count.load(Ordering::SeqCst);
        assert_eq!(
            count, 1,
            "job {i} of {JOBS} ran {count} times; every job must run exactly once"
        );
    }
    pool.leak();
}

// Catches: taking the newest job first (`pop_back`, or `push_front` in execute) instead of the oldest.
#[test]
fn jobs_start_in_submission_order() {
    let pool = Pool::new(1);
    let order = Arc::new(Mutex::new(Vec::new()));
    let done = Tally::new();
    for i in 0..100 {
        let (order, done) = (Arc::clone(&order), Arc::clone(&done));
        pool.execute(move || {
            order.lock().unwrap().push(i);
            done.add();
        });
    }
    if let Err(k) = done.wait_for(100, PATIENCE) {
        panic!("100 jobs were queued on ThreadPool::new(1), but only {k} ran within {PATIENCE:?}");
    }
    let order = order.lock().unwrap().clone();
    let expected: Vec<usize> = (0..100).collect();
    assert_eq!(
        order, expected,
        "a pool with one worker must run jobs in the order they were queued (oldest first)"
    );
    pool.leak();
}

// Catches: a lost wake-up: the worker checks the queue under one lock and waits under another (or `execute` notifies before it pushes), so a job queued in between sleeps in the queue.
#[test]
fn a_sleeping_worker_wakes_for_every_new_job() {
    // As many rounds as fit in the time (a lost wake-up is a narrow race),
    // and at least a few hundred on a slow machine.
    const BUDGET: Duration = Duration::from_millis(500);
    const MIN_ROUNDS: usize = 300;
    let pool = Pool::new(1);
    let finished = Arc::new(AtomicUsize::new(0));
    let mut rng = fastrand::Rng::with_seed(0x5eed);
    // The race needs the worker and this thread on two different CPUs; the
    // worker pins itself (its affinity lasts as long as the thread).
    let _pinned = two_cpus().map(|(mine, workers)| {
        let (sender, receiver) = mpsc::channel();
        pool.execute(move || {
            std::mem::forget(pin_to(workers));
            let _ = sender.send(());
        });
        if receiver.recv_timeout(PATIENCE).is_err() {
            panic!(
                "one job was queued on a fresh ThreadPool::new(1) and did not run within \
                 {PATIENCE:?}: does the worker take jobs from the queue, and does execute \
                 wake it up?"
            );
        }
        pin_to(mine)
    });
    let started = Instant::now();
    let mut round = 0;
    while round < MIN_ROUNDS || started.elapsed() < BUDGET {
        round += 1;
        let flag = Arc::clone(&finished);
        pool.execute(move || flag.store(round, Ordering::Release));
        // Wait without sleeping, so that the next job is queued just as the
        // worker is on its way back to sleep (sometimes a little later).
        let deadline = Instant::now() + PATIENCE;
        let mut spins = 0_u32;
        while finished.load(Ordering::Acquire) != round {
            if Instant::now() >= deadline {
                panic!(
                    "round {round}: one job was queued on an idle ThreadPool::new(1) and did \
                     not run within {PATIENCE:?}. The worker missed the wake-up: it must \
                     check the queue and call `not_empty.wait` under the same lock, in a \
                     `while` loop, and execute must push the job before it notifies"
                );
            }
            spins += 1;
            if spins < 2000 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        for _ in 0..rng.u32(0..3) {
            std::hint::spin_loop();
        }
        if round % 500 == 0 {
            // Let the worker fall properly asleep now and then.
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    pool.leak();
}

// Catches: `if` instead of `while` around `wait`: a worker woken for a job another worker already took finds the queue empty and dies or leaves the loop.
#[test]
fn idle_workers_survive_bursts_of_jobs() {
    let pool = Pool::new(3);
    let done = Tally::new();
    let mut queued = 0;
    for round in 0..400 {
        for _ in 0..1 + round % 5 {
            let done = Arc::clone(&done);
            pool.execute(move || done.add());
            queued += 1;
        }
        if let Err(k) = done.wait_for(queued, PATIENCE) {
            panic!(
                "round {round} of bursts of jobs on ThreadPool::new(3): only {k} of {queued} \
                 jobs ran within {PATIENCE:?}"
            );
        }
        if round % 50 == 49 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    expect_parallel(
        &pool,
        3,
        "after 400 bursts of 1 to 5 jobs on ThreadPool::new(3), 3 jobs were queued",
    );
    pool.leak();
}

// Catches: accepting zero workers, which gives a pool that never runs anything.
#[test]
fn new_with_zero_workers_panics() {
    let result = std::panic::catch_unwind(|| ThreadPool::new(0));
    match result {
        Ok(pool) => {
            std::mem::forget(pool);
            panic!(
                "ThreadPool::new(0) returned a pool; it must panic (a pool without workers \
                 never runs a job)"
            );
        }
        Err(payload) => expect_not_a_todo(&*payload, "ThreadPool::new(0)"),
    }
}

/// CPU time (user + system) the thread `tid` of this process has used so far,
/// from `/proc/self/task/<tid>/stat`.
fn cpu_time_of(tid: i32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat"))
        .unwrap_or_else(|e| panic!("cannot read /proc/self/task/{tid}/stat: {e}"));
    // The fields after the command name (which may hold spaces), from field 3.
    let fields: Vec<&str> = stat[stat.rfind(')').expect("a stat line") + 1..]
        .split_whitespace()
        .collect();
    let ticks = |i: usize| -> u64 { fields[i].parse().expect("a number of clock ticks") };
    // SAFETY: sysconf only reads a configuration value.
    let per_second = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).unwrap_or(100);
    // utime and stime are fields 14 and 15.
    Duration::from_millis((ticks(11) + ticks(12)) * 1000 / per_second)
}

// Catches: idle workers that spin (poll the queue in a loop, yield or re-lock it) instead of sleeping on a condition variable until a job comes.
#[test]
fn idle_workers_sleep() {
    let pool = Pool::new(2);
    let workers = expect_parallel(&pool, 2, "ThreadPool::new(2): 2 jobs were queued");
    // The jobs are done; give the workers a moment to find the queue empty.
    std::thread::sleep(Duration::from_millis(50));
    let before: Vec<Duration> = workers.iter().map(|&t| cpu_time_of(t)).collect();
    std::thread::sleep(Duration::from_millis(500));
    let used: Duration = workers
        .iter()
        .zip(&before)
        .map(|(&t, &b)| cpu_time_of(t).saturating_sub(b))
        .sum();
    assert!(
        used <= Duration::from_millis(50),
        "the 2 workers of an idle ThreadPool::new(2) used {used:?} of CPU time in 500 ms with \
         no job to run: a worker that finds the queue empty must sleep (wait on a condition \
         variable) until execute queues a job, not keep checking the queue"
    );
    pool.leak();
}
