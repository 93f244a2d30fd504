//! Stage 1: `TokenBucket` in exact integer arithmetic.

use std::time::Duration;

use hidden_rate_limiter::{
    BUCKET_CASES, BucketModel, catch_quietly, random_steps, run_trace, seeds,
};
use learner::{ManualClock, Rate, TokenBucket};

/// Takes every token out of a full `bucket`.
fn drain(bucket: &mut TokenBucket<&ManualClock>) {
    let capacity = bucket.capacity();
    assert!(
        bucket.try_acquire(capacity),
        "a new TokenBucket::new({capacity}, ..) is full: try_acquire({capacity}) must succeed"
    );
}

// Catches: a bucket that starts empty, or a `>` where `>=` belongs (the last token is never given out).
#[test]
fn starts_full_and_gives_out_exactly_the_capacity() {
    for capacity in [1, 2, 5, 64] {
        let clock = ManualClock::at(1_000);
        let mut bucket = TokenBucket::new(capacity, Rate::per_second(1), &clock);
        assert_eq!(
            bucket.available(),
            capacity,
            "TokenBucket::new({capacity}, 1 per second): a new bucket is full"
        );
        for i in 0..capacity {
            assert!(
                bucket.try_acquire(1),
                "TokenBucket::new({capacity}, 1 per second) at a clock that does not move: \
                 request {} of 1 token was refused, but a new bucket holds {capacity}",
                i + 1
            );
        }
        assert!(
            !bucket.try_acquire(1),
            "TokenBucket::new({capacity}, 1 per second): after {capacity} tokens were taken \
             and no time passed, the next request must be refused"
        );
        assert_eq!(
            bucket.available(),
            0,
            "TokenBucket::new({capacity}, 1 per second): all {capacity} tokens were taken \
             and no time passed, so available() must be 0"
        );
    }
}

// Catches: a refill that is never capped, so a long idle builds up a huge burst.
#[test]
fn a_long_idle_fills_the_bucket_only_to_capacity() {
    let clock = ManualClock::new();
    let mut bucket = TokenBucket::new(10, Rate::per_second(1000), &clock);
    assert!(
        bucket.try_acquire(10),
        "{}",
        crate::all_it_holds_refused("TokenBucket::new(10, 1000 per second), new (so full)", 10)
    );
    clock.advance(Duration::from_secs(3600));
    assert_eq!(
        bucket.available(),
        10,
        "TokenBucket::new(10, 1000 per second), emptied, then idle for an hour: \
         it holds at most its capacity"
    );
    let mut admitted = 0;
    while admitted < 100 && bucket.try_acquire(1) {
        admitted += 1;
    }
    assert_eq!(
        admitted, 10,
        "TokenBucket::new(10, 1000 per second) after an hour idle, at a frozen clock: \
         admitted {admitted} requests of 1; a bucket never holds more than its capacity"
    );
}

// Catches: floating-point levels or rates (3 per second is 333,333,333.33 ns a token), which drift when added up in many small steps.
#[test]
fn many_small_steps_earn_exactly_what_one_big_step_earns() {
    for (tokens, period) in [(3, 1_000), (7, 1_000), (1, 3), (10, 9), (2, 3)] {
        let rate = Rate::new(tokens, Duration::from_nanos(period));
        let capacity = 10_000_000;
        let small = ManualClock::new();
        let big = ManualClock::new();
        let mut by_small = TokenBucket::new(capacity, rate, &small);
        let mut by_big = TokenBucket::new(capacity, rate, &big);
        drain(&mut by_small);
        drain(&mut by_big);
        // A multiple of every period: the exact total is a whole number of tokens.
        let steps: u64 = 999_000;
        for _ in 0..steps {
            small.advance_nanos(1);
            // Looking (and so refilling) after every nanosecond.
            by_small.try_acquire(0);
            by_small.available();
        }
        big.advance_nanos(steps);
        let expected = (u128::from(steps) * u128::from(tokens) / u128::from(period)) as u64;
        let (a, b) = (by_small.available(), by_big.available());
        assert_eq!(
            (a, b),
            (expected, expected),
            "TokenBucket::new({capacity}, {tokens} per {period} ns), emptied: after {steps} \
             steps of 1 ns (checking after each) it holds {a} tokens, after one step of \
             {steps} ns {b}; both must be exactly {expected}. Count in integer units \
             (rate.tokens() per ns, rate.period_nanos() per token), never in floats"
        );
    }
}

