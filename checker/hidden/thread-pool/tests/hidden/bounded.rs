//! Stage 5: a bounded queue with back-pressure (`with_capacity`, `try_execute`).
//!
//! Calls that may block run on helper threads, so that a call that blocks
//! when it should not is a clear failure instead of a time-out.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use std::collections::BTreeSet;
use std::sync::mpsc;

use hidden_thread_pool::{
    Gate, PATIENCE, Pool, Settled, Tally, activity, expect_not_a_todo, finishes_within, freeze,
    in_background, in_background_with_tid, occupy_workers, settle, tid, wait_until_still,
};
use learner::ThreadPool;

/// Calls `pool.execute` with a job that counts itself in `done`, on a helper
/// thread; true if it returned within `patience`.
fn execute_within(pool: &Arc<Pool>, done: &Arc<Tally>, patience: Duration) -> bool {
    let (pool, done) = (Arc::clone(pool), Arc::clone(done));
    finishes_within(patience, move || pool.execute(move || done.add())).is_some()
}

/// `ThreadPool::with_capacity(workers, capacity)` with every worker busy at
/// `gate` and `capacity` jobs (counted in `done`) waiting in the queue.
fn full_pool(workers: usize, capacity: usize, gate: &Arc<Gate>, done: &Arc<Tally>) -> Arc<Pool> {
    let pool = Arc::new(Pool::with_capacity(workers, capacity));
    occupy_workers(&pool, workers, gate);
    for k in 0..capacity {
        assert!(
            execute_within(&pool, done, PATIENCE),
            "ThreadPool::with_capacity({workers}, {capacity}) with its {workers} workers busy \
             and {k} jobs waiting: execute blocked, but the queue has room for {capacity} \
             waiting jobs (running jobs do not count against the capacity)"
        );
    }
    pool
}

/// Drops the test's last reference to `pool` (which shuts it down) on a
/// helper thread, without waiting forever.
fn finish(pool: Arc<Pool>) {
    let _ = finishes_within(PATIENCE, move || drop(pool));
}

// Catches: an `execute` that ignores the capacity (the queue grows without bound).
#[test]
fn execute_blocks_while_the_queue_is_full() {
    let gate = Gate::new();
    let done = Tally::new();
    let pool = full_pool(1, 2, &gate, &done);
    let (submitter, third) = {
        let (pool, done) = (Arc::clone(&pool), Arc::clone(&done));
        in_background_with_tid(move || pool.execute(move || done.add()))
    };
    // Either execute returns (wrong: there is no room) or it goes to sleep.
    let returned_early = settle(submitter, PATIENCE) == Settled::Gone;
    let queued = pool.queued();
    gate.open();
    assert!(
        !returned_early,
        "ThreadPool::with_capacity(1, 2) with its worker busy and 2 jobs waiting: execute \
         returned (queued() is now {queued}), but it must wait until a worker takes a job \
         and makes room"
    );
    if third.recv_timeout(PATIENCE).is_err() {
        panic!(
            "ThreadPool::with_capacity(1, 2): an execute blocked on the full queue did not \
             return within {PATIENCE:?} after the worker started taking jobs again: the \
             worker must notify `not_full` when it takes a job"
        );
    }
    if let Err(k) = done.wait_for(3, PATIENCE) {
        panic!(
            "ThreadPool::with_capacity(1, 2): only {k} of 3 queued jobs ran within {PATIENCE:?}"
        );
    }
    finish(pool);
}

// Catches: a capacity off by one (`>` for `>=`), or running jobs counted against the capacity.
#[test]
fn capacity_is_exact() {
    for capacity in [1, 2, 5] {
        let gate = Gate::new();
        let pool = Arc::new(Pool::with_capacity(2, capacity));
        occupy_workers(&pool, 2, &gate);
        let mut accepted = 0;
        for _ in 0..capacity + 2 {
            let p = Arc::clone(&pool);
            let result = finishes_within(PATIENCE, move || p.try_execute(|| {}).is_ok())
                .unwrap_or_else(|| {
                    panic!("try_execute on ThreadPool::with_capacity(2, {capacity}) blocked for {PATIENCE:?}: it must never wait")
                });
            if result {
                accepted += 1;
            }
        }
        let queued = pool.queued();
        gate.open();
        assert_eq!(
            (accepted, queued),
            (capacity, capacity),
            "ThreadPool::with_capacity(2, {capacity}) with both workers busy: of {} calls to \
             try_execute, {accepted} were accepted and queued() = {queued}; expected exactly \
             {capacity} (the capacity counts waiting jobs, not running ones)",
            capacity + 2
        );
        finish(pool);
    }
}

