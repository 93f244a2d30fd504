//! Helpers shared by the thread-pool stages' visible tests: waiting with a
//! deadline, gates that hold a worker busy, and quiet intentional panics.
//!
//! Nothing here sleeps. Every wait has a generous deadline, so a broken pool
//! makes a test fail with a message instead of hanging forever.

#![allow(dead_code, unreachable_pub)]

use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Barrier, Condvar, Mutex, Once};
use std::thread;
use std::time::Duration;

use thread_pool::ThreadPool;

/// How long any single wait may take before the test gives up. Far longer
/// than a correct pool ever needs, even on a loaded machine.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Text carried by every panic a test causes on purpose; such panics are
/// not printed (see [`silence_intentional_panics`]).
pub const INTENTIONAL: &str = "intentional panic from a test job";

/// Receives one message, or fails the test with `what` if none comes in time.
pub fn recv<T>(rx: &Receiver<T>, what: &str) -> T {
    match rx.recv_timeout(TIMEOUT) {
        Ok(value) => value,
        Err(RecvTimeoutError::Timeout) => {
            panic!("waited {TIMEOUT:?} for {what}, and it never came")
        }
        Err(RecvTimeoutError::Disconnected) => panic!(
            "waiting for {what}, but every sender was dropped first \
             (was a job dropped without running?)"
        ),
    }
}

/// Receives `count` messages, failing the test (and saying how many did
/// arrive) if they do not all come in time.
pub fn recv_n<T>(rx: &Receiver<T>, count: usize, what: &str) -> Vec<T> {
    let mut received = Vec::with_capacity(count);
    while received.len() < count {
        match rx.recv_timeout(TIMEOUT) {
            Ok(value) => received.push(value),
            Err(RecvTimeoutError::Timeout) => panic!(
                "expected {count} {what}, but only {} arrived; then nothing for {TIMEOUT:?}",
                received.len()
            ),
            Err(RecvTimeoutError::Disconnected) => panic!(
                "expected {count} {what}, but only {} arrived before every sender was \
                 dropped (were some jobs dropped without running?)",
                received.len()
            ),
        }
    }
    received
}

/// Runs `work` on a helper thread and returns its result, or fails the test
/// if it takes longer than [`TIMEOUT`] (a shutdown that never returns, a
/// `join` that waits forever). A panic inside `work` is passed on as is.
pub fn within<T, F>(what: &str, work: F) -> T
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (tx, rx) = mpsc::channel();
    let helper = thread::spawn(move || {
        let _ = tx.send(work());
    });
    match rx.recv_timeout(TIMEOUT) {
        Ok(value) => value,
        Err(RecvTimeoutError::Timeout) => panic!("{what} did not finish within {TIMEOUT:?}"),
        Err(RecvTimeoutError::Disconnected) => match helper.join() {
            Err(payload) => panic::resume_unwind(payload),
            Ok(()) => unreachable!("the helper thread ended without sending its result"),
        },
    }
}

/// `pool.shutdown()`, with a deadline.
pub fn shutdown(pool: ThreadPool) -> usize {
    within(
        "shutdown() (did you close the queue, wake every sleeping worker with \
         notify_all, and join each JoinHandle?)",
        move || pool.shutdown(),
    )
}

/// Keeps `pool` running until the test program exits. Stage 1 comes before
/// shutdown exists: dropping the pool would call the stage 2 blank.
pub fn leak(pool: ThreadPool) {
    std::mem::forget(pool);
}

/// A job can wait at a gate until the test opens it. Used to keep workers
/// busy so that later jobs stay in the queue. Dropping the gate opens it.
#[derive(Debug)]
pub struct Gate {
    open: Arc<(Mutex<bool>, Condvar)>,
    started_tx: Sender<()>,
    started_rx: Receiver<()>,
}