// Catches: rounding each refill down to whole tokens (or a token interval rounded to 333,333,333 ns): three tokens at 3 per second arrive at exactly 1 s, however the clock gets there.
#[test]
fn thirds_of_a_second_add_up_exactly() {
    let clock = ManualClock::new();
    let mut bucket = TokenBucket::new(3, Rate::per_second(3), &clock);
    assert!(
        bucket.try_acquire(3),
        "{}",
        crate::all_it_holds_refused("TokenBucket::new(3, 3 per second), new (so full) at t=0", 3)
    );
    for (i, step) in [333_333_333_u64, 333_333_333, 333_333_333]
        .iter()
        .enumerate()
    {
        clock.advance_nanos(*step);
        let expected = i as u64; // 0.999999999, 1.999999998, 2.999999997 tokens
        assert_eq!(
            bucket.available(),
            expected,
            "TokenBucket::new(3, 3 per second), emptied at t=0: at t={} ns it holds {expected} \
             whole token(s) (3 tokens take exactly 1,000,000,000 ns)",
            clock_now(&clock)
        );
    }
    clock.advance_nanos(1);
    assert_eq!(
        bucket.available(),
        3,
        "TokenBucket::new(3, 3 per second), emptied at t=0: at t=1,000,000,000 ns it holds \
         exactly 3 tokens again"
    );
    assert!(
        bucket.try_acquire(3),
        "{}",
        crate::all_it_holds_refused(
            "TokenBucket::new(3, 3 per second), emptied at t=0, refilled to 3 at t=1 s",
            3
        )
    );
    clock.advance_nanos(333_333_334);
    assert!(
        bucket.try_acquire(1),
        "TokenBucket::new(3, 3 per second), emptied at t=1 s: one token has arrived by \
         t=1.333333334 s"
    );
}

fn clock_now(clock: &ManualClock) -> u64 {
    use learner::Clock;
    clock.now()
}

// Catches: refilling by whole token intervals and resetting `last` to now, which throws away the time already earned towards the next token.
#[test]
fn partial_progress_towards_a_token_is_kept() {
    let clock = ManualClock::new();
    let mut bucket = TokenBucket::new(2, Rate::new(1, Duration::from_nanos(1_000)), &clock);
    assert!(
        bucket.try_acquire(2),
        "{}",
        crate::all_it_holds_refused(
            "TokenBucket::new(2, 1 per 1000 ns), new (so full) at t=0",
            2
        )
    );
    clock.set(600);
    assert!(
        !bucket.try_acquire(1),
        "TokenBucket::new(2, 1 per 1000 ns), emptied at t=0: no whole token at t=600 ns"
    );
    clock.set(1_200);
    assert!(
        bucket.try_acquire(1),
        "TokenBucket::new(2, 1 per 1000 ns), emptied at t=0 and looked at t=600 ns: by \
         t=1200 ns one token has been earned. The 600 ns before the first look count \
         too: keep the fraction of a token (in units), do not reset `last` without it"
    );
    clock.set(1_999);
    assert!(
        !bucket.try_acquire(1),
        "TokenBucket::new(2, 1 per 1000 ns), emptied at t=0, one token taken at t=1200 ns: \
         the second token arrives at t=2000 ns, not before"
    );
    clock.set(2_000);
    assert!(
        bucket.try_acquire(1),
        "TokenBucket::new(2, 1 per 1000 ns), emptied at t=0, looked at t=600, 1200 and \
         1999 ns: the second token has arrived at t=2000 ns"
    );
}

// Catches: `now - last` on a clock that reads earlier than `last` (underflow: a panic, or a wrap to a full bucket), and moving `last` backwards (the same time is then counted twice).
#[test]
fn a_clock_that_goes_back_adds_nothing() {
    let clock = ManualClock::at(10_000);
    let mut bucket = TokenBucket::new(5, Rate::new(1, Duration::from_nanos(1_000)), &clock);
    assert!(
        bucket.try_acquire(5),
        "{}",
        crate::all_it_holds_refused(
            "TokenBucket::new(5, 1 per 1000 ns), new (so full) at t=10000 ns",
            5
        )
    );
    clock.set(4_000);
    let refused = catch_quietly(|| (bucket.try_acquire(1), bucket.available()));
    match refused {
        Err(why) => panic!(
            "TokenBucket emptied at t=10000 ns, then the clock read 4000 ns: try_acquire \
             panicked ({why}). A clock earlier than `last` must add nothing (no `now - last` \
             underflow)"
        ),
        Ok((admitted, available)) => assert!(
            !admitted && available == 0,
            "TokenBucket::new(5, 1 per 1000 ns) emptied at t=10000 ns, then the clock read \
             4000 ns: the request was {} and available() = {available}; an earlier reading \
             adds nothing",
            if admitted { "admitted" } else { "refused" }
        ),
    }
    clock.set(10_000);
    assert_eq!(
        bucket.available(),
        0,
        "TokenBucket::new(5, 1 per 1000 ns) emptied at t=10000 ns; the clock read 4000 ns, \
         then 10000 ns again: no time has passed since the bucket was emptied (did `last` \
         move back to 4000?)"
    );
    clock.set(11_000);
    assert_eq!(
        bucket.available(),
        1,
        "TokenBucket::new(5, 1 per 1000 ns) emptied at t=10000 ns: one token at t=11000 ns"
    );
}

