//! Stage 5: limits over a window of time: the fixed window (given, with its
//! flaw), the exact sliding-window log and the approximate sliding-window
//! counter.

// The blanks below are where these fields get used; until then they look unused.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::time::Duration;

use crate::Clock;

fn window_nanos(window: Duration) -> u64 {
    u64::try_from(window.as_nanos())
        .ok()
        .filter(|&w| w > 0)
        .expect("a window must be between 1 ns and about 584 years long")
}

// ANCHOR: fixed
/// At most `limit` requests in each window `[k * window, (k + 1) * window)`
/// of the clock. Simple and cheap, and wrong at the edges: `limit` requests
/// at the end of one window and `limit` more at the start of the next are
/// all admitted, twice the limit within a fraction of a window.
#[derive(Debug)]
pub struct FixedWindow<C> {
    clock: C,
    limit: u64,
    window: u64,
    /// Start of the window `count` belongs to.
    start: u64,
    count: u64,
}

impl<C: Clock> FixedWindow<C> {
    /// At most `limit` requests per `window`.
    pub fn new(limit: u64, window: Duration, clock: C) -> Self {
        FixedWindow {
            clock,
            limit,
            window: window_nanos(window),
            start: 0,
            count: 0,
        }
    }

    /// Admits one request if the current window has room.
    pub fn try_acquire(&mut self) -> bool {
        let now = self.clock.now();
        let start = now - now % self.window;
        if start != self.start {
            self.start = start;
            self.count = 0;
        }
        if self.count < self.limit {
            self.count += 1;
            true
        } else {
            false
        }
    }
}
// ANCHOR_END: fixed

// ANCHOR: log
/// Exactly `limit` requests in any window of length `window`: a request at
/// `now` is admitted when fewer than `limit` admitted requests have times
/// `t` with `now - window < t <= now`.
///
/// It keeps the time of every admitted request still inside the window, so
/// its memory grows with the limit: at most `limit` entries, because older
/// ones are dropped as they leave the window.
#[derive(Debug)]
pub struct SlidingWindowLog<C> {
    pub(crate) clock: C,
    pub(crate) limit: u64,
    pub(crate) window: u64,
    /// Times of the admitted requests still inside the window, oldest first.
    pub(crate) log: VecDeque<u64>,
}
// ANCHOR_END: log

impl<C: Clock> SlidingWindowLog<C> {
    /// At most `limit` requests in any `window`.
    pub fn new(limit: u64, window: Duration, clock: C) -> Self {
        SlidingWindowLog {
            clock,
            limit,
            window: window_nanos(window),
            log: VecDeque::new(),
        }
    }

    // ANCHOR: log_try_acquire
    /// Admits one request if fewer than `limit` were admitted in the window
    /// that ends now.
    pub fn try_acquire(&mut self) -> bool {
        todo!(
            "stage 5: drop the times that left the window, \
             then compare the count with the limit"
        )
    }
    // ANCHOR_END: log_try_acquire

    /// Request times held in memory now.
    pub fn stored(&self) -> usize {
        self.log.len()
    }
}

// ANCHOR: counter
/// Approximately `limit` requests in any window, in constant memory: two
/// counters, for the current fixed window (`[start, start + window)`, with
/// `start` a multiple of `window`) and the one before it.
///
/// The previous window's count is weighted by the part of it that the
/// sliding window still covers. At `now`, with `elapsed = now - start`
/// (zero when the clock reads earlier than `start`), a request is admitted
/// when `previous * (window - elapsed) + current * window < limit * window`
/// (the estimate, multiplied through by `window` so that it stays an
/// integer). If the clock has moved on by one window, `current` becomes
/// `previous`; by two or more, both start from zero. A clock that reads
/// earlier than `start` counts as inside the current window.
#[derive(Debug)]
pub struct SlidingWindowCounter<C> {
    pub(crate) clock: C,
    pub(crate) limit: u64,
    pub(crate) window: u64,
    /// Start of the current fixed window.
    pub(crate) start: u64,
    /// Admitted in the current window.
    pub(crate) current: u64,
    /// Admitted in the window before it.
    pub(crate) previous: u64,
}
// ANCHOR_END: counter

impl<C: Clock> SlidingWindowCounter<C> {
    /// About `limit` requests in any `window`.
    pub fn new(limit: u64, window: Duration, clock: C) -> Self {
        SlidingWindowCounter {
            clock,
            limit,
            window: window_nanos(window),
            start: 0,
            current: 0,
            previous: 0,
        }
    }

    // ANCHOR: counter_try_acquire
    /// Admits one request if the weighted estimate is below the limit.
    pub fn try_acquire(&mut self) -> bool {
        todo!(
            "stage 5: roll the windows forward, \
             then weigh `previous` by the overlap"
        )
    }
    // ANCHOR_END: counter_try_acquire
}
