//! Side-by-side benchmarks: the learner's code, the reference solution and
//! well-known crates, measured interleaved in one process.
//!
//! Absolute times on a shared machine drift from second to second, so a
//! workload never measures one subject and then the next. It calibrates a
//! batch size for each subject, then runs many rounds; each round runs one
//! batch of every subject, in an order that rotates from round to round. The
//! median nanoseconds per operation of each subject is reported, and the
//! checker turns those into ratios (candidate / reference, reference / baseline).
//!
//! A benchmark binary builds its workloads and hands them to [`run_main`],
//! which prints a [`PerfReport`] as JSON (or writes it to the file named by
//! `OSLINGS_PERF_OUT`, so that the learner's own prints cannot corrupt it).

use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// Which side of the comparison a subject is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The code being graded (the learner's crate).
    Candidate,
    /// The project's reference solution.
    Reference,
    /// A well-known implementation, for context (bumpalo, the system allocator, ...).
    Baseline,
}

/// The measured speed of one subject in one workload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubjectResult {
    /// Short name, e.g. `candidate`, `reference`, `bumpalo`.
    pub name: String,
    /// Which side of the comparison it is on.
    pub role: Role,
    /// Median nanoseconds per operation over all rounds.
    pub ns_per_op: f64,
    /// Fastest round, nanoseconds per operation.
    pub min_ns_per_op: f64,
    /// Operations per batch, after calibration.
    pub batch: u64,
    /// Number of rounds measured.
    pub rounds: usize,
}

/// The result of one workload: every subject's speed on the same task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadResult {
    /// Short name of the workload, e.g. `small-allocations`.
    pub name: String,
    /// What one operation is, e.g. `allocation`.
    pub unit: String,
    /// One entry per subject, in the order they were added.
    pub subjects: Vec<SubjectResult>,
    /// Other figures the benchmark measured beside the time (such as
    /// memory reads per operation), for the report only: they earn no points.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<Metric>,
}

/// A figure a benchmark measured beside the time, for one subject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// The subject it was measured on, e.g. `candidate`.
    pub subject: String,
    /// What it is, e.g. `reads per translation`.
    pub name: String,
    /// Its value.
    pub value: f64,
}

impl WorkloadResult {
    /// The result of the subject named `name`, if it was measured.
    pub fn subject(&self, name: &str) -> Option<&SubjectResult> {
        self.subjects.iter().find(|s| s.name == name)
    }

    /// Adds a figure measured on `subject` beside the time (see [`Metric`]).
    pub fn with_metric(mut self, subject: &str, name: &str, value: f64) -> Self {
        self.metrics.push(Metric {
            subject: subject.to_string(),
            name: name.to_string(),
            value,
        });
        self
    }

    /// The first subject with the given role.
    pub fn by_role(&self, role: Role) -> Option<&SubjectResult> {
        self.subjects.iter().find(|s| s.role == role)
    }
}

/// Everything one benchmark binary measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerfReport {
    /// One entry per workload.
    pub workloads: Vec<WorkloadResult>,
}

type Routine<'a> = Box<dyn FnMut(u64) + 'a>;

/// A task measured on several subjects. Each subject is a closure that
/// performs `iters` operations of the task; setup that should not be timed
/// belongs outside the closure (or amortised inside it).
pub struct Workload<'a> {
    name: String,
    unit: String,
    subjects: Vec<(String, Role, Routine<'a>)>,
}

impl std::fmt::Debug for Workload<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.subjects.iter().map(|s| s.0.as_str()).collect();
        f.debug_struct("Workload")
            .field("name", &self.name)
            .field("unit", &self.unit)
            .field("subjects", &names)
            .finish()
    }
}

impl<'a> Workload<'a> {
    /// A workload called `name` whose operations are counted in `unit`s.
    pub fn new(name: &str, unit: &str) -> Self {
        Workload {
            name: name.to_string(),
            unit: unit.to_string(),
            subjects: Vec::new(),
        }
    }

    /// Adds the code being graded.
    pub fn candidate(self, routine: impl FnMut(u64) + 'a) -> Self {
        self.subject("candidate", Role::Candidate, routine)
    }

    /// Adds the reference solution.
    pub fn reference(self, routine: impl FnMut(u64) + 'a) -> Self {
        self.subject("reference", Role::Reference, routine)
    }

