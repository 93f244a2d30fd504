//! Stage 4 visible tests: `SharedTokenBucket::acquire` waits for its tokens
//! by sleeping on the clock: once, for exactly as long as the missing
//! tokens take (rounded up, never short), and not at all when they are
//! there. A request the bucket could never hold is refused at once with an
//! `AcquireError`.
//!
//! Run only this stage with `cargo test -p rate-limiter --test stage4_blocking`.
//! On a `ManualClock`, a sleep returns at once and is written down:
//! `clock.sleeps()` lists every sleep the limiter asked for, in nanoseconds.
//! (The tests use a `GuardedClock`, a `ManualClock` that also stops a test
//! whose limiter sleeps over and over instead of hanging it.)
//! One test uses the real clock for a few milliseconds.

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use rate_limiter::{AcquireError, Clock, MonotonicClock, Rate, SharedTokenBucket};
use rstest::rstest;

mod common;

use common::{GuardedClock, MS, SECOND, per_second, within};

#[test]
fn acquire_on_a_bucket_with_enough_tokens_does_not_sleep() {
    let clock = GuardedClock::new();
    let bucket = SharedTokenBucket::new(5, per_second(1), &clock);
    assert_eq!(
        bucket.acquire(2),
        Ok(()),
        "acquire(2) on a full bucket of 5"
    );
    assert_eq!(bucket.acquire(3), Ok(()), "acquire(3) with 3 tokens left");
    assert_eq!(
        clock.sleeps(),
        Vec::<u64>::new(),
        "the tokens were there both times, so acquire should not have slept at all"
    );
    assert_eq!(
        bucket.available(),
        0,
        "acquire should take the tokens it waited for"
    );
}

#[rstest]
// capacity, rate, tokens left after draining, time passed since, request, the one sleep
#[case::one_token_at_two_per_second(5, per_second(2), 0, 0, 1, 500 * MS)]
#[case::three_tokens_at_ten_per_second(5, per_second(10), 0, 0, 3, 300 * MS)]
#[case::part_of_a_token_already_earned(5, per_second(2), 0, 200 * MS, 1, 300 * MS)]
#[case::one_short_of_three(5, per_second(1), 2, 0, 3, SECOND)]
#[case::a_third_of_a_second_rounded_up(5, per_second(3), 0, 0, 1, 333_333_334)]
#[case::seven_per_ten_seconds(10, Rate::new(7, Duration::from_secs(10)), 0, 0, 1, 1_428_571_429)]
#[case::the_whole_capacity(4, per_second(4), 0, 0, 4, SECOND)]
fn acquire_sleeps_once_for_exactly_the_missing_time(
    #[case] capacity: u64,
    #[case] rate: Rate,
    #[case] left: u64,
    #[case] since: u64,
    #[case] n: u64,
    #[case] expected_sleep: u64,
) {
    let clock = GuardedClock::new();
    let bucket = SharedTokenBucket::new(capacity, rate, &clock);
    assert!(
        bucket.try_acquire(capacity - left),
        "taking {} tokens from a full bucket of {capacity}",
        capacity - left
    );
    clock.advance_nanos(since);
    assert_eq!(
        bucket.acquire(n),
        Ok(()),
        "acquire({n}) on a bucket of {capacity}"
    );
    assert_eq!(
        clock.sleeps(),
        vec![expected_sleep],
        "at {rate}, with {left} whole tokens and {since} ns earned towards the next, \
         acquire({n}) should sleep once, for exactly {expected_sleep} ns: the missing units \
         divided by the units earned per ns, rounded up. Several sleeps mean it polls or \
         rounds down and has to try again; a longer sleep wastes time"
    );
    assert_eq!(
        bucket.available(),
        0,
        "after the sleep, acquire({n}) should have taken the tokens that arrived"
    );
}

