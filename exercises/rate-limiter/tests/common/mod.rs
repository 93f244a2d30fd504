//! Helpers shared by the rate-limiter stages' visible tests: time in
//! readable units, counting how much a limiter admits, a reproducible
//! pseudo-random trace, and a deadline for calls that might never return.
//!
//! Nothing here sleeps. The tests drive a [`ManualClock`] by hand, so a
//! refill of "one token per hour" takes no time at all to check.

#![allow(dead_code, unreachable_pub)]

use std::ops::Deref;
use std::panic;
use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use rate_limiter::{Clock, ManualClock, Rate};

/// One millisecond, in nanoseconds.
pub const MS: u64 = 1_000_000;
/// One second, in nanoseconds.
pub const SECOND: u64 = 1_000_000_000;

/// How long a call may take before [`within`] gives up on it. Far longer
/// than a correct limiter ever needs: on a manual clock nothing waits.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Races `threads` threads calling `try_acquire` (one token each time)
/// while this thread moves `clock` forward one millisecond at a time,
/// `ticks` times, then lets them drain what is left; returns how many calls
/// were admitted. A refusal seen after the last tick ends a thread: by then
/// the limiter holds nothing more to give.
pub fn admitted_while_the_clock_moves(
    threads: usize,
    ticks: u64,
    clock: &ManualClock,
    try_acquire: impl Fn() -> bool + Sync,
) -> u64 {
    let done = AtomicBool::new(false);
    let admitted = AtomicU64::new(0);
    let start_line = Barrier::new(threads + 1);
    thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                start_line.wait();
                loop {
                    // Read `done` first: a refusal seen after the clock's last
                    // tick means the limiter is empty for good.
                    let finished = done.load(Ordering::SeqCst);
                    if try_acquire() {
                        admitted.fetch_add(1, Ordering::Relaxed);
                    } else if finished {
                        break;
                    }
                }
            });
        }
        start_line.wait();
        for _ in 0..ticks {
            clock.advance_nanos(MS);
            for _ in 0..1_000 {
                std::hint::spin_loop();
            }
        }
        done.store(true, Ordering::SeqCst);
    });
    admitted.into_inner()
}

/// `tokens` per second.
pub fn per_second(tokens: u64) -> Rate {
    Rate::per_second(tokens)
}

/// Calls `try_acquire` up to `attempts` times, stopping at the first
/// refusal, and returns how many were admitted. On a clock that does not
/// move, that is how many single tokens the limiter holds.
pub fn admitted_in_a_row(attempts: u64, mut try_acquire: impl FnMut() -> bool) -> u64 {
    let mut admitted = 0;
    while admitted < attempts && try_acquire() {
        admitted += 1;
    }
    admitted
}

/// Calls `try_acquire` exactly `attempts` times and returns how many were
/// admitted (it does not stop at a refusal).
pub fn admitted_of(attempts: u64, mut try_acquire: impl FnMut() -> bool) -> u64 {
    (0..attempts).filter(|_| try_acquire()).count() as u64
}

/// A small, reproducible pseudo-random number generator (xorshift64*), so
/// that a failing trace is the same on every run and every machine.
#[derive(Debug, Clone)]
pub struct Trace {
    state: u64,
}

impl Trace {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> Trace {
        Trace {
            state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
        }
    }

    /// The next number in `0..bound`.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_F491_4F6C_DD1D) % bound
    }
}

/// One step of a trace: move the clock forward by `advance` ns, then ask
/// for `tokens` tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub advance: u64,
    pub tokens: u64,
}

/// `steps` random steps: waits from zero to about `max_gap` ns (often zero,
/// so bursts happen), requests from 0 to `capacity + 1` tokens (so some can
/// never be granted).
pub fn random_trace(seed: u64, steps: usize, capacity: u64, max_gap: u64) -> Vec<Step> {
    let mut rng = Trace::new(seed);
    (0..steps)
        .map(|_| Step {
            advance: if rng.below(3) == 0 {
                0
            } else {
                rng.below(max_gap + 1)
            },
            tokens: rng.below(capacity + 2),
        })
        .collect()
}

