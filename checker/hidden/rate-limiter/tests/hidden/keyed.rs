//! Stage 6: `KeyedLimiter`, one GCRA per key, with idle keys swept away.

use std::collections::HashMap;
use std::time::Duration;

use hidden_rate_limiter::{
    Beside, BucketModel, catch_quietly, hammer_frozen, random_steps, run_beside, run_trace, seeds,
};
use learner::{KeyedLimiter, MIN_SWEEP, ManualClock, Rate};

// Catches: one bucket shared by every key (or keys that collide), so one busy key limits the others.
#[test]
fn keys_are_independent() {
    let clock = ManualClock::new();
    let limiter = KeyedLimiter::new(3, Rate::per_second(1), &clock);
    for _ in 0..3 {
        assert!(
            limiter.try_acquire(&"alice", 1),
            "KeyedLimiter::new(3, 1 per second): a new key starts full, but one of alice's \
             first 3 requests of 1 was refused"
        );
    }
    assert!(
        !limiter.try_acquire(&"alice", 1),
        "KeyedLimiter::new(3, 1 per second): alice took 3, the 4th must be refused"
    );
    for key in ["bob", "carol", "dave"] {
        for i in 0..3 {
            assert!(
                limiter.try_acquire(&key, 1),
                "KeyedLimiter::new(3, 1 per second): alice used up her 3 tokens, but {key}'s \
                 request {} was refused; every key has its own bucket",
                i + 1
            );
        }
        assert!(
            !limiter.try_acquire(&key, 1),
            "KeyedLimiter::new(3, 1 per second): {key} took 3, the 4th must be refused"
        );
    }
}

// Catches: any divergence from one exact token bucket per key on random traces.
#[test]
fn matches_a_bucket_per_key_on_random_traces() {
    for seed in seeds(10) {
        for (capacity, tokens, period, keys) in [
            (3, 1, 1_000, 5),
            (5, 3, 1_000_000_000, 3),
            (10, 10, 9, 8),
            (1, 1, 7, 100),
        ] {
            let mut rng = fastrand::Rng::with_seed(seed ^ (capacity << 16) ^ keys);
            let steps = random_steps(&mut rng, 2_000, capacity, tokens, period, keys as u32);
            let clock = ManualClock::new();
            let limiter = KeyedLimiter::new(
                capacity,
                Rate::new(tokens, Duration::from_nanos(period)),
                &clock,
            );
            let mut models: HashMap<u32, BucketModel> = HashMap::new();
            run_trace(
                &format!(
                    "KeyedLimiter::new({capacity}, {tokens} per {period} ns) with {keys} keys"
                ),
                seed,
                &clock,
                &steps,
                |now, step| {
                    models
                        .entry(step.key)
                        .or_insert_with(|| BucketModel::new(capacity, tokens, period, 0))
                        .request(now, step.n)
                },
                |step| limiter.try_acquire(&step.key, step.n),
            );
        }
    }
}

/// The message of a refused request of a key the limiter has not seen (or
/// has forgotten): `what` is the limiter and what the test did before.
fn new_key_refused(what: &str, key: impl std::fmt::Display, n: u64) -> String {
    format!(
        "{what}: key {key} is new, so its bucket is full, but its request of {n} was \
         refused; every key starts with a full bucket of its own"
    )
}

/// Sends `count` distinct keys (from `first` on) one request of `n` each,
/// moving the clock `step` ns before each.
fn flood(
    limiter: &KeyedLimiter<u64, &ManualClock>,
    clock: &ManualClock,
    first: u64,
    count: u64,
    step: u64,
    n: u64,
) {
    for key in first..first + count {
        clock.advance_nanos(step);
        assert!(
            limiter.try_acquire(&key, n),
            "KeyedLimiter: the first request of a new key ({key}) for {n} tokens must be admitted"
        );
    }
}

// Catches: evicting keys by age, by count or by how soon they refill (an LRU, a size cap, clearing the map) instead of only keys whose bucket is full again: a limited key then gets a fresh bucket.
#[test]
fn a_limited_key_is_never_forgotten() {
    let clock = ManualClock::new();
    // A token every second; the flood below lasts 10 ms in all.
    let limiter = KeyedLimiter::new(5, Rate::per_second(1), &clock);
    assert!(
        limiter.try_acquire(&0, 5),
        "{}",
        crate::all_it_holds_refused("KeyedLimiter::new(5, 1 per second), key 0 new (so full)", 5)
    );
    assert!(
        limiter.try_acquire(&1, 1),
        "{}",
        new_key_refused("KeyedLimiter::new(5, 1 per second), key 0 emptied", 1, 1)
    );
    flood(&limiter, &clock, 2, 10_000, 1_000, 5);
    assert!(
        !limiter.try_acquire(&0, 1),
        "KeyedLimiter::new(5, 1 per second): key 0 took 5 tokens at t=0, then 10,000 other \
         keys took 5 each within 10 ms: key 0's next token arrives at t=1 s, so its request \
         must still be refused. A sweep may only forget keys whose TAT is not after now"
    );
    assert!(
        !limiter.try_acquire(&1, 5),
        "KeyedLimiter::new(5, 1 per second): key 1 took 1 token at t=0, then 10,000 other \
         keys took 5 each within 10 ms: key 1 holds 4 tokens, so a request of 5 must be \
         refused (it is the key closest to full, but it is not full)"
    );
}

