//! Property tests: the limiters against models that count in exact fractions
//! or keep the whole history.
//!
//! The limiters keep the least state they can (a level in units, one TAT,
//! two counters); the models keep the obvious state instead (a fraction of
//! tokens, every admitted instant) and are driven through the same random
//! traces on a [`ManualClock`]. `PROPTEST_CASES=5000 cargo test -p
//! rate-limiter-solution --test properties` runs them longer.

use std::time::Duration;

use proptest::prelude::*;
use rate_limiter_solution::{
    FixedWindow, Gcra, ManualClock, Rate, SlidingWindowCounter, SlidingWindowLog, TokenBucket,
};

fn gcd(a: u128, b: u128) -> u128 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// A non-negative fraction in lowest terms.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Frac {
    num: u128,
    den: u128,
}

impl Frac {
    fn new(num: u128, den: u128) -> Frac {
        let g = gcd(num, den).max(1);
        Frac {
            num: num / g,
            den: den / g,
        }
    }

    fn whole(n: u64) -> Frac {
        Frac::new(u128::from(n), 1)
    }

    fn add(self, other: Frac) -> Frac {
        Frac::new(
            self.num * other.den + other.num * self.den,
            self.den * other.den,
        )
    }

    fn sub(self, other: Frac) -> Frac {
        Frac::new(
            self.num * other.den - other.num * self.den,
            self.den * other.den,
        )
    }

    fn at_least(self, other: Frac) -> bool {
        self.num * other.den >= other.num * self.den
    }

    fn min(self, other: Frac) -> Frac {
        if self.at_least(other) { other } else { self }
    }

    fn floor(self) -> u64 {
        (self.num / self.den) as u64
    }
}

/// The token bucket as a fraction of tokens: what a reading later than the
/// last one earned is added, never above a full bucket; an earlier reading
/// earns nothing and is forgotten.
struct Exact {
    level: Frac,
    full: Frac,
    per_nano: Frac,
    last: u64,
}

impl Exact {
    fn new(capacity: u64, tokens: u64, period: u64, start: u64) -> Exact {
        let full = Frac::whole(capacity);
        let per_nano = Frac::new(u128::from(tokens), u128::from(period));
        Exact {
            level: full,
            full,
            per_nano,
            last: start,
        }
    }

    /// Brings the level up to date with a clock reading of `now`.
    fn read(&mut self, now: u64) {
        if now > self.last {
            let earned = Frac::new(
                u128::from(now - self.last) * self.per_nano.num,
                self.per_nano.den,
            );
            self.level = self.level.add(earned).min(self.full);
            self.last = now;
        }
    }

    /// Asks for `n` tokens at `now`. Asking for nothing changes nothing
    /// (it does not even read the clock).
    fn take(&mut self, n: u64, now: u64) -> bool {
        if n == 0 {
            return true;
        }
        self.read(now);
        let admit = self.level.at_least(Frac::whole(n));
        if admit {
            self.level = self.level.sub(Frac::whole(n));
        }
        admit
    }
}

/// A rate as a person would write it: tokens per period, rarely in lowest terms.
fn rate() -> impl Strategy<Value = (u64, u64)> {
    (
        1u64..=1_000,
        prop_oneof![1u64..=1_000, 1u64..=10_000_000_000],
    )
        .prop_map(|(t, p)| (t, p))
}

/// One step of a trace: move the clock (`back` moves it backwards), then
/// ask for `n` tokens, or only look at what is available.
#[derive(Debug, Clone)]
struct Step {
    dt: u64,
    back: bool,
    n: u64,
    look: bool,
}

