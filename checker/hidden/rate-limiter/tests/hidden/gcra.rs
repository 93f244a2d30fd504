//! Stage 3: `Gcra`, one atomic word and a compare-and-swap loop.

use std::time::Duration;

use hidden_rate_limiter::{
    BUCKET_CASES, BucketModel, TickingClock, catch_quietly, drain, hammer_frozen, hammer_ticking,
    hammer_with_moving_clock, random_steps, run_trace, seeds,
};
use learner::{Clock, Gcra, ManualClock, Rate};

// Catches: a tolerance off by one emission (`<` where the rule says `<=`), so a burst is one short or one long.
#[test]
fn admits_a_burst_of_the_capacity_then_one_per_interval() {
    for capacity in [1, 4, 10] {
        let clock = ManualClock::at(5_000);
        let gcra = Gcra::new(capacity, Rate::new(1, Duration::from_nanos(1_000)), &clock);
        let mut burst = 0;
        while burst <= capacity && gcra.try_acquire(1) {
            burst += 1;
        }
        assert_eq!(
            burst, capacity,
            "Gcra::new({capacity}, 1 per 1000 ns) starts full: at a frozen clock it admits a \
             burst of exactly {capacity}, it admitted {burst}"
        );
        for k in 1..=5_u64 {
            clock.set(5_000 + k * 1_000 - 1);
            assert!(
                !gcra.try_acquire(1),
                "Gcra::new({capacity}, 1 per 1000 ns), emptied at t=5000 ns: token {k} arrives \
                 at t={} ns, not 1 ns before",
                5_000 + k * 1_000
            );
            clock.set(5_000 + k * 1_000);
            assert!(
                gcra.try_acquire(1),
                "Gcra::new({capacity}, 1 per 1000 ns), emptied at t=5000 ns: token {k} has \
                 arrived at t={} ns",
                5_000 + k * 1_000
            );
        }
    }
}

// Catches: counting time in nanoseconds with an emission interval rounded to whole nanoseconds (3 per second is not 333,333,333 ns a token).
#[test]
fn three_per_second_is_exact() {
    let clock = ManualClock::new();
    let gcra = Gcra::new(3, Rate::per_second(3), &clock);
    assert!(
        gcra.try_acquire(3),
        "{}",
        crate::all_it_holds_refused("Gcra::new(3, 3 per second), new (so full) at t=0", 3)
    );
    clock.set(333_333_333);
    assert!(
        !gcra.try_acquire(1),
        "Gcra::new(3, 3 per second), emptied at t=0: at t=333,333,333 ns only 0.999999999 \
         of a token has been earned (count in ticks: a nanosecond is rate.tokens() ticks, a \
         token rate.period_nanos() ticks)"
    );
    clock.set(333_333_334);
    assert!(
        gcra.try_acquire(1),
        "Gcra::new(3, 3 per second): a token at t=333,333,334 ns"
    );
    clock.set(999_999_999);
    assert!(
        gcra.try_acquire(1),
        "Gcra::new(3, 3 per second), emptied at t=0, one token taken at t=333,333,334 ns: \
         the second arrived at t=666,666,667 ns, but a request of 1 at t=999,999,999 ns \
         was refused"
    );
    assert!(
        !gcra.try_acquire(1),
        "Gcra::new(3, 3 per second), emptied at t=0, one token taken at t=333,333,334 ns \
         and one at t=999,999,999 ns: the third arrives at t=1 s, not before"
    );
    clock.set(1_000_000_000);
    assert!(
        gcra.try_acquire(1),
        "Gcra::new(3, 3 per second): the third token at t=1 s"
    );
}

// Catches: forgetting `max(tat, now)`: a TAT left in the past then grants a burst far above the capacity after an idle period.
#[test]
fn a_long_idle_allows_only_the_capacity() {
    let clock = ManualClock::new();
    let gcra = Gcra::new(5, Rate::per_second(100), &clock);
    assert!(
        gcra.try_acquire(5),
        "{}",
        crate::all_it_holds_refused("Gcra::new(5, 100 per second), new (so full) at t=0", 5)
    );
    clock.advance(Duration::from_secs(3600));
    let mut burst = 0;
    while burst < 1_000 && gcra.try_acquire(1) {
        burst += 1;
    }
    assert_eq!(
        burst, 5,
        "Gcra::new(5, 100 per second), idle for an hour: at a frozen clock it admitted \
         {burst} requests of 1, but a bucket never holds more than its capacity (start \
         from max(tat, now))"
    );
}