// Catches: taking tokens before checking (e.g. a saturating subtraction), so a refused request still empties the bucket; and refusing zero-token requests.
#[test]
fn a_refused_request_takes_nothing() {
    let clock = ManualClock::new();
    let mut bucket = TokenBucket::new(5, Rate::per_second(1), &clock);
    assert!(
        bucket.try_acquire(2),
        "TokenBucket::new(5, 1 per second), new (so full): a request of 2 was refused"
    );
    assert!(
        !bucket.try_acquire(4),
        "TokenBucket::new(5, ..) holding 3: a request of 4 must be refused"
    );
    assert_eq!(
        bucket.available(),
        3,
        "TokenBucket::new(5, ..) holding 3: a refused request of 4 must leave all 3"
    );
    assert!(
        !bucket.try_acquire(6),
        "TokenBucket::new(5, ..): a request above the capacity can never be granted"
    );
    assert!(
        bucket.try_acquire(3),
        "{}",
        crate::all_it_holds_refused(
            "TokenBucket::new(5, 1 per second) holding 3 (2 taken; 4 and 6 refused)",
            3
        )
    );
    assert!(
        bucket.try_acquire(0),
        "TokenBucket::new(5, ..), empty: a request of zero tokens always succeeds"
    );
    assert_eq!(
        bucket.available(),
        0,
        "TokenBucket::new(5, 1 per second): 2 then 3 tokens were taken and no time passed, \
         so available() must be 0"
    );
}

// Catches: multiplying elapsed nanoseconds by the rate in 64 bits (it overflows after a long idle at a fast rate).
#[test]
fn a_long_idle_at_a_fast_rate_does_not_overflow() {
    let clock = ManualClock::new();
    // A million tokens every nanosecond, a trillion-token bucket.
    let capacity = 1_000_000_000_000;
    let mut bucket = TokenBucket::new(
        capacity,
        Rate::new(1_000_000, Duration::from_nanos(1)),
        &clock,
    );
    assert!(
        bucket.try_acquire(capacity),
        "{}",
        crate::all_it_holds_refused(
            &format!("TokenBucket::new({capacity}, 1,000,000 per ns), new (so full)"),
            capacity
        )
    );
    // 30 days: 2.6e15 ns times 1e6 units per ns does not fit in 64 bits.
    clock.advance(Duration::from_secs(30 * 24 * 3600));
    let available = catch_quietly(|| bucket.available());
    assert_eq!(
        available.ok(),
        Some(capacity),
        "TokenBucket::new({capacity}, 1,000,000 per ns), emptied, idle for 30 days: it \
         must be full again (the units earned, 2.6e21, need u128 arithmetic)"
    );
}

// Catches: working out the cost of `n` tokens (`n * rate.period_nanos()`) in 64 bits and widening afterwards: a request for an absurd number of tokens panics instead of being refused.
#[test]
fn a_huge_request_is_refused_without_overflow() {
    let clock = ManualClock::new();
    // 3 per second: a token costs 1,000,000,000 units, so n * cost passes
    // 2^64 once n is above about 18 billion.
    let mut bucket = TokenBucket::new(5, Rate::per_second(3), &clock);
    for n in [6, 20_000_000_000, u64::MAX / 3, u64::MAX] {
        match catch_quietly(|| bucket.try_acquire(n)) {
            Err(why) => panic!(
                "TokenBucket::new(5, 3 per second), full: try_acquire({n}) panicked ({why}). \
                 Its cost, n * rate.period_nanos() = {n} * 1,000,000,000 units, does not fit \
                 in 64 bits: widen to u128 before multiplying, and refuse"
            ),
            Ok(admitted) => assert!(
                !admitted,
                "TokenBucket::new(5, 3 per second), full: try_acquire({n}) must be refused \
                 (more than the capacity)"
            ),
        }
    }
    assert!(
        bucket.try_acquire(5),
        "TokenBucket::new(5, 3 per second): after refusing huge requests, all 5 tokens are \
         still there (a refusal takes nothing)"
    );
}

// Catches: any divergence from an exact token bucket on random traces (rounding, caps, off-by-ones).
#[test]
fn matches_an_exact_model_on_random_traces() {
    for seed in seeds(12) {
        for (capacity, tokens, period) in BUCKET_CASES {
            let mut rng = fastrand::Rng::with_seed(seed ^ capacity ^ (tokens << 20));
            let steps = random_steps(&mut rng, 1500, capacity, tokens, period, 1);
            let clock = ManualClock::at(rng.u64(0..1_000_000));
            let start = clock_now(&clock);
            let mut bucket = TokenBucket::new(
                capacity,
                Rate::new(tokens, Duration::from_nanos(period)),
                &clock,
            );
            let mut model = BucketModel::new(capacity, tokens, period, start);
            run_trace(
                &format!(
                    "TokenBucket::new({capacity}, {tokens} per {period} ns), created at t={start} ns"
                ),
                seed,
                &clock,
                &steps,
                |now, step| model.request(now, step.n),
                |step| bucket.try_acquire(step.n),
            );
        }
    }
}
