//! Stage 2: `SharedTokenBucket::try_acquire` and `available` from many threads.

use std::time::Duration;

use hidden_rate_limiter::{
    BUCKET_CASES, BucketModel, TickingClock, hammer_frozen, hammer_ticking,
    hammer_with_moving_clock, random_steps, run_trace, seeds,
};
use learner::{Clock, ManualClock, Rate, SharedTokenBucket};

// Catches: checking the level and taking the tokens under two different locks (or with `available()` first), so two threads both take the last token.
#[test]
fn racing_threads_take_exactly_the_capacity() {
    race_at_the_edge();
    // Many small rounds: every round ends with threads racing for the last tokens.
    for round in 0..300 {
        let clock = ManualClock::new();
        let bucket = SharedTokenBucket::new(3, Rate::per_second(1), &clock);
        let taken = hammer_frozen(4, 3, |_, _| 1, &|n| bucket.try_acquire(n));
        assert_eq!(
            taken, 3,
            "round {round}: 4 threads called try_acquire(1) 3 times each on \
             SharedTokenBucket::new(3, 1 per second) at a clock that does not move: {taken} \
             were admitted, but exactly 3 tokens are there. Check and take under one lock"
        );
    }
    let clock = ManualClock::new();
    let bucket = SharedTokenBucket::new(2_000, Rate::per_second(1), &clock);
    let taken = hammer_frozen(8, 1_000, |_, _| 1, &|n| bucket.try_acquire(n));
    assert_eq!(
        taken, 2_000,
        "8 threads called try_acquire(1) 1000 times each on SharedTokenBucket::new(2000, 1 \
         per second) at a clock that does not move: {taken} were admitted, but exactly 2000 \
         tokens are there. Check and take under one lock"
    );
    assert_eq!(
        bucket.available(),
        0,
        "SharedTokenBucket::new(2000, 1 per second): 8 threads took all 2000 tokens at a \
         frozen clock, so available() must be 0"
    );
}

// Catches: the same race with requests of different sizes: a bucket overdrawn, or tokens lost.
#[test]
fn racing_requests_of_many_sizes_never_overdraw() {
    race_at_the_edge();
    for round in 0..5 {
        let clock = ManualClock::new();
        let bucket = SharedTokenBucket::new(5_000, Rate::per_second(1), &clock);
        let taken = hammer_frozen(6, 2_000, |t, i| ((t * 31 + i * 7) % 5 + 1) as u64, &|n| {
            bucket.try_acquire(n)
        });
        let left = bucket.available();
        assert!(
            taken <= 5_000 && taken + left == 5_000 && left < 5,
            "round {round}: 6 threads asked SharedTokenBucket::new(5000, ..) for 1 to 5 \
             tokens at a time at a frozen clock: {taken} tokens were admitted and {left} are \
             left; admitted + left must be 5000, and fewer than 5 may be left"
        );
    }
}

// Catches: a race that over-admits while the clock moves (e.g. refilling outside the lock), or tokens lost between refills: admissions must be exactly the capacity plus what was earned.
#[test]
fn threads_on_a_moving_clock_get_the_capacity_plus_what_was_earned() {
    race_at_the_edge();
    for (capacity, tokens, period, step) in [
        (1, 1, 1_000, 1_000),
        (50, 3, 1_000_000_000, 7_000_000_000),
        (10, 1, 1_000, 3_300),
        (100, 7, 1_000_000, 10_000_000),
    ] {
        // One token per step races the threads for every single token.
        let steps = if capacity == 1 { 1_000 } else { 40 };
        let clock = ManualClock::new();
        let bucket = SharedTokenBucket::new(
            capacity,
            Rate::new(tokens, Duration::from_nanos(period)),
            &clock,
        );
        let (admitted, expected) =
            hammer_with_moving_clock(4, (capacity, tokens, period), &clock, step, steps, &|n| {
                bucket.try_acquire(n)
            });
        assert_eq!(
            admitted,
            expected,
            "4 threads hammered try_acquire(1) on SharedTokenBucket::new({capacity}, {tokens} \
             per {period} ns) while the clock moved {step} ns at a time, {steps} times (each \
             time once the bucket was empty): {admitted} were admitted, but exactly \
             {expected} tokens were there (the capacity plus every whole token earned in \
             {} ns)",
            clock.now()
        );
    }
}

// Catches: an `available` that reads the level without refilling first (or rounds a fraction of a token up).
#[test]
fn available_counts_the_whole_tokens_earned() {
    let clock = ManualClock::new();
    let bucket = SharedTokenBucket::new(10, Rate::per_second(3), &clock);
    assert_eq!(bucket.available(), 10, "a new SharedTokenBucket is full");
    assert!(
        bucket.try_acquire(10),
        "{}",
        crate::all_it_holds_refused(
            "SharedTokenBucket::new(10, 3 per second), new (so full) at t=0",
            10
        )
    );
    for (t, expected) in [
        (333_333_333, 0),
        (333_333_334, 1),
        (999_999_999, 2),
        (1_000_000_000, 3),
        (5_000_000_000, 10),
    ] {
        clock.set(t);
        assert_eq!(
            bucket.available(),
            expected,
            "SharedTokenBucket::new(10, 3 per second), emptied at t=0: available() at \
             t={t} ns counts the whole tokens earned (up to the capacity)"
        );
    }
    assert_eq!(
        bucket.capacity(),
        10,
        "SharedTokenBucket::new(10, ..): capacity() must be the capacity it was made with"
    );
}

// Catches: any divergence from an exact token bucket when used through `&self`.
#[test]
fn matches_an_exact_model_on_random_traces() {
    for seed in seeds(6) {
        for (capacity, tokens, period) in BUCKET_CASES {
            let mut rng = fastrand::Rng::with_seed(seed ^ capacity ^ (tokens << 24));
            let steps = random_steps(&mut rng, 1000, capacity, tokens, period, 1);
            let clock = ManualClock::new();
            let bucket = SharedTokenBucket::new(
                capacity,
                Rate::new(tokens, Duration::from_nanos(period)),
                &clock,
            );
            let mut model = BucketModel::new(capacity, tokens, period, 0);
            run_trace(
                &format!("SharedTokenBucket::new({capacity}, {tokens} per {period} ns)"),
                seed,
                &clock,
                &steps,
                |now, step| model.request(now, step.n),
                |step| bucket.try_acquire(step.n),
            );
        }
    }
}

/// The race at the edge the tests above start with: a token every two reads
/// of the clock, so a thread that checks, loses the CPU and then takes finds
/// its token gone.
fn race_at_the_edge() {
    let clock = TickingClock::new(500);
    let bucket = SharedTokenBucket::new(1_000, Rate::new(1, Duration::from_nanos(1_000)), &clock);
    let ledger = hammer_ticking(8, 250_000, (1_000, 1, 1_000), &clock, &|n| {
        bucket.try_acquire(n)
    });
    assert!(
        ledger.admitted + ledger.left <= ledger.supplied,
        "8 threads called try_acquire(1) 250,000 times each on SharedTokenBucket::new(1000, 1 \
         per 1000 ns) while the clock moved 500 ns at every read: {} were admitted and {} \
         were left, but only {} tokens ever existed (1000 + one per 1000 ns of {} ns). Two \
         threads took the same token: check and take under one lock",
        ledger.admitted,
        ledger.left,
        ledger.supplied,
        ledger.elapsed
    );
}
