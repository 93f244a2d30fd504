//! Stage 4: `SharedTokenBucket::acquire`, which sleeps on the clock for
//! exactly the shortfall, with the lock released.

use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use hidden_rate_limiter::{Beside, BucketModel, PATIENCE, run_beside};
use learner::{AcquireError, Clock, ManualClock, MonotonicClock, Rate, SharedTokenBucket};

/// Calls `acquire(n)` on a helper thread and waits up to `PATIENCE` for it.
fn acquire_within<C: Clock + 'static>(
    bucket: &Arc<SharedTokenBucket<C>>,
    n: u64,
    what: &str,
) -> Result<(), AcquireError> {
    let (sender, receiver) = mpsc::channel();
    let b = Arc::clone(bucket);
    std::thread::spawn(move || {
        let _ = sender.send(b.acquire(n));
    });
    receiver.recv_timeout(PATIENCE).unwrap_or_else(|_| {
        panic!(
            "{what}: acquire({n}) did not return within {PATIENCE:?} (on a ManualClock a \
             sleep returns at once, so this is a loop that never ends or a deadlock: a wait \
             rounded down to 0 ns, say, sleeps 0 ns again and again; round the wait up with \
             div_ceil)"
        )
    })
}

// Catches: sleeping (or calling the clock's sleep with 0) when the tokens are already there.
#[test]
fn no_sleep_when_the_tokens_are_there() {
    let clock = Arc::new(ManualClock::new());
    let bucket = Arc::new(SharedTokenBucket::new(
        5,
        Rate::per_second(1),
        Arc::clone(&clock),
    ));
    for n in [3, 2, 0] {
        assert_eq!(
            acquire_within(&bucket, n, "SharedTokenBucket::new(5, 1 per second)"),
            Ok(()),
            "SharedTokenBucket::new(5, 1 per second), new (so full): acquire(3), \
             acquire(2), acquire(0) find their tokens there, so acquire({n}) must return \
             Ok at once"
        );
    }
    assert_eq!(
        clock.sleeps(),
        Vec::<u64>::new(),
        "SharedTokenBucket::new(5, ..), full: acquire(3), acquire(2) and acquire(0) had \
         their tokens at once and must not sleep at all"
    );
    assert_eq!(
        bucket.available(),
        0,
        "acquire(3) then acquire(2) take all 5 tokens"
    );
}

// Catches: a wait that is not the exact shortfall: a whole token's period, a wait rounded down (then a second, tiny sleep), or one ignoring the fraction already earned.
#[test]
fn one_sleep_of_exactly_the_shortfall() {
    // (capacity, tokens, period ns, time of the request after emptying, n)
    for (capacity, tokens, period, at, n) in [
        (5, 3, 1_000_000_000, 100, 2),
        (5, 3, 1_000_000_000, 0, 1),
        (10, 1, 1_000, 999, 1),
        (10, 1, 1_000, 1_500, 3),
        (4, 7, 1_000_000, 12_345, 4),
        (3, 10, 9, 1, 3),
        (8, 2, 999_999_937, 777_777_777, 5),
    ] {
        let clock = Arc::new(ManualClock::new());
        let bucket = Arc::new(SharedTokenBucket::new(
            capacity,
            Rate::new(tokens, Duration::from_nanos(period)),
            Arc::clone(&clock),
        ));
        let mut model = BucketModel::new(capacity, tokens, period, 0);
        assert!(
            bucket.try_acquire(capacity),
            "{}",
            crate::all_it_holds_refused(
                &format!(
                    "SharedTokenBucket::new({capacity}, {tokens} per {period} ns), new (so full)"
                ),
                capacity
            )
        );
        assert!(
            model.request(0, capacity),
            "the test's own bucket model refused its first {capacity} tokens: a bug in the \
             test, not in your code"
        );
        clock.set(at);
        let expected = model.wait(at, n);
        let what = format!(
            "SharedTokenBucket::new({capacity}, {tokens} per {period} ns), emptied at t=0, \
             acquire({n}) at t={at} ns"
        );
        assert_eq!(acquire_within(&bucket, n, &what), Ok(()), "{what}");
        assert_eq!(
            clock.sleeps(),
            vec![expected],
            "{what}: expected exactly one sleep of {expected} ns (the missing units divided \
             by rate.tokens(), rounded up) but the clock saw these sleeps (ns)"
        );
        // The tokens were taken and the fraction left over is still there.
        let now = clock.now();
        assert!(
            model.request(now, n),
            "{what}: the test's own bucket model refused the {n} tokens acquired: a bug in \
             the test, not in your code"
        );
        let left = model.wait(now, 1);
        clock.advance_nanos(left);
        assert!(
            bucket.try_acquire(1),
            "{what}: after the acquire, the next token must arrive {left} ns later (the \
             acquire takes exactly {n} tokens and keeps the remainder)"
        );
    }
}