/// Runs `trace` on `clock`, asking `try_acquire` at each step, and returns
/// every decision in order.
pub fn decisions(
    clock: &ManualClock,
    trace: &[Step],
    mut try_acquire: impl FnMut(u64) -> bool,
) -> Vec<bool> {
    trace
        .iter()
        .map(|step| {
            clock.advance_nanos(step.advance);
            try_acquire(step.tokens)
        })
        .collect()
}

/// Compares two limiters' decisions on the same trace and fails the test at
/// the first step where they differ, saying when it happened, what was asked
/// and who said what.
pub fn assert_same_decisions(
    trace: &[Step],
    expected_name: &str,
    expected: &[bool],
    actual_name: &str,
    actual: &[bool],
) {
    let mut now = 0u64;
    for (i, step) in trace.iter().enumerate() {
        now += step.advance;
        if expected[i] != actual[i] {
            let verdict = |admitted: bool| if admitted { "admitted" } else { "refused" };
            let recent: Vec<String> = trace[i.saturating_sub(5)..i]
                .iter()
                .zip(&actual[i.saturating_sub(5)..i])
                .map(|(s, &a)| format!("+{} ns, ask {} -> {}", s.advance, s.tokens, verdict(a)))
                .collect();
            panic!(
                "the two limiters first disagree at step {i} (clock {now} ns after the start, \
                 asking for {} tokens): {expected_name} {}, {actual_name} {}.\n\
                 The five steps before it: {recent:#?}",
                step.tokens,
                verdict(expected[i]),
                verdict(actual[i]),
            );
        }
    }
}

/// Runs `work` on a helper thread and returns its result, or fails the test
/// if it takes longer than [`TIMEOUT`] (an `acquire` that never returns, a
/// compare-and-swap loop that spins forever). A panic inside `work` is
/// passed on as is.
pub fn within<T, F>(what: &str, work: F) -> T
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (tx, rx) = mpsc::channel();
    let helper = thread::spawn(move || {
        let _ = tx.send(work());
    });
    match rx.recv_timeout(TIMEOUT) {
        Ok(value) => value,
        Err(RecvTimeoutError::Timeout) => panic!(
            "{what} did not finish within {TIMEOUT:?}; on a ManualClock nothing should take \
             that long (a loop that never ends? a lock held while sleeping?)"
        ),
        Err(RecvTimeoutError::Disconnected) => match helper.join() {
            Err(payload) => panic::resume_unwind(payload),
            Ok(()) => unreachable!("the helper thread ended without sending its result"),
        },
    }
}

/// Compile-time check that a limiter can be shared between threads.
pub fn assert_send_sync<T: Send + Sync>(_: &T) {}

/// The most sleeps a [`GuardedClock`] allows before it fails the test.
pub const MAX_SLEEPS: usize = 1_000;

/// A [`ManualClock`] (everything it has is reachable through `Deref`:
/// `set`, `advance_nanos`, `sleeps`) that fails the test when a limiter
/// sleeps on it more than [`MAX_SLEEPS`] times. On a plain manual clock an
/// `acquire` that polls, or that rounds its wait down and then sleeps for
/// 0 ns again and again, would spin forever and fill memory with sleeps.
#[derive(Debug, Default)]
pub struct GuardedClock {
    manual: ManualClock,
}

impl GuardedClock {
    /// A guarded clock that reads zero.
    pub fn new() -> GuardedClock {
        GuardedClock::default()
    }
}

impl Deref for GuardedClock {
    type Target = ManualClock;

    fn deref(&self) -> &ManualClock {
        &self.manual
    }
}

impl Clock for GuardedClock {
    fn now(&self) -> u64 {
        self.manual.now()
    }

    fn sleep(&self, nanos: u64) {
        self.manual.sleep(nanos);
        let sleeps = self.manual.sleeps();
        if sleeps.len() > MAX_SLEEPS {
            let zeros = sleeps.iter().filter(|&&s| s == 0).count();
            panic!(
                "the limiter slept {} times (the last ones for {:?} ns); a correct acquire \
                 sleeps once per wait. {}",
                sleeps.len(),
                &sleeps[sleeps.len() - 5..],
                if zeros > 0 {
                    "Sleeps of 0 ns while the bucket is still short mean the wait was rounded \
                     down: round the missing time up (div_ceil)"
                } else {
                    "Is it polling with short sleeps instead of computing the whole wait?"
                }
            );
        }
    }
}
