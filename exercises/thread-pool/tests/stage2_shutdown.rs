//! Stage 2 visible tests: `shutdown()` and `Drop` finish every queued job,
//! join every worker, and (for `shutdown`) count the jobs that ran.
//!
//! Run only this stage with `cargo test -p thread-pool --test stage2_shutdown`.

use std::cell::RefCell;
use std::panic::resume_unwind;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Barrier};

use rstest::rstest;
use thread_pool::ThreadPool;

mod common;

use common::{occupy_every_worker, recv_n, shutdown, within};

#[rstest]
#[case::one_worker(1)]
#[case::two_workers(2)]
#[case::four_workers(4)]
fn shutting_down_an_idle_pool_returns_zero(#[case] workers: usize) {
    let pool = ThreadPool::new(workers);
    assert_eq!(
        shutdown(pool),
        0,
        "no job was ever queued, so shutdown() should report 0 completed jobs"
    );
}

#[rstest]
#[case::one_worker(1)]
#[case::two_workers(2)]
#[case::four_workers(4)]
fn shutdown_finishes_every_queued_job_and_counts_them(#[case] workers: usize) {
    const QUEUED: usize = 100;
    let pool = ThreadPool::new(workers);
    let gate = occupy_every_worker(&pool, workers);
    let ran = queue_counting_jobs(&pool, QUEUED);
    assert_eq!(
        pool.queued(),
        QUEUED,
        "every worker is busy at a gate, so all {QUEUED} jobs should still be waiting in the queue"
    );
    let shutting_down = std::thread::spawn(move || shutdown(pool));
    gate.open();
    let completed = shutting_down.join().unwrap_or_else(|e| resume_unwind(e));

    assert_eq!(
        ran.load(Ordering::Relaxed),
        QUEUED,
        "shutdown() returned before every queued job had run: it must let the workers \
         drain the queue, not drop what is left"
    );
    assert_eq!(
        completed,
        QUEUED + workers,
        "shutdown() should count every job that ran: {QUEUED} queued plus the {workers} \
         gated ones"
    );
}

#[rstest]
#[case::one_worker(1)]
#[case::four_workers(4)]
fn dropping_the_pool_finishes_every_queued_job(#[case] workers: usize) {
    const QUEUED: usize = 100;
    let pool = ThreadPool::new(workers);
    let gate = occupy_every_worker(&pool, workers);
    let ran = queue_counting_jobs(&pool, QUEUED);
    let dropping = std::thread::spawn(move || within("dropping the pool", move || drop(pool)));
    gate.open();
    dropping.join().unwrap_or_else(|e| resume_unwind(e));
    assert_eq!(
        ran.load(Ordering::Relaxed),
        QUEUED,
        "the pool's Drop returned before every queued job had run"
    );
}

thread_local! {
    /// Set by a job on the worker that runs it; reports when that thread exits.
    static ON_EXIT: RefCell<Option<ExitReport>> = const { RefCell::new(None) };
}

/// Sends one message when the thread that owns it ends.
struct ExitReport(Sender<()>);

impl Drop for ExitReport {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

#[rstest]
#[case::one_worker(1)]
#[case::three_workers(3)]
fn shutdown_returns_only_after_every_worker_thread_has_ended(#[case] workers: usize) {
    let pool = ThreadPool::new(workers);
    // The barrier makes the jobs run on `workers` different threads at once,
    // so every worker gets one report that fires when its thread ends.
    let barrier = Arc::new(Barrier::new(workers));
    let (exited_tx, exited_rx) = mpsc::channel();
    let (armed_tx, armed_rx) = mpsc::channel();
    for _ in 0..workers {
        let (barrier, exited_tx, armed_tx) =
            (Arc::clone(&barrier), exited_tx.clone(), armed_tx.clone());
        pool.execute(move || {
            barrier.wait();
            ON_EXIT.with(|report| *report.borrow_mut() = Some(ExitReport(exited_tx)));
            armed_tx.send(()).unwrap();
        });
    }
    drop(exited_tx);
    recv_n(&armed_rx, workers, "workers to run one job each");

    shutdown(pool);
    let ended = exited_rx.try_iter().count();
    assert_eq!(
        ended,
        workers,
        "shutdown() returned while {} of {workers} worker threads were still alive: \
         join every worker's JoinHandle before returning",
        workers - ended
    );
}

/// Queues `n` jobs that each add one to the returned counter.
fn queue_counting_jobs(pool: &ThreadPool, n: usize) -> Arc<AtomicUsize> {
    let ran = Arc::new(AtomicUsize::new(0));
    for _ in 0..n {
        let ran = Arc::clone(&ran);
        pool.execute(move || {
            ran.fetch_add(1, Ordering::Relaxed);
        });
    }
    ran
}
