//! Benchmark: the reference rate limiters, one call of `try_acquire` at a
//! time, next to the `governor` crate's limiters on its `FakeRelativeClock`.
//! Every limiter holds 100 tokens refilling at a million per second (one
//! token per microsecond), and every limiter's clock is a fake one moved by
//! hand, so that all of them pay the same to learn the time.
//!
//! Run it with `cargo bench -p rate-limiter-solution` (add `-- --quick` for
//! a fast look).

use std::hint::black_box;
use std::num::NonZeroU32;
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use governor::clock::FakeRelativeClock;
use governor::{Quota, RateLimiter};
use rate_limiter_solution::{
    Gcra, KeyedLimiter, ManualClock, Rate, SharedTokenBucket, TokenBucket,
};

/// Tokens every limiter holds at most.
const CAPACITY: u32 = 100;
/// Tokens per second.
const PER_SECOND: u32 = 1_000_000;
/// Nanoseconds one token takes to come back.
const EMISSION: u64 = 1_000_000_000 / PER_SECOND as u64;
/// Keys for the keyed limiters.
const KEYS: u64 = 1_000;

fn rate() -> Rate {
    Rate::per_second(u64::from(PER_SECOND))
}

fn quota() -> Quota {
    Quota::per_second(NonZeroU32::new(PER_SECOND).unwrap())
        .allow_burst(NonZeroU32::new(CAPACITY).unwrap())
}

/// One thread; before each call the clock moves on by one token's worth,
/// so every request is admitted: the path that updates the state.
fn one_thread_admitted(c: &mut Criterion) {
    let mut group = c.benchmark_group("try_acquire, one thread, every request admitted");
    group.throughput(Throughput::Elements(1));

    group.bench_function("TokenBucket", |b| {
        let clock = ManualClock::new();
        let mut bucket = TokenBucket::new(u64::from(CAPACITY), rate(), &clock);
        b.iter(|| {
            clock.advance_nanos(EMISSION);
            black_box(bucket.try_acquire(black_box(1)))
        });
    });

    group.bench_function("SharedTokenBucket (uncontended)", |b| {
        let clock = ManualClock::new();
        let bucket = SharedTokenBucket::new(u64::from(CAPACITY), rate(), &clock);
        b.iter(|| {
            clock.advance_nanos(EMISSION);
            black_box(bucket.try_acquire(black_box(1)))
        });
    });

    group.bench_function("Gcra", |b| {
        let clock = ManualClock::new();
        let gcra = Gcra::new(u64::from(CAPACITY), rate(), &clock);
        b.iter(|| {
            clock.advance_nanos(EMISSION);
            black_box(gcra.try_acquire(black_box(1)))
        });
    });

    group.bench_function("governor direct", |b| {
        let clock = FakeRelativeClock::default();
        let limiter = RateLimiter::direct_with_clock(quota(), clock.clone());
        b.iter(|| {
            clock.advance(Duration::from_nanos(EMISSION));
            black_box(limiter.check().is_ok())
        });
    });

    group.finish();
}

/// One thread, clock frozen, bucket empty: every request is refused, the
/// path that only reads the state.
fn one_thread_refused(c: &mut Criterion) {
    let mut group = c.benchmark_group("try_acquire, one thread, every request refused");
    group.throughput(Throughput::Elements(1));

    group.bench_function("TokenBucket", |b| {
        let clock = ManualClock::new();
        let mut bucket = TokenBucket::new(u64::from(CAPACITY), rate(), &clock);
        assert!(bucket.try_acquire(u64::from(CAPACITY)));
        b.iter(|| black_box(bucket.try_acquire(black_box(1))));
    });

    group.bench_function("SharedTokenBucket (uncontended)", |b| {
        let clock = ManualClock::new();
        let bucket = SharedTokenBucket::new(u64::from(CAPACITY), rate(), &clock);
        assert!(bucket.try_acquire(u64::from(CAPACITY)));
        b.iter(|| black_box(bucket.try_acquire(black_box(1))));
    });

    group.bench_function("Gcra", |b| {
        let clock = ManualClock::new();
        let gcra = Gcra::new(u64::from(CAPACITY), rate(), &clock);
        assert!(gcra.try_acquire(u64::from(CAPACITY)));
        b.iter(|| black_box(gcra.try_acquire(black_box(1))));
    });

    group.bench_function("governor direct", |b| {
        let limiter = RateLimiter::direct_with_clock(quota(), FakeRelativeClock::default());
        while limiter.check().is_ok() {}
        b.iter(|| black_box(limiter.check().is_ok()));
    });

    group.finish();
}

