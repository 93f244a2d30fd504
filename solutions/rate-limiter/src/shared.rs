//! Stages 2 and 4: one token bucket shared by many threads, and a blocking
//! acquire that waits exactly as long as needed.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

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

    /// The bucket, locked. A panic elsewhere cannot leave it half updated
    /// (every update is a few assignments that cannot panic), so a poisoned
    /// lock is still good to use.
    fn lock(&self) -> MutexGuard<'_, TokenBucket<Arc<C>>> {
        self.bucket.lock().unwrap_or_else(PoisonError::into_inner)
    }

    // ANCHOR: try_acquire
    /// Takes `n` tokens if the bucket holds at least `n` now; returns whether
    /// it did. Safe to call from any number of threads at once.
    pub fn try_acquire(&self, n: u64) -> bool {
        self.lock().try_acquire(n)
    }
    // ANCHOR_END: try_acquire

    /// Whole tokens in the bucket now.
    pub fn available(&self) -> u64 {
        self.lock().available()
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
        loop {
            let wait = {
                let mut bucket = self.lock();
                if n > bucket.capacity() {
                    return Err(AcquireError {
                        requested: n,
                        capacity: bucket.capacity(),
                    });
                }
                // Zero means the tokens are there (and refilling again on
                // the way in can only have added more).
                let wait = bucket.wait_nanos(n);
                if wait == 0 && bucket.try_acquire(n) {
                    return Ok(());
                }
                wait
            };
            // The guard is gone: other threads may take and add tokens while
            // this one sleeps. Then look again, since one of them may have
            // taken what this thread was waiting for.
            self.clock.sleep(wait);
        }
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
