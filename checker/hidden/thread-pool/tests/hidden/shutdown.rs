//! Stage 2: graceful shutdown, with `shutdown()` and on drop.

use std::sync::Arc;
use std::time::Duration;

use hidden_thread_pool::{
    Gate, PATIENCE, Pool, Settled, Tally, expect_parallel, finishes_within, in_background_with_tid,
    not_asleep, occupy_workers, settle, threads_still_alive,
};

// Catches: a shutdown that drops the jobs still queued (workers that leave as soon as `closed` is set, or a queue cleared on close).
#[test]
fn drop_runs_every_queued_job() {
    let pool = Pool::new(2);
    let gate = Gate::new();
    occupy_workers(&pool, 2, &gate);
    let done = Tally::new();
    for _ in 0..100 {
        let done = Arc::clone(&done);
        pool.execute(move || done.add());
    }
    let pool = pool.into_inner();
    let (dropper, dropped) = in_background_with_tid(move || drop(pool));
    // Once the dropping thread is asleep (waiting for a worker), the pool is
    // closed, with 100 jobs queued behind two busy workers.
    if settle(dropper, PATIENCE) == Settled::Gone {
        gate.open();
        panic!(
            "dropping a pool with 2 busy workers and 100 queued jobs returned while the \
             workers were still busy: drop must join every worker"
        );
    }
    gate.open();
    if dropped.recv_timeout(PATIENCE).is_err() {
        panic!(
            "dropping a pool (2 workers, 100 queued jobs) did not return within {PATIENCE:?} \
             after its running jobs could finish: are all workers woken and joined?"
        );
    }
    let ran = done.get();
    assert_eq!(
        ran, 100,
        "100 jobs were queued behind 2 busy workers and then the pool was dropped: when \
         drop returned, {ran} of them had run. Drop must let the workers finish every \
         queued job (a worker leaves only when the pool is closed AND the queue is empty)"
    );
}

// Catches: not joining the workers on drop (dropping their JoinHandles detaches the threads, which are still running jobs).
#[test]
fn drop_joins_every_worker() {
    for round in 0..3 {
        let pool = Pool::new(3);
        let workers = expect_parallel(&pool, 3, "3 jobs were queued on a fresh ThreadPool::new(3)");
        let done = Tally::new();
        let gate = Gate::new();
        for _ in 0..6 {
            let (done, gate) = (Arc::clone(&done), Arc::clone(&gate));
            pool.execute(move || {
                gate.wait();
                done.add();
            });
        }
        let pool = pool.into_inner();
        let (dropper, dropped) = in_background_with_tid(move || drop(pool));
        // The jobs wait at the gate: a drop that joins is asleep now.
        let early = settle(dropper, PATIENCE) == Settled::Gone;
        let ran = done.get();
        gate.open();
        assert!(
            !early,
            "round {round}: dropping a ThreadPool::new(3) returned while its 6 queued jobs \
             could not finish yet (they wait at a gate; {ran} had run): drop must join every \
             worker, and a worker finishes the queue before it returns"
        );
        if dropped.recv_timeout(PATIENCE).is_err() {
            panic!(
                "round {round}: dropping a ThreadPool::new(3) with 6 queued jobs did not return \
                 within {PATIENCE:?} after the jobs could finish"
            );
        }
        let ran = done.get();
        assert_eq!(
            ran, 6,
            "round {round}: 6 jobs were queued on ThreadPool::new(3) and the pool \
             was dropped; when drop returned only {ran} had finished. Drop must join every \
             worker, and a worker finishes the queue before it returns"
        );
        let alive = threads_still_alive(&workers, Duration::from_millis(500));
        assert!(
            alive.is_empty(),
            "round {round}: after dropping ThreadPool::new(3), {} of its 3 worker threads \
             (thread ids {alive:?}) still exist: drop must join every worker thread",
            alive.len()
        );
    }
}

// Catches: returning the wrong count from `shutdown` (the queued jobs, or `completed` read before the workers were joined).
#[test]
fn shutdown_returns_the_number_of_completed_jobs() {
    let empty = Pool::new(2).into_inner();
    let count = finishes_within(PATIENCE, move || empty.shutdown()).unwrap_or_else(|| {
        panic!("shutdown() of an idle ThreadPool::new(2) did not return within {PATIENCE:?}")
    });
    assert_eq!(
        count, 0,
        "shutdown() of a pool that never ran a job returned {count}, expected 0"
    );

    let pool = Pool::new(3);
    let gate = Gate::new();
    let done = Tally::new();
    for _ in 0..40 {
        let done = Arc::clone(&done);
        pool.execute(move || done.add());
    }
    if let Err(k) = done.wait_for(40, PATIENCE) {
        panic!("40 jobs were queued on ThreadPool::new(3), but only {k} ran within {PATIENCE:?}");
    }
    occupy_workers(&pool, 3, &gate);
    for _ in 0..17 {
        let done = Arc::clone(&done);
        pool.execute(move || {
            std::thread::sleep(Duration::from_millis(1));
            done.add();
        });
    }
    let pool = pool.into_inner();
    let (shutter, shut) = in_background_with_tid(move || pool.shutdown());
    // Asleep: shutdown() is waiting for the busy workers.
    let _ = settle(shutter, PATIENCE);
    gate.open();
    let count = shut.recv_timeout(PATIENCE).unwrap_or_else(|_| {
        panic!(
            "shutdown() of ThreadPool::new(3) with 20 jobs left did not return within {PATIENCE:?}"
        )
    });
    assert_eq!(
        count, 60,
        "ThreadPool::new(3) ran 40 jobs, then 3 more were running and 17 queued when \
         shutdown() was called: shutdown() returned {count}, expected 60 (every job that \
         ran in the pool's lifetime, counted after joining the workers)"
    );
}