// Catches: a sweep that forgets keys with some tokens left (e.g. those that could take one more), which refills them to the full capacity.
#[test]
fn a_partly_used_key_is_not_refilled_by_a_sweep() {
    let clock = ManualClock::new();
    let limiter = KeyedLimiter::new(10, Rate::per_second(1), &clock);
    assert!(
        limiter.try_acquire(&0, 9),
        "{}",
        new_key_refused("KeyedLimiter::new(10, 1 per second)", 0, 9)
    );
    flood(&limiter, &clock, 1, 5_000, 1_000, 1);
    let swept = limiter.sweep();
    assert!(
        !limiter.try_acquire(&0, 2),
        "KeyedLimiter::new(10, 1 per second): key 0 took 9 of its 10 tokens at t=0, then \
         5,000 other keys made one request each within 5 ms (and a sweep forgot {swept}): \
         key 0 holds 1 token, so a request of 2 must be refused"
    );
    assert!(
        limiter.try_acquire(&0, 1),
        "KeyedLimiter::new(10, 1 per second): key 0 took 9 of its 10 tokens at t=0, then \
         5,000 other keys one each: its last token must still be there, but a request of 1 \
         was refused"
    );
}

// Catches: never sweeping, or sweeping only at a huge fixed size: memory grows with every key ever seen.
#[test]
fn memory_stays_bounded_under_a_stream_of_new_keys() {
    let clock = ManualClock::new();
    // One token every microsecond, capacity 1: a key is full again 1 us after its request.
    let limiter = KeyedLimiter::new(1, Rate::new(1, Duration::from_micros(1)), &clock);
    let mut most = 0;
    for key in 0..50_000_u64 {
        clock.advance_nanos(1_000);
        assert!(
            limiter.try_acquire(&key, 1),
            "{}",
            new_key_refused("KeyedLimiter::new(1, 1 per us)", key, 1)
        );
        most = most.max(limiter.len());
    }
    assert!(
        most <= MIN_SWEEP + 1,
        "KeyedLimiter::new(1, 1 per us) given 50,000 distinct keys, one every us (each full \
         again by the next request): it held up to {most} keys. With a sweep whenever the \
         map holds at least MIN_SWEEP = {MIN_SWEEP} keys and twice as many as after the \
         previous sweep, it never holds more than {MIN_SWEEP} + 1"
    );
}

// Catches: a sweep trigger that ignores how many keys are still limited (a fixed threshold sweeps in vain) or lets the map grow far beyond twice the live keys.
#[test]
fn memory_stays_within_twice_the_limited_keys() {
    let clock = ManualClock::new();
    // 200 keys stay limited for 1 ms; the stream's keys are full again after 1 us.
    let limiter = KeyedLimiter::new(1_000, Rate::new(1, Duration::from_micros(1)), &clock);
    for key in 0..200_u64 {
        assert!(
            limiter.try_acquire(&key, 1_000),
            "{}",
            crate::all_it_holds_refused(
                &format!("KeyedLimiter::new(1000, 1 per us), key {key} new (so full)"),
                1_000
            )
        );
    }
    let mut most = 0;
    for key in 1_000..1_900_u64 {
        clock.advance_nanos(1_000);
        assert!(
            limiter.try_acquire(&key, 1),
            "{}",
            new_key_refused(
                "KeyedLimiter::new(1000, 1 per us), 200 keys limited",
                key,
                1
            )
        );
        most = most.max(limiter.len());
    }
    let bound = 2 * 202 + 1;
    assert!(
        most <= bound,
        "KeyedLimiter::new(1000, 1 per us): 200 keys stay limited for 1 ms while 900 new keys \
         arrive, each full again 1 us after its request: it held up to {most} keys, more \
         than twice the ~201 limited ones (+1)"
    );
    for key in 0..200_u64 {
        assert!(
            !limiter.try_acquire(&key, 1_000),
            "key {key} is still limited"
        );
    }
}

