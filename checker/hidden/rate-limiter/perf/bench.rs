//! Workloads of the rate limiters' benchmark: the learner's limiters
//! (`candidate`), the reference solution (`reference`) and the `governor`
//! crate (a GCRA on one atomic word, like stage 3) check the same stream of
//! requests against the same limit: a burst of 100 and one request every
//! 100 ns, on a fake clock that moves 95 ns before every check, so that most
//! requests are admitted and some are refused.
//!
//! - `gcra-one-thread`: `Gcra::try_acquire(1)` from one thread.
//! - `gcra-two-threads`: two threads share one `Gcra`, each doing half of the
//!   checks; the time is the CPU time of both, per check. Shown for context
//!   only: how much the two contend depends on whether the machine runs them
//!   at the same moment, and the same code measured anywhere from 0.4 to 1.4
//!   times itself beside busy neighbours.
//! - `token-bucket-shared-one-thread`: `SharedTokenBucket::try_acquire(1)`
//!   from one thread (a lock per check), with governor for context.
//!
//! Every clock here is a counter in memory: reading it is one load, and
//! moving it one atomic add (governor's `FakeRelativeClock` does the same),
//! so the workloads measure the limiters, not `clock_gettime`.

use std::hint::black_box;
use std::num::NonZeroU32;
use std::sync::Barrier;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::FakeRelativeClock;
use governor::{Quota, RateLimiter};
use oslings_harness::perf::{Workload, WorkloadResult, run_main};

use crate::{candidate, reference};

/// Burst of the limit, in requests.
const BURST: u64 = 100;
/// Nanoseconds per token.
const PERIOD_NS: u64 = 100;
/// Nanoseconds the clock moves before each check: a little less than one
/// token, so about one check in twenty is refused once the burst is spent.
const STEP_NS: u64 = 95;

/// A fake clock for the candidate's limiters and one for the reference's:
/// the two crates' `Clock` traits may be the same trait (inside the
/// workspace, both are the solution), so each gets its own type.
macro_rules! counter_clock {
    ($name:ident, $krate:ident) => {
        #[derive(Debug, Default)]
        struct $name(AtomicU64);

        impl $name {
            fn leak() -> &'static $name {
                Box::leak(Box::default())
            }

            #[inline]
            fn advance(&self, nanos: u64) {
                self.0.fetch_add(nanos, Ordering::Relaxed);
            }
        }

        impl $krate::Clock for $name {
            #[inline]
            fn now(&self) -> u64 {
                self.0.load(Ordering::Relaxed)
            }

            fn sleep(&self, nanos: u64) {
                self.advance(nanos);
            }
        }
    };
}

counter_clock!(CandidateClock, candidate);
counter_clock!(ReferenceClock, reference);

/// Governor with the same limit, on its own fake clock.
fn governor_limiter() -> (GovernorLimiter, FakeRelativeClock) {
    let clock = FakeRelativeClock::default();
    let quota = Quota::with_period(Duration::from_nanos(PERIOD_NS))
        .expect("a non-zero period")
        .allow_burst(NonZeroU32::new(BURST as u32).expect("a non-zero burst"));
    (RateLimiter::direct_with_clock(quota, clock.clone()), clock)
}

/// A routine of `iters` checks from one thread: move the clock, check.
macro_rules! one_thread {
    ($limiter:expr, $clock:expr, $check:expr) => {{
        let limiter = $limiter;
        let clock = $clock;
        move |iters: u64| {
            let mut admitted = 0_u64;
            for _ in 0..iters {
                clock(&limiter);
                admitted += u64::from($check(&limiter));
            }
            black_box(admitted);
        }
    }};
}

/// Two long-lived threads that each run `share` checks whenever the
/// routine starts a batch. They are started once per subject, not once per
/// batch: a freshly spawned pair often begins on one CPU and is only spread
/// out by the scheduler a few milliseconds later, which would make the
/// measure depend on luck rather than on contention.
struct Pair {
    start: Barrier,
    done: Barrier,
    share: [AtomicU64; 2],
}

impl Pair {
    /// Starts the two threads, each running `work(share)` once per batch.
    fn spawn(work: impl Fn(u64) + Send + Sync + 'static) -> &'static Pair {
        let pair: &'static Pair = Box::leak(Box::new(Pair {
            start: Barrier::new(3),
            done: Barrier::new(3),
            share: [AtomicU64::new(0), AtomicU64::new(0)],
        }));
        let work: &'static (dyn Fn(u64) + Sync) = Box::leak(Box::new(work));
        for k in 0..2 {
            std::thread::spawn(move || {
                pin_to_cpu(k);
                loop {
                    pair.start.wait();
                    work(pair.share[k].load(Ordering::Relaxed));
                    pair.done.wait();
                }
            });
        }
        pair
    }

    /// Runs one batch of `iters` checks, half on each thread, and returns
    /// when both halves are done.
    fn run(&self, iters: u64) {
        self.share[0].store(iters / 2, Ordering::Relaxed);
        self.share[1].store(iters - iters / 2, Ordering::Relaxed);
        self.start.wait();
        self.done.wait();
    }
}

