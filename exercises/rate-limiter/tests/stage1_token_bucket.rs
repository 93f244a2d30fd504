//! Stage 1 visible tests: `TokenBucket` starts full, admits a request for
//! `n` tokens only when it holds `n`, refills at exactly its rate (in
//! integer units, so that 3 per second never drifts), never holds more than
//! its capacity, and shrugs off a clock that goes backwards.
//!
//! Run only this stage with `cargo test -p rate-limiter --test stage1_token_bucket`.
//! Every test drives a `ManualClock` by hand: nothing sleeps.

use std::time::Duration;

use rate_limiter::{ManualClock, Rate, TokenBucket};
use rstest::rstest;

mod common;

use common::{MS, SECOND, admitted_in_a_row, per_second};

#[rstest]
#[case::capacity_one(1)]
#[case::capacity_five(5)]
#[case::capacity_a_thousand(1_000)]
fn a_new_bucket_is_full(#[case] capacity: u64) {
    let clock = ManualClock::new();
    let mut bucket = TokenBucket::new(capacity, per_second(1), &clock);
    assert_eq!(
        bucket.available(),
        capacity,
        "a new bucket should start full: available() should be the capacity"
    );
    let admitted = admitted_in_a_row(capacity + 10, || bucket.try_acquire(1));
    assert_eq!(
        admitted, capacity,
        "with the clock standing still, a full bucket of {capacity} should admit {capacity} \
         requests for one token and refuse the next (admitted {admitted})"
    );
    assert_eq!(
        bucket.available(),
        0,
        "available() once every token is taken"
    );
}

#[rstest]
// capacity, first request, then second request, whether the second is admitted
#[case::take_some_then_the_rest(10, 7, 3, true)]
#[case::take_some_then_too_many(10, 7, 4, false)]
#[case::take_all_at_once(10, 10, 1, false)]
#[case::more_than_capacity(10, 11, 10, true)]
fn a_request_for_n_tokens_needs_n_tokens(
    #[case] capacity: u64,
    #[case] first: u64,
    #[case] second: u64,
    #[case] second_admitted: bool,
) {
    let clock = ManualClock::new();
    let mut bucket = TokenBucket::new(capacity, per_second(1), &clock);
    let first_admitted = first <= capacity;
    assert_eq!(
        bucket.try_acquire(first),
        first_admitted,
        "a full bucket of {capacity} asked for {first} tokens at once should {} them",
        if first_admitted { "grant" } else { "refuse" }
    );
    let left = if first_admitted {
        capacity - first
    } else {
        capacity
    };
    assert_eq!(
        bucket.available(),
        left,
        "after that request the bucket should hold {left} (a refused request takes nothing)"
    );
    assert_eq!(
        bucket.try_acquire(second),
        second_admitted,
        "the bucket holds {left} and was asked for {second}: it should {}",
        if second_admitted {
            "grant them"
        } else {
            "refuse, since it holds fewer"
        }
    );
    let after = if second_admitted { left - second } else { left };
    assert_eq!(
        bucket.available(),
        after,
        "after the second request the bucket should hold {after}: a refused request must \
         not take the tokens it could not get in full"
    );
}

#[test]
fn asking_for_zero_tokens_always_succeeds_and_changes_nothing() {
    let clock = ManualClock::new();
    let mut bucket = TokenBucket::new(3, per_second(1), &clock);
    assert!(bucket.try_acquire(0), "try_acquire(0) on a full bucket");
    assert_eq!(
        bucket.available(),
        3,
        "try_acquire(0) must not take anything"
    );
    assert!(bucket.try_acquire(3), "taking all three tokens");
    assert!(
        bucket.try_acquire(0),
        "try_acquire(0) on an empty bucket should still succeed: zero tokens are always there"
    );
    assert_eq!(bucket.available(), 0, "the bucket is still empty");
}

#[rstest]
// rate, time waited after emptying the bucket, whole tokens expected
#[case::two_per_second_half_a_second(per_second(2), 500 * MS, 1)]
#[case::two_per_second_just_short(per_second(2), 500 * MS - 1, 0)]
#[case::two_per_second_one_and_a_half(per_second(2), 1_500 * MS, 3)]
#[case::ten_per_second_0_95_s(per_second(10), 950 * MS, 9)]
#[case::one_per_minute_a_minute(Rate::new(1, Duration::from_secs(60)), 60 * SECOND, 1)]
#[case::a_million_per_second_one_microsecond(per_second(1_000_000), 1_000, 1)]
fn the_bucket_refills_at_its_rate(#[case] rate: Rate, #[case] waited: u64, #[case] tokens: u64) {
    let clock = ManualClock::new();
    let mut bucket = TokenBucket::new(100, rate, &clock);
    assert!(bucket.try_acquire(100), "emptying a full bucket of 100");
    clock.advance_nanos(waited);
    assert_eq!(
        bucket.available(),
        tokens,
        "at {rate}, an empty bucket should hold {tokens} whole tokens after {waited} ns \
         (a partly earned token does not count until it is whole)"
    );
}

