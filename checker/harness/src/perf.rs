//! Side-by-side benchmarks: the learner's code, the reference solution and
//! well-known crates, measured interleaved in one process.
//!
//! Absolute times on a shared machine drift from second to second, so a
//! workload never measures one subject and then the next. It calibrates a
//! batch size for each subject, then runs many short rounds; each round runs
//! one batch of every subject: the candidate and the reference back to back,
//! taking turns to go first, then the baselines.
//! The candidate is judged by the ratio of its time to the reference's *in
//! the same round* (the two ran a few milliseconds apart, under the same
//! load): the median of those per-round ratios, with a 95 % confidence
//! interval, is what the checker scores ([`Estimate`]).
//!
//! Time is CPU time where the work can wait ([`Clock`]): a thread that is
//! preempted by a busy neighbour, or a worker asleep on a condition
//! variable, costs no CPU time, so the figure measures the code rather than
//! the machine's load. Wall time is measured too, so that code that sleeps
//! instead of working (a pool that polls with `sleep`) is still seen.
//!
//! A benchmark binary builds its workloads and hands them to [`run_main`],
//! which prints a [`PerfReport`] as JSON (or writes it to the file named by
//! `OSLINGS_PERF_OUT`, so that the learner's own prints cannot corrupt it).
//!
//! A benchmark is `checker/hidden/<exercise>/perf/bench.rs`: workloads that
//! name the graded crate `candidate` and the solution `reference`
//! (`use crate::{candidate, reference};`), and a `pub(crate) fn main()`
//! that hands them to [`run_main`]. Its entry point is
//! [`perf_main!`](crate::perf_main), the one line of `perf/main.rs`.

mod pinning;
mod threads;

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
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

/// What a workload's time is measured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Clock {
    /// Elapsed real time.
    Wall,
    /// CPU time of every thread of this process (`CLOCK_PROCESS_CPUTIME_ID`):
    /// for work done in this process, on one thread or several.
    #[default]
    Process,
    /// CPU time of the child processes the routine started and waited for
    /// (`RUSAGE_CHILDREN`), their own children included once they are
    /// waited for: for work done by programs the routine runs.
    Children,
    /// CPU time of the measuring thread and of the threads the subject
    /// started (see [`Workload::candidate`]): for work handed to a pool of
    /// threads. Unlike [`Clock::Process`], another subject's idle pool
    /// settling down (spinning, yielding, falling asleep) during this
    /// subject's batch is not counted against it.
    Threads,
}

impl Clock {
    /// The clock's reading now, in nanoseconds from an arbitrary start;
    /// `threads` are the subject's own threads (read by [`Clock::Threads`]).
    fn now(self, since: Instant, threads: &[libc::pid_t]) -> u128 {
        match self {
            Clock::Wall => since.elapsed().as_nanos(),
            Clock::Process => process_cpu(),
            Clock::Children => children_cpu(),
            Clock::Threads => threads::cpu(threads),
        }
    }

    /// How a person reads the figure.
    pub fn describe(self) -> &'static str {
        match self {
            Clock::Wall => "wall time",
            Clock::Process => "CPU time",
            Clock::Children => "CPU time of the programs it ran",
            Clock::Threads => "CPU time of its threads",
        }
    }
}

fn process_cpu() -> u128 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the valid pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut now) };
    now.tv_sec as u128 * 1_000_000_000 + now.tv_nsec as u128
}

fn children_cpu() -> u128 {
    // SAFETY: an all-zero rusage is a valid value for getrusage to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes one rusage into the valid pointer.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    let micros = |t: libc::timeval| t.tv_sec as u128 * 1_000_000 + t.tv_usec as u128;
    (micros(usage.ru_utime) + micros(usage.ru_stime)) * 1000
}

/// A ratio estimated from many rounds: the median of the per-round ratios
/// and a 95 % confidence interval for it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// The median per-round ratio.
    pub median: f64,
    /// Lower end of the 95 % confidence interval of the median.
    pub low: f64,
    /// Upper end of the 95 % confidence interval of the median.
    pub high: f64,
}

impl Estimate {
    /// The median of `ratios` and the distribution-free 95 % interval of
    /// order statistics around it (`None` for fewer than 6 ratios, too few
    /// for an interval).
    pub fn of(mut ratios: Vec<f64>) -> Option<Estimate> {
        ratios.retain(|r| r.is_finite() && *r > 0.0);
        let n = ratios.len();
        if n < 6 {
            return None;
        }
        ratios.sort_by(f64::total_cmp);
        let k = interval_rank(n);
        Some(Estimate {
            median: median_of_sorted(&ratios),
            low: ratios[k],
            high: ratios[n - 1 - k],
        })
    }
}