/// Runs `call` on `threads` threads started together, `iters` times each,
/// and returns the wall time from the start line until the last one
/// finishes: criterion's time per iteration is then the time for every
/// thread to make one call at once.
fn contended(threads: usize, iters: u64, call: impl Fn() + Sync) -> Duration {
    let start_line = Barrier::new(threads + 1);
    thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                start_line.wait();
                for _ in 0..iters {
                    call();
                }
            });
        }
        start_line.wait();
        let started = Instant::now();
        // The scope joins every thread before it returns.
        started
    })
    .elapsed()
}

/// Two threads calling the same limiter at once, each moving the shared
/// clock on by one token before each call, so that the requests are
/// admitted and the threads fight over the state.
fn two_threads_contending(c: &mut Criterion) {
    const THREADS: usize = 2;
    let mut group = c.benchmark_group("try_acquire, two threads contending, admitted");
    group.throughput(Throughput::Elements(THREADS as u64));

    group.bench_function("Gcra", |b| {
        let clock = ManualClock::new();
        let gcra = Gcra::new(u64::from(CAPACITY), rate(), &clock);
        b.iter_custom(|iters| {
            contended(THREADS, iters, || {
                clock.advance_nanos(EMISSION);
                black_box(gcra.try_acquire(1));
            })
        });
    });

    group.bench_function("SharedTokenBucket", |b| {
        let clock = ManualClock::new();
        let bucket = SharedTokenBucket::new(u64::from(CAPACITY), rate(), &clock);
        b.iter_custom(|iters| {
            contended(THREADS, iters, || {
                clock.advance_nanos(EMISSION);
                black_box(bucket.try_acquire(1));
            })
        });
    });

    group.bench_function("governor direct", |b| {
        let clock = FakeRelativeClock::default();
        let limiter = RateLimiter::direct_with_clock(quota(), clock.clone());
        b.iter_custom(|iters| {
            contended(THREADS, iters, || {
                clock.advance(Duration::from_nanos(EMISSION));
                black_box(limiter.check().is_ok());
            })
        });
    });

    group.finish();
}

/// One thread cycling through `KEYS` keys; the clock moves on so that each
/// key has regained a token by the time its turn comes round again.
fn keyed(c: &mut Criterion) {
    let mut group = c.benchmark_group("keyed try_acquire, one thread");
    group.throughput(Throughput::Elements(1));
    let step = EMISSION.div_ceil(KEYS);

    group.bench_function(
        BenchmarkId::new("KeyedLimiter", format!("{KEYS} keys")),
        |b| {
            let clock = ManualClock::new();
            let limiter = KeyedLimiter::new(u64::from(CAPACITY), rate(), &clock);
            let mut key = 0;
            b.iter(|| {
                clock.advance_nanos(step);
                key = (key + 1) % KEYS;
                black_box(limiter.try_acquire(&key, 1))
            });
        },
    );

    group.bench_function(
        BenchmarkId::new("governor hashmap", format!("{KEYS} keys")),
        |b| {
            let clock = FakeRelativeClock::default();
            let limiter = RateLimiter::hashmap_with_clock(quota(), clock.clone());
            let mut key = 0;
            b.iter(|| {
                clock.advance(Duration::from_nanos(step));
                key = (key + 1) % KEYS;
                black_box(limiter.check_key(&key).is_ok())
            });
        },
    );

    group.finish();
}

criterion_group!(
    benches,
    one_thread_admitted,
    one_thread_refused,
    two_threads_contending,
    keyed
);
criterion_main!(benches);
