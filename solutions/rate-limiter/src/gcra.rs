//! Stage 3: the generic cell rate algorithm (GCRA): a token bucket's limit
//! kept in one atomic word, updated with compare-and-swap.

use std::sync::atomic::{AtomicU64, Ordering};

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
    // A TAT in the past is a full bucket: count from now, not from then.
    let new_tat = tat.max(now).checked_add(cost)?;
    // `new_tat >= now`, so the subtraction cannot underflow.
    (new_tat - now <= tolerance).then_some(new_tat)
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
    #[inline]
    pub fn try_acquire(&self, n: u64) -> bool {
        // Checked first, so that `n * emission` below cannot overflow: it is
        // at most `capacity * emission = tolerance`.
        if n > self.capacity {
            return false;
        }
        let cost = n * self.emission;
        let now = self.clock.now().saturating_mul(self.ticks_per_nano);
        // Every ordering here is Relaxed. The TAT is the only thing threads
        // share, and it publishes no other memory, so there is nothing for
        // Acquire/Release (or AcqRel) to order. What makes the limit exact is
        // that all read-modify-writes of one atomic are totally ordered (its
        // modification order), whatever their ordering: a compare-and-swap
        // from a stale TAT fails and hands back the current one, so no
        // update is ever lost. The `_weak` form may fail spuriously, which
        // the loop absorbs, and compiles to a plain `cmpxchg`/LL-SC.
        let mut tat = self.tat.load(Ordering::Relaxed);
        loop {
            let Some(new_tat) = admit(tat, now, cost, self.tolerance) else {
                // A refusal changes nothing: no write at all.
                return false;
            };
            match self
                .tat
                .compare_exchange_weak(tat, new_tat, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(current) => tat = current,
            }
        }
    }
    // ANCHOR_END: try_acquire

    /// The most tokens the limiter admits at once.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }
}
