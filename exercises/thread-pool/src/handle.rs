//! Stage 3: handles that hand a job's result (or its panic) back to the caller.

// The blanks below are where these items get used; until then they look unused.
#![allow(dead_code)]

use std::any::Any;
use std::fmt;
use std::sync::mpsc::Receiver;

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
        todo!("stage 3: wait for the job's result")
    }
    // ANCHOR_END: join
}