// Catches: a `try_execute` that waits for room like `execute` instead of giving up at once.
#[test]
fn try_execute_never_blocks() {
    let gate = Gate::new();
    let done = Tally::new();
    let pool = full_pool(2, 3, &gate, &done);
    for i in 0..20 {
        let p = Arc::clone(&pool);
        let started = Instant::now();
        let result = finishes_within(PATIENCE, move || p.try_execute(|| {}).is_ok());
        let took = started.elapsed();
        match result {
            None => {
                panic!(
                    "call {i}: try_execute on a full ThreadPool::with_capacity(2, 3) blocked for \
                     {PATIENCE:?}; when there is no room it must return Err(job) at once"
                )
            }
            Some(accepted) => assert!(
                !accepted,
                "call {i}: try_execute on a full ThreadPool::with_capacity(2, 3) returned Ok \
                 after {took:?}; the queue has no room, so it must return Err(job)"
            ),
        }
    }
    gate.open();
    finish(pool);
}

// Catches: `try_execute` queueing past the capacity, or dropping the job instead of handing it back.
#[test]
fn try_execute_gives_the_job_back_when_full() {
    let gate = Gate::new();
    let done = Tally::new();
    let pool = full_pool(1, 2, &gate, &done);
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&runs);
    let result = pool.try_execute(move || {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    let queued = pool.queued();
    let Err(job) = result else {
        gate.open();
        panic!(
            "try_execute on ThreadPool::with_capacity(1, 2) with its worker busy and 2 jobs \
             waiting returned Ok (queued() is now {queued}); a full queue must refuse the job \
             with Err(job)"
        );
    };
    assert_eq!(
        queued, 2,
        "try_execute refused a job on a full queue of capacity 2, but queued() is {queued}: \
         a refused job must not be queued"
    );
    job();
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "the job returned in Err(job) by try_execute must be the job that was passed in"
    );
    gate.open();
    if let Err(k) = done.wait_for(2, PATIENCE) {
        panic!("only {k} of the 2 queued jobs ran within {PATIENCE:?} after the worker was free");
    }
    // Now there is room again.
    let p = Arc::clone(&pool);
    let later = Arc::clone(&runs);
    let accepted = finishes_within(PATIENCE, move || {
        p.try_execute(move || {
            later.fetch_add(1, Ordering::SeqCst);
        })
        .is_ok()
    });
    assert_eq!(
        accepted,
        Some(true),
        "try_execute on ThreadPool::with_capacity(1, 2) with an empty queue must return Ok(())"
    );
    finish(pool);
    assert_eq!(
        runs.load(Ordering::SeqCst),
        2,
        "the job accepted by try_execute must run on the pool"
    );
}

// Catches: back-pressure by spinning (a loop that re-locks, yields or polls until there is room) instead of sleeping on `not_full`.
#[test]
fn a_blocked_submitter_sleeps() {
    let gate = Gate::new();
    let done = Tally::new();
    let pool = full_pool(1, 1, &gate, &done);
    let (submitter, returned) = {
        let (pool, done) = (Arc::clone(&pool), Arc::clone(&done));
        in_background_with_tid(move || pool.execute(move || done.add()))
    };
    let state = settle(submitter, PATIENCE);
    if state == Settled::Gone {
        gate.open();
        panic!(
            "execute on a full ThreadPool::with_capacity(1, 1) returned before the worker made \
             room: it must block while the queue is full"
        );
    }
    let _ = wait_until_still(&BTreeSet::from([submitter]), PATIENCE);
    let before = activity(submitter);
    std::thread::sleep(Duration::from_millis(300));
    let after = activity(submitter);
    gate.open();
    let (ticks, switches) = (after.0 - before.0, after.1 - before.1);
    // Asleep on a condition variable, a thread neither runs nor is switched
    // in and out; a polling one does one or the other, loaded machine or not.
    assert!(
        ticks <= 2 && switches <= 4,
        "execute on a full ThreadPool::with_capacity(1, 1), waiting for room, used {ticks} \
         clock ticks of CPU time and was switched in and out {switches} times in 300 ms \
         (asleep: {}): a blocked submitter must sleep (wait on the `not_full` condition \
         variable), not loop on lock, yield_now or sleep",
        state == Settled::Asleep
    );
    if returned.recv_timeout(PATIENCE).is_err() {
        panic!(
            "ThreadPool::with_capacity(1, 1): an execute blocked on the full queue did not \
             return within {PATIENCE:?} after the worker was free again"
        );
    }
    finish(pool);
}

