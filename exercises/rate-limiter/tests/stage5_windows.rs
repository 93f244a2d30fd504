//! Stage 5 visible tests: the sliding-window log admits exactly `limit`
//! requests in any window and keeps at most `limit` times in memory; the
//! sliding-window counter follows its weighted formula in integers; and
//! both refuse the burst at a window boundary that the (given)
//! `FixedWindow` lets through.
//!
//! Run only this stage with `cargo test -p rate-limiter --test stage5_windows`.

use std::time::Duration;

use rate_limiter::{FixedWindow, ManualClock, SlidingWindowCounter, SlidingWindowLog};
use rstest::rstest;

mod common;

use common::{MS, SECOND, admitted_in_a_row, admitted_of};

const ONE_SECOND: Duration = Duration::from_secs(1);

#[rstest]
#[case::limit_one(1)]
#[case::limit_three(3)]
#[case::limit_a_hundred(100)]
fn the_log_admits_the_limit_at_once_then_refuses(#[case] limit: u64) {
    let clock = ManualClock::new();
    let mut log = SlidingWindowLog::new(limit, ONE_SECOND, &clock);
    let admitted = admitted_in_a_row(limit + 10, || log.try_acquire());
    assert_eq!(
        admitted, limit,
        "a sliding-window log with a limit of {limit} should admit {limit} requests at the \
         same instant and refuse the next (admitted {admitted}). (A panic instead? `now - \
         window` underflows while the clock reads less than one window: compare `t + window \
         > now`, or use saturating_sub)"
    );
}

#[rstest]
// the time of each request (ms), whether it is admitted; limit 2 per second
#[case::first(&[0], &[true])]
#[case::two_at_once(&[0, 0, 0], &[true, true, false])]
#[case::still_inside_the_window(&[0, 500, 999], &[true, true, false])]
#[case::the_first_leaves_at_exactly_one_window(&[0, 500, 1_000], &[true, true, true])]
#[case::refused_requests_do_not_count(&[0, 500, 999, 999, 1_000, 1_499, 1_500], &[true, true, false, false, true, false, true])]
#[case::after_a_long_pause(&[0, 1, 60_000, 60_000, 60_000], &[true, true, true, true, false])]
fn the_log_counts_the_requests_of_the_last_window(
    #[case] times_ms: &[u64],
    #[case] expected: &[bool],
) {
    let clock = ManualClock::new();
    let mut log = SlidingWindowLog::new(2, ONE_SECOND, &clock);
    let mut history = Vec::new();
    for (&at, &admit) in times_ms.iter().zip(expected) {
        clock.set(at * MS);
        let got = log.try_acquire();
        history.push((at, got));
        assert_eq!(
            got,
            admit,
            "limit 2 per second, requests so far (ms, admitted) {history:?}: the request at \
             {at} ms should be {}. A request at t counts while now - 1 s < t <= now; only \
             admitted requests count",
            if admit { "admitted" } else { "refused" }
        );
    }
}

#[test]
fn the_log_never_stores_more_than_the_limit() {
    let clock = ManualClock::new();
    let mut log = SlidingWindowLog::new(5, ONE_SECOND, &clock);
    let mut most = 0;
    // Ten seconds of requests, one every millisecond.
    for _ in 0..10_000 {
        clock.advance_nanos(MS);
        log.try_acquire();
        most = most.max(log.stored());
    }
    assert!(
        most <= 5,
        "with a limit of 5 the log held {most} times at once: store only admitted requests, \
         and drop the times that have left the window"
    );
    clock.advance_nanos(60 * SECOND);
    assert!(log.try_acquire(), "a request after a minute of quiet");
    assert_eq!(
        log.stored(),
        1,
        "after a minute of quiet, the only time inside the window is the request just made: \
         the old ones should be dropped when the next request comes"
    );
}

#[rstest]
// limit 10 per second, 10 admitted at 0 s: how many more fit at this time (ms)?
#[case::at_the_boundary(1_000, 0)]
#[case::a_quarter_in(1_250, 3)]
#[case::half_way(1_500, 5)]
#[case::nine_tenths_in(1_900, 9)]
#[case::two_windows_later(2_000, 10)]
#[case::long_after(3_700, 10)]
fn the_counter_weighs_the_previous_window_by_its_overlap(
    #[case] at_ms: u64,
    #[case] expected: u64,
) {
    let clock = ManualClock::new();
    let mut counter = SlidingWindowCounter::new(10, ONE_SECOND, &clock);
    assert_eq!(
        admitted_in_a_row(20, || counter.try_acquire()),
        10,
        "a new sliding-window counter with a limit of 10 should admit 10 requests at 0 s"
    );
    clock.set(at_ms * MS);
    let admitted = admitted_in_a_row(20, || counter.try_acquire());
    assert_eq!(
        admitted, expected,
        "10 requests were admitted in the window [0 s, 1 s); at {at_ms} ms a counter with a \
         limit of 10 per second should admit {expected} more, got {admitted}. A request fits \
         while previous * (window - elapsed) + current * window < limit * window, where \
         elapsed is the time since the current window began; one window later, current \
         becomes previous; two or more, both are zero"
    );
}

