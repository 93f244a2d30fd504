//! Stage 2 visible tests: `SharedTokenBucket` is one token bucket used by
//! many threads at once. However the threads interleave, the bucket admits
//! exactly what one thread would have got: its capacity plus the tokens
//! earned, never one more.
//!
//! Run only this stage with `cargo test -p rate-limiter --test stage2_shared`.
//! The threads start together at a `Barrier`, so they really do race.

use std::panic::resume_unwind;
use std::sync::{Arc, Barrier};
use std::thread;

use rate_limiter::{ManualClock, MonotonicClock, SharedTokenBucket};
use rstest::rstest;

mod common;

use common::{
    MS, admitted_in_a_row, admitted_while_the_clock_moves, assert_send_sync, per_second, within,
};

#[test]
fn one_thread_sees_an_ordinary_token_bucket() {
    let clock = ManualClock::new();
    let bucket = SharedTokenBucket::new(4, per_second(2), &clock);
    assert_eq!(bucket.available(), 4, "a new shared bucket starts full");
    assert!(bucket.try_acquire(3), "taking 3 of 4 tokens");
    assert!(!bucket.try_acquire(2), "2 more when only 1 is left");
    assert_eq!(bucket.available(), 1, "a refused request takes nothing");
    clock.advance_nanos(500 * MS);
    assert_eq!(
        bucket.available(),
        2,
        "half a second at 2 per second earns one token: try_acquire and available should go \
         through the TokenBucket of stage 1 under the lock"
    );
}

#[test]
fn the_bucket_can_be_shared_between_threads() {
    let bucket = SharedTokenBucket::new(3, per_second(1), MonotonicClock::new());
    assert_send_sync(&bucket);
    let bucket = Arc::new(bucket);
    let other = Arc::clone(&bucket);
    let taken = within("try_acquire on another thread", move || {
        other.try_acquire(2)
    });
    assert!(
        taken,
        "another thread took 2 of 3 tokens from a full bucket"
    );
    assert!(
        !bucket.try_acquire(2),
        "the other thread took 2 of 3 tokens, so this thread must not get 2 more: both \
         threads should see the same bucket"
    );
}

#[rstest]
// threads, capacity, attempts per thread
#[case::two_threads(2, 100, 1_000)]
#[case::four_threads(4, 1_000, 1_000)]
#[case::eight_threads(8, 500, 200)]
fn racing_threads_on_a_frozen_clock_get_exactly_the_capacity(
    #[case] threads: usize,
    #[case] capacity: u64,
    #[case] attempts: u64,
) {
    let clock = ManualClock::new();
    let bucket = SharedTokenBucket::new(capacity, per_second(1), &clock);
    let start_line = Barrier::new(threads);
    let admitted: u64 = thread::scope(|scope| {
        let racers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    start_line.wait();
                    (0..attempts).filter(|_| bucket.try_acquire(1)).count() as u64
                })
            })
            .collect();
        racers
            .into_iter()
            .map(|r| r.join().unwrap_or_else(|e| resume_unwind(e)))
            .sum()
    });
    assert_eq!(
        admitted,
        capacity,
        "{threads} threads made {} requests for one token on a bucket of {capacity} while \
         the clock stood still: exactly {capacity} should be admitted, got {admitted}. More \
         means two threads took the same token: the check and the take must happen under \
         one lock",
        threads as u64 * attempts
    );
}

#[rstest]
// threads, tokens per request
#[case::two_threads_asking_for_three(2, 3)]
#[case::four_threads_asking_for_three(4, 3)]
#[case::four_threads_asking_for_four(4, 4)]
fn requests_for_several_tokens_are_all_or_nothing_under_contention(
    #[case] threads: usize,
    #[case] n: u64,
) {
    let clock = ManualClock::new();
    let bucket = SharedTokenBucket::new(10, per_second(1), &clock);
    let start_line = Barrier::new(threads);
    let granted: u64 = thread::scope(|scope| {
        let racers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    start_line.wait();
                    (0..20).filter(|_| bucket.try_acquire(n)).count() as u64
                })
            })
            .collect();
        racers
            .into_iter()
            .map(|r| r.join().unwrap_or_else(|e| resume_unwind(e)))
            .sum()
    });
    assert_eq!(
        granted,
        10 / n,
        "{threads} threads asked for {n} tokens at a time from a bucket of 10 on a frozen \
         clock: exactly {} requests fit, got {granted}",
        10 / n
    );
    assert_eq!(
        bucket.available(),
        10 % n,
        "the {} tokens that no request could use in full must still be in the bucket: a \
         refused request takes nothing",
        10 % n
    );
}

#[rstest]
// threads, rounds, clock advance per round
#[case::two_threads_a_quarter_second_at_a_time(2, 8, 250 * MS)]
#[case::four_threads_a_tenth_at_a_time(4, 10, 100 * MS)]
fn rounds_of_racing_threads_get_the_capacity_plus_what_was_earned(
    #[case] threads: usize,
    #[case] rounds: u64,
    #[case] advance: u64,
) {
    // 10 per second with a capacity of 5: a quarter of a second earns 2.5
    // tokens, so the half tokens must carry over from round to round.
    let clock = ManualClock::new();
    let bucket = SharedTokenBucket::new(5, per_second(10), &clock);
    let mut admitted = 0;
    for _ in 0..rounds {
        let start_line = Barrier::new(threads);
        admitted += thread::scope(|scope| {
            let racers: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| {
                        start_line.wait();
                        admitted_in_a_row(100, || bucket.try_acquire(1))
                    })
                })
                .collect();
            racers
                .into_iter()
                .map(|r| r.join().unwrap_or_else(|e| resume_unwind(e)))
                .sum::<u64>()
        });
        clock.advance_nanos(advance);
    }
    let earned = (rounds - 1) * advance * 10 / 1_000_000_000;
    assert_eq!(
        admitted,
        5 + earned,
        "over {rounds} rounds of {threads} racing threads, {advance} ns apart, a bucket of 5 \
         at 10 per second should admit its 5 tokens plus the {earned} earned in between; \
         got {admitted}"
    );
}

#[test]
fn threads_racing_a_moving_clock_get_the_capacity_plus_what_was_earned() {
    const THREADS: usize = 4;
    const TICKS: u64 = 2_000;
    let clock = ManualClock::new();
    // 1,000 per second: every tick of 1 ms earns one token. The capacity is
    // far above what the threads can ever leave in the bucket, so no earned
    // token is lost to the cap however slowly the threads run; taking most
    // of it first leaves 10 to race for at the start.
    let bucket = SharedTokenBucket::new(10_000, per_second(1_000), &clock);
    assert!(bucket.try_acquire(10_000 - 10), "taking all but 10 tokens");
    let admitted = admitted_while_the_clock_moves(THREADS, TICKS, &clock, || bucket.try_acquire(1));
    assert_eq!(
        admitted,
        10 + TICKS,
        "{THREADS} threads took tokens while the clock moved {TICKS} ms at 1,000 per second: \
         the bucket should admit the 10 tokens left plus the {TICKS} earned, got {admitted}. \
         More means a token was handed out twice; fewer means earned time was lost (does \
         refill move `last` to now even when a reading is older?)"
    );
}