// Catches: waking only one worker at shutdown (`notify_one` instead of `notify_all`): the others sleep on and joining them hangs.
#[test]
fn drop_wakes_every_sleeping_worker() {
    for round in 0..5 {
        let pool = Pool::new(4);
        let workers = expect_parallel(&pool, 4, "4 jobs were queued on a fresh ThreadPool::new(4)");
        // Now every worker goes back to sleep on the empty queue.
        let _ = not_asleep(&workers, PATIENCE);
        let pool = pool.into_inner();
        if finishes_within(PATIENCE, move || drop(pool)).is_none() {
            panic!(
                "round {round}: dropping ThreadPool::new(4) while all 4 workers were asleep \
                 on an empty queue did not return within {PATIENCE:?}. Shutdown must wake \
                 every worker (notify_all), and a woken worker must see `closed` and return"
            );
        }
    }
}

// Catches: races between shutdown and workers that are starting, finishing a job or falling asleep (e.g. a worker that tests `closed` before looking at the queue, or waits without re-checking).
#[test]
fn shutdown_right_after_execute_loses_nothing() {
    // First without a race: both workers asleep on an empty queue, then
    // shutdown() must wake them all.
    let pool = Pool::new(2);
    let workers = expect_parallel(&pool, 2, "2 jobs were queued on a fresh ThreadPool::new(2)");
    let _ = not_asleep(&workers, PATIENCE);
    let pool = pool.into_inner();
    if finishes_within(PATIENCE, move || pool.shutdown()).is_none() {
        panic!(
            "shutdown() of ThreadPool::new(2) with both workers asleep on the empty queue did \
             not return within {PATIENCE:?}: shutdown must wake every worker (notify_all)"
        );
    }
    // First without a race: shutdown() must not return while a queued job
    // cannot finish yet (it waits at a gate).
    let pool = Pool::new(2);
    let gate = Gate::new();
    let done = Tally::new();
    {
        let (gate, done) = (Arc::clone(&gate), Arc::clone(&done));
        pool.execute(move || {
            gate.wait();
            done.add();
        });
    }
    let pool = pool.into_inner();
    let (shutter, shut) = in_background_with_tid(move || pool.shutdown());
    let early = settle(shutter, PATIENCE) == Settled::Gone;
    gate.open();
    let count = shut.recv_timeout(PATIENCE).unwrap_or_else(|_| {
        panic!(
            "shutdown() of ThreadPool::new(2) with one job left did not return within \
             {PATIENCE:?} after the job could finish"
        )
    });
    assert!(
        !early,
        "shutdown() of ThreadPool::new(2) returned {count} while its one queued job could not \
         finish yet (it waited at a gate): shutdown must join every worker, and a worker \
         finishes the queue before it returns"
    );
    assert_eq!(
        count, 1,
        "shutdown() of ThreadPool::new(2) while its one job waited at a gate returned {count}, \
         expected 1: read `completed` after the last worker has been joined, not when the \
         queue is closed (the job was still running then)"
    );
    for round in 0..150 {
        let pool = Pool::new(2);
        let done = Tally::new();
        let jobs = round % 6;
        for _ in 0..jobs {
            let done = Arc::clone(&done);
            pool.execute(move || done.add());
        }
        let pool = pool.into_inner();
        let count = finishes_within(PATIENCE, move || pool.shutdown()).unwrap_or_else(|| {
            panic!(
                "round {round}: shutdown() right after queueing {jobs} jobs on \
                 ThreadPool::new(2) did not return within {PATIENCE:?}: a worker missed \
                 the wake-up at shutdown"
            )
        });
        let ran = done.get();
        assert_eq!(
            (count, ran),
            (jobs, jobs),
            "round {round}: shutdown() right after queueing {jobs} jobs on ThreadPool::new(2): \
             (returned count, jobs that ran) = ({count}, {ran}), expected ({jobs}, {jobs})"
        );
    }
}