/// One job's side of a [`Gate`].
#[derive(Debug)]
pub struct GateKey {
    open: Arc<(Mutex<bool>, Condvar)>,
    started: Sender<()>,
}

impl GateKey {
    /// Tells the test this job has started, then waits until the gate opens
    /// (or [`TIMEOUT`] passes). Returns whether the gate was opened.
    pub fn wait(self) -> bool {
        let _ = self.started.send(());
        let (lock, opened) = &*self.open;
        let open = lock.lock().unwrap_or_else(|e| e.into_inner());
        let (open, _) = opened
            .wait_timeout_while(open, TIMEOUT, |open| !*open)
            .unwrap_or_else(|e| e.into_inner());
        *open
    }
}

impl Default for Gate {
    /// A closed gate.
    fn default() -> Gate {
        let (started_tx, started_rx) = mpsc::channel();
        Gate {
            open: Arc::new((Mutex::new(false), Condvar::new())),
            started_tx,
            started_rx,
        }
    }
}

impl Gate {
    /// A key for one more job to wait at this gate.
    pub fn key(&self) -> GateKey {
        GateKey {
            open: Arc::clone(&self.open),
            started: self.started_tx.clone(),
        }
    }

    /// Waits until `count` more gated jobs have started running on workers.
    pub fn wait_started(&self, count: usize) {
        recv_n(
            &self.started_rx,
            count,
            "gated jobs to start on a worker (is every worker taking jobs?)",
        );
    }

    /// Lets every job waiting at the gate, now or later, go on.
    pub fn open(&self) {
        let (lock, opened) = &*self.open;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        opened.notify_all();
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.open();
    }
}

/// Queues `workers` jobs that each wait at a gate, and returns once all of
/// them are running: every worker is then busy, so further jobs stay queued.
/// Each job is queued only once the previous one has started, so the queue
/// is empty at every `execute`, even in a pool with room for one job.
pub fn occupy_every_worker(pool: &ThreadPool, workers: usize) -> Gate {
    let gate = Gate::default();
    for _ in 0..workers {
        let key = gate.key();
        pool.execute(move || {
            key.wait();
        });
        gate.wait_started(1);
    }
    gate
}

/// Queues `workers` jobs that must all be running at the same moment to get
/// past a barrier, and waits until they all have. Fails the test if the pool
/// does not run that many jobs in parallel.
pub fn prove_parallel(pool: &ThreadPool, workers: usize) {
    let barrier = Arc::new(Barrier::new(workers));
    let (tx, rx) = mpsc::channel();
    for _ in 0..workers {
        let (barrier, tx) = (Arc::clone(&barrier), tx.clone());
        pool.execute(move || {
            barrier.wait();
            let _ = tx.send(());
        });
    }
    recv_n(
        &rx,
        workers,
        &format!(
            "jobs past a barrier that lets {workers} through only together: the pool must \
             run {workers} jobs at once (does a worker hold the queue lock while its job runs?)"
        ),
    );
}

/// Hides the report of panics a test causes on purpose: those whose message
/// contains [`INTENTIONAL`], and those with no message at all
/// (`panic_any`). Every other panic, such as a failing assertion, is still
/// printed as usual.
pub fn silence_intentional_panics() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str));
            if message.is_some_and(|text| !text.contains(INTENTIONAL)) {
                default(info);
            }
        }));
    });
}

/// Runs `call`, which must panic, and returns its panic message. Fails the
/// test if it returns normally or if it panicked at a `todo!()`.
pub fn panic_of<R>(what: &str, call: impl FnOnce() -> R) -> String {
    match panic::catch_unwind(AssertUnwindSafe(call)) {
        Ok(_) => panic!("{what} should panic, but it returned"),
        Err(payload) => {
            let message = thread_pool::panic_message(&*payload);
            assert!(
                !message.starts_with("not yet implemented"),
                "{what} panicked at a todo!() (\"{message}\"), not on purpose"
            );
            message
        }
    }
}