// Catches: `try_execute` that queues the job without waking a sleeping worker (it forgets the `not_empty.notify_one()` that execute does).
#[test]
fn try_execute_wakes_a_sleeping_worker() {
    let pool = Pool::with_capacity(1, 4);
    let (sender, receiver) = mpsc::channel();
    let send_tid = |sender: &mpsc::Sender<i32>| {
        let sender = sender.clone();
        move || {
            let _ = sender.send(tid());
        }
    };
    pool.execute(send_tid(&sender));
    let worker = receiver.recv_timeout(PATIENCE).unwrap_or_else(|_| {
        panic!("one job was queued on a fresh ThreadPool::with_capacity(1, 4) and did not run within {PATIENCE:?}")
    });
    for round in 0..3 {
        // Once the worker is asleep on the empty queue, only a wake-up from
        // try_execute can get the next job to run.
        if settle(worker, PATIENCE) != Settled::Asleep {
            break; // a worker that never sleeps is execute::idle_workers_sleep's business
        }
        assert!(
            pool.try_execute(send_tid(&sender)).is_ok(),
            "try_execute on an idle ThreadPool::with_capacity(1, 4) refused a job"
        );
        if receiver.recv_timeout(PATIENCE).is_err() {
            let queued = pool.queued();
            panic!(
                "round {round}: try_execute queued a job (queued() = {queued}) while the only \
                 worker of ThreadPool::with_capacity(1, 4) was asleep on the empty queue, and \
                 the job did not run within {PATIENCE:?}: try_execute \
                 must wake a sleeping worker like execute does (`not_empty.notify_one()` after \
                 pushing the job)"
            );
        }
    }
    let _ = finishes_within(PATIENCE, move || drop(pool.into_inner()));
}

// Catches: `if` instead of `while` around the submitter's `not_full.wait`: woken when a worker made room, it pushes although another submitter took that room first.
#[test]
fn a_submitter_woken_for_stolen_room_waits_again() {
    let gate = Gate::new();
    let pool = Arc::new(Pool::with_capacity(1, 1));
    occupy_workers(&pool, 1, &gate);
    // The one job waiting in the queue tells when the worker takes it, and
    // then keeps the worker busy at a second gate.
    let (taken_sender, taken) = mpsc::channel();
    let held = Gate::new();
    {
        let (p, held) = (Arc::clone(&pool), Arc::clone(&held));
        let job = move || {
            let _ = taken_sender.send(());
            held.wait();
        };
        if finishes_within(PATIENCE, move || p.execute(job)).is_none() {
            panic!(
                "ThreadPool::with_capacity(1, 1) with its worker busy and an empty queue: \
                 execute blocked, but the queue has room for 1 waiting job"
            );
        }
    }
    // A second submitter finds the queue full and goes to sleep on it.
    let done = Tally::new();
    let (submitter, returned) = {
        let (pool, done) = (Arc::clone(&pool), Arc::clone(&done));
        in_background_with_tid(move || pool.execute(move || done.add()))
    };
    match settle(submitter, PATIENCE) {
        Settled::Asleep => {}
        Settled::Gone => {
            let queued = pool.queued();
            gate.open();
            held.open();
            panic!(
                "execute on a full ThreadPool::with_capacity(1, 1) returned at once (queued() \
                 is now {queued}): it must wait until a worker takes a job and makes room"
            );
        }
        Settled::Busy => {
            // A submitter that never sleeps is a_blocked_submitter_sleeps's business.
            gate.open();
            held.open();
            finish(pool);
            return;
        }
    }
    // Hold the sleeping submitter back while the worker makes room (its
    // wake-up goes to the held submitter) and this thread takes that room.
    let frozen = freeze(submitter);
    gate.open();
    let worker_took_it = taken.recv_timeout(PATIENCE).is_ok();
    let stolen = {
        let done = Arc::clone(&done);
        worker_took_it && pool.try_execute(move || done.add()).is_ok()
    };
    drop(frozen);
    if !stolen {
        held.open();
        panic!(
            "ThreadPool::with_capacity(1, 1): after the worker took the waiting job \
             ({worker_took_it}), try_execute refused a job on the empty queue"
        );
    }
    // The queue is full again: the woken submitter must go back to sleep.
    let after = settle(submitter, PATIENCE);
    let queued = pool.queued();
    held.open();
    assert!(
        after != Settled::Gone,
        "ThreadPool::with_capacity(1, 1): a submitter asleep on the full queue was woken when \
         the worker made room, but another submitter took the room first; the woken one \
         pushed anyway (queued() = {queued}, past the capacity of 1). After \
         `not_full.wait` returns, check for room again: `while` the queue is full, not `if`"
    );
    if returned.recv_timeout(PATIENCE).is_err() {
        panic!(
            "ThreadPool::with_capacity(1, 1): a blocked execute did not return within \
             {PATIENCE:?} after the worker was free to make room"
        );
    }
    if let Err(k) = done.wait_for(2, PATIENCE) {
        panic!(
            "ThreadPool::with_capacity(1, 1): only {k} of 2 queued jobs ran within {PATIENCE:?}"
        );
    }
    finish(pool);
}