#[rstest]
#[case::from_time_zero(0)]
#[case::from_half_a_second(500 * MS)]
#[case::from_an_hour_and_a_bit(3_600 * SECOND + 300 * MS)]
fn the_counter_admits_the_limit_within_one_window(#[case] start: u64) {
    let clock = ManualClock::at(start);
    let mut counter = SlidingWindowCounter::new(4, ONE_SECOND, &clock);
    let admitted = admitted_in_a_row(10, || counter.try_acquire());
    assert_eq!(
        admitted, 4,
        "a new counter with a limit of 4 per second, first used at {start} ns, should admit \
         4 requests at once and refuse the next (admitted {admitted})"
    );
    clock.advance_nanos(100 * MS);
    assert!(
        !counter.try_acquire(),
        "100 ms later the counter should still refuse: if that is still the same fixed \
         window, `current` is 4; if a new one began, the old 4 still weigh almost in full"
    );
}

#[rstest]
// limit, burst just before the boundary (ms), burst at the boundary (ms)
#[case::limit_ten(10, 900, 1_000)]
#[case::limit_a_hundred(100, 999, 1_000)]
fn sliding_windows_refuse_the_burst_a_fixed_window_lets_through(
    #[case] limit: u64,
    #[case] before_ms: u64,
    #[case] at_ms: u64,
) {
    fn two_bursts(
        clock: &ManualClock,
        before_ms: u64,
        at_ms: u64,
        mut try_acquire: impl FnMut() -> bool,
        limit: u64,
    ) -> u64 {
        clock.set(before_ms * MS);
        let first = admitted_of(limit * 2, &mut try_acquire);
        clock.set(at_ms * MS);
        first + admitted_of(limit * 2, &mut try_acquire)
    }
    let span = at_ms - before_ms;

    let clock = ManualClock::new();
    let mut fixed = FixedWindow::new(limit, ONE_SECOND, &clock);
    let fixed_total = two_bursts(&clock, before_ms, at_ms, || fixed.try_acquire(), limit);
    assert_eq!(
        fixed_total,
        2 * limit,
        "the given FixedWindow lets {} through in {span} ms: that is its flaw",
        2 * limit
    );

    let clock = ManualClock::new();
    let mut log = SlidingWindowLog::new(limit, ONE_SECOND, &clock);
    let log_total = two_bursts(&clock, before_ms, at_ms, || log.try_acquire(), limit);
    assert_eq!(
        log_total, limit,
        "bursts at {before_ms} ms and {at_ms} ms: the sliding-window log must admit {limit} \
         in all, since both bursts fall inside one window of 1 s; it admitted {log_total}"
    );

    let clock = ManualClock::new();
    let mut counter = SlidingWindowCounter::new(limit, ONE_SECOND, &clock);
    let counter_total = two_bursts(&clock, before_ms, at_ms, || counter.try_acquire(), limit);
    assert_eq!(
        counter_total, limit,
        "bursts at {before_ms} ms and {at_ms} ms: the sliding-window counter must admit \
         {limit} in all (at the boundary the previous window still weighs in full); it \
         admitted {counter_total}. Did it throw the previous window's count away instead \
         of moving it to `previous`?"
    );
}

#[test]
fn the_counter_is_an_estimate_the_log_is_exact() {
    // Ten requests at 0.9 s; then as many as fit at 1.5 s.
    let clock = ManualClock::new();
    let mut log = SlidingWindowLog::new(10, ONE_SECOND, &clock);
    let mut counter = SlidingWindowCounter::new(10, ONE_SECOND, &clock);
    clock.set(900 * MS);
    assert_eq!(
        admitted_of(10, || log.try_acquire()),
        10,
        "the log, 10 at 0.9 s"
    );
    assert_eq!(
        admitted_of(10, || counter.try_acquire()),
        10,
        "the counter, 10 at 0.9 s"
    );
    clock.set(1_500 * MS);
    assert_eq!(
        admitted_of(20, || log.try_acquire()),
        0,
        "at 1.5 s the 10 requests of 0.9 s are still inside the log's window (0.5 s, 1.5 s]: \
         nothing more fits"
    );
    assert_eq!(
        admitted_of(20, || counter.try_acquire()),
        5,
        "at 1.5 s the counter only knows that 10 requests came somewhere in [0 s, 1 s), and \
         weighs them by the half of that window still covered: 5 more fit"
    );
}