// Catches: polling in a loop with short sleeps (the clock sees thousands of sleeps) instead of one sleep for the whole shortfall.
#[test]
fn a_long_wait_is_one_sleep_not_a_poll() {
    let clock = Arc::new(ManualClock::new());
    let bucket = Arc::new(SharedTokenBucket::new(
        1,
        Rate::new(1, Duration::from_secs(60)),
        Arc::clone(&clock),
    ));
    assert!(
        bucket.try_acquire(1),
        "{}",
        crate::all_it_holds_refused("SharedTokenBucket::new(1, 1 per minute), new (so full)", 1)
    );
    assert_eq!(
        acquire_within(&bucket, 1, "SharedTokenBucket::new(1, 1 per minute)"),
        Ok(()),
        "SharedTokenBucket::new(1, 1 per minute), emptied: acquire(1) must wait for the \
         next token, then return Ok (the error is only for more than the capacity)"
    );
    let sleeps = clock.sleeps();
    assert_eq!(
        sleeps.len(),
        1,
        "SharedTokenBucket::new(1, 1 per minute), emptied: acquire(1) slept {} times (first \
         few: {:?} ns); it must work out the wait and sleep once, for 60 s",
        sleeps.len(),
        &sleeps[..sleeps.len().min(5)]
    );
    assert_eq!(
        sleeps[0], 60_000_000_000,
        "SharedTokenBucket::new(1, 1 per minute), emptied at t=0: acquire(1) must sleep \
         exactly until the next token, 60 s (60,000,000,000 ns)"
    );
}

// Catches: sleeping (or looping forever) for a request that can never be granted, or an off-by-one that refuses `n == capacity`.
#[test]
fn more_than_the_capacity_is_an_error_at_once() {
    let clock = Arc::new(ManualClock::new());
    let bucket = Arc::new(SharedTokenBucket::new(
        4,
        Rate::per_second(1),
        Arc::clone(&clock),
    ));
    assert!(
        bucket.try_acquire(4),
        "{}",
        crate::all_it_holds_refused("SharedTokenBucket::new(4, 1 per second), new (so full)", 4)
    );
    assert_eq!(
        acquire_within(&bucket, 5, "SharedTokenBucket::new(4, ..), empty"),
        Err(AcquireError {
            requested: 5,
            capacity: 4
        }),
        "acquire(5) on a bucket of capacity 4 can never be granted: it must return the error"
    );
    assert_eq!(
        acquire_within(&bucket, u64::MAX, "SharedTokenBucket::new(4, ..), empty"),
        Err(AcquireError {
            requested: u64::MAX,
            capacity: 4
        }),
        "acquire(u64::MAX) on a bucket of capacity 4 can never be granted: it must return \
         the error at once, naming the request and the capacity"
    );
    assert_eq!(
        clock.sleeps(),
        Vec::<u64>::new(),
        "acquire(n) with n above the capacity must return the error without sleeping"
    );
    assert_eq!(
        acquire_within(&bucket, 4, "SharedTokenBucket::new(4, 1 per second), empty"),
        Ok(()),
        "acquire(4) on a bucket of capacity 4 is possible: wait for it"
    );
    assert_eq!(
        clock.sleeps(),
        vec![4_000_000_000],
        "SharedTokenBucket::new(4, 1 per second), empty: acquire(4) sleeps once, 4 s"
    );
}

type Hook = Box<dyn Fn() + Send + Sync>;

/// A ManualClock that runs a hook (once) in the middle of the first sleep,
/// after the time has moved.
#[derive(Default)]
struct HookClock {
    inner: ManualClock,
    hook: OnceLock<Hook>,
    fired: Mutex<bool>,
}

impl std::fmt::Debug for HookClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HookClock")
            .field("inner", &self.inner)
            .finish()
    }
}

impl Clock for HookClock {
    fn now(&self) -> u64 {
        self.inner.now()
    }
    fn sleep(&self, nanos: u64) {
        self.inner.sleep(nanos);
        let first = !std::mem::replace(&mut *self.fired.lock().unwrap(), true);
        if first {
            if let Some(hook) = self.hook.get() {
                hook();
            }
        }
    }
}

