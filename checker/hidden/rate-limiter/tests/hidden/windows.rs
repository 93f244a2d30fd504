//! Stage 5: `SlidingWindowLog` and `SlidingWindowCounter` (and the given
//! `FixedWindow`, for comparison).

use std::time::Duration;

use hidden_rate_limiter::{CounterModel, LogModel, Step, catch_quietly, run_trace, seeds};
use learner::{Clock, FixedWindow, ManualClock, SlidingWindowCounter, SlidingWindowLog};

/// Random request times for a window of `window` ns: bursts at one
/// instant, small steps, steps of about a fraction of the window, and
/// idle gaps of one, two or more windows, sometimes landing exactly on a
/// window boundary.
fn window_steps(rng: &mut fastrand::Rng, len: usize, window: u64) -> Vec<Step> {
    let mut t = 0_u64;
    (0..len)
        .map(|_| {
            let advance = match rng.u32(0..100) {
                0..=34 => 0,
                35..=59 => rng.u64(1..=3),
                60..=84 => rng.u64(1..=window / 4 + 1),
                85..=89 => window,
                90..=94 => window - t % window, // to the next boundary
                _ => rng.u64(window..=3 * window),
            };
            t += advance;
            Step {
                advance,
                n: 1,
                key: 0,
            }
        })
        .collect()
}

const WINDOW_CASES: [(u64, u64); 5] = [(1, 10), (3, 100), (10, 1_000), (7, 999_983), (50, 64)];

// Catches: any divergence from the definition (fewer than `limit` admitted times in `(now - window, now]`).
#[test]
fn log_matches_the_definition_on_random_traces() {
    for seed in seeds(12) {
        for (limit, window) in WINDOW_CASES {
            let mut rng = fastrand::Rng::with_seed(seed ^ (limit << 32) ^ window);
            let steps = window_steps(&mut rng, 2_000, window);
            let clock = ManualClock::new();
            let mut log = SlidingWindowLog::new(limit, Duration::from_nanos(window), &clock);
            let mut model = LogModel::new(limit, window);
            run_trace(
                &format!("SlidingWindowLog::new({limit}, {window} ns)"),
                seed,
                &clock,
                &steps,
                |now, _| model.request(now),
                |_| log.try_acquire(),
            );
        }
    }
}

// Catches: an off-by-one at the edge of the log's window: a time `t` leaves the window when `t <= now - window`.
#[test]
fn log_entries_leave_exactly_one_window_later() {
    let clock = ManualClock::at(500);
    let mut log = SlidingWindowLog::new(2, Duration::from_nanos(100), &clock);
    assert!(
        log.try_acquire(),
        "SlidingWindowLog::new(2, 100 ns), nothing logged: the first request, at t=500 ns, \
         was refused"
    );
    clock.set(550);
    assert!(
        log.try_acquire(),
        "SlidingWindowLog::new(2, 100 ns), one admitted at t=500 ns: a second at t=550 ns \
         is within the limit of 2, but was refused"
    );
    assert!(
        !log.try_acquire(),
        "SlidingWindowLog::new(2, 100 ns): a third request at t=550 ns"
    );
    clock.set(599);
    assert!(
        !log.try_acquire(),
        "SlidingWindowLog::new(2, 100 ns), admitted at t=500 and 550 ns: at t=599 ns the \
         window (499, 599] still holds both"
    );
    clock.set(600);
    assert!(
        log.try_acquire(),
        "SlidingWindowLog::new(2, 100 ns), admitted at t=500 and 550 ns: at t=600 ns the \
         window is (500, 600], so the request at t=500 ns has left it"
    );
    assert!(
        !log.try_acquire(),
        "SlidingWindowLog::new(2, 100 ns), admitted at t=550 and 600 ns: another request \
         at t=600 ns would make 3 in the window (500, 600], so it must be refused"
    );
}

// Catches: a log that never drops old times (or records refused requests too), so its memory grows without bound.
#[test]
fn log_memory_stays_at_most_the_limit() {
    let clock = ManualClock::new();
    let mut log = SlidingWindowLog::new(8, Duration::from_nanos(1_000), &clock);
    let mut rng = fastrand::Rng::with_seed(11);
    let mut admitted = 0;
    for i in 0..100_000 {
        clock.advance_nanos(rng.u64(0..40));
        if log.try_acquire() {
            admitted += 1;
        }
        assert!(
            log.stored() <= 8,
            "SlidingWindowLog::new(8, 1000 ns) holds {} times after {i} requests: it must \
             drop the times that left the window (and never store refused requests), so \
             it holds at most 8",
            log.stored()
        );
    }
    assert!(
        admitted > 8,
        "the log admitted only {admitted} requests in 100,000 over 2 ms"
    );
}

