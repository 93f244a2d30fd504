//! Stages 1, 2, 4 and 5: the pool, its workers and its queue.

use std::collections::VecDeque;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, TryLockError, mpsc};
use std::thread::JoinHandle;

use crate::handle::JobHandle;

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
    /// Workers asleep on `not_empty` that no wake-up is on its way to:
    /// `execute` only pays for a wake-up (a system call) when one of them
    /// may be waiting, and never twice for the same sleeper.
    pub(crate) sleeping: usize,
    /// Wake-ups sent on `not_empty` that no worker has taken yet. Together
    /// with `sleeping`, it counts the workers inside `wait`.
    pub(crate) signalled: usize,
    /// Idle workers still looking at the queue before they sleep (see
    /// `look_again`) that no job has been counted for yet: a job queued
    /// while one of them looks needs no wake-up at all.
    pub(crate) looking: usize,
    /// Jobs queued for a looking worker, not yet picked up. Together with
    /// `looking`, it counts the workers inside `look_again`.
    pub(crate) claimed: usize,
    /// Submitters asleep on `not_full`, for the same reason.
    pub(crate) blocked: usize,
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

/// Locks the queue. No job ever runs under this lock, so a panic cannot
/// leave the queue half-updated: a poisoned lock is still safe to use.
fn lock(shared: &Shared) -> MutexGuard<'_, Queue> {
    shared.queue.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Sleeps on `condvar` until notified, giving the lock up meanwhile.
fn wait<'a>(condvar: &Condvar, queue: MutexGuard<'a, Queue>) -> MutexGuard<'a, Queue> {
    condvar.wait(queue).unwrap_or_else(PoisonError::into_inner)
}

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
    let mut queue = lock(shared);
    loop {
        if let Some(job) = queue.jobs.pop_front() {
            let room_for_a_blocked_submitter = queue.blocked > 0;
            drop(queue);
            if room_for_a_blocked_submitter {
                shared.not_full.notify_one();
            }
            // Stage 4: the panic ends the job, not the worker. (The panic
            // hook has already printed its message.)
            let _ = panic::catch_unwind(AssertUnwindSafe(job));
            // Counting the job and taking the next one is one lock.
            queue = lock(shared);
            queue.completed += 1;
        } else if queue.closed {
            return;
        } else {
            // Counted under the same guard that saw the queue empty: a job
            // queued from now on finds this worker looking.
            queue.looking += 1;
            drop(queue);
            queue = match look_again(shared) {
                Some(mut queue) => {
                    stop_looking(&mut queue);
                    queue
                }
                None => {
                    let mut queue = lock(shared);
                    stop_looking(&mut queue);
                    // Checked and waited under one guard: a job queued after
                    // the check finds this worker counted in `sleeping`.
                    // After the wake-up, the loop looks at the queue again:
                    // the wake-up may be spurious, or another worker may
                    // have taken the job.
                    if queue.jobs.is_empty() && !queue.closed {
                        queue.sleeping += 1;
                        queue = wait(&shared.not_empty, queue);
                        // Take a wake-up sent to the sleepers if there is
                        // one; otherwise this one was spurious (or a
                        // `notify_all`) and the worker counts itself out.
                        if queue.signalled > 0 {
                            queue.signalled -= 1;
                        } else {
                            queue.sleeping -= 1;
                        }
                    }
                    queue
                }
            };
        }
    }
}
// ANCHOR_END: worker_loop

/// Called under the lock right after queueing a job: whether a sleeping
/// worker needs a wake-up. Counts the wake-up as sent, so that jobs queued
/// before the woken worker gets the lock do not pay for a second system
/// call to wake the same worker.
///
/// A worker still looking at the queue (`look_again`) is sure to find the
/// job: it then gets the job instead of a sleeper being woken for it.
#[inline]
fn wake_a_sleeper(queue: &mut Queue) -> bool {
    if queue.looking > 0 {
        queue.looking -= 1;
        queue.claimed += 1;
        return false;
    }
    if queue.sleeping == 0 {
        return false;
    }
    queue.sleeping -= 1;
    queue.signalled += 1;
    true
}

/// Called under the lock by a worker that leaves `look_again`: it takes a
/// job counted for the looking workers if there is one, otherwise it
/// counts itself out of `looking`.
#[inline]
fn stop_looking(queue: &mut Queue) {
    if queue.claimed > 0 {
        queue.claimed -= 1;
    } else {
        queue.looking -= 1;
    }
}

/// How many times an idle worker looks at the queue again before it goes
/// to sleep.
const LOOKS_BEFORE_SLEEPING: usize = 30;