// Catches: a refusal that still moves the TAT (e.g. adding the cost first and checking after), so refused requests push later ones back.
#[test]
fn a_refusal_changes_nothing() {
    let clock = ManualClock::new();
    let gcra = Gcra::new(2, Rate::new(1, Duration::from_nanos(1_000)), &clock);
    assert!(
        gcra.try_acquire(2),
        "{}",
        crate::all_it_holds_refused("Gcra::new(2, 1 per 1000 ns), new (so full) at t=0", 2)
    );
    for _ in 0..100 {
        assert!(
            !gcra.try_acquire(1),
            "Gcra::new(2, 1 per 1000 ns), emptied at t=0, clock frozen: a request of 1 was \
             admitted, but no token has arrived"
        );
        assert!(
            !gcra.try_acquire(2),
            "Gcra::new(2, 1 per 1000 ns), emptied at t=0, clock frozen: a request of 2 was \
             admitted, but no token has arrived"
        );
    }
    clock.set(1_000);
    assert!(
        gcra.try_acquire(1),
        "Gcra::new(2, 1 per 1000 ns), emptied at t=0 and then refused 200 times: a token \
         has still arrived at t=1000 ns. A refusal must leave the TAT alone"
    );
    clock.set(2_000);
    assert!(
        gcra.try_acquire(1),
        "Gcra::new(2, 1 per 1000 ns), emptied at t=0, refused 200 times, a token taken at \
         t=1000 ns: the next arrives at t=2000 ns, but a request of 1 then was refused"
    );
}

// Catches: `n * emission` overflowing for a huge `n` (a panic, or a wrap to a small cost that is admitted), and admitting more than the capacity at once.
#[test]
fn requests_above_the_capacity_are_refused_without_overflow() {
    let clock = ManualClock::new();
    // One token every 2^59 ns: tolerance 10 * 2^59 fits, 32 * 2^59 would not.
    let period = Duration::from_nanos(1 << 59);
    let gcra = Gcra::new(10, Rate::new(1, period), &clock);
    for n in [11, 32, 33, (1 << 5) + 1, u64::MAX / 3, u64::MAX] {
        let result = catch_quietly(|| gcra.try_acquire(n));
        assert_eq!(
            result.ok(),
            Some(false),
            "Gcra::new(10, 1 per 2^59 ns), full: try_acquire({n}) must return false (more \
             than the capacity), without panicking or overflowing in n * emission"
        );
    }
    assert!(
        gcra.try_acquire(10),
        "Gcra::new(10, ..): after refusing requests above the capacity, the full burst of 10 \
         is still there"
    );
    assert_eq!(
        gcra.capacity(),
        10,
        "Gcra::new(10, ..): capacity() must be the capacity it was made with"
    );
}

// Catches: converting the clock to ticks with a plain `*` (`now * ticks_per_nano`) or adding the cost to the TAT with a plain `+`: on a clock that has run past the end of 64-bit ticks both overflow, and every request panics.
#[test]
fn a_clock_at_the_end_of_its_ticks_refuses_without_panicking() {
    let clock = ManualClock::new();
    // 1000 per 999,999,937 ns (a prime: the rate does not reduce) is 1000
    // ticks per nanosecond, so 64 bits of ticks last 213 days of clock.
    let rate = Rate::new(1_000, Duration::from_nanos(999_999_937));
    let gcra = Gcra::new(3, rate, &clock);
    assert!(
        gcra.try_acquire(1),
        "Gcra::new(3, 1000 per 999,999,937 ns), new (so full) at t=0: a request of 1 was refused"
    );
    clock.advance(Duration::from_secs(300 * 24 * 3600));
    let burst = catch_quietly(|| {
        let mut admitted = 0;
        while admitted < 100 && gcra.try_acquire(1) {
            admitted += 1;
        }
        admitted
    });
    match burst {
        Err(why) => panic!(
            "Gcra::new(3, 1000 per 999,999,937 ns) on a clock that reads 300 days: \
             try_acquire(1) panicked ({why}). At 1000 ticks per ns the clock is past 2^64 \
             ticks: convert it with saturating_mul, and add the cost to max(tat, now) with \
             checked_add (None means refuse), so that nothing overflows or wraps"
        ),
        Ok(admitted) => assert!(
            admitted <= 3,
            "Gcra::new(3, ..) on a clock past the end of 64-bit ticks admitted a burst of \
             {admitted}: a TAT that wrapped or saturated gives out unlimited tokens"
        ),
    }
}

