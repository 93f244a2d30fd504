//! Stages 2 and 4: one token bucket shared by many threads, and a blocking
//! acquire that waits exactly as long as needed.

// The blanks below are where these fields get used; until then they look unused.
#![allow(dead_code)]

use std::fmt;
use std::sync::{Arc, Mutex};

use crate::{Clock, Rate, TokenBucket};

// ANCHOR: shared
/// A [`TokenBucket`] that many threads use at once through `&self`.
///
/// Reading the level and taking tokens must happen as one step: if two
/// threads both see "one token left" and both take it, the limit is broken.
#[derive(Debug)]
pub struct SharedTokenBucket<C> {
    /// The clock, shared with the bucket, so that [`acquire`](Self::acquire)
    /// can sleep on it without holding the lock.
    pub(crate) clock: Arc<C>,
    pub(crate) bucket: Mutex<TokenBucket<Arc<C>>>,
}
// ANCHOR_END: shared

// ANCHOR: acquire_error
/// Why [`SharedTokenBucket::acquire`] refused to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcquireError {
    /// Tokens asked for.
    pub requested: u64,
    /// The most the bucket can ever hold.
    pub capacity: u64,
}
// ANCHOR_END: acquire_error

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "asked for {} tokens at once, but the bucket never holds more than {}: \
             the request could never be granted",
            self.requested, self.capacity
        )
    }
}

impl std::error::Error for AcquireError {}

impl<C: Clock> SharedTokenBucket<C> {
    /// A full bucket of `capacity` tokens refilling at `rate`.
    ///
    /// # Panics
    /// If `capacity` is zero.
    pub fn new(capacity: u64, rate: Rate, clock: C) -> Self {
        let clock = Arc::new(clock);
        SharedTokenBucket {
            bucket: Mutex::new(TokenBucket::new(capacity, rate, Arc::clone(&clock))),
            clock,
        }
    }

    // ANCHOR: try_acquire
    /// Takes `n` tokens if the bucket holds at least `n` now; returns whether
    /// it did. Safe to call from any number of threads at once.
    pub fn try_acquire(&self, n: u64) -> bool {
        let _ = n;
        todo!("stage 2: check and take under one lock")
    }
    // ANCHOR_END: try_acquire

    /// Whole tokens in the bucket now.
    pub fn available(&self) -> u64 {
        todo!("stage 2: lock, then ask the bucket")
    }

    // ANCHOR: acquire
    /// Takes `n` tokens, sleeping on the clock until they are there.
    ///
    /// Sleeps as few times as it can: when the bucket is short, it works out
    /// how long the missing tokens take to arrive and sleeps that long, with
    /// the lock released, then tries again (another thread may have taken
    /// them meanwhile). It never polls in a loop with short sleeps.
    ///
    /// # Errors
    /// [`AcquireError`] at once, without sleeping, if `n` is more than the
    /// capacity: the bucket could never hold that many.
    pub fn acquire(&self, n: u64) -> Result<(), AcquireError> {
        let _ = n;
        todo!(
            "stage 4: refuse n > capacity; \
             otherwise take or sleep for the shortfall, and retry"
        )
    }
    // ANCHOR_END: acquire

    /// The most tokens the bucket holds.
    pub fn capacity(&self) -> u64 {
        self.bucket
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .capacity()
    }
}
