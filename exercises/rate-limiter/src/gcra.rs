//! Stage 3: the generic cell rate algorithm (GCRA): a token bucket's limit
//! kept in one atomic word, updated with compare-and-swap.

// The blanks below are where these fields get used; until then they look unused.
#![allow(dead_code)]

use std::sync::atomic::AtomicU64;

use crate::{Clock, Rate};

// ANCHOR: gcra
/// A lock-free limiter that admits exactly what a [`crate::TokenBucket`] of
/// the same capacity and rate admits (starting full).
///
/// Instead of a level, it remembers one instant: the *theoretical arrival
/// time* (TAT), when the bucket will be full again if nothing else is
/// taken. Time is counted in ticks: one nanosecond is `rate.tokens()` ticks
/// and one token is `emission = rate.period_nanos()` ticks, so every
/// quantity is an integer. A request for `n` tokens at `now` is admitted
/// when `max(tat, now) + n * emission - now <= tolerance`, where
/// `tolerance = capacity * emission`; then the TAT becomes
/// `max(tat, now) + n * emission`. A refusal changes nothing.
#[derive(Debug)]
pub struct Gcra<C> {
    pub(crate) clock: C,
    /// Ticks per nanosecond: `rate.tokens()`.
    pub(crate) ticks_per_nano: u64,
    /// Ticks per token: `rate.period_nanos()`.
    pub(crate) emission: u64,
    /// How far ahead of now the TAT may run: `capacity * emission` ticks.
    pub(crate) tolerance: u64,
    /// The theoretical arrival time, in ticks of the clock.
    pub(crate) tat: AtomicU64,
    pub(crate) capacity: u64,
}
// ANCHOR_END: gcra

// ANCHOR: admit
/// The GCRA decision, shared by [`Gcra`] and [`crate::KeyedLimiter`]: the
/// new TAT if a request costing `cost` ticks at `now` (in ticks) is
/// admitted, `None` if it is refused.
pub(crate) fn admit(tat: u64, now: u64, cost: u64, tolerance: u64) -> Option<u64> {
    let _ = (tat, now, cost, tolerance);
    todo!(
        "stage 3: start from max(tat, now), add the cost, \
         compare with now + tolerance"
    )
}
// ANCHOR_END: admit

impl<C: Clock> Gcra<C> {
    /// A limiter that admits bursts of up to `capacity` tokens and `rate`
    /// on average.
    ///
    /// Ticks are nanoseconds times `rate.tokens()` and must fit in 64 bits:
    /// with 1,000 ticks per nanosecond that is 213 days of clock time.
    ///
    /// # Panics
    /// If `capacity` is zero, or `capacity * rate.period_nanos()` overflows.
    pub fn new(capacity: u64, rate: Rate, clock: C) -> Self {
        assert!(capacity > 0, "a limiter of capacity zero admits nothing");
        let tolerance = capacity
            .checked_mul(rate.period_nanos())
            .expect("capacity times the rate's period must fit in 64 bits");
        let now = clock.now().saturating_mul(rate.tokens());
        Gcra {
            clock,
            ticks_per_nano: rate.tokens(),
            emission: rate.period_nanos(),
            tolerance,
            tat: AtomicU64::new(now),
            capacity,
        }
    }

    // ANCHOR: try_acquire
    /// Takes `n` tokens if they are available now; returns whether it did.
    /// Safe to call from any number of threads at once, without a lock:
    /// read the TAT, decide with [`admit`], and publish the new TAT with
    /// `compare_exchange`; if another thread changed the TAT in between,
    /// decide again from the value it left. A request for more than the
    /// capacity is refused (without overflowing on the way).
    pub fn try_acquire(&self, n: u64) -> bool {
        let _ = n;
        todo!("stage 3: a compare-and-swap loop around `admit`")
    }
    // ANCHOR_END: try_acquire

    /// The most tokens the limiter admits at once.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }
}