// Catches: any divergence from the token bucket of the same capacity and rate (GCRA must admit exactly the same requests).
#[test]
fn matches_the_token_bucket_model_on_random_traces() {
    for seed in seeds(12) {
        for (capacity, tokens, period) in BUCKET_CASES {
            let mut rng = fastrand::Rng::with_seed(seed ^ capacity ^ (tokens << 28));
            let steps = random_steps(&mut rng, 1500, capacity, tokens, period, 1);
            let clock = ManualClock::at(rng.u64(0..1_000_000));
            let start = clock.now();
            let gcra = Gcra::new(
                capacity,
                Rate::new(tokens, Duration::from_nanos(period)),
                &clock,
            );
            let mut model = BucketModel::new(capacity, tokens, period, start);
            run_trace(
                &format!(
                    "Gcra::new({capacity}, {tokens} per {period} ns), created at t={start} ns, against a token bucket"
                ),
                seed,
                &clock,
                &steps,
                |now, step| model.request(now, step.n),
                |step| gcra.try_acquire(step.n),
            );
        }
    }
}

// Catches: a lost update: reading the TAT and writing the new one with a plain `store` (or `swap`) instead of `compare_exchange`, so two threads both spend the same token.
#[test]
fn racing_threads_never_admit_more_than_the_capacity() {
    // First a long race with tokens to spare, so that every two threads
    // that publish from the same TAT (a lost update) show in the count:
    // admitted plus left can never be more than the capacity.
    let clock = ManualClock::new();
    let gcra = Gcra::new(1_000_000_000, Rate::per_second(1), &clock);
    let taken = hammer_frozen(8, 250_000, |_, _| 1, &|n| gcra.try_acquire(n));
    let left = drain(&|n| gcra.try_acquire(n));
    assert!(
        taken + left <= 1_000_000_000,
        "8 threads called try_acquire(1) 250,000 times each on Gcra::new(1,000,000,000, 1 per \
         second) at a frozen clock: {taken} were admitted and {left} were left afterwards, {} \
         more than the capacity. Two threads published a TAT computed from the same old one: \
         a lost update. Publish the new TAT with compare_exchange, never a plain store",
        taken + left - 1_000_000_000
    );
    // Then many small rounds, each ending with threads racing for the last
    // tokens. (A refusal while tokens remain is another test's business:
    // here only the total counts.)
    for round in 0..300 {
        let clock = ManualClock::new();
        let gcra = Gcra::new(3, Rate::per_second(1), &clock);
        let taken = hammer_frozen(4, 3, |_, _| 1, &|n| gcra.try_acquire(n));
        let left = drain(&|n| gcra.try_acquire(n));
        assert_eq!(
            taken + left,
            3,
            "small round {round}: 4 threads called try_acquire(1) 3 times each on \
             Gcra::new(3, 1 per second) at a frozen clock: {taken} were admitted and {left} \
             were left, but exactly 3 tokens are there. Publish the new TAT with \
             compare_exchange"
        );
    }
    for round in 0..10 {
        let clock = ManualClock::new();
        let gcra = Gcra::new(3_000, Rate::per_second(1), &clock);
        let taken = hammer_frozen(8, 1_000, |_, _| 1, &|n| gcra.try_acquire(n));
        let left = drain(&|n| gcra.try_acquire(n));
        assert_eq!(
            taken + left,
            3_000,
            "round {round}: 8 threads called try_acquire(1) 1000 times each on \
             Gcra::new(3000, 1 per second) at a frozen clock: {taken} were admitted and \
             {left} were left, but exactly 3000 tokens are there. Publish the new TAT with \
             compare_exchange, and decide again from the value it returns when it fails"
        );
    }
}

// Catches: a lost update or a lost token while the clock moves: admissions must be exactly the capacity plus what was earned.
#[test]
fn threads_on_a_moving_clock_get_the_capacity_plus_what_was_earned() {
    // A clock that moves at every read, and tokens to spare: the TAT runs
    // ahead of the clock (the bucket is never full, nothing is capped), so
    // every lost update shows as tokens that never existed.
    let clock = TickingClock::new(500);
    let gcra = Gcra::new(
        1_000_000_000,
        Rate::new(1, Duration::from_nanos(1_000)),
        &clock,
    );
    let ledger = hammer_ticking(8, 100_000, (1_000_000_000, 1, 1_000), &clock, &|n| {
        gcra.try_acquire(n)
    });
    assert!(
        ledger.admitted + ledger.left <= ledger.supplied,
        "8 threads called try_acquire(1) 100,000 times each on Gcra::new(1,000,000,000, 1 per \
         1000 ns) while the clock moved 500 ns at every read: {} were admitted and {} were \
         left, but only {} tokens ever existed in those {} ns. A lost update: publish the new \
         TAT with compare_exchange",
        ledger.admitted,
        ledger.left,
        ledger.supplied,
        ledger.elapsed
    );
    for (capacity, tokens, period, step) in [
        (50, 3, 1_000_000_000, 7_000_000_000),
        (10, 1, 1_000, 3_300),
        (100, 7, 1_000_000, 10_000_000),
    ] {
        let clock = ManualClock::new();
        let gcra = Gcra::new(
            capacity,
            Rate::new(tokens, Duration::from_nanos(period)),
            &clock,
        );
        let (admitted, expected) =
            hammer_with_moving_clock(4, (capacity, tokens, period), &clock, step, 40, &|n| {
                gcra.try_acquire(n)
            });
        assert_eq!(
            admitted,
            expected,
            "4 threads hammered try_acquire(1) on Gcra::new({capacity}, {tokens} per {period} \
             ns) while the clock moved {step} ns at a time, 40 times (each time once the \
             limiter was empty): {admitted} were admitted, but exactly {expected} tokens \
             were there (the capacity plus every whole token earned in {} ns)",
            clock.now()
        );
    }
}