// Catches: sleeping while holding the bucket's lock, so every other thread is blocked for the whole wait.
#[test]
fn the_lock_is_released_while_sleeping() {
    let clock = Arc::new(HookClock::default());
    let bucket = Arc::new(SharedTokenBucket::new(
        2,
        Rate::new(1, Duration::from_nanos(1_000)),
        Arc::clone(&clock),
    ));
    assert!(
        bucket.try_acquire(2),
        "{}",
        crate::all_it_holds_refused(
            "SharedTokenBucket::new(2, 1 per 1000 ns), new (so full) at t=0",
            2
        )
    );
    let blocked = Arc::new(Mutex::new(None));
    {
        let (bucket, blocked) = (Arc::downgrade(&bucket), Arc::clone(&blocked));
        let _ = clock.hook.set(Box::new(move || {
            // Another thread looks at the bucket while acquire sleeps: it
            // either returns or falls asleep on the bucket's lock.
            let bucket = bucket.upgrade().expect("the bucket is alive");
            let seen = run_beside("available() while acquire(1) sleeps", move || {
                bucket.available()
            });
            *blocked.lock().unwrap() = Some(seen == Beside::Stuck);
        }));
    }
    assert_eq!(
        acquire_within(&bucket, 1, "SharedTokenBucket::new(2, 1 per 1000 ns)"),
        Ok(()),
        "SharedTokenBucket::new(2, 1 per 1000 ns), emptied at t=0: acquire(1) must wait \
         for the next token, then return Ok"
    );
    assert_eq!(
        *blocked.lock().unwrap(),
        Some(false),
        "while acquire(1) slept on the clock, another thread's available() blocked on the \
         bucket's lock (or acquire never slept): acquire sleeps holding the lock. Drop the \
         guard before sleeping"
    );
}

// Catches: taking the tokens blindly after the sleep (or returning Ok without them) when another thread took them in the meantime: acquire must look again.
#[test]
fn tokens_taken_during_the_sleep_mean_another_wait() {
    let clock = Arc::new(HookClock::default());
    let bucket = Arc::new(SharedTokenBucket::new(
        2,
        Rate::new(1, Duration::from_nanos(1_000)),
        Arc::clone(&clock),
    ));
    assert!(
        bucket.try_acquire(2),
        "{}",
        crate::all_it_holds_refused(
            "SharedTokenBucket::new(2, 1 per 1000 ns), new (so full) at t=0",
            2
        )
    );
    let stolen = Arc::new(Mutex::new(None));
    {
        let (bucket, stolen) = (Arc::downgrade(&bucket), Arc::clone(&stolen));
        let _ = clock.hook.set(Box::new(move || {
            let bucket = bucket.upgrade().expect("the bucket is alive");
            let seen = run_beside("try_acquire(1) while acquire(1) sleeps", move || {
                bucket.try_acquire(1)
            });
            *stolen.lock().unwrap() = match seen {
                Beside::Finished(taken) => Some(taken),
                Beside::Stuck => None,
            };
        }));
    }
    let what = "SharedTokenBucket::new(2, 1 per 1000 ns), emptied at t=0; while acquire(1) \
                slept, another thread took the token that arrived";
    assert_eq!(acquire_within(&bucket, 1, what), Ok(()), "{what}");
    assert_eq!(
        *stolen.lock().unwrap(),
        Some(true),
        "{what}: the other thread must get it (None: it blocked on the bucket's lock, so \
         acquire sleeps holding it)"
    );
    assert_eq!(
        clock.inner.sleeps(),
        vec![1_000, 1_000],
        "{what}: acquire must look again after waking, find no token, and sleep 1000 ns more"
    );
    assert!(
        !bucket.try_acquire(1),
        "{what}: by t=2000 ns two tokens arrived and both were taken; none is left"
    );
}

// Catches: an acquire that returns before its tokens exist, or never returns, on the real monotonic clock.
#[test]
fn waits_on_the_real_clock() {
    let bucket = Arc::new(SharedTokenBucket::new(
        1,
        Rate::new(1, Duration::from_millis(5)),
        MonotonicClock::new(),
    ));
    let started = Instant::now();
    assert_eq!(
        acquire_within(&bucket, 1, "SharedTokenBucket::new(1, 1 per 5 ms)"),
        Ok(()),
        "SharedTokenBucket::new(1, 1 per 5 ms) on a MonotonicClock, new (so full): the \
         first acquire(1) must return Ok at once"
    );
    assert_eq!(
        acquire_within(&bucket, 1, "SharedTokenBucket::new(1, 1 per 5 ms)"),
        Ok(()),
        "SharedTokenBucket::new(1, 1 per 5 ms) on a MonotonicClock, its only token taken: \
         the second acquire(1) must wait for the next one, then return Ok"
    );
    let waited = started.elapsed();
    // Only the lower bound is a verdict: the second token cannot exist
    // before 5 ms of real time. How late the thread wakes depends on the
    // machine's load (acquire_within already fails an acquire that never
    // returns).
    assert!(
        waited >= Duration::from_micros(4_900),
        "SharedTokenBucket::new(1, 1 per 5 ms) on a MonotonicClock: acquire(1) twice \
         returned after {waited:?}; the second must wait about 5 ms for the next token"
    );
}