/// The largest `k` such that the `k`-th smallest and the `k`-th largest of
/// `n` samples (counting from 0) bracket their median with at least 95 %
/// confidence: fewer than `k + 1` samples fall below the median with
/// probability at most 2.5 %.
fn interval_rank(n: usize) -> usize {
    // ln of n choose j, built up term by term.
    let mut ln_choose = 0.0;
    let mut cumulative = 0.0;
    let mut k = 0;
    for j in 0..n {
        if j > 0 {
            ln_choose += ((n + 1 - j) as f64 / j as f64).ln();
        }
        cumulative += (ln_choose - n as f64 * std::f64::consts::LN_2).exp();
        if cumulative > 0.025 {
            break;
        }
        k = j + 1;
    }
    k.min((n - 1) / 2)
}

fn median_of_sorted(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// The measured speed of one subject in one workload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubjectResult {
    /// Short name, e.g. `candidate`, `reference`, `bumpalo`.
    pub name: String,
    /// Which side of the comparison it is on.
    pub role: Role,
    /// Median nanoseconds per operation over all rounds, on the workload's clock.
    pub ns_per_op: f64,
    /// Fastest round, nanoseconds per operation, on the workload's clock.
    pub min_ns_per_op: f64,
    /// Median wall-clock nanoseconds per operation over all rounds.
    #[serde(default)]
    pub wall_ns_per_op: f64,
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
    /// What the times were measured with.
    #[serde(default)]
    pub clock: Clock,
    /// One entry per subject, in the order they were added.
    pub subjects: Vec<SubjectResult>,
    /// Whether the ratio counts towards the credit; a workload whose ratio
    /// depends on how the machine schedules it (threads contending only
    /// when both happen to run) is shown for context only.
    #[serde(default = "scored_by_default")]
    pub scored: bool,
    /// Candidate / reference on the workload's clock, round by round.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versus_reference: Option<Estimate>,
    /// Candidate / reference in wall time, round by round.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_versus_reference: Option<Estimate>,
    /// Other figures the benchmark measured beside the time (such as
    /// memory reads per operation), for the report only: they earn no points.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<Metric>,
}

fn scored_by_default() -> bool {
    true
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

/// One subject of a workload: its routine and the threads it started.
struct Subject<'a> {
    name: String,
    role: Role,
    routine: Routine<'a>,
    /// Threads started while the routine was built or while it ran.
    threads: Vec<libc::pid_t>,
}

/// A task measured on several subjects. Each subject is a closure that
/// performs `iters` operations of the task; setup that should not be timed
/// belongs outside the closure (or amortised inside it).
pub struct Workload<'a> {
    name: String,
    unit: String,
    clock: Clock,
    scored: bool,
    subjects: Vec<Subject<'a>>,
    /// The threads of the process when the last subject was added (or
    /// measured): a thread not among them was started by the subject
    /// added (or measured) since.
    known_threads: BTreeSet<libc::pid_t>,
    /// Whether every thread runs on one CPU while the workload is measured.
    one_cpu: bool,
}

impl std::fmt::Debug for Workload<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.subjects.iter().map(|s| s.name.as_str()).collect();
        f.debug_struct("Workload")
            .field("name", &self.name)
            .field("unit", &self.unit)
            .field("clock", &self.clock)
            .field("scored", &self.scored)
            .field("subjects", &names)
            .finish()
    }
}

/// One batch's cost on the workload's clock and on the wall clock, in
/// nanoseconds per operation.
#[derive(Debug, Clone, Copy)]
struct Sample {
    clock: f64,
    wall: f64,
}

impl<'a> Workload<'a> {
    /// A workload called `name` whose operations are counted in `unit`s,
    /// measured in CPU time of this process ([`Clock::Process`]).
    pub fn new(name: &str, unit: &str) -> Self {
        Workload {
            name: name.to_string(),
            unit: unit.to_string(),
            clock: Clock::default(),
            scored: true,
            subjects: Vec::new(),
            known_threads: threads::all(),
            one_cpu: false,
        }
    }

