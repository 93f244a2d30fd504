//! Where limiters read the time: a trait, the real monotonic clock, and a
//! manual clock that tests move by hand.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

// ANCHOR: clock
/// A source of time for a limiter, in whole nanoseconds since the clock's
/// own origin.
///
/// Limiters never look at the wall clock: it can jump backwards (NTP, a
/// user changing the date) and forwards, and a limiter driven by it would
/// hand out a burst or lock everyone out.
pub trait Clock: Send + Sync {
    /// Nanoseconds since this clock's origin.
    fn now(&self) -> u64;

    /// Blocks the calling thread for `nanos` nanoseconds of this clock's time.
    fn sleep(&self, nanos: u64);
}
// ANCHOR_END: clock

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> u64 {
        (**self).now()
    }

    fn sleep(&self, nanos: u64) {
        (**self).sleep(nanos)
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> u64 {
        (**self).now()
    }

    fn sleep(&self, nanos: u64) {
        (**self).sleep(nanos)
    }
}

/// The real clock: [`Instant`], which Linux reads from `CLOCK_MONOTONIC`.
/// It never goes backwards and does not jump when the date is changed.
#[derive(Debug, Clone, Copy)]
pub struct MonotonicClock {
    origin: Instant,
}

impl MonotonicClock {
    /// A clock whose origin is now.
    pub fn new() -> Self {
        MonotonicClock {
            origin: Instant::now(),
        }
    }
}

impl Default for MonotonicClock {
    fn default() -> Self {
        MonotonicClock::new()
    }
}

impl Clock for MonotonicClock {
    fn now(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn sleep(&self, nanos: u64) {
        std::thread::sleep(Duration::from_nanos(nanos));
    }
}

// ANCHOR: manual_clock
/// A clock that only moves when told to: tests set the time, and a
/// [`sleep`](Clock::sleep) returns at once after moving the clock forward by
/// the requested amount (and writing the request down, so a test can check
/// how long a limiter chose to wait).
#[derive(Debug, Default)]
pub struct ManualClock {
    now: AtomicU64,
    sleeps: Mutex<Vec<u64>>,
}
// ANCHOR_END: manual_clock

impl ManualClock {
    /// A clock that reads zero.
    pub fn new() -> Self {
        ManualClock::default()
    }

    /// A clock that reads `nanos`.
    pub fn at(nanos: u64) -> Self {
        let clock = ManualClock::new();
        clock.set(nanos);
        clock
    }

    /// Sets the time to `nanos` (tests may move it backwards on purpose).
    pub fn set(&self, nanos: u64) {
        self.now.store(nanos, Ordering::SeqCst);
    }

    /// Moves the time forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.advance_nanos(u64::try_from(by.as_nanos()).expect("an advance of over 584 years"));
    }

    /// Moves the time forward by `nanos` nanoseconds.
    pub fn advance_nanos(&self, nanos: u64) {
        self.now.fetch_add(nanos, Ordering::SeqCst);
    }

    /// Every [`sleep`](Clock::sleep) so far, in nanoseconds, oldest first.
    pub fn sleeps(&self) -> Vec<u64> {
        self.sleeps
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> u64 {
        self.now.load(Ordering::SeqCst)
    }

    fn sleep(&self, nanos: u64) {
        self.sleeps
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(nanos);
        self.advance_nanos(nanos);
    }
}