/// A worker that just found the queue empty gives its CPU away a few times
/// and looks again, without ever waiting for the lock (`try_lock`): when
/// jobs come in a stream, it finds the next one without the cost of falling
/// asleep and being woken (two system calls and a trip through the
/// scheduler). Returns the locked queue once it has a job or is closed.
fn look_again(shared: &Shared) -> Option<MutexGuard<'_, Queue>> {
    for _ in 0..LOOKS_BEFORE_SLEEPING {
        std::thread::yield_now();
        let queue = match shared.queue.try_lock() {
            Ok(queue) => queue,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => continue,
        };
        if !queue.jobs.is_empty() || queue.closed {
            return Some(queue);
        }
    }
    None
}

impl ThreadPool {
    // ANCHOR: new
    /// Starts a pool of `workers` threads with an unbounded queue.
    ///
    /// # Panics
    /// If `workers` is zero: a pool without workers would never run anything.
    pub fn new(workers: usize) -> ThreadPool {
        assert!(
            workers > 0,
            "ThreadPool::new(0): a pool needs at least one worker"
        );
        ThreadPool::start(workers, None)
    }

    /// Starts `workers` threads over a queue of the given capacity.
    fn start(workers: usize, capacity: Option<usize>) -> ThreadPool {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                capacity,
                ..Queue::default()
            }),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
        });
        let workers = (0..workers)
            .map(|i| {
                let shared = Arc::clone(&shared);
                std::thread::Builder::new()
                    .name(format!("pool-worker-{i}"))
                    .spawn(move || worker_loop(&shared))
                    .expect("cannot start a worker thread")
            })
            .collect();
        ThreadPool { shared, workers }
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
        // Allocate before taking the lock: the critical section stays tiny.
        let job: Job = Box::new(job);
        let mut queue = lock(&self.shared);
        if let Some(capacity) = queue.capacity {
            // `while`, not `if`: another submitter may take the room first.
            while queue.jobs.len() >= capacity && !queue.closed {
                queue.blocked += 1;
                queue = wait(&self.shared.not_full, queue);
                queue.blocked -= 1;
            }
        }
        if queue.closed {
            drop(queue);
            panic!("ThreadPool::execute called while the pool is shutting down");
        }
        queue.jobs.push_back(job);
        let worker_asleep = wake_a_sleeper(&mut queue);
        drop(queue);
        if worker_asleep {
            self.shared.not_empty.notify_one();
        }
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
        lock(&self.shared).closed = true;
        // Every sleeping worker must see `closed`, not just one.
        self.shared.not_empty.notify_all();
        self.shared.not_full.notify_all();
        for worker in self.workers.drain(..) {
            // A worker catches its jobs' panics, so it cannot have panicked.
            let _ = worker.join();
        }
        lock(&self.shared).completed
    }
    // ANCHOR_END: shutdown

    // ANCHOR: spawn
    /// Runs `job` on the pool and returns a handle to its result.
    pub fn spawn<F, T>(&self, job: F) -> JobHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        // One slot: the job's single send never waits, even if nobody joins.
        let (sender, receiver) = mpsc::sync_channel(1);
        self.execute(move || {
            let result = panic::catch_unwind(AssertUnwindSafe(job));
            // The handle may have been dropped: then nobody wants the result.
            let _ = sender.send(result);
        });
        JobHandle { result: receiver }
    }
    // ANCHOR_END: spawn

    // ANCHOR: with_capacity
    /// Starts a pool of `workers` threads whose queue holds at most
    /// `capacity` waiting jobs: `execute` blocks while it is full.
    ///
    /// # Panics
    /// If `workers` or `capacity` is zero.
    pub fn with_capacity(workers: usize, capacity: usize) -> ThreadPool {
        assert!(
            workers > 0,
            "ThreadPool::with_capacity(0, _): a pool needs at least one worker"
        );
        assert!(
            capacity > 0,
            "ThreadPool::with_capacity(_, 0): the queue needs room for at least one job"
        );
        ThreadPool::start(workers, Some(capacity))
    }
    // ANCHOR_END: with_capacity

    // ANCHOR: try_execute
    /// Queues `job` if there is room and returns `Ok(())`; if a bounded
    /// queue is full, returns the job back as `Err(job)` without waiting.
    pub fn try_execute<F>(&self, job: F) -> Result<(), F>
    where
        F: FnOnce() + Send + 'static,
    {
        let mut queue = lock(&self.shared);
        let full = queue
            .capacity
            .is_some_and(|capacity| queue.jobs.len() >= capacity);
        if full || queue.closed {
            return Err(job);
        }
        queue.jobs.push_back(Box::new(job));
        let worker_asleep = wake_a_sleeper(&mut queue);
        drop(queue);
        if worker_asleep {
            self.shared.not_empty.notify_one();
        }
        Ok(())
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
