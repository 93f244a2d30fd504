//! Stage 3 visible tests: `Gcra` keeps a token bucket's limit in one atomic
//! word (the theoretical arrival time) and must make exactly the decisions
//! a `TokenBucket` of the same capacity and rate makes, on any trace and
//! from any number of threads, without a lock.
//!
//! Run only this stage with `cargo test -p rate-limiter --test stage3_gcra`.
//! The comparison tests use your stage 1 `TokenBucket` as the reference, so
//! finish stage 1 first.

use std::panic::resume_unwind;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use rate_limiter::{Gcra, ManualClock, MonotonicClock, Rate, TokenBucket};
use rstest::rstest;

mod common;

use common::{
    MS, SECOND, admitted_in_a_row, admitted_while_the_clock_moves, assert_same_decisions,
    assert_send_sync, decisions, per_second, random_trace, within,
};

#[rstest]
#[case::capacity_one(1)]
#[case::capacity_seven(7)]
#[case::capacity_a_thousand(1_000)]
fn a_new_limiter_admits_a_burst_of_its_capacity(#[case] capacity: u64) {
    let clock = ManualClock::at(42 * SECOND);
    let gcra = Gcra::new(capacity, per_second(5), &clock);
    let admitted = admitted_in_a_row(capacity + 10, || gcra.try_acquire(1));
    assert_eq!(
        admitted, capacity,
        "a new Gcra of capacity {capacity} should admit {capacity} single tokens at once and \
         refuse the next, like a full bucket (admitted {admitted}). The TAT starts at now: \
         a request fits while max(tat, now) + cost - now <= tolerance"
    );
}

#[rstest]
#[case::one_over(6)]
#[case::far_over(1_000)]
#[case::the_largest_request(u64::MAX)]
fn a_request_above_the_capacity_is_refused_and_takes_nothing(#[case] n: u64) {
    let clock = ManualClock::new();
    let gcra = Gcra::new(5, per_second(1), &clock);
    assert!(
        !gcra.try_acquire(n),
        "a Gcra of capacity 5 must refuse a request for {n} tokens. (A panic here instead? \
         n * emission overflowed: check n against the capacity before multiplying)"
    );
    assert!(
        gcra.try_acquire(5),
        "after refusing {n} tokens the limiter should still be full: a refusal changes nothing"
    );
}

#[test]
fn tokens_come_back_one_emission_interval_at_a_time() {
    let clock = ManualClock::new();
    let gcra = Gcra::new(3, per_second(3), &clock);
    assert!(gcra.try_acquire(3), "taking all 3 tokens");
    assert!(!gcra.try_acquire(1), "the limiter is empty");
    clock.advance_nanos(333_333_333);
    assert!(
        !gcra.try_acquire(1),
        "at 3 per second a token takes 333,333,333⅓ ns: 333,333,333 ns is not enough. Count \
         in ticks (one ns is rate.tokens() ticks, one token rate.period_nanos() ticks) so \
         that nothing is rounded"
    );
    clock.advance_nanos(1);
    assert!(gcra.try_acquire(1), "333,333,334 ns earn one token");
    assert!(!gcra.try_acquire(1), "but only one");
    clock.advance_nanos(10 * SECOND);
    assert_eq!(
        admitted_in_a_row(10, || gcra.try_acquire(1)),
        3,
        "after a long idle the limiter is full (3 tokens), not more: the TAT never falls \
         behind now"
    );
}

#[rstest]
// capacity, rate, longest gap between steps, seed
#[case::small_bucket_slow_rate(3, per_second(2), 700 * MS, 1)]
#[case::three_per_second(5, per_second(3), 400 * MS, 2)]
#[case::seven_per_ten_seconds(10, Rate::new(7, Duration::from_secs(10)), 2 * SECOND, 3)]
#[case::fast_rate(50, per_second(1_000_000), 20_000, 4)]
fn makes_the_same_decisions_as_a_token_bucket(
    #[case] capacity: u64,
    #[case] rate: Rate,
    #[case] max_gap: u64,
    #[case] seed: u64,
) {
    let trace = random_trace(seed, 3_000, capacity, max_gap);
    let bucket_clock = ManualClock::new();
    let mut bucket = TokenBucket::new(capacity, rate, &bucket_clock);
    let expected = decisions(&bucket_clock, &trace, |n| bucket.try_acquire(n));
    let gcra_clock = ManualClock::new();
    let gcra = Gcra::new(capacity, rate, &gcra_clock);
    let actual = decisions(&gcra_clock, &trace, |n| gcra.try_acquire(n));
    assert_same_decisions(&trace, "the TokenBucket", &expected, "the Gcra", &actual);
}