#[rstest]
#[case::one_over(5, 6)]
#[case::far_over(5, 1_000)]
#[case::the_largest_request(1, u64::MAX)]
fn a_request_above_the_capacity_fails_at_once_without_sleeping(
    #[case] capacity: u64,
    #[case] n: u64,
) {
    let clock = GuardedClock::new();
    let bucket = SharedTokenBucket::new(capacity, per_second(1), &clock);
    assert!(bucket.try_acquire(capacity), "emptying the bucket first");
    assert_eq!(
        bucket.acquire(n),
        Err(AcquireError {
            requested: n,
            capacity
        }),
        "a bucket of {capacity} can never hold {n} tokens: acquire({n}) must return \
         Err(AcquireError) instead of waiting forever"
    );
    assert_eq!(
        clock.sleeps(),
        Vec::<u64>::new(),
        "acquire({n}) should fail before sleeping: check the request against the capacity first"
    );
}

#[test]
fn the_error_says_what_was_asked_and_what_fits() {
    let clock = GuardedClock::new();
    let bucket = SharedTokenBucket::new(5, per_second(1), &clock);
    let error = bucket
        .acquire(7)
        .expect_err("acquire(7) on a bucket of capacity 5 must fail");
    let text = error.to_string();
    assert!(
        text.contains("asked for 7 tokens") && text.contains("never holds more than 5"),
        "the error's message should name the request (7) and the capacity (5); it was {text:?}"
    );
}

#[test]
fn acquiring_zero_tokens_never_sleeps() {
    let clock = GuardedClock::new();
    let bucket = SharedTokenBucket::new(2, per_second(1), &clock);
    assert!(bucket.try_acquire(2), "emptying the bucket");
    assert_eq!(bucket.acquire(0), Ok(()), "acquire(0) on an empty bucket");
    assert_eq!(
        clock.sleeps(),
        Vec::<u64>::new(),
        "zero tokens are always there: acquire(0) should return at once"
    );
}

#[test]
fn back_to_back_acquires_are_paced_at_the_rate() {
    let clock = GuardedClock::new();
    let bucket = SharedTokenBucket::new(1, per_second(10), &clock);
    for i in 0..10 {
        assert_eq!(bucket.acquire(1), Ok(()), "acquire number {i}");
    }
    assert_eq!(
        clock.sleeps(),
        vec![100 * MS; 9],
        "ten acquire(1) in a row on a bucket of 1 at 10 per second: the first finds the \
         token, each of the other nine should sleep exactly 100 ms"
    );
    assert_eq!(clock.now(), 900 * MS, "nine sleeps of 100 ms");
}

#[test]
fn threads_that_acquire_together_all_get_their_tokens() {
    const THREADS: usize = 4;
    const EACH: u64 = 5;
    let clock = Arc::new(GuardedClock::new());
    let bucket = Arc::new(SharedTokenBucket::new(
        2,
        per_second(10),
        Arc::clone(&clock),
    ));
    let shared = Arc::clone(&bucket);
    within("4 threads each calling acquire(1) five times", move || {
        let start_line = Barrier::new(THREADS);
        thread::scope(|scope| {
            for _ in 0..THREADS {
                scope.spawn(|| {
                    start_line.wait();
                    for _ in 0..EACH {
                        assert_eq!(shared.acquire(1), Ok(()), "acquire(1) from a thread");
                    }
                });
            }
        });
    });
    let needed = (THREADS as u64 * EACH - 2) * 100 * MS;
    assert!(
        clock.now() >= needed,
        "{} tokens were handed out by a bucket of 2 at 10 per second, so the clock must \
         have moved at least {needed} ns, but it reads {} ns: some thread got tokens that \
         were never earned",
        THREADS as u64 * EACH,
        clock.now()
    );
}

#[test]
fn on_the_real_clock_acquire_really_waits() {
    // One token every 5 ms. The clock's origin is after `started`, so the
    // second token cannot be there before 5 ms have passed.
    let started = Instant::now();
    let bucket = SharedTokenBucket::new(
        1,
        Rate::new(1, Duration::from_millis(5)),
        MonotonicClock::new(),
    );
    let waited = within("acquire on the real clock", move || {
        bucket.acquire(1).expect("acquire(1) on a full bucket of 1");
        bucket.acquire(1).expect("acquire(1) on a bucket of 1");
        started.elapsed()
    });
    assert!(
        waited >= Duration::from_millis(4),
        "two tokens at one per 5 ms from a bucket of 1 took only {waited:?}: the second \
         acquire should have slept until its token arrived"
    );
    assert!(
        waited < Duration::from_secs(2),
        "two tokens at one per 5 ms took {waited:?}: far more than the 5 ms needed"
    );
}
