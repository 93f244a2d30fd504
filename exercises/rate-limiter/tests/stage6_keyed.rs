//! Stage 6 visible tests: `KeyedLimiter` gives every key its own limit, as
//! if each had its own `Gcra`; forgets keys whose bucket has filled up
//! again, so that a stream of ever-new keys cannot grow the map without
//! bound; and never forgets a key that is still limited (forgetting it
//! would hand it a fresh, full bucket).
//!
//! Run only this stage with `cargo test -p rate-limiter --test stage6_keyed`.
//! The comparison test uses your stage 3 `Gcra` as the reference.

use std::panic::resume_unwind;
use std::thread;
use std::time::Duration;

use rate_limiter::{Gcra, KeyedLimiter, MIN_SWEEP, ManualClock, Rate};
use rstest::rstest;

mod common;

use common::{MS, SECOND, Trace, admitted_in_a_row, per_second};

#[test]
fn each_key_has_its_own_bucket() {
    let clock = ManualClock::new();
    let limiter = KeyedLimiter::new(3, per_second(1), &clock);
    assert_eq!(
        admitted_in_a_row(10, || limiter.try_acquire(&"alice", 1)),
        3,
        "a key never seen before should get a full bucket of 3"
    );
    assert_eq!(
        admitted_in_a_row(10, || limiter.try_acquire(&"bob", 1)),
        3,
        "alice emptied her bucket, but bob's is his own: he should get 3 as well"
    );
    assert!(
        !limiter.try_acquire(&"alice", 1),
        "alice's bucket is still empty after bob's requests"
    );
    clock.advance_nanos(SECOND);
    assert!(
        limiter.try_acquire(&"alice", 1),
        "one second at 1 per second gives alice one token back"
    );
    assert!(!limiter.try_acquire(&"alice", 1), "but only one");
    assert!(
        !limiter.try_acquire(&"alice", 4),
        "a request above the capacity (4 > 3) is refused"
    );
}

#[rstest]
// capacity, rate, keys, seed
#[case::two_keys(3, per_second(2), 2, 11)]
#[case::five_keys_three_per_second(4, per_second(3), 5, 12)]
#[case::ten_keys_slow(6, Rate::new(5, Duration::from_secs(7)), 10, 13)]
fn every_key_decides_like_its_own_gcra(
    #[case] capacity: u64,
    #[case] rate: Rate,
    #[case] keys: usize,
    #[case] seed: u64,
) {
    let clock = ManualClock::new();
    let limiter = KeyedLimiter::new(capacity, rate, &clock);
    let singles: Vec<Gcra<&ManualClock>> = (0..keys)
        .map(|_| Gcra::new(capacity, rate, &clock))
        .collect();
    let mut rng = Trace::new(seed);
    let mut now = 0;
    for step in 0..5_000 {
        let advance = rng.below(2 * rate.period_nanos() / rate.tokens() + 1);
        clock.advance_nanos(advance);
        now += advance;
        let key = rng.below(keys as u64) as usize;
        let n = rng.below(capacity + 2);
        let expected = singles[key].try_acquire(n);
        let actual = limiter.try_acquire(&key, n);
        assert_eq!(
            actual,
            expected,
            "step {step}, {now} ns after the start: key {key} asked for {n} tokens. Its own \
             Gcra (capacity {capacity}, {rate}) {} it, the KeyedLimiter {} it. An absent key \
             must behave like a full bucket: its TAT is `now`",
            if expected { "admitted" } else { "refused" },
            if actual { "admitted" } else { "refused" },
        );
    }
}

#[test]
fn sweep_forgets_exactly_the_keys_whose_bucket_is_full_again() {
    let clock = ManualClock::new();
    let limiter = KeyedLimiter::new(1, per_second(1), &clock);
    for key in 0..10 {
        assert!(
            limiter.try_acquire(&key, 1),
            "key {key} takes its one token at 0 s"
        );
    }
    clock.set(500 * MS);
    for key in 10..15 {
        assert!(
            limiter.try_acquire(&key, 1),
            "key {key} takes its one token at 0.5 s"
        );
    }
    assert_eq!(
        limiter.len(),
        15,
        "15 keys have taken a token and none is full yet"
    );
    assert_eq!(
        limiter.sweep(),
        0,
        "at 0.5 s no key has its token back yet, so sweep() should forget nothing"
    );
    clock.set(SECOND);
    assert_eq!(
        limiter.sweep(),
        10,
        "at 1 s the 10 keys that took a token at 0 s are full again (their TAT is not after \
         now) and should be forgotten; the 5 from 0.5 s are still limited"
    );
    assert_eq!(limiter.len(), 5, "len() after that sweep");
    clock.set(1_500 * MS);
    assert_eq!(limiter.sweep(), 5, "at 1.5 s the other 5 are full again");
    assert!(limiter.is_empty(), "every key has been forgotten");
}

