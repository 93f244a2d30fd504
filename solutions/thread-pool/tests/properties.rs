//! Property tests: the pool's bookkeeping against what a list of jobs says
//! must happen.
//!
//! The timing of threads is not random input, so these properties are built
//! on events only (a job that waits on a channel holds its worker for as
//! long as the test wants); what varies is the jobs, their results, their
//! panics and the sizes. Jobs panic with `resume_unwind`, which skips the
//! panic hook, so the output stays quiet.
//! `PROPTEST_CASES=500 cargo test -p thread-pool-solution --test properties`
//! runs them longer.

use std::panic::resume_unwind;
use std::sync::mpsc;

use proptest::prelude::*;
use thread_pool_solution::{JobPanicked, ThreadPool, panic_message};

/// What a job does: return a value, or panic with a message.
#[derive(Debug, Clone)]
enum Job {
    Return(u64),
    Panic(String),
}

fn job() -> impl Strategy<Value = Job> {
    prop_oneof![
        4 => any::<u64>().prop_map(Job::Return),
        1 => ".{0,12}".prop_map(Job::Panic),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn panic_message_reads_both_kinds_of_string(text in ".{0,20}", which in 0usize..3) {
        const STATIC: [&str; 3] = ["", "boom", "index out of bounds: the len is 3 but the index is 7"];
        prop_assert_eq!(panic_message(&text.clone()), text);
        prop_assert_eq!(panic_message(&STATIC[which]), STATIC[which]);
        prop_assert_eq!(panic_message(&(which as u64)), "<non-string panic payload>");
    }

    #[test]
    fn every_handle_gets_its_own_job_result(
        workers in 1usize..=4,
        jobs in prop::collection::vec(job(), 0..40),
    ) {
        let pool = ThreadPool::new(workers);
        let handles: Vec<_> = jobs
            .iter()
            .cloned()
            .map(|job| {
                pool.spawn(move || match job {
                    Job::Return(v) => v.rotate_left(7),
                    Job::Panic(message) => resume_unwind(Box::new(message)),
                })
            })
            .collect();
        for (i, (handle, job)) in handles.into_iter().zip(&jobs).enumerate() {
            let expected = match job {
                Job::Return(v) => Ok(v.rotate_left(7)),
                Job::Panic(message) => Err(JobPanicked { message: message.clone() }),
            };
            prop_assert_eq!(handle.join(), expected, "job {}", i);
        }
        prop_assert_eq!(pool.shutdown(), jobs.len(), "jobs run");
    }

    #[test]
    fn a_bounded_queue_takes_exactly_its_capacity(
        workers in 1usize..=3,
        capacity in 1usize..=6,
        offered in 0usize..=10,
    ) {
        let pool = ThreadPool::with_capacity(workers, capacity);
        // Hold every worker with a job that waits for the test's word.
        let (started_tx, started) = mpsc::channel();
        let (release_tx, release) = mpsc::channel::<()>();
        let release = std::sync::Arc::new(std::sync::Mutex::new(release));
        for _ in 0..workers {
            let (started_tx, release) = (started_tx.clone(), release.clone());
            pool.execute(move || {
                started_tx.send(()).unwrap();
                let _ = release.lock().unwrap().recv();
            });
        }
        for _ in 0..workers {
            started.recv().unwrap();
        }
        let (done_tx, done) = mpsc::channel();
        let accepted = (0..offered)
            .filter(|&i| {
                let done_tx = done_tx.clone();
                pool.try_execute(move || done_tx.send(i).unwrap()).is_ok()
            })
            .count();
        prop_assert_eq!(accepted, offered.min(capacity), "try_execute accepted");
        prop_assert_eq!(pool.queued(), accepted, "queued");
        drop(done_tx);
        for _ in 0..workers {
            release_tx.send(()).unwrap();
        }
        prop_assert_eq!(pool.shutdown(), workers + accepted, "jobs run");
        let mut ran: Vec<usize> = done.iter().collect();
        ran.sort_unstable();
        prop_assert_eq!(ran, (0..accepted).collect::<Vec<_>>());
    }
}
