//! Stage 1: a token bucket for one thread.

// The blanks below are where these fields get used; until then they look unused.
#![allow(dead_code)]

use crate::{Clock, Rate};

// ANCHOR: bucket
/// A bucket that holds at most `capacity` tokens and refills at `rate`.
/// A request for `n` tokens is admitted when the bucket holds at least `n`,
/// and then takes them; otherwise it is refused and takes nothing.
///
/// The level is kept in units (see [`Rate`]): one token is
/// `rate.period_nanos()` units and each nanosecond adds `rate.tokens()`
/// units, so a million steps of one nanosecond add exactly what one step of
/// a million nanoseconds adds.
#[derive(Debug)]
pub struct TokenBucket<C> {
    pub(crate) clock: C,
    pub(crate) rate: Rate,
    pub(crate) capacity: u64,
    /// Tokens in the bucket, in units; never more than `capacity` tokens.
    pub(crate) units: u128,
    /// The clock reading at which `units` was last brought up to date.
    pub(crate) last: u64,
}
// ANCHOR_END: bucket

impl<C: Clock> TokenBucket<C> {
    /// A full bucket of `capacity` tokens refilling at `rate`.
    ///
    /// # Panics
    /// If `capacity` is zero.
    pub fn new(capacity: u64, rate: Rate, clock: C) -> Self {
        assert!(capacity > 0, "a bucket of capacity zero admits nothing");
        let last = clock.now();
        TokenBucket {
            units: u128::from(capacity) * u128::from(rate.period_nanos()),
            clock,
            rate,
            capacity,
            last,
        }
    }

    // ANCHOR: refill
    /// Adds the tokens earned since `last`, up to the capacity, and moves
    /// `last` to now. A clock that reads earlier than `last` (another
    /// thread's older reading, a clock that went backwards) adds nothing,
    /// leaves `last` where it is (so that no stretch of time is counted
    /// twice) and must not panic.
    pub(crate) fn refill(&mut self) {
        todo!(
            "stage 1: add the units earned since `last`, \
             capped at the capacity"
        )
    }
    // ANCHOR_END: refill

    // ANCHOR: try_acquire
    /// Takes `n` tokens if the bucket holds at least `n` now; returns whether
    /// it did. Asking for zero tokens always succeeds and changes nothing.
    pub fn try_acquire(&mut self, n: u64) -> bool {
        let _ = n;
        todo!("stage 1: refill, then take `n` tokens if there are enough")
    }
    // ANCHOR_END: try_acquire

    /// Whole tokens in the bucket now.
    pub fn available(&mut self) -> u64 {
        todo!("stage 1: refill, then count the whole tokens")
    }

    // ANCHOR: wait_nanos
    /// Nanoseconds from now until the bucket will hold `n` tokens (zero if it
    /// already does), rounded up so that the wait is never short.
    /// `n` must not exceed the capacity.
    pub(crate) fn wait_nanos(&mut self, n: u64) -> u64 {
        let _ = n;
        todo!(
            "stage 4: the missing units divided by \
             the units earned per nanosecond, rounded up"
        )
    }
    // ANCHOR_END: wait_nanos

    /// The most tokens the bucket holds.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// How fast the bucket refills.
    pub fn rate(&self) -> Rate {
        self.rate
    }
}
