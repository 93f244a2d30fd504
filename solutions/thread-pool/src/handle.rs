//! Stage 3: handles that hand a job's result (or its panic) back to the caller.

use std::any::Any;
use std::fmt;
use std::sync::mpsc::{Receiver, RecvError, TryRecvError};

/// The job behind a [`JobHandle`] panicked instead of returning a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobPanicked {
    /// The panic's message (`"<non-string panic payload>"` if it had none).
    pub message: String,
}

impl fmt::Display for JobPanicked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the job panicked: {}", self.message)
    }
}

impl std::error::Error for JobPanicked {}

/// The message of a panic payload, as `catch_unwind` or `JoinHandle::join`
/// return it: panics carry a `&'static str` or a `String`.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&'static str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "<non-string panic payload>".to_string()
    }
}

// ANCHOR: job_handle
/// The promise of a value that a job on the pool will produce.
///
/// The job sends `Ok(value)`, or the payload of its panic, through a
/// one-shot channel; [`JobHandle::join`] waits for it.
#[derive(Debug)]
pub struct JobHandle<T> {
    pub(crate) result: Receiver<std::thread::Result<T>>,
}
// ANCHOR_END: job_handle

impl<T> JobHandle<T> {
    // ANCHOR: join
    /// Waits for the job to finish and returns its value, or
    /// [`JobPanicked`] with the panic's message if the job panicked.
    pub fn join(self) -> Result<T, JobPanicked> {
        match self.receive() {
            Ok(Ok(value)) => Ok(value),
            // `&*payload`: the payload inside the box, not the box itself.
            Ok(Err(payload)) => Err(JobPanicked {
                message: panic_message(&*payload),
            }),
            // The sender went away without sending: the job was dropped
            // instead of run (its worker died, or the pool was leaked).
            Err(_) => Err(JobPanicked {
                message: "the job was dropped before it finished".to_string(),
            }),
        }
    }
    // ANCHOR_END: join

    /// `recv`, after a few polite looks: a tiny job is often done within a
    /// few yields, and the result is then picked up without the joining
    /// thread falling asleep and being woken (two system calls and a trip
    /// through the scheduler).
    fn receive(&self) -> Result<std::thread::Result<T>, RecvError> {
        for _ in 0..LOOKS_BEFORE_SLEEPING {
            match self.result.try_recv() {
                Ok(result) => return Ok(result),
                Err(TryRecvError::Disconnected) => return Err(RecvError),
                Err(TryRecvError::Empty) => std::thread::yield_now(),
            }
        }
        self.result.recv()
    }
}

/// How many times `join` looks for the result before it goes to sleep.
const LOOKS_BEFORE_SLEEPING: usize = 30;