    /// Measures the workload with `clock` instead.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Runs the workload with every thread of the process on one CPU
    /// (see the `pinning` module): for subjects whose threads hand work to
    /// each other, so that their CPU time does not depend on how two CPUs
    /// happened to interleave them.
    pub fn on_one_cpu(mut self) -> Self {
        self.one_cpu = true;
        self
    }

    /// Shows the workload's ratio for context only: it does not count
    /// towards the credit (see [`WorkloadResult::scored`]).
    pub fn context_only(mut self) -> Self {
        self.scored = false;
        self
    }

    /// Adds the code being graded. Threads started while `routine` was
    /// built (between the previous call and this one: build a pool inside
    /// the argument) or while it runs are the subject's own, which
    /// [`Clock::Threads`] counts.
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
        let threads = threads::started_since(&mut self.known_threads);
        self.subjects.push(Subject {
            name: name.to_string(),
            role,
            routine: Box::new(routine),
            threads,
        });
        self
    }

    /// Measures every subject within roughly `budget` of the workload's
    /// clock (CPU time runs slower than the wall clock on a busy machine).
    pub fn run(mut self, budget: Duration) -> WorkloadResult {
        let n = self.subjects.len().max(1);
        let clock = self.clock;
        let _pinned = if self.one_cpu {
            pinning::pin_all()
        } else {
            None
        };
        let mut known = std::mem::take(&mut self.known_threads);
        let batches: Vec<u64> = (0..n)
            .map(|i| {
                let target = batch_target(budget, &self.subjects, i);
                self.subjects[i].calibrate(clock, target, &mut known)
            })
            .collect();
        let mut samples: Vec<Vec<Sample>> = vec![Vec::with_capacity(ROUNDS); n];
        // The candidate and the reference first, alone; the baselines after
        // them. Their threads (idle pools, a scheduler spinning down) would
        // otherwise run beside the pair's batches, and the process clock
        // counts every thread.
        for phase in [Phase::Pair, Phase::Baselines] {
            for round in 0..ROUNDS {
                for i in round_order(&self.subjects, round, phase) {
                    let sample = self.subjects[i].measure(clock, batches[i], &mut known);
                    samples[i].push(sample);
                }
            }
        }
        let position = |role: Role| self.subjects.iter().position(|s| s.role == role);
        let paired = |pick: fn(&Sample) -> f64| {
            let (c, r) = (position(Role::Candidate)?, position(Role::Reference)?);
            let ratios: Vec<f64> = samples[c]
                .iter()
                .zip(&samples[r])
                .map(|(c, r)| pick(c) / pick(r))
                .collect();
            Estimate::of(ratios_of_pairs(&ratios))
        };
        let versus_reference = paired(|s| s.clock);
        let wall_versus_reference = paired(|s| s.wall);
        let subjects = self
            .subjects
            .iter()
            .zip(&samples)
            .zip(batches)
            .map(|((subject, samples), batch)| {
                let mut on_clock: Vec<f64> = samples.iter().map(|s| s.clock).collect();
                let mut wall: Vec<f64> = samples.iter().map(|s| s.wall).collect();
                on_clock.sort_by(f64::total_cmp);
                wall.sort_by(f64::total_cmp);
                SubjectResult {
                    name: subject.name.clone(),
                    role: subject.role,
                    ns_per_op: median_of_sorted(&on_clock),
                    min_ns_per_op: on_clock[0],
                    wall_ns_per_op: median_of_sorted(&wall),
                    batch,
                    rounds: samples.len(),
                }
            })
            .collect();
        WorkloadResult {
            name: self.name,
            unit: self.unit,
            clock,
            scored: self.scored,
            subjects,
            versus_reference,
            wall_versus_reference,
            metrics: Vec::new(),
        }
    }
}

/// Rounds per workload: 21 pairs of rounds, enough for a tight interval
/// around the median of the per-pair ratios (from the 6th to the 16th
/// smallest of 21).
const ROUNDS: usize = 42;

/// One ratio per pair of rounds (the candidate first in one, the reference
/// first in the other): the geometric mean of the two. Whatever going first
/// costs (the CPU a baseline's pool spends settling down, which the process
/// clock counts, or a cold cache) then weighs on both sides equally; taken
/// round by round it splits the ratios into a high and a low half, and
/// their median lands anywhere between the two.
fn ratios_of_pairs(per_round: &[f64]) -> Vec<f64> {
    per_round
        .chunks_exact(2)
        .map(|pair| (pair[0] * pair[1]).sqrt())
        .collect()
}

