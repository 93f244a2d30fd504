//! Stages 1, 2, 4 and 5: the pool, its workers and its queue.

// The blanks below are where these items get used; until then they look unused.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

#[allow(unused_imports)] // you will want these
use crate::handle::{JobHandle, panic_message};

/// A unit of work: any closure that can be sent to another thread and run once.
pub(crate) type Job = Box<dyn FnOnce() + Send + 'static>;

// ANCHOR: state
/// Everything the mutex protects. A worker sleeps on `not_empty` while
/// `jobs` is empty; a submitter sleeps on `not_full` while a bounded queue
/// is at capacity.
#[derive(Default)]
pub(crate) struct Queue {
    /// Jobs waiting for a worker, oldest first.
    pub(crate) jobs: VecDeque<Job>,
    /// Most jobs that may wait at once (`None`: unbounded).
    pub(crate) capacity: Option<usize>,
    /// Set once by shutdown: no new jobs; workers leave when `jobs` is empty.
    pub(crate) closed: bool,
    /// Jobs that have finished running (panicked ones included).
    pub(crate) completed: usize,
}

/// The state shared by the pool and its workers.
#[derive(Default)]
pub(crate) struct Shared {
    pub(crate) queue: Mutex<Queue>,
    /// Signalled when a job is queued or the pool closes.
    pub(crate) not_empty: Condvar,
    /// Signalled when a job leaves a bounded queue.
    pub(crate) not_full: Condvar,
}
// ANCHOR_END: state

// ANCHOR: pool
/// A fixed set of worker threads that run submitted jobs.
///
/// Jobs wait in one first-in, first-out queue behind a mutex; idle workers
/// sleep on a condition variable until a job arrives.
pub struct ThreadPool {
    pub(crate) shared: Arc<Shared>,
    pub(crate) workers: Vec<JoinHandle<()>>,
}
// ANCHOR_END: pool

impl std::fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadPool")
            .field("workers", &self.workers.len())
            .finish_non_exhaustive()
    }
}

// ANCHOR: worker_loop
/// What every worker thread runs: take the oldest job, run it, repeat;
/// return once the pool is closed and the queue is empty.
///
/// Never run a job while holding the lock: the other workers could not
/// take jobs meanwhile, and the pool would run one job at a time.
/// Stage 4: a job that panics must not end the loop.
pub(crate) fn worker_loop(shared: &Shared) {
    let _ = shared;
    todo!("stage 1: wait for jobs on `not_empty` and run them")
}
// ANCHOR_END: worker_loop

impl ThreadPool {
    // ANCHOR: new
    /// Starts a pool of `workers` threads with an unbounded queue.
    ///
    /// # Panics
    /// If `workers` is zero: a pool without workers would never run anything.
    pub fn new(workers: usize) -> ThreadPool {
        todo!("stage 1: start {workers} threads running `worker_loop`")
    }
    // ANCHOR_END: new

    /// Number of worker threads.
    pub fn workers(&self) -> usize {
        self.workers.len()
    }

    /// Jobs waiting in the queue right now (not counting running ones).
    pub fn queued(&self) -> usize {
        self.shared
            .queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .jobs
            .len()
    }

    // ANCHOR: execute
    /// Queues `job` to run on a worker and returns at once (stage 5: waits
    /// while a bounded queue is full).
    ///
    /// # Panics
    /// If called after the pool began shutting down (it cannot be, through
    /// `&self`, unless a job calls it during shutdown).
    pub fn execute<F>(&self, job: F)
    where
        F: FnOnce() + Send + 'static,
    {
        let _ = job;
        todo!("stage 1: push the job and wake a worker")
    }
    // ANCHOR_END: execute

    // ANCHOR: shutdown
    /// Stops taking jobs, lets the workers finish every job already queued,
    /// joins every worker thread, and returns how many jobs ran in the
    /// pool's lifetime. Dropping the pool does the same.
    pub fn shutdown(mut self) -> usize {
        self.close_and_join()
    }

    /// Shared by `shutdown` and `Drop`: close the queue, wake every worker,
    /// join them all, return the number of completed jobs. Must be safe to
    /// call twice (the second call finds no workers left to join).
    fn close_and_join(&mut self) -> usize {
        todo!("stage 2: close the queue, wake all workers, join them")
    }
    // ANCHOR_END: shutdown

    // ANCHOR: spawn
    /// Runs `job` on the pool and returns a handle to its result.
    pub fn spawn<F, T>(&self, job: F) -> JobHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let _ = job;
        todo!("stage 3: run the job, send its result (or panic) to the handle")
    }
    // ANCHOR_END: spawn

    // ANCHOR: with_capacity
    /// Starts a pool of `workers` threads whose queue holds at most
    /// `capacity` waiting jobs: `execute` blocks while it is full.
    ///
    /// # Panics
    /// If `workers` or `capacity` is zero.
    pub fn with_capacity(workers: usize, capacity: usize) -> ThreadPool {
        todo!(
            "stage 5: a pool of {workers} workers \
             with room for {capacity} waiting jobs"
        )
    }
    // ANCHOR_END: with_capacity

    // ANCHOR: try_execute
    /// Queues `job` if there is room and returns `Ok(())`; if a bounded
    /// queue is full, returns the job back as `Err(job)` without waiting.
    pub fn try_execute<F>(&self, job: F) -> Result<(), F>
    where
        F: FnOnce() + Send + 'static,
    {
        let _ = &job;
        todo!("stage 5: queue the job only if there is room")
    }
    // ANCHOR_END: try_execute
}

impl Drop for ThreadPool {
    /// Finishes every queued job and joins every worker (see [`ThreadPool::shutdown`]).
    fn drop(&mut self) {
        if self.workers.is_empty() || std::thread::panicking() {
            // Nothing to join (already shut down), or unwinding from a
            // panic elsewhere: a second panic here would abort.
            return;
        }
        self.close_and_join();
    }
}