#[rstest]
#[case::ten_seconds(10 * SECOND)]
#[case::an_hour(3_600 * SECOND)]
#[case::a_century(100 * 365 * 24 * 3_600 * SECOND)]
fn a_long_idle_never_fills_the_bucket_past_its_capacity(#[case] idle: u64) {
    let clock = ManualClock::new();
    let mut bucket = TokenBucket::new(5, per_second(1_000), &clock);
    assert!(bucket.try_acquire(5), "emptying a full bucket of 5");
    clock.advance_nanos(idle);
    assert_eq!(
        bucket.available(),
        5,
        "after {idle} ns of idle time at 1,000 per second, the bucket should be full (5), \
         not more: refill must stop at the capacity. (A panic here instead? Multiplying \
         the elapsed nanoseconds by the rate overflows a u64: do it in u128.)"
    );
    let burst = admitted_in_a_row(1_000, || bucket.try_acquire(1));
    assert_eq!(
        burst, 5,
        "after a long idle the bucket should allow a burst of its capacity and no more"
    );
}

#[rstest]
// one second, cut into `steps` equal steps of `step` ns each
#[case::one_step_of_a_second(SECOND, 1)]
#[case::four_steps_of_250_ms(250 * MS, 4)]
#[case::a_thousand_steps_of_1_ms(MS, 1_000)]
#[case::a_million_steps_of_1_us(1_000, 1_000_000)]
fn three_per_second_earns_exactly_three_tokens_a_second_however_time_is_sliced(
    #[case] step: u64,
    #[case] steps: u64,
) {
    let clock = ManualClock::new();
    let mut bucket = TokenBucket::new(10, per_second(3), &clock);
    assert!(bucket.try_acquire(10), "emptying a full bucket of 10");
    for _ in 0..steps {
        clock.advance_nanos(step);
        // Each call brings the level up to date: any rounding on the way is
        // repeated `steps` times.
        bucket.available();
    }
    assert_eq!(
        bucket.available(),
        3,
        "at 3 per second, {steps} steps of {step} ns (one second in all) should earn exactly \
         3 tokens. Fewer means a fraction was lost at every step: one token is 333,333,333⅓ \
         ns, so keep the level in units (one nanosecond earns rate.tokens() units, one token \
         costs rate.period_nanos() units), not in whole tokens or rounded nanoseconds"
    );
}

#[test]
fn three_per_second_has_its_first_token_after_a_third_of_a_second_rounded_up() {
    let clock = ManualClock::new();
    let mut bucket = TokenBucket::new(3, per_second(3), &clock);
    assert!(bucket.try_acquire(3), "emptying a full bucket of 3");
    clock.advance_nanos(333_333_333);
    assert_eq!(
        bucket.available(),
        0,
        "333,333,333 ns at 3 per second earn 999,999,999 of the 1,000,000,000 units a token \
         costs: not yet a whole token"
    );
    clock.advance_nanos(1);
    assert_eq!(
        bucket.available(),
        1,
        "one more nanosecond completes the first token (333,333,334 ns in all)"
    );
    assert!(bucket.try_acquire(1), "taking that token");
    clock.advance_nanos(SECOND - 333_333_334);
    assert_eq!(
        bucket.available(),
        2,
        "one second after the bucket was emptied, 3 tokens were earned in all and one taken"
    );
}

#[test]
fn a_clock_that_goes_backwards_adds_nothing() {
    let clock = ManualClock::at(10 * SECOND);
    let mut bucket = TokenBucket::new(4, per_second(1), &clock);
    assert!(bucket.try_acquire(4), "emptying a full bucket of 4");
    clock.set(5 * SECOND);
    assert_eq!(
        bucket.available(),
        0,
        "the clock moved back from 10 s to 5 s: that earns nothing. (A panic here instead? \
         `now - last` underflowed: a reading earlier than `last` must add nothing, e.g. \
         with saturating_sub or a comparison first)"
    );
    assert!(
        !bucket.try_acquire(1),
        "the bucket is empty, so a request must be refused even though the clock went back"
    );
    clock.set(0);
    assert_eq!(
        bucket.available(),
        0,
        "the clock moved back again, to 0: still nothing earned"
    );
}