// Catches: writing "t has left the window" as `t <= now - window`: in the clock's first window `now - window` underflows and the log panics.
#[test]
fn log_in_the_clocks_first_window_does_not_underflow() {
    let clock = ManualClock::new();
    let mut log = SlidingWindowLog::new(3, Duration::from_nanos(1_000), &clock);
    let admitted = catch_quietly(|| {
        [0, 10, 20, 30, 999]
            .map(|t| {
                clock.set(t);
                log.try_acquire()
            })
            .to_vec()
    });
    match admitted {
        Err(why) => panic!(
            "SlidingWindowLog::new(3, 1000 ns) on a clock that starts at 0: a request in the \
             first 1000 ns panicked ({why}). `now - window` underflows in the clock's first \
             window; test whether t has left as `now.saturating_sub(t) >= window` (or \
             `t + window <= now`)"
        ),
        Ok(admitted) => assert_eq!(
            admitted,
            vec![true, true, true, false, false],
            "SlidingWindowLog::new(3, 1000 ns), requests at t=0, 10, 20, 30, 999 ns: all \
             are inside one window, so the first 3 are admitted and the rest refused"
        ),
    }
    clock.set(1_000);
    assert!(
        log.try_acquire(),
        "SlidingWindowLog::new(3, 1000 ns), admitted at t=0, 10, 20 ns: at t=1000 ns the \
         request at t=0 has left the window (0 + 1000 <= 1000)"
    );
}

// Catches: computing a logged time's age as `now - t`: a clock stepped back before the newest logged time makes it underflow, and the log panics.
#[test]
fn log_survives_a_clock_stepping_back() {
    let clock = ManualClock::at(1_000);
    let mut log = SlidingWindowLog::new(2, Duration::from_nanos(100), &clock);
    assert!(
        log.try_acquire(),
        "SlidingWindowLog::new(2, 100 ns), nothing logged: the first request, at t=1000 \
         ns, was refused"
    );
    clock.set(1_050);
    assert!(
        log.try_acquire(),
        "SlidingWindowLog::new(2, 100 ns), one admitted at t=1000 ns: a second at t=1050 \
         ns is within the limit of 2, but was refused"
    );
    clock.set(990);
    match catch_quietly(|| log.try_acquire()) {
        Err(why) => panic!(
            "SlidingWindowLog::new(2, 100 ns), admitted at t=1000 and 1050 ns, then the clock \
             stepped back to 990 ns: try_acquire panicked ({why}). `now - t` underflows for \
             a time after now; use `now.saturating_sub(t)`, so such a time counts as inside"
        ),
        Ok(admitted) => assert!(
            !admitted,
            "SlidingWindowLog::new(2, 100 ns), admitted at t=1000 and 1050 ns, then a request \
             at t=990 ns (the clock stepped back): both logged times count as inside the \
             window, so it is refused"
        ),
    }
    clock.set(1_100);
    assert!(
        log.try_acquire(),
        "SlidingWindowLog::new(2, 100 ns), admitted at t=1000 and 1050 ns: at t=1100 ns the \
         time 1000 has left the window, whatever the clock read in between"
    );
    assert!(
        log.stored() <= 2,
        "SlidingWindowLog::new(2, 100 ns) holds {} times after the clock stepped back: it \
         must never hold more than its limit, 2",
        log.stored()
    );
}

// Catches: any divergence from the documented estimate `previous * (window - elapsed) + current * window < limit * window`.
#[test]
fn counter_matches_the_formula_on_random_traces() {
    for seed in seeds(12) {
        for (limit, window) in WINDOW_CASES {
            let mut rng = fastrand::Rng::with_seed(seed ^ (limit << 40) ^ window);
            let steps = window_steps(&mut rng, 2_000, window);
            let clock = ManualClock::new();
            let mut counter =
                SlidingWindowCounter::new(limit, Duration::from_nanos(window), &clock);
            let mut model = CounterModel::new(limit, window);
            run_trace(
                &format!("SlidingWindowCounter::new({limit}, {window} ns)"),
                seed,
                &clock,
                &steps,
                |now, _| model.request(now),
                |_| counter.try_acquire(),
            );
        }
    }
}