fn steps(capacity_hint: u64, backwards: bool) -> impl Strategy<Value = Vec<Step>> {
    let step = (
        prop_oneof![Just(0u64), 0u64..=1_000, 0u64..=2_000_000_000],
        prop::bool::weighted(if backwards { 0.1 } else { 0.0 }),
        prop_oneof![4 => 0u64..=3, 1 => 0u64..=capacity_hint + 2],
        prop::bool::weighted(0.2),
    )
        .prop_map(|(dt, back, n, look)| Step { dt, back, n, look });
    prop::collection::vec(step, 0..60)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_rate_is_the_same_fraction_in_lowest_terms(
        tokens in 1u64..=u64::MAX, period in 1u64..=u64::MAX,
    ) {
        let r = Rate::new(tokens, Duration::from_nanos(period));
        let (t, p) = (u128::from(r.tokens()), u128::from(r.period_nanos()));
        prop_assert_eq!(gcd(t, p), 1, "{} is not in lowest terms", r);
        prop_assert_eq!(t * u128::from(period), p * u128::from(tokens), "{} is not {}/{}", r, tokens, period);
    }

    #[test]
    fn token_bucket_admits_what_an_exact_fraction_admits(
        capacity in 1u64..=20,
        (tokens, period) in rate(),
        start in 0u64..=1_000_000,
        trace in steps(20, true),
    ) {
        let clock = ManualClock::at(start);
        let mut bucket = TokenBucket::new(capacity, Rate::new(tokens, Duration::from_nanos(period)), &clock);
        let mut exact = Exact::new(capacity, tokens, period, start);
        let mut now = start;
        for (i, step) in trace.iter().enumerate() {
            now = if step.back { now.saturating_sub(step.dt) } else { now + step.dt };
            clock.set(now);
            if step.look {
                exact.read(now);
                prop_assert_eq!(bucket.available(), exact.level.floor(), "step {}: available() at t={}", i, now);
                continue;
            }
            let before = exact.level;
            let admit = exact.take(step.n, now);
            prop_assert_eq!(bucket.try_acquire(step.n), admit, "step {}: try_acquire({}) at t={} with {:?} tokens before", i, step.n, now, before);
        }
    }

    #[test]
    fn gcra_admits_what_the_exact_fraction_and_the_token_bucket_admit(
        capacity in 1u64..=20,
        (tokens, period) in rate(),
        start in 0u64..=1_000_000,
        trace in steps(20, false),
    ) {
        let rate = Rate::new(tokens, Duration::from_nanos(period));
        let (bucket_clock, gcra_clock) = (ManualClock::at(start), ManualClock::at(start));
        let mut bucket = TokenBucket::new(capacity, rate, &bucket_clock);
        let gcra = Gcra::new(capacity, rate, &gcra_clock);
        let mut exact = Exact::new(capacity, tokens, period, start);
        let mut now = start;
        for (i, step) in trace.iter().enumerate() {
            now += step.dt;
            bucket_clock.set(now);
            gcra_clock.set(now);
            let admit = exact.take(step.n, now);
            prop_assert_eq!(gcra.try_acquire(step.n), admit, "step {}: Gcra::try_acquire({}) at t={}", i, step.n, now);
            prop_assert_eq!(bucket.try_acquire(step.n), admit, "step {}: TokenBucket::try_acquire({}) at t={}", i, step.n, now);
        }
    }
}

/// Instants for the window limiters: bursts, gaps, exactly one window apart.
fn instants(window: u64) -> impl Strategy<Value = Vec<u64>> {
    let dt = prop_oneof![
        3 => Just(0u64),
        3 => 0..=window / 4,
        2 => Just(window),
        1 => Just(window - 1),
        1 => 0..=3 * window,
    ];
    prop::collection::vec(dt, 0..60).prop_map(|dts| {
        dts.into_iter()
            .scan(0u64, |t, dt| {
                *t += dt;
                Some(*t)
            })
            .collect()
    })
}

fn window_and_times() -> impl Strategy<Value = (u64, Vec<u64>)> {
    prop_oneof![1u64..=10, 10u64..=1_000_000].prop_flat_map(|w| (Just(w), instants(w)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn sliding_window_log_admits_at_most_limit_in_any_window(
        limit in 0u64..=6,
        (window, times) in window_and_times(),
    ) {
        let clock = ManualClock::new();
        let mut log = SlidingWindowLog::new(limit, Duration::from_nanos(window), &clock);
        let mut admitted: Vec<u64> = Vec::new();
        for &now in &times {
            clock.set(now);
            let recent = admitted.iter().filter(|&&t| now - t < window).count() as u64;
            let admit = recent < limit;
            if admit {
                admitted.push(now);
            }
            prop_assert_eq!(log.try_acquire(), admit, "t={} with {} admitted in the window", now, recent);
            prop_assert!(log.stored() as u64 <= limit, "the log keeps {} instants for a limit of {}", log.stored(), limit);
        }
    }

    #[test]
    fn fixed_window_admits_limit_per_aligned_window(
        limit in 0u64..=6,
        (window, times) in window_and_times(),
    ) {
        let clock = ManualClock::new();
        let mut fixed = FixedWindow::new(limit, Duration::from_nanos(window), &clock);
        let mut admitted: Vec<u64> = Vec::new();
        for &now in &times {
            clock.set(now);
            let same = admitted.iter().filter(|&&t| t / window == now / window).count() as u64;
            let admit = same < limit;
            if admit {
                admitted.push(now);
            }
            prop_assert_eq!(fixed.try_acquire(), admit, "t={}", now);
        }
    }

    #[test]
    fn sliding_window_counter_weights_the_previous_window(
        limit in 0u64..=6,
        (window, times) in window_and_times(),
    ) {
        let clock = ManualClock::new();
        let mut counter = SlidingWindowCounter::new(limit, Duration::from_nanos(window), &clock);
        let mut admitted: Vec<u64> = Vec::new();
        for &now in &times {
            clock.set(now);
            // Admitted in this aligned window, and in the one just before
            // it, weighted by how much of it the sliding window still covers:
            // current + previous * (window - elapsed) / window < limit.
            let k = now / window;
            let current = admitted.iter().filter(|&&t| t / window == k).count() as u128;
            let previous = admitted.iter().filter(|&&t| k > 0 && t / window == k - 1).count() as u128;
            let (w, elapsed) = (u128::from(window), u128::from(now % window));
            let admit = current * w + previous * (w - elapsed) < u128::from(limit) * w;
            if admit {
                admitted.push(now);
            }
            prop_assert_eq!(counter.try_acquire(), admit, "t={}: {} now, {} in the window before", now, current, previous);
        }
    }
}