/// Keeps the calling thread on CPU `k` (modulo the CPUs this process may
/// use), so that the two threads of a [`Pair`] run on two different cores
/// and really contend, instead of taking turns on one core whenever the
/// scheduler happens to place them together. Does nothing on one CPU.
fn pin_to_cpu(k: usize) {
    // SAFETY: `cpu_set_t` is plain data for which all zeroes is the empty
    // set, and the calls only read and write the set we pass.
    unsafe {
        let mut allowed: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut allowed) != 0 {
            return;
        }
        let cpus: Vec<usize> = (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &allowed))
            .collect();
        if cpus.len() < 2 {
            return;
        }
        let mut one: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpus[k % cpus.len()], &mut one);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &one);
    }
}

/// A routine of `iters` checks split between the two threads of a [`Pair`].
macro_rules! two_threads {
    ($limiter:expr, $clock:expr, $check:expr) => {{
        let limiter = $limiter;
        let clock = $clock;
        let pair = Pair::spawn(move |share| {
            let mut admitted = 0_u64;
            for _ in 0..share {
                clock(&limiter);
                admitted += u64::from($check(&limiter));
            }
            black_box(admitted);
        });
        move |iters: u64| pair.run(iters)
    }};
}

fn rate_c() -> candidate::Rate {
    candidate::Rate::new(1, Duration::from_nanos(PERIOD_NS))
}

fn rate_r() -> reference::Rate {
    reference::Rate::new(1, Duration::from_nanos(PERIOD_NS))
}

type GovernorLimiter = RateLimiter<
    governor::state::NotKeyed,
    governor::state::InMemoryState,
    FakeRelativeClock,
    governor::middleware::NoOpMiddleware<governor::nanos::Nanos>,
>;

fn governor_subject() -> (GovernorLimiter, impl Fn(&GovernorLimiter) + Sync) {
    let (limiter, clock) = governor_limiter();
    (limiter, move |_: &GovernorLimiter| {
        clock.advance(Duration::from_nanos(STEP_NS))
    })
}

fn gcra_one_thread(budget: Duration) -> WorkloadResult {
    let c_clock = CandidateClock::leak();
    let r_clock = ReferenceClock::leak();
    let (g_limiter, g_advance) = governor_subject();
    Workload::new("gcra-one-thread", "check")
        .candidate(one_thread!(
            candidate::Gcra::new(BURST, rate_c(), c_clock),
            |_: &candidate::Gcra<&CandidateClock>| c_clock.advance(STEP_NS),
            |l: &candidate::Gcra<&CandidateClock>| l.try_acquire(1)
        ))
        .reference(one_thread!(
            reference::Gcra::new(BURST, rate_r(), r_clock),
            |_: &reference::Gcra<&ReferenceClock>| r_clock.advance(STEP_NS),
            |l: &reference::Gcra<&ReferenceClock>| l.try_acquire(1)
        ))
        .baseline(
            "governor",
            one_thread!(g_limiter, g_advance, |l: &GovernorLimiter| l
                .check()
                .is_ok()),
        )
        .run(budget)
}

fn gcra_two_threads(budget: Duration) -> WorkloadResult {
    let c_clock = CandidateClock::leak();
    let r_clock = ReferenceClock::leak();
    let (g_limiter, g_advance) = governor_subject();
    Workload::new("gcra-two-threads", "check")
        .candidate(two_threads!(
            candidate::Gcra::new(BURST, rate_c(), c_clock),
            |_: &candidate::Gcra<&CandidateClock>| c_clock.advance(STEP_NS),
            |l: &candidate::Gcra<&CandidateClock>| l.try_acquire(1)
        ))
        .reference(two_threads!(
            reference::Gcra::new(BURST, rate_r(), r_clock),
            |_: &reference::Gcra<&ReferenceClock>| r_clock.advance(STEP_NS),
            |l: &reference::Gcra<&ReferenceClock>| l.try_acquire(1)
        ))
        .baseline(
            "governor",
            two_threads!(g_limiter, g_advance, |l: &GovernorLimiter| l
                .check()
                .is_ok()),
        )
        .context_only()
        .run(budget)
}

fn token_bucket_shared_one_thread(budget: Duration) -> WorkloadResult {
    let c_clock = CandidateClock::leak();
    let r_clock = ReferenceClock::leak();
    let (g_limiter, g_advance) = governor_subject();
    Workload::new("token-bucket-shared-one-thread", "check")
        .candidate(one_thread!(
            candidate::SharedTokenBucket::new(BURST, rate_c(), c_clock),
            |_: &candidate::SharedTokenBucket<&CandidateClock>| c_clock.advance(STEP_NS),
            |l: &candidate::SharedTokenBucket<&CandidateClock>| l.try_acquire(1)
        ))
        .reference(one_thread!(
            reference::SharedTokenBucket::new(BURST, rate_r(), r_clock),
            |_: &reference::SharedTokenBucket<&ReferenceClock>| r_clock.advance(STEP_NS),
            |l: &reference::SharedTokenBucket<&ReferenceClock>| l.try_acquire(1)
        ))
        .baseline(
            "governor",
            one_thread!(g_limiter, g_advance, |l: &GovernorLimiter| l
                .check()
                .is_ok()),
        )
        .run(budget)
}

pub(crate) fn main() {
    run_main(vec![
        Box::new(gcra_one_thread),
        Box::new(gcra_two_threads),
        Box::new(token_bucket_shared_one_thread),
    ]);
}