#[test]
fn a_forgotten_key_comes_back_with_a_full_bucket_and_no_more() {
    let clock = ManualClock::new();
    let limiter = KeyedLimiter::new(3, per_second(1), &clock);
    assert!(limiter.try_acquire(&"carol", 3), "carol takes her 3 tokens");
    clock.advance_nanos(60 * SECOND);
    assert_eq!(
        limiter.sweep(),
        1,
        "a minute later carol's bucket is full: forget her"
    );
    assert_eq!(
        admitted_in_a_row(10, || limiter.try_acquire(&"carol", 1)),
        3,
        "carol comes back after being forgotten: a full bucket of 3, no more"
    );
}

#[rstest]
// distinct keys that pass, one request each, this far apart
#[case::one_key_a_millisecond(10_000, MS)]
#[case::ten_keys_a_millisecond(50_000, 100_000)]
fn a_stream_of_new_keys_does_not_grow_the_map_without_bound(#[case] keys: u64, #[case] gap: u64) {
    // Capacity 2 at 1 per second: a key that took one token is limited for
    // one second, then full again and forgettable.
    let clock = ManualClock::new();
    let limiter = KeyedLimiter::new(2, per_second(1), &clock);
    let limited_at_once = SECOND / gap + 1;
    let bound = 2 * limited_at_once as usize + MIN_SWEEP;
    let mut most = 0;
    for key in 0..keys {
        clock.advance_nanos(gap);
        assert!(
            limiter.try_acquire(&key, 1),
            "new key {key} takes one token"
        );
        most = most.max(limiter.len());
    }
    assert!(
        most <= bound,
        "{keys} distinct keys passed, one every {gap} ns, each limited for one second, so \
         at most {limited_at_once} are limited at any moment; the map should never hold \
         much more than twice that, but it held {most} (the bound here is {bound}). Does \
         try_acquire sweep when the map holds at least MIN_SWEEP keys and twice as many as \
         after the previous sweep, and does the sweep record how many it left?"
    );
}

#[test]
fn a_limited_key_is_never_forgotten() {
    let clock = ManualClock::new();
    // One token per minute: the hog's empty bucket takes 5 minutes to fill.
    let limiter = KeyedLimiter::new(5, Rate::new(1, Duration::from_secs(60)), &clock);
    let hog = u64::MAX;
    assert!(
        limiter.try_acquire(&hog, 5),
        "the hog takes all 5 of its tokens"
    );
    // Two minutes of new keys, one every 10 ms, each taking one token: each
    // is limited for a minute, then forgettable, so sweeps really forget.
    for key in 0..12_000 {
        clock.advance_nanos(10 * MS);
        limiter.try_acquire(&key, 1);
    }
    assert!(
        !limiter.try_acquire(&hog, 3),
        "the hog emptied its bucket 2 minutes ago at one token per minute, so it holds 2 \
         tokens and a request for 3 must be refused. It was admitted: the hog was forgotten \
         while still limited and came back with a full bucket. Evict only keys whose TAT \
         is not after now (never the oldest, the least used, or everything)"
    );
    assert!(
        limiter.try_acquire(&hog, 2),
        "the hog earned 2 tokens in 2 minutes, so a request for 2 should be admitted"
    );
}

#[test]
fn threads_share_each_key_limit() {
    const THREADS: u64 = 4;
    let clock = ManualClock::new();
    let limiter = KeyedLimiter::new(50, per_second(1), &clock);
    let shared_admitted: u64 = thread::scope(|scope| {
        let racers: Vec<_> = (0..THREADS)
            .map(|me| {
                let limiter = &limiter;
                scope.spawn(move || {
                    let own = (0..100)
                        .filter(|_| limiter.try_acquire(&format!("thread {me}"), 1))
                        .count();
                    assert_eq!(
                        own, 50,
                        "thread {me}'s own key should admit exactly 50 of 100"
                    );
                    (0..100)
                        .filter(|_| limiter.try_acquire(&"shared".to_string(), 1))
                        .count() as u64
                })
            })
            .collect();
        racers
            .into_iter()
            .map(|r| r.join().unwrap_or_else(|e| resume_unwind(e)))
            .sum()
    });
    assert_eq!(
        shared_admitted, 50,
        "{THREADS} threads raced for the key \"shared\" of capacity 50: exactly 50 should be \
         admitted in all, got {shared_admitted}. Read and update a key's TAT under one lock"
    );
}