    /// Adds a well-known implementation for context.
    pub fn baseline(self, name: &str, routine: impl FnMut(u64) + 'a) -> Self {
        self.subject(name, Role::Baseline, routine)
    }

    fn subject(mut self, name: &str, role: Role, routine: impl FnMut(u64) + 'a) -> Self {
        self.subjects
            .push((name.to_string(), role, Box::new(routine)));
        self
    }

    /// Measures every subject within roughly `budget` of wall time.
    pub fn run(mut self, budget: Duration) -> WorkloadResult {
        const ROUNDS: usize = 21;
        let n = self.subjects.len().max(1);
        // Each batch aims at an equal share of the budget.
        let target = budget / (ROUNDS * n) as u32;
        let target = target.max(Duration::from_micros(200));
        let batches: Vec<u64> = self
            .subjects
            .iter_mut()
            .map(|(_, _, routine)| calibrate(routine, target))
            .collect();
        let mut samples: Vec<Vec<f64>> = vec![Vec::with_capacity(ROUNDS); n];
        for round in 0..ROUNDS {
            for k in 0..self.subjects.len() {
                let i = (round + k) % self.subjects.len();
                let batch = batches[i];
                let routine = &mut self.subjects[i].2;
                let started = Instant::now();
                routine(batch);
                let elapsed = started.elapsed();
                samples[i].push(elapsed.as_nanos() as f64 / batch as f64);
            }
        }
        let subjects = self
            .subjects
            .iter()
            .zip(samples)
            .zip(batches)
            .map(|(((name, role, _), mut samples), batch)| {
                samples.sort_by(f64::total_cmp);
                SubjectResult {
                    name: name.clone(),
                    role: *role,
                    ns_per_op: samples[samples.len() / 2],
                    min_ns_per_op: samples[0],
                    batch,
                    rounds: samples.len(),
                }
            })
            .collect();
        WorkloadResult {
            name: self.name,
            unit: self.unit,
            subjects,
            metrics: Vec::new(),
        }
    }
}

/// Finds a batch size whose run takes at least `target` (after a warm-up).
fn calibrate(routine: &mut Routine<'_>, target: Duration) -> u64 {
    routine(1);
    let mut iters: u64 = 1;
    loop {
        let started = Instant::now();
        routine(iters);
        let elapsed = started.elapsed();
        if elapsed >= target || iters >= 1 << 40 {
            return iters;
        }
        // Grow towards the target without overshooting it wildly.
        let factor = if elapsed.is_zero() {
            16.0
        } else {
            (target.as_secs_f64() / elapsed.as_secs_f64() * 1.2).clamp(1.5, 16.0)
        };
        iters = ((iters as f64) * factor).ceil() as u64;
    }
}

/// The time budget for one workload: `OSLINGS_PERF_BUDGET_MS` if set,
/// otherwise `default`.
pub fn budget(default: Duration) -> Duration {
    std::env::var("OSLINGS_PERF_BUDGET_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis)
        .unwrap_or(default)
}

/// Runs each workload builder in turn and reports the results: as JSON into
/// the file named by `OSLINGS_PERF_OUT` when set, otherwise as a readable
/// table on standard output (for running the benchmark by hand).
pub fn run_main(workloads: Vec<Box<dyn FnOnce(Duration) -> WorkloadResult>>) {
    let budget = budget(Duration::from_millis(400));
    let report = PerfReport {
        workloads: workloads.into_iter().map(|w| w(budget)).collect(),
    };
    match std::env::var_os("OSLINGS_PERF_OUT") {
        Some(path) => {
            let json = serde_json::to_string_pretty(&report).expect("a report always serialises");
            if let Err(err) = std::fs::write(&path, json) {
                eprintln!(
                    "cannot write the benchmark report to {}: {err}",
                    path.to_string_lossy()
                );
                std::process::exit(2);
            }
        }
        None => {
            for workload in &report.workloads {
                println!("{} (ns per {}):", workload.name, workload.unit);
                for s in &workload.subjects {
                    println!(
                        "  {:<12} {:>10.2}  (fastest round {:.2})",
                        s.name, s.ns_per_op, s.min_ns_per_op
                    );
                }
                for m in &workload.metrics {
                    println!("  {:<12} {:>10.2}  {}", m.subject, m.value, m.name);
                }
            }
        }
    }
}
