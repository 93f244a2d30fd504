//! Runs cases one after another on a worker thread, for a bounded time,
//! while the main thread watches for a case that never finishes.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Counters of what the cases met, named, so that a report shows the
/// fuzzer reached the interesting paths.
#[derive(Debug)]
pub(crate) struct Tally<const N: usize> {
    names: [&'static str; N],
    counts: [AtomicU64; N],
}

impl<const N: usize> Tally<N> {
    /// Counters at zero.
    pub(crate) const fn new(names: [&'static str; N]) -> Self {
        Tally {
            names,
            counts: [const { AtomicU64::new(0) }; N],
        }
    }

    /// Counts one more of the `i`-th kind.
    pub(crate) fn add(&self, i: usize) {
        self.counts[i].fetch_add(1, Ordering::Relaxed);
    }

    /// `name count, name count, ...`.
    pub(crate) fn summary(&self) -> String {
        let parts: Vec<String> = self
            .names
            .iter()
            .zip(&self.counts)
            .map(|(name, count)| format!("{} {name}", count.load(Ordering::Relaxed)))
            .collect();
        parts.join(", ")
    }
}
use std::time::{Duration, Instant};

/// A case: given its seed and whether to explain itself at length, `Ok`
/// when the code under test behaved, or a description of the finding.
pub(crate) type Case = fn(u64, bool) -> Result<(), String>;

/// A bounded fuzzing run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Run {
    /// The run's seed; case `i` gets [`case_seed`]`(seed, i)`.
    pub(crate) seed: u64,
    /// How long to keep starting new cases.
    pub(crate) budget: Duration,
    /// The most cases to run.
    pub(crate) max_cases: u64,
    /// How long one case may take before it counts as a hang.
    pub(crate) case_timeout: Duration,
}

/// How a run ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Time (or the case count) ran out with nothing found.
    Clean,
    /// A case failed.
    Finding { case_seed: u64, finding: String },
    /// A case did not finish in time; its thread is abandoned.
    Hang { case_seed: u64 },
}

/// What a run did.
#[derive(Debug)]
pub(crate) struct Report {
    /// Cases finished.
    pub(crate) cases: u64,
    pub(crate) elapsed: Duration,
    pub(crate) outcome: Outcome,
}

/// The seed of case `index` of a run seeded with `seed` (SplitMix64, so
/// that neighbouring cases get unrelated seeds).
pub(crate) fn case_seed(seed: u64, index: u64) -> u64 {
    let mut z = seed.wrapping_add(index.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Replaces the panic hook with one that prints nothing: panics are caught
/// and reported as findings (or expected, as the walker's out-of-memory
/// panic), with their message.
pub(crate) fn silence_panics() {
    std::panic::set_hook(Box::new(|_| {}));
}

/// The message a panic carried.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a panic without a message)".to_string()
    }
}

/// Runs `case` for `seed`, turning an unexpected panic into a finding.
fn run_one(case: Case, seed: u64, verbose: bool) -> Result<(), String> {
    catch_unwind(AssertUnwindSafe(|| case(seed, verbose))).unwrap_or_else(|payload| {
        Err(format!(
            "the harness itself panicked (a bug in the fuzzer or an unexpected panic): {}",
            panic_message(&*payload)
        ))
    })
}

/// Runs the one case with `seed`, at length.
pub(crate) fn replay(case: Case, seed: u64) -> Result<(), String> {
    run_one(case, seed, true)
}

impl Run {
    /// Runs cases until the budget, the case count or a finding stops it.
    pub(crate) fn go(self, case: Case) -> Report {
        let started = Instant::now();
        let done = Arc::new(AtomicU64::new(0));
        let busy_since = Arc::new(AtomicU64::new(0)); // nanos since `started` the current case began
        let finished = Arc::new(AtomicBool::new(false));
        let (tx, rx) = std::sync::mpsc::channel::<(u64, String)>();
        let worker = {
            let (done, busy_since, finished) = (done.clone(), busy_since.clone(), finished.clone());
            std::thread::spawn(move || {
                for index in 0..self.max_cases {
                    if started.elapsed() >= self.budget {
                        break;
                    }
                    busy_since.store(started.elapsed().as_nanos() as u64, Ordering::SeqCst);
                    let seed = case_seed(self.seed, index);
                    if let Err(finding) = run_one(case, seed, false) {
                        let _ = tx.send((seed, finding));
                        break;
                    }
                    done.store(index + 1, Ordering::SeqCst);
                }
                finished.store(true, Ordering::SeqCst);
            })
        };
        loop {
            if finished.load(Ordering::SeqCst) {
                let _ = worker.join();
                break;
            }
            let since = Duration::from_nanos(busy_since.load(Ordering::SeqCst));
            if started.elapsed().saturating_sub(since) > self.case_timeout {
                let index = done.load(Ordering::SeqCst);
                return Report {
                    cases: index,
                    elapsed: started.elapsed(),
                    outcome: Outcome::Hang {
                        case_seed: case_seed(self.seed, index),
                    },
                };
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let outcome = match rx.try_recv() {
            Ok((case_seed, finding)) => Outcome::Finding { case_seed, finding },
            Err(_) => Outcome::Clean,
        };
        Report {
            cases: done.load(Ordering::SeqCst),
            elapsed: started.elapsed(),
            outcome,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run of at most `cases` cases that would take a minute otherwise.
    fn run(cases: u64) -> Run {
        Run {
            seed: 42,
            budget: Duration::from_secs(60),
            max_cases: cases,
            case_timeout: Duration::from_millis(300),
        }
    }

    fn fails_on_the_fourth(seed: u64, _: bool) -> Result<(), String> {
        if seed == case_seed(42, 3) {
            Err("planted".into())
        } else {
            Ok(())
        }
    }

    #[test]
    fn a_finding_stops_the_run_with_its_case_seed_and_replays() {
        let report = run(100).go(fails_on_the_fourth);
        assert_eq!(report.cases, 3);
        match report.outcome {
            Outcome::Finding {
                case_seed: seed,
                finding,
            } => {
                assert_eq!((seed, finding.as_str()), (case_seed(42, 3), "planted"));
                assert!(replay(fails_on_the_fourth, seed).is_err());
                assert!(replay(fails_on_the_fourth, case_seed(42, 2)).is_ok());
            }
            other => panic!("expected a finding, got {other:?}"),
        }
    }

    #[test]
    fn a_clean_run_counts_its_cases() {
        let report = run(5).go(|_, _| Ok(()));
        assert!(
            matches!(report.outcome, Outcome::Clean),
            "{:?}",
            report.outcome
        );
        assert_eq!(report.cases, 5);
    }

    #[test]
    fn a_panicking_case_is_a_finding() {
        let report = run(5).go(|_, _| std::panic::resume_unwind(Box::new("boom")));
        match report.outcome {
            Outcome::Finding { finding, .. } => assert!(finding.contains("boom"), "{finding}"),
            other => panic!("expected a finding, got {other:?}"),
        }
    }

    #[test]
    fn a_case_that_never_ends_is_a_hang() {
        static STOP: AtomicBool = AtomicBool::new(false);
        let report = run(5).go(|seed, _| {
            if seed == case_seed(42, 1) {
                while !STOP.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
            Ok(())
        });
        STOP.store(true, Ordering::SeqCst);
        match report.outcome {
            Outcome::Hang { case_seed: seed } => assert_eq!(seed, case_seed(42, 1)),
            other => panic!("expected a hang, got {other:?}"),
        }
    }
}