#[test]
fn the_limiter_can_be_shared_between_threads() {
    let gcra = Gcra::new(4, per_second(1), MonotonicClock::new());
    assert_send_sync(&gcra);
    let gcra = Arc::new(gcra);
    let other = Arc::clone(&gcra);
    let taken = within("Gcra::try_acquire on another thread", move || {
        other.try_acquire(3)
    });
    assert!(
        taken,
        "another thread took 3 of 4 tokens from a new limiter"
    );
    assert!(
        !gcra.try_acquire(2),
        "another thread took 3 of 4 tokens, so 2 more must be refused"
    );
}

#[rstest]
#[case::two_threads(2)]
#[case::four_threads(4)]
#[case::eight_threads(8)]
fn racing_threads_on_a_frozen_clock_never_admit_more_than_the_capacity(#[case] threads: usize) {
    // A capacity the threads cannot exhaust: they race for the whole run,
    // not only for the last tokens, and every lost update (two threads
    // publishing a TAT computed from the same old one) shows in the ledger:
    // admitted + left can never be more than the capacity.
    const CAPACITY: u64 = 1_000_000_000;
    const CALLS: u64 = 200_000;
    let clock = ManualClock::new();
    let gcra = Gcra::new(CAPACITY, per_second(1), &clock);
    let waiting = AtomicUsize::new(threads);
    let admitted: u64 = thread::scope(|scope| {
        let racers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    // A start line that keeps every thread ready at once.
                    waiting.fetch_sub(1, Ordering::SeqCst);
                    while waiting.load(Ordering::SeqCst) > 0 {
                        thread::yield_now();
                    }
                    (0..CALLS).filter(|_| gcra.try_acquire(1)).count() as u64
                })
            })
            .collect();
        racers
            .into_iter()
            .map(|r| r.join().unwrap_or_else(|e| resume_unwind(e)))
            .sum()
    });
    // What is left, taken in halving chunks (a refused request takes nothing).
    let left: u64 = (0..31)
        .rev()
        .map(|bit| 1_u64 << bit)
        .filter(|&chunk| gcra.try_acquire(chunk))
        .sum();
    assert!(
        admitted + left <= CAPACITY,
        "{threads} threads called try_acquire(1) {CALLS} times each on a Gcra of capacity \
         {CAPACITY} with the clock standing still: {admitted} were admitted and {left} were \
         left afterwards, {} more than the capacity. Two threads published a TAT computed \
         from the same old value: store the new TAT with compare_exchange, and on failure \
         decide again from the value it returns (a plain load followed by a store is not \
         enough)",
        admitted + left - CAPACITY
    );
}

#[test]
fn threads_racing_a_moving_clock_get_what_was_left_plus_what_was_earned() {
    const THREADS: usize = 4;
    const TICKS: u64 = 2_000;
    let clock = ManualClock::new();
    // One token per 1 ms tick. The capacity is far above what the threads
    // can leave unclaimed, so no earned token is lost to the cap.
    let gcra = Gcra::new(10_000, per_second(1_000), &clock);
    assert!(gcra.try_acquire(10_000 - 10), "taking all but 10 tokens");
    let admitted = admitted_while_the_clock_moves(THREADS, TICKS, &clock, || gcra.try_acquire(1));
    assert_eq!(
        admitted,
        10 + TICKS,
        "{THREADS} threads took tokens while the clock moved {TICKS} ms at 1,000 per second: \
         the limiter should admit the 10 tokens left plus the {TICKS} earned, got {admitted}. \
         More means a lost update in the compare-and-swap loop; fewer means a thread with \
         an older reading of the clock pulled the TAT back or refused wrongly (start from \
         max(tat, now), and retry with the TAT compare_exchange returns)"
    );
}