// Catches: submitters that never wake when room appears (a worker that does not notify `not_full`), or `if` instead of `while` around its `wait` (the queue then overflows).
#[test]
fn blocked_submitters_wake_when_room_appears() {
    const PRODUCERS: usize = 4;
    const JOBS: usize = 300;
    for capacity in [1, 3] {
        let pool = Arc::new(Pool::with_capacity(2, capacity));
        let done = Tally::new();
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|_| {
                let (pool, done) = (Arc::clone(&pool), Arc::clone(&done));
                in_background(move || {
                    for _ in 0..JOBS {
                        let done = Arc::clone(&done);
                        pool.execute(move || done.add());
                    }
                })
            })
            .collect();
        // Slow progress on a busy machine is fine; a stall is the lost wake-up.
        let mut most = 0;
        let (mut seen, mut since) = (0, Instant::now());
        loop {
            let now = done.get();
            if now >= PRODUCERS * JOBS {
                break;
            }
            if now != seen {
                (seen, since) = (now, Instant::now());
            } else if since.elapsed() > PATIENCE {
                break;
            }
            most = most.max(pool.queued());
            std::thread::yield_now();
        }
        assert!(
            most <= capacity,
            "ThreadPool::with_capacity(2, {capacity}) with {PRODUCERS} threads calling execute: \
             queued() reached {most}, past the capacity. A woken submitter must check for \
             room again before it pushes (`while`, not `if`, around `not_full.wait`)"
        );
        let ran = done.get();
        assert_eq!(
            ran,
            PRODUCERS * JOBS,
            "ThreadPool::with_capacity(2, {capacity}): {PRODUCERS} threads each called execute \
             {JOBS} times, but only {ran} jobs ran, and none for {PATIENCE:?} after that. Are \
             submitters blocked on a full queue woken when a worker takes a job?"
        );
        for producer in producers {
            let _ = producer.recv_timeout(PATIENCE);
        }
        finish(pool);
    }
}

// Catches: `new` giving the queue a capacity (or treating "unbounded" as "no room").
#[test]
fn new_stays_unbounded() {
    let gate = Gate::new();
    let pool = Arc::new(Pool::new(1));
    occupy_workers(&pool, 1, &gate);
    let p = Arc::clone(&pool);
    let finished = finishes_within(PATIENCE, move || {
        for _ in 0..10_000 {
            p.execute(|| {});
        }
        p.try_execute(|| {}).is_ok()
    });
    let queued = pool.queued();
    gate.open();
    assert_eq!(
        finished,
        Some(true),
        "ThreadPool::new(1) with its worker busy: 10,000 calls to execute (and one to \
         try_execute) must all return at once and be accepted: a pool from `new` has no \
         capacity limit (queued() was {queued})"
    );
    finish(pool);
}

// Catches: accepting a capacity of zero (every execute would block forever) or zero workers.
#[test]
fn with_capacity_rejects_zero() {
    for (workers, capacity) in [(2, 0), (0, 2)] {
        let result = std::panic::catch_unwind(|| ThreadPool::with_capacity(workers, capacity));
        match result {
            Ok(pool) => {
                std::mem::forget(pool);
                panic!(
                    "ThreadPool::with_capacity({workers}, {capacity}) returned a pool; it must panic"
                );
            }
            Err(payload) => expect_not_a_todo(
                &*payload,
                &format!("ThreadPool::with_capacity({workers}, {capacity})"),
            ),
        }
    }
}