// Catches: a spurious refusal under contention: giving up (returning false) when the compare-and-swap fails instead of deciding again.
#[test]
fn racing_threads_are_never_refused_while_tokens_remain() {
    // A long race with tokens to spare: every request must be admitted, so
    // a single refusal is a failed compare-and-swap taken for a "no".
    let clock = ManualClock::new();
    let gcra = Gcra::new(1_000_000_000, Rate::per_second(1), &clock);
    let taken = hammer_frozen(8, 300_000, |_, _| 1, &|n| gcra.try_acquire(n));
    assert_eq!(
        taken,
        2_400_000,
        "8 threads called try_acquire(1) 300,000 times each on Gcra::new(1,000,000,000, 1 per \
         second) at a frozen clock: 2,400,000 requests with a billion tokens there, but {} were \
         refused. A failed compare_exchange means \"another thread moved the TAT: decide \
         again from the value it returned\", not \"refuse\"",
        2_400_000 - taken
    );
    // Two threads, one token, one request each: one of them at least wins
    // (that no more than one does is another test's business).
    for round in 0..500 {
        let clock = ManualClock::new();
        let gcra = Gcra::new(1, Rate::per_second(1), &clock);
        let taken = hammer_frozen(2, 1, |_, _| 1, &|n| gcra.try_acquire(n));
        assert!(
            taken >= 1,
            "round {round}: 2 threads each called try_acquire(1) once, at the same time, on \
             Gcra::new(1, 1 per second) (one token): both were refused; one must win. A \
             failed compare_exchange means \"decide again from the TAT it returned\""
        );
    }
    for round in 0..20 {
        let clock = ManualClock::new();
        let gcra = Gcra::new(2_000, Rate::per_second(1), &clock);
        // 4 threads ask for 500 tokens each, one at a time: exactly the capacity.
        let taken = hammer_frozen(4, 500, |_, _| 1, &|n| gcra.try_acquire(n));
        assert_eq!(
            taken, 2_000,
            "round {round}: 4 threads called try_acquire(1) 500 times each on \
             Gcra::new(2000, 1 per second) at a frozen clock, 2000 requests for 2000 tokens: \
             only {taken} were admitted. A failed compare_exchange means \"decide again from \
             the TAT it returned\", not \"refuse\""
        );
    }
}

// Catches: a wrong amount of work for mixed sizes under contention (a CAS that charges the cost of the wrong request, or a retry that re-reads `now` into a different decision and double-charges).
#[test]
fn racing_requests_of_many_sizes_spend_exactly_the_capacity() {
    // A long race with tokens to spare: whatever was admitted, admitted plus
    // left is the capacity.
    let clock = ManualClock::new();
    let gcra = Gcra::new(1_000_000_000, Rate::per_second(1), &clock);
    let taken = hammer_frozen(4, 100_000, |t, i| ((t * 13 + i * 5) % 4 + 1) as u64, &|n| {
        gcra.try_acquire(n)
    });
    let left = drain(&|n| gcra.try_acquire(n));
    assert_eq!(
        taken + left,
        1_000_000_000,
        "4 threads asked Gcra::new(1,000,000,000, ..) for 1 to 4 tokens at a time, 100,000 \
         times each, at a frozen clock: {taken} tokens were admitted and {left} were left \
         afterwards; together they must be exactly the capacity (more: an update was lost, \
         two threads published from the same TAT)"
    );
    for round in 0..5 {
        let clock = ManualClock::new();
        let gcra = Gcra::new(10_000, Rate::per_second(1), &clock);
        let taken = hammer_frozen(6, 3_000, |t, i| ((t * 13 + i * 5) % 4 + 1) as u64, &|n| {
            gcra.try_acquire(n)
        });
        let left = drain(&|n| gcra.try_acquire(n));
        assert_eq!(
            taken + left,
            10_000,
            "round {round}: 6 threads asked Gcra::new(10000, ..) for 1 to 4 tokens at a \
             time at a frozen clock: {taken} tokens were admitted and {left} were left \
             afterwards; together they must be exactly 10000"
        );
    }
}