// Catches: a sweep that returns the wrong count (the keys left, or nothing), keeps keys whose TAT is exactly now, or forgets keys still limited.
#[test]
fn sweep_forgets_exactly_the_full_keys_and_counts_them() {
    let clock = ManualClock::new();
    let limiter = KeyedLimiter::new(10, Rate::new(1, Duration::from_nanos(100)), &clock);
    // Key k takes k tokens at t=0: its bucket is full again at t = 100 * k ns.
    for k in 1..=10_u64 {
        assert!(
            limiter.try_acquire(&k, k),
            "{}",
            new_key_refused("KeyedLimiter::new(10, 1 per 100 ns), at t=0", k, k)
        );
    }
    assert_eq!(
        limiter.len(),
        10,
        "KeyedLimiter::new(10, 1 per 100 ns): keys 1 to 10 each took tokens at t=0 (fewer \
         than MIN_SWEEP keys: no sweep), so len() must be 10"
    );
    clock.set(500);
    let swept = limiter.sweep();
    assert_eq!(
        (swept, limiter.len()),
        (5, 5),
        "KeyedLimiter::new(10, 1 per 100 ns), key k took k tokens at t=0 (k = 1..10): at \
         t=500 ns keys 1 to 5 are full again (key 5 exactly now), so sweep() forgets 5 of \
         them and returns 5 (got: returned {swept}, {} left)",
        limiter.len()
    );
    assert_eq!(
        limiter.sweep(),
        0,
        "a second sweep at the same time forgets nothing"
    );
    for k in 6..=10_u64 {
        assert!(
            !limiter.try_acquire(&k, 10),
            "key {k} is not full yet at t=500 ns and must not have been forgotten"
        );
    }
    clock.set(10_000);
    assert_eq!(
        limiter.sweep(),
        5,
        "KeyedLimiter::new(10, 1 per 100 ns), keys 6 to 10 left after the sweep at t=500 \
         ns: at t=10000 ns all are full again, so sweep() forgets them and returns 5"
    );
    assert!(
        limiter.is_empty(),
        "KeyedLimiter: sweep() at t=10000 ns forgot every key, so is_empty() must be true, \
         but len() is {}",
        limiter.len()
    );
}

// Catches: try_acquire sweeping a map of fewer than MIN_SWEEP keys (e.g. `||` for `&&` in the trigger), which the type's docs rule out.
#[test]
fn no_sweep_while_fewer_than_min_sweep_keys() {
    let clock = ManualClock::new();
    let limiter = KeyedLimiter::new(1, Rate::per_second(1), &clock);
    for key in 0..MIN_SWEEP as u64 {
        assert!(
            limiter.try_acquire(&key, 1),
            "{}",
            new_key_refused("KeyedLimiter::new(1, 1 per second)", key, 1)
        );
        assert_eq!(
            limiter.len(),
            key as usize + 1,
            "KeyedLimiter::new(1, 1 per second): keys 0 to {key} each took their token one \
             second apart (so every earlier key is full again): it holds {} keys, expected {}. \
             try_acquire sweeps only when the map holds at least MIN_SWEEP = {MIN_SWEEP} keys \
             and twice as many as after the previous sweep",
            limiter.len(),
            key + 1
        );
        clock.advance(Duration::from_secs(1));
    }
}

// Catches: a sweep trigger that does not wait for the map to double since the previous sweep (e.g. `2 + after` for `2 * after`): it sweeps far more often than documented.
#[test]
fn the_next_sweep_waits_until_the_map_has_doubled() {
    let clock = ManualClock::new();
    let limiter = KeyedLimiter::new(1, Rate::per_second(1), &clock);
    // MIN_SWEEP keys, all still limited; the next request sweeps (in vain)
    // and leaves MIN_SWEEP keys behind.
    for key in 0..=MIN_SWEEP as u64 {
        assert!(
            limiter.try_acquire(&key, 1),
            "{}",
            new_key_refused("KeyedLimiter::new(1, 1 per second), at t=0", key, 1)
        );
    }
    let after_first = MIN_SWEEP + 1;
    assert_eq!(
        limiter.len(),
        after_first,
        "KeyedLimiter::new(1, 1 per second): {after_first} new keys took their token at \
         t=0, so none is full again and the sweep at MIN_SWEEP = {MIN_SWEEP} keys forgets \
         none: len() must be {after_first}"
    );
    // Every key is full again from now on, but the map only grows until it
    // holds twice the MIN_SWEEP keys the sweep left.
    clock.advance(Duration::from_secs(2));
    let mut key = 1_000_u64;
    while limiter.len() < 2 * MIN_SWEEP {
        let before = limiter.len();
        assert!(
            limiter.try_acquire(&key, 1),
            "{}",
            new_key_refused("KeyedLimiter::new(1, 1 per second), at t=2 s", key, 1)
        );
        assert_eq!(
            limiter.len(),
            before + 1,
            "KeyedLimiter::new(1, 1 per second) holding {before} keys, of which {after_first} \
             are full again: a request of a new key went from {before} to {} keys. A sweep \
             left {MIN_SWEEP} keys, so the next one waits until the map holds twice that, {}",
            limiter.len(),
            2 * MIN_SWEEP
        );
        key += 1;
    }
    assert!(
        limiter.try_acquire(&key, 1),
        "{}",
        new_key_refused("KeyedLimiter::new(1, 1 per second), at t=2 s", key, 1)
    );
    assert_eq!(
        limiter.len(),
        2 * MIN_SWEEP - after_first + 1,
        "KeyedLimiter::new(1, 1 per second) holding {} keys, {after_first} of them full again, \
         twice the {MIN_SWEEP} the previous sweep left: the next request must sweep the full \
         ones away before adding its own key",
        2 * MIN_SWEEP
    );
}