/// Requests at a frozen clock until one is refused (at most 1000); returns how many were admitted.
fn burst(counter: &mut SlidingWindowCounter<&ManualClock>) -> u64 {
    let mut admitted = 0;
    while admitted < 1_000 && counter.try_acquire() {
        admitted += 1;
    }
    admitted
}

// Catches: weighing the previous window wrongly at or near a boundary: by `elapsed` instead of `window - elapsed`, with `<=` for `<`, or off by one nanosecond.
#[test]
fn counter_weighs_the_previous_window_by_the_overlap() {
    let clock = ManualClock::new();
    let mut counter = SlidingWindowCounter::new(10, Duration::from_nanos(100), &clock);
    clock.set(40);
    let first = burst(&mut counter);
    assert_eq!(
        first, 10,
        "SlidingWindowCounter::new(10, 100 ns), nothing before: a burst at t=40 ns admitted \
         {first}, expected exactly 10. The comparison is strict: admit while previous * \
         (window - elapsed) + current * window < limit * window, so at exactly the limit, \
         refuse"
    );
    // (t, how many a burst at t admits, why)
    for (t, expected, why) in [
        (
            100,
            0,
            "previous 10 weighs 100 of 100: 10 * 100 + 0 = 1000 is not below 1000",
        ),
        (
            101,
            1,
            "10 * 99 + 0 * 100 = 990 < 1000, then 10 * 99 + 1 * 100 = 1090 is not",
        ),
        (
            150,
            4,
            "10 * 50 + current * 100 < 1000 while current is 1, 2, 3, 4",
        ),
        (
            199,
            5,
            "10 * 1 + current * 100 < 1000 while current is 5, ..., 9",
        ),
        (
            200,
            0,
            "[100, 200) with its 10 is now the previous window, weighing 100 of 100",
        ),
    ] {
        clock.set(t);
        let got = burst(&mut counter);
        assert_eq!(
            got, expected,
            "SlidingWindowCounter::new(10, 100 ns), 10 admitted at t=40 ns, then bursts at \
             t=100, 101, 150, 199, 200 ns: the burst at t={t} ns admitted {got}, expected \
             {expected} ({why})"
        );
    }
}

// Catches: rolling the counters by one window however far the clock moved, so an idle gap of two windows still counts the old requests.
#[test]
fn counter_idle_for_two_windows_starts_from_zero() {
    let clock = ManualClock::new();
    let mut counter = SlidingWindowCounter::new(10, Duration::from_nanos(100), &clock);
    clock.set(90);
    assert_eq!(
        burst(&mut counter),
        10,
        "SlidingWindowCounter::new(10, 100 ns), nothing counted yet: a burst at t=90 ns \
         must admit exactly its limit, 10"
    );
    clock.set(200);
    assert_eq!(
        burst(&mut counter),
        10,
        "SlidingWindowCounter::new(10, 100 ns), 10 admitted at t=90 ns: at t=200 ns the \
         window [0, 100) is two windows back, so both counters start from zero"
    );
    clock.set(5_030);
    assert_eq!(
        burst(&mut counter),
        10,
        "SlidingWindowCounter::new(10, 100 ns), 10 admitted at t=200 ns: at t=5030 ns it \
         is 48 windows later, so both counters start from zero"
    );
    clock.set(5_100);
    assert_eq!(
        burst(&mut counter),
        0,
        "SlidingWindowCounter::new(10, 100 ns), 10 admitted at t=5030 ns: at t=5100 ns the \
         window before is [5000, 5100) and weighs fully"
    );
}

