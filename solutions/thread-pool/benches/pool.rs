//! Benchmark: the reference `ThreadPool` against the `threadpool` crate and
//! a rayon pool, on a burst of tiny jobs and on one spawn-and-wait round
//! trip. Every pool has one worker per CPU. Run it with
//! `cargo bench -p thread-pool-solution`.

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use thread_pool_solution::ThreadPool;

/// Jobs per burst.
const BURST: usize = 10_000;

fn workers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Counts a burst's jobs down; the job that finishes last rings the bell.
/// Every pool gets the same latch, so they all pay the same to be waited on.
struct Latch {
    remaining: AtomicUsize,
    bell: Mutex<Sender<()>>,
}

impl Latch {
    fn new(jobs: usize) -> (Arc<Latch>, Receiver<()>) {
        let (bell, rung) = mpsc::channel();
        let latch = Latch {
            remaining: AtomicUsize::new(jobs),
            bell: Mutex::new(bell),
        };
        (Arc::new(latch), rung)
    }

    fn job_done(&self) {
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.bell
                .lock()
                .unwrap()
                .send(())
                .expect("the benchmark waits for the bell");
        }
    }
}

/// A job small enough that the pool's own overhead dominates.
fn tiny_job(latch: &Latch, n: usize) {
    black_box(n.wrapping_mul(31));
    latch.job_done();
}

/// Queues a burst of tiny jobs through `submit` and waits for all of them.
fn burst(mut submit: impl FnMut(Arc<Latch>, usize)) {
    let (latch, rung) = Latch::new(BURST);
    for n in 0..BURST {
        submit(Arc::clone(&latch), n);
    }
    rung.recv().unwrap();
}

fn many_tiny_jobs(c: &mut Criterion) {
    let workers = workers();
    let mut group = c.benchmark_group(format!("{BURST} tiny jobs, {workers} workers"));
    group.throughput(Throughput::Elements(BURST as u64));

    group.bench_function("oslings ThreadPool", |b| {
        let pool = ThreadPool::new(workers);
        b.iter(|| {
            burst(|latch, n| pool.execute(move || tiny_job(&latch, n)));
        });
    });

    group.bench_function("threadpool crate", |b| {
        let pool = threadpool::ThreadPool::new(workers);
        b.iter(|| {
            burst(|latch, n| pool.execute(move || tiny_job(&latch, n)));
        });
    });

    group.bench_function("rayon ThreadPool::spawn", |b| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(workers)
            .build()
            .unwrap();
        b.iter(|| {
            burst(|latch, n| pool.spawn(move || tiny_job(&latch, n)));
        });
    });

    group.bench_function("rayon scope", |b| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(workers)
            .build()
            .unwrap();
        b.iter(|| {
            let (latch, _rung) = Latch::new(BURST);
            pool.scope(|scope| {
                for n in 0..BURST {
                    let latch = &latch;
                    scope.spawn(move |_| tiny_job(latch, n));
                }
            });
        });
    });

    group.finish();
}

fn spawn_join_round_trip(c: &mut Criterion) {
    let workers = workers();
    let mut group = c.benchmark_group(format!(
        "spawn one job and wait for its result, {workers} workers"
    ));

    group.bench_function("oslings ThreadPool", |b| {
        let pool = ThreadPool::new(workers);
        b.iter(|| {
            let input = black_box(20);
            pool.spawn(move || input + 22).join().unwrap()
        });
    });

    group.bench_function("threadpool crate", |b| {
        let pool = threadpool::ThreadPool::new(workers);
        b.iter(|| {
            let input = black_box(20);
            let (tx, rx) = mpsc::sync_channel(1);
            pool.execute(move || tx.send(input + 22).unwrap());
            rx.recv().unwrap()
        });
    });

    group.bench_function("rayon ThreadPool::spawn", |b| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(workers)
            .build()
            .unwrap();
        b.iter(|| {
            let input = black_box(20);
            let (tx, rx) = mpsc::sync_channel(1);
            pool.spawn(move || tx.send(input + 22).unwrap());
            rx.recv().unwrap()
        });
    });

    group.finish();
}

criterion_group!(benches, many_tiny_jobs, spawn_join_round_trip);
criterion_main!(benches);