// Catches: calling the public `sweep()` from inside `try_acquire`, which already holds the lock: `Mutex` is not re-entrant, so the thread waits for itself forever once the map reaches MIN_SWEEP keys.
#[test]
fn a_sweep_inside_try_acquire_does_not_deadlock() {
    let keys = 2 * MIN_SWEEP as u64 + 1;
    let seen = run_beside("try_acquire on new keys past MIN_SWEEP", move || {
        let clock = ManualClock::new();
        let limiter = KeyedLimiter::new(1, Rate::new(1, Duration::from_micros(1)), &clock);
        for key in 0..keys {
            clock.advance_nanos(1_000);
            assert!(
                limiter.try_acquire(&key, 1),
                "{}",
                new_key_refused("KeyedLimiter::new(1, 1 per us)", key, 1)
            );
        }
        limiter.len()
    });
    match seen {
        Beside::Stuck => panic!(
            "KeyedLimiter: try_acquire for new keys blocked on the limiter's own lock once \
             the map held MIN_SWEEP = {MIN_SWEEP} keys: a self-deadlock. try_acquire holds \
             the lock, so it must not call the public sweep() (which locks again; Mutex is \
             not re-entrant): sweep the locked state through a helper instead"
        ),
        Beside::Finished(len) => assert!(
            len <= MIN_SWEEP + 1,
            "KeyedLimiter::new(1, 1 per us): {keys} keys one us apart, each full again by the \
             next request: it held {len} keys; the sweep inside try_acquire must forget them"
        ),
    }
}

// Catches: `n * emission` overflowing for a huge request on a keyed limiter, and admitting more than the capacity.
#[test]
fn requests_above_the_capacity_are_refused() {
    let clock = ManualClock::new();
    let limiter = KeyedLimiter::new(10, Rate::new(1, Duration::from_nanos(1 << 59)), &clock);
    for n in [11, 32, u64::MAX] {
        let result = catch_quietly(|| limiter.try_acquire(&7_u8, n));
        assert_eq!(
            result.ok(),
            Some(false),
            "KeyedLimiter::new(10, 1 per 2^59 ns): try_acquire(key, {n}) must return false \
             (more than the capacity) without panicking or overflowing"
        );
    }
    assert!(
        limiter.try_acquire(&7_u8, 10),
        "{}",
        crate::all_it_holds_refused(
            "KeyedLimiter::new(10, 1 per 2^59 ns), key 7 new (so full), after refusing \
             requests above the capacity",
            10
        )
    );
}

// Catches: reading a key's TAT and writing it back under two separate locks, so racing threads spend the same token twice.
#[test]
fn racing_threads_on_one_key_take_exactly_the_capacity() {
    for round in 0..300 {
        let clock = ManualClock::new();
        let limiter = KeyedLimiter::new(3, Rate::per_second(1), &clock);
        let taken = hammer_frozen(4, 3, |_, _| 1, &|n| limiter.try_acquire(&"shared", n));
        assert_eq!(
            taken, 3,
            "small round {round}: 4 threads called try_acquire(\"shared\", 1) 3 times each \
             on KeyedLimiter::new(3, 1 per second) at a frozen clock: {taken} were admitted, \
             exactly 3 tokens are there. Read and update the key's TAT under one lock"
        );
    }
    for round in 0..5 {
        let clock = ManualClock::new();
        let limiter = KeyedLimiter::new(2_000, Rate::per_second(1), &clock);
        let taken = hammer_frozen(6, 1_000, |_, _| 1, &|n| limiter.try_acquire(&"shared", n));
        assert_eq!(
            taken, 2_000,
            "round {round}: 6 threads called try_acquire(\"shared\", 1) 1000 times each on \
             KeyedLimiter::new(2000, 1 per second) at a frozen clock: {taken} were admitted, \
             exactly 2000 tokens are there"
        );
    }
}