// Catches: computing the bound `limit * window` in 64 bits (both are u64 fields) and widening afterwards: at a million requests a day it is 8.64e19 ns and the counter panics on its first request.
#[test]
fn counter_at_a_million_a_day_does_not_overflow() {
    let clock = ManualClock::new();
    let day = 86_400_u64;
    let mut counter = SlidingWindowCounter::new(1_000_000, Duration::from_secs(day), &clock);
    let admitted = catch_quietly(|| {
        let mut admitted = 0_u64;
        for i in 0..2_000_u64 {
            clock.set(i * 1_000_000);
            admitted += u64::from(counter.try_acquire());
        }
        admitted
    });
    match admitted {
        Err(why) => panic!(
            "SlidingWindowCounter::new(1,000,000, 1 day) panicked ({why}). limit * window = \
             1,000,000 * 86,400,000,000,000 ns = 8.64e19 does not fit in 64 bits: compute \
             every product of the estimate in u128"
        ),
        Ok(admitted) => assert_eq!(
            admitted, 2_000,
            "SlidingWindowCounter::new(1,000,000, 1 day): 2000 requests in the first 2 s of \
             the first day are far below the limit and must all be admitted"
        ),
    }
    // Half a day into the next day, the first day's 2000 weigh half.
    clock.set((day + day / 2) * 1_000_000_000);
    assert!(
        counter.try_acquire(),
        "SlidingWindowCounter::new(1,000,000, 1 day): 2000 admitted on day one; half-way \
         through day two the estimate is 1000, far below the limit"
    );
}

// Catches: computing `elapsed = now - start` plainly, or rolling the windows whenever the start changes (`!=`): a clock stepped back before the current window's start underflows and the counter panics.
#[test]
fn counter_survives_a_clock_stepping_back() {
    let clock = ManualClock::new();
    let mut counter = SlidingWindowCounter::new(10, Duration::from_nanos(100), &clock);
    clock.set(150);
    assert_eq!(
        burst(&mut counter),
        10,
        "SlidingWindowCounter::new(10, 100 ns): 10 at t=150 ns"
    );
    clock.set(260);
    assert_eq!(
        burst(&mut counter),
        6,
        "SlidingWindowCounter::new(10, 100 ns), 10 admitted at t=150 ns: at t=260 ns the \
         previous 10 weigh 40 of 100, so 10 * 40 + current * 100 < 1000 admits 6"
    );
    for back in [230, 199, 120] {
        clock.set(back);
        match catch_quietly(|| burst(&mut counter)) {
            Err(why) => panic!(
                "SlidingWindowCounter::new(10, 100 ns), current window [200, 300): the clock \
                 stepped back to t={back} ns and try_acquire panicked ({why}). A clock \
                 earlier than `start` must not underflow: roll the windows only forward \
                 (`start > self.start`) and take `elapsed` as `now.saturating_sub(start)`"
            ),
            Ok(got) => assert_eq!(
                got, 0,
                "SlidingWindowCounter::new(10, 100 ns), 10 admitted in [100, 200) and 6 in \
                 [200, 300): a burst at t={back} ns (the clock stepped back) admitted {got}; \
                 the counts already reach the limit, so it must refuse"
            ),
        }
    }
    clock.set(400);
    assert_eq!(
        burst(&mut counter),
        10,
        "SlidingWindowCounter::new(10, 100 ns): at t=400 ns, two windows after [200, 300), \
         both counters start from zero again"
    );
}

// Catches: nothing in a correct limiter: it shows why the fixed window is not enough, and that both sliding windows refuse the double burst at a boundary.
#[test]
fn only_the_fixed_window_lets_twice_the_limit_through_at_a_boundary() {
    let (limit, window) = (10, Duration::from_nanos(1_000));
    let clock = ManualClock::new();
    let mut fixed = FixedWindow::new(limit, window, &clock);
    let mut log = SlidingWindowLog::new(limit, window, &clock);
    let mut counter = SlidingWindowCounter::new(limit, window, &clock);
    let mut admitted = [0_u64; 3];
    for t in [999, 1_000] {
        clock.set(t);
        for _ in 0..limit {
            admitted[0] += u64::from(fixed.try_acquire());
            admitted[1] += u64::from(log.try_acquire());
            admitted[2] += u64::from(counter.try_acquire());
        }
    }
    assert_eq!(
        admitted[0],
        2 * limit,
        "FixedWindow (given) lets 20 through in 2 ns"
    );
    assert_eq!(
        admitted[1], limit,
        "SlidingWindowLog::new(10, 1000 ns): 10 requests at t=999 ns and 10 at t=1000 ns \
         admitted {} in total; any window of 1000 ns holds at most 10",
        admitted[1]
    );
    assert_eq!(
        admitted[2], limit,
        "SlidingWindowCounter::new(10, 1000 ns): 10 requests at t=999 ns and 10 at t=1000 ns \
         admitted {} in total; at t=1000 ns the previous window weighs fully",
        admitted[2]
    );
    let _ = clock.now();
}
