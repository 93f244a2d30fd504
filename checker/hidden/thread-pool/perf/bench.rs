//! Workloads of the thread pool's benchmark: the learner's pool
//! (`candidate`), the reference solution (`reference`), the `threadpool`
//! crate, a minimal pool over a `crossbeam-channel` and a `rayon` pool run
//! the same jobs with the same number of workers.
//!
//! - `tiny-jobs`: the overhead per job, for batches of many tiny jobs
//!   queued from one thread (the time until the last one has run, divided
//!   by the number of jobs).
//! - `round-trip`: the latency of one job and its result: `spawn(|| 1)`
//!   then `join()`, with the workers idle in between.
//!
//! Every pool is built once, outside the timed closures, but inside the
//! argument that adds it to the workload: the threads it starts there are
//! its own, and each subject is charged the CPU time of its own threads
//! and of the thread that queues the jobs ([`Clock::Threads`]), not that of
//! another pool settling down after its batch. Every thread runs on one CPU
//! while a workload is measured ([`Workload::on_one_cpu`]): the cost of a
//! job is the work around it (allocations, locking, waking a worker), and
//! on two CPUs beside busy neighbours the order in which the threads met
//! moved the same pool's time by ±12 %.

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread::{self, Thread};
use std::time::Duration;

use oslings_harness::perf::{Clock, Workload, WorkloadResult, run_main_with_budget};

use crate::{candidate, reference};

/// Workers in every pool.
const WORKERS: usize = 4;

/// Counts down the jobs of one batch; the job that brings it to zero wakes
/// the thread that queued them. One latch per subject, leaked so that jobs
/// can hold a `&'static` to it without touching a reference count.
struct Latch {
    remaining: AtomicUsize,
    waiter: Thread,
}

impl Latch {
    fn leak() -> &'static Latch {
        Box::leak(Box::new(Latch {
            remaining: AtomicUsize::new(0),
            waiter: thread::current(),
        }))
    }

    /// Arms the latch for `n` jobs (before any of them is queued).
    fn arm(&self, n: u64) {
        self.remaining.store(n as usize, Ordering::Relaxed);
    }

    /// One job done.
    #[inline]
    fn count_down(&self) {
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.waiter.unpark();
        }
    }

    /// Sleeps until every job of the batch is done.
    fn wait(&self) {
        while self.remaining.load(Ordering::Acquire) != 0 {
            thread::park();
        }
    }
}

/// The job of `tiny-jobs`: a few instructions, then the latch.
#[inline]
fn tiny_job(latch: &'static Latch, i: u64) {
    black_box(i.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    latch.count_down();
}

/// A minimal pool over an unbounded crossbeam channel: what many programs
/// write by hand. Dropping it closes the channel and joins the workers.
struct CrossbeamPool {
    sender: Option<crossbeam_channel::Sender<Box<dyn FnOnce() + Send>>>,
    workers: Vec<thread::JoinHandle<()>>,
}

impl CrossbeamPool {
    fn new(workers: usize) -> CrossbeamPool {
        let (sender, receiver) = crossbeam_channel::unbounded::<Box<dyn FnOnce() + Send>>();
        let workers = (0..workers)
            .map(|_| {
                let receiver = receiver.clone();
                thread::spawn(move || {
                    for job in receiver {
                        job();
                    }
                })
            })
            .collect();
        CrossbeamPool {
            sender: Some(sender),
            workers,
        }
    }

    fn execute(&self, job: impl FnOnce() + Send + 'static) {
        if let Some(sender) = &self.sender {
            sender.send(Box::new(job)).expect("the workers are alive");
        }
    }
}

impl Drop for CrossbeamPool {
    fn drop(&mut self) {
        self.sender = None;
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

fn rayon_pool() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(WORKERS)
        .build()
        .expect("cannot build a rayon pool")
}

/// A routine that queues `iters` tiny jobs with `execute` and waits for all of them.
macro_rules! tiny_jobs {
    ($pool:expr, $execute:ident) => {{
        let pool = $pool;
        let latch = Latch::leak();
        move |iters: u64| {
            latch.arm(iters);
            for i in 0..iters {
                pool.$execute(move || tiny_job(latch, i));
            }
            latch.wait();
        }
    }};
}

/// A routine of `iters` round trips through one of the exercise's pools:
/// `spawn` and `join`.
macro_rules! round_trips_by_handle {
    ($pool:expr) => {{
        let pool = $pool;
        move |iters: u64| {
            for _ in 0..iters {
                let handle = pool.spawn(|| black_box(1_u64));
                black_box(handle.join().expect("the job does not panic"));
            }
        }
    }};
}

/// A routine of `iters` round trips through a pool without result
/// handles: the job sends its result through a one-slot channel.
macro_rules! round_trips_by_channel {
    ($pool:expr, $execute:ident) => {{
        let pool = $pool;
        move |iters: u64| {
            for _ in 0..iters {
                let (sender, receiver) = mpsc::sync_channel(1);
                pool.$execute(move || {
                    let _ = sender.send(black_box(1_u64));
                });
                black_box(receiver.recv().expect("the job sends its result"));
            }
        }
    }};
}

fn tiny_jobs_workload(budget: Duration) -> WorkloadResult {
    Workload::new("tiny-jobs", "job")
        .clock(Clock::Threads)
        .on_one_cpu()
        .candidate(tiny_jobs!(candidate::ThreadPool::new(WORKERS), execute))
        .reference(tiny_jobs!(reference::ThreadPool::new(WORKERS), execute))
        .baseline(
            "threadpool",
            tiny_jobs!(threadpool::ThreadPool::new(WORKERS), execute),
        )
        .baseline(
            "crossbeam",
            tiny_jobs!(CrossbeamPool::new(WORKERS), execute),
        )
        .baseline("rayon", tiny_jobs!(rayon_pool(), spawn))
        .run(budget)
}

fn round_trip_workload(budget: Duration) -> WorkloadResult {
    Workload::new("round-trip", "spawn and join")
        .clock(Clock::Threads)
        .on_one_cpu()
        .candidate(round_trips_by_handle!(candidate::ThreadPool::new(WORKERS)))
        .reference(round_trips_by_handle!(reference::ThreadPool::new(WORKERS)))
        .baseline(
            "threadpool",
            round_trips_by_channel!(threadpool::ThreadPool::new(WORKERS), execute),
        )
        .baseline(
            "crossbeam",
            round_trips_by_channel!(CrossbeamPool::new(WORKERS), execute),
        )
        .baseline("rayon", round_trips_by_channel!(rayon_pool(), spawn))
        .run(budget)
}

/// Per workload: with 4 workers handing tiny jobs around, a batch of a
/// millisecond or two is decided by who got the processor on a busy
/// machine; batches of about 10 ms keep the ratio within a few percent.
const BUDGET: Duration = Duration::from_secs(2);

pub(crate) fn main() {
    run_main_with_budget(
        BUDGET,
        vec![Box::new(tiny_jobs_workload), Box::new(round_trip_workload)],
    );
}