/// Share of a workload's budget that goes to the candidate and the
/// reference: their ratio is the grade, the baselines are context.
const PAIR_SHARE: f64 = 0.7;

/// How long a batch of subject `i` should take: the pair shares
/// [`PAIR_SHARE`] of the budget, the baselines the rest (all of it to
/// whichever side is alone), over [`ROUNDS`] rounds; at least 200 µs.
fn batch_target(budget: Duration, subjects: &[Subject<'_>], i: usize) -> Duration {
    let in_pair = |s: &Subject<'_>| s.role != Role::Baseline;
    let pair = subjects.iter().filter(|s| in_pair(s)).count();
    let baselines = subjects.len() - pair;
    let (share, count) = match (in_pair(&subjects[i]), pair, baselines) {
        (true, _, 0) | (false, 0, _) => (1.0, subjects.len()),
        (true, p, _) => (PAIR_SHARE, p),
        (false, _, b) => (1.0 - PAIR_SHARE, b),
    };
    let target = budget.mul_f64(share) / (ROUNDS * count) as u32;
    target.max(Duration::from_micros(200))
}

/// Which subjects a round measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The candidate and the reference.
    Pair,
    /// The baselines.
    Baselines,
}

/// The order of the subjects in round `round` of `phase`: the candidate
/// and the reference back to back (their ratio is taken within the round,
/// so they should run under the same conditions), the one first in even
/// rounds second in odd ones; or the baselines, rotating.
fn round_order(subjects: &[Subject<'_>], round: usize, phase: Phase) -> Vec<usize> {
    let find = |role: Role| subjects.iter().position(|s| s.role == role);
    let mut pair: Vec<usize> = find(Role::Candidate)
        .into_iter()
        .chain(find(Role::Reference))
        .collect();
    if phase == Phase::Pair {
        if round % 2 == 1 {
            pair.reverse();
        }
        return pair;
    }
    let mut rest: Vec<usize> = (0..subjects.len()).filter(|i| !pair.contains(i)).collect();
    if !rest.is_empty() {
        let shift = round % rest.len();
        rest.rotate_left(shift);
    }
    rest
}

impl Subject<'_> {
    /// Runs one batch of `iters` operations and times it on both clocks.
    /// A thread first seen after the batch was started by it (a pool that
    /// starts its workers lazily): it joins the subject's threads, and
    /// its CPU time so far counts in this batch.
    fn measure(&mut self, clock: Clock, iters: u64, known: &mut BTreeSet<libc::pid_t>) -> Sample {
        let started = Instant::now();
        let before = clock.now(started, &self.threads);
        (self.routine)(iters);
        if clock == Clock::Threads {
            self.threads.extend(threads::started_since(known));
        }
        let spent = clock.now(started, &self.threads).saturating_sub(before);
        let wall = started.elapsed().as_nanos();
        Sample {
            clock: spent.max(1) as f64 / iters as f64,
            wall: wall.max(1) as f64 / iters as f64,
        }
    }

    /// Finds a batch size whose run takes at least `target` on `clock`
    /// (after a warm-up).
    fn calibrate(
        &mut self,
        clock: Clock,
        target: Duration,
        known: &mut BTreeSet<libc::pid_t>,
    ) -> u64 {
        self.measure(clock, 1, known);
        let mut iters: u64 = 1;
        loop {
            let spent = self.measure(clock, iters, known).clock * iters as f64;
            let spent = Duration::from_nanos(spent as u64);
            if spent >= target || iters >= 1 << 40 {
                return iters;
            }
            // Grow towards the target without overshooting it wildly.
            let factor = if spent.is_zero() {
                16.0
            } else {
                (target.as_secs_f64() / spent.as_secs_f64() * 1.2).clamp(1.5, 16.0)
            };
            iters = ((iters as f64) * factor).ceil() as u64;
        }
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

/// The entry point of an exercise's benchmark, `perf/bench.rs`: the crate
/// root names the graded crate `candidate` and the solution `reference`,
/// declares the module `bench` and runs `bench::main()`.
///
/// - `oslings_harness::perf_main!();` is the whole of
///   `checker/hidden/<exercise>/perf/main.rs`, the workspace's `perf`
///   binary: the hidden suite's dependency `learner` (the solution) is both
///   the candidate and the reference, and `bench` is `perf/bench.rs`.
/// - `oslings_harness::perf_main!(reference = reference, bench = "/abs/bench.rs");`
///   is what the checker generates for the crate it grades (`learner`),
///   beside the solution (`reference`), with the benchmark's absolute path.
#[macro_export]
macro_rules! perf_main {
    () => {
        $crate::perf_main!(reference = learner, bench = "bench.rs");
    };
    (reference = $reference:ident, bench = $bench:literal) => {
        use ::learner as candidate;
        use ::$reference as reference;

        #[path = $bench]
        mod bench;

        fn main() {
            bench::main();
        }
    };
}

/// Runs each workload builder in turn and reports the results: as JSON into
/// the file named by `OSLINGS_PERF_OUT` when set, otherwise as a readable
/// table on standard output (for running the benchmark by hand).
pub fn run_main(workloads: Vec<Box<dyn FnOnce(Duration) -> WorkloadResult>>) {
    run_main_with_budget(Duration::from_millis(400), workloads);
}

/// [`run_main`] with another default budget per workload, for workloads
/// whose batches need to be longer than a scheduler's time slice or two to
/// average out who got the processor (many threads handing work around).
pub fn run_main_with_budget(
    default: Duration,
    workloads: Vec<Box<dyn FnOnce(Duration) -> WorkloadResult>>,
) {
    let budget = budget(default);
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
                println!(
                    "{} (ns per {}, {}):",
                    workload.name,
                    workload.unit,
                    workload.clock.describe()
                );
                for s in &workload.subjects {
                    println!(
                        "  {:<12} {:>10.2}  (fastest round {:.2}; wall time {:.2})",
                        s.name, s.ns_per_op, s.min_ns_per_op, s.wall_ns_per_op
                    );
                }
                if let Some(e) = workload.versus_reference {
                    println!(
                        "  candidate / reference: {:.3} (95% interval {:.3}-{:.3})",
                        e.median, e.low, e.high
                    );
                }
                for m in &workload.metrics {
                    println!("  {:<12} {:>10.2}  {}", m.subject, m.value, m.name);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_holds_the_order_statistics_a_binomial_table_gives() {
        // Cumulative Binomial(n, 1/2) below 2.5 % ends at these ranks.
        for (n, k) in [(6, 1), (10, 2), (21, 6), (41, 14)] {
            assert_eq!(interval_rank(n), k, "n = {n}");
        }
    }

    #[test]
    fn an_estimate_is_the_median_with_the_interval_around_it() {
        let ratios: Vec<f64> = (1..=41).map(f64::from).collect();
        let estimate = Estimate::of(ratios).unwrap();
        assert_eq!(estimate.median, 21.0);
        assert_eq!((estimate.low, estimate.high), (15.0, 27.0));
        assert!(Estimate::of(vec![1.0; 5]).is_none(), "too few rounds");
        let noisy = vec![1.0, 1.0, f64::NAN, 1.0, 0.0, 1.0, 1.0, 1.0];
        assert_eq!(Estimate::of(noisy).unwrap().median, 1.0);
    }

    #[test]
    fn a_workload_pairs_each_candidate_round_with_the_reference_round() {
        let result = Workload::new("spin", "op")
            .clock(Clock::Process)
            .candidate(|iters| spin(2 * iters))
            .reference(spin)
            .run(Duration::from_millis(50));
        let estimate = result.versus_reference.unwrap();
        assert!(
            (1.3..3.0).contains(&estimate.median),
            "twice the work measured {estimate:?}"
        );
        assert!(estimate.low <= estimate.median && estimate.median <= estimate.high);
        assert_eq!(result.subjects[0].rounds, ROUNDS);
    }

    #[test]
    fn going_first_weighs_on_both_sides_of_a_pair() {
        // Whoever goes first pays 60 % more: round by round the ratios split
        // into 1.6 and 1/1.6, pair by pair they are all 1.
        let per_round: Vec<f64> = (0..ROUNDS)
            .map(|round| if round % 2 == 0 { 1.6 } else { 1.0 / 1.6 })
            .collect();
        let pairs = ratios_of_pairs(&per_round);
        assert_eq!(pairs.len(), ROUNDS / 2);
        assert!(pairs.iter().all(|r| (r - 1.0).abs() < 1e-12), "{pairs:?}");
    }

    fn spin(iters: u64) {
        let mut x = 0_u64;
        for i in 0..iters * 100 {
            x = std::hint::black_box(x.wrapping_add(i));
        }
    }
}
