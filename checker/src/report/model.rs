//! The grading results: what the text report prints and the JSON report
//! serialises (schema version [`SCHEMA_VERSION`]; fields are only ever added),
//! and what the gradebook ([`crate::cmd::gradebook`]) reads back.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Version of the JSON report's schema. Bump it when a field changes meaning
/// or disappears; adding a field does not bump it.
pub const SCHEMA_VERSION: u32 = 1;

/// The whole run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Version of the checker that wrote the report.
    #[serde(default)]
    pub checker_version: String,
    /// What was graded: `exercises`, `solutions`, or a directory.
    pub graded: String,
    /// The instructors' test packs (`--pack`) that graded alongside (or
    /// instead of) the shipped hidden tests; absent when there were none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packs: Vec<PackUsed>,
    /// Points earned across every graded exercise.
    pub score: u32,
    /// Points available across every graded exercise.
    pub max_score: u32,
    /// Whether every graded exercise earned every point.
    pub passed: bool,
    /// One entry per graded exercise, in course order.
    pub exercises: Vec<ExerciseReport>,
    /// What the graded tree (`--exercises-from`) holds that grading did not
    /// use — cargo configuration, changed manifests, build scripts, links,
    /// an edited checker; absent when there was nothing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<Refusal>,
    /// The checkout whose hidden tests graded it, for the report's first
    /// line (not in the JSON: it is a path on the grading machine).
    #[serde(skip)]
    pub course_root: Option<String>,
}

/// A test pack that took part in grading.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PackUsed {
    /// The pack's name (from its `pack.toml`).
    pub name: String,
    /// Its directory, as given.
    pub dir: String,
}

/// One exercise's results.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExerciseReport {
    /// Directory name, e.g. `bump-allocator`.
    pub name: String,
    /// Human title.
    pub title: String,
    /// Points earned.
    pub score: u32,
    /// Points available.
    pub max_score: u32,
    /// The crate that was graded (directory).
    pub crate_dir: String,
    /// Set when the graded crate (or the hidden suite against it) did not compile.
    pub compile_error: Option<CompileErrorReport>,
    /// One entry per correctness stage, in order.
    pub stages: Vec<StageReport>,
    /// One entry per hidden test.
    pub tests: Vec<TestReport>,
    /// The performance stage.
    pub performance: Option<PerformanceReport>,
    /// When these results were first graded, if this grading reused them
    /// because nothing they depend on had changed since ([`crate::grade::reuse`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reused_from: Option<String>,
}

/// A compile failure of the graded crate or of the hidden suite against it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CompileErrorReport {
    /// True when the errors are in the graded crate itself.
    pub in_graded_crate: bool,
    /// True when the graded tree has no crate for the exercise at all.
    pub missing: bool,
    /// The first compiler errors, trimmed.
    pub message: String,
}

/// One correctness stage's results.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StageReport {
    /// Stage identifier (the first module segment of its tests).
    pub name: String,
    /// Human title.
    pub title: String,
    /// Position in the exercise, from 1.
    pub number: usize,
    /// Whether every test of the stage passed (and every earlier stage).
    pub passed: bool,
    /// Points earned.
    pub score: u32,
    /// Points available.
    pub max_score: u32,
    /// Tests of the stage that passed.
    pub tests_passed: usize,
    /// Tests of the stage.
    pub tests_total: usize,
    /// The book section that teaches it: `chapter.md#anchor`.
    pub section: String,
    /// Programs the stage's tests need that this machine lacks (e.g.
    /// `redis-server`): the stage was not run, is not failing, and did not
    /// hold back the stages after it. Absent when nothing is missing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needs: Vec<String>,
}

impl StageReport {
    /// Whether the stage could not be graded here for want of a program.
    pub fn unavailable(&self) -> bool {
        !self.needs.is_empty()
    }

    /// What the learner does to grade an unavailable stage.
    pub fn needs_advice(&self) -> String {
        let programs = self.needs.join(" ");
        format!(
            "needs {} (not installed): `sudo apt-get install {programs}` on Debian or \
             Ubuntu (or work in the dev container), then grade again",
            self.needs.join(", ")
        )
    }
}

/// How one hidden test ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It ran to completion and every assertion held.
    Passed,
    /// An assertion failed (or the test ended without completing).
    Failed,
    /// It ran past its time limit and was killed.
    TimedOut,
    /// A signal killed it (segfault, abort, stack overflow, …).
    Crashed,
    /// It passed but left processes behind.
    Leaked,
    /// The crate did not compile, so the test could not run.
    CompileError,
    /// An earlier stage is failing, so the test was not run.
    NotRun,
}

impl Outcome {
    /// The word the text report prints.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::TimedOut => "timed out",
            Outcome::Crashed => "crashed",
            Outcome::Leaked => "leaked",
            Outcome::CompileError => "compile error",
            Outcome::NotRun => "not run",
        }
    }
}

/// One hidden test's result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TestReport {
    /// Full test name, e.g. `align::rounds_up_to_the_next_multiple`.
    pub name: String,
    /// The stage it belongs to.
    pub stage: String,
    /// How it ended.
    pub outcome: Outcome,
    /// What went wrong, for a person (empty when it passed).
    pub message: String,
    /// Wall-clock time in milliseconds (absent when not run).
    pub duration_ms: Option<u64>,
    /// A command that reruns just this test and shows its output.
    pub rerun: String,
    /// The instructor's test pack (`--pack`) the test comes from, by name;
    /// absent for the shipped hidden tests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pack: Option<String>,
    /// When a Gradescope student may read the test's message, as its pack
    /// says (`visibility` in `pack.toml`); absent when always.
    #[serde(
        default,
        skip_serializing_if = "crate::course::pack::Visibility::is_visible"
    )]
    pub visibility: crate::course::pack::Visibility,
}

/// The performance stage's results.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PerformanceReport {
    /// Whether it was measured.
    pub status: PerfStatus,
    /// Points earned.
    pub score: u32,
    /// Points available.
    pub max_score: u32,
    /// Candidate time / reference time (geometric mean over workloads);
    /// below 1 means faster than the reference.
    pub ratio_to_reference: Option<f64>,
    /// The 95 % confidence interval of that ratio, `[low, high]`; credit is
    /// decided by `low`.
    pub ratio_interval: Option<[f64; 2]>,
    /// Candidate time / each baseline's time (e.g. `bumpalo`).
    pub ratio_to_baselines: BTreeMap<String, f64>,
    /// Reference time / each baseline's time.
    pub reference_to_baselines: BTreeMap<String, f64>,
    /// The same ratios for each workload on its own.
    pub workload_ratios: Vec<WorkloadRatios>,
    /// Per-workload medians in nanoseconds per operation.
    pub workloads: Vec<oslings_harness::perf::WorkloadResult>,
    /// Explanation for a person.
    pub message: String,
    /// When the benchmark was measured (RFC 3339), if it was.
    pub measured_at: Option<String>,
    /// Whether this grade reused an earlier measurement of the same
    /// benchmark binary instead of measuring again.
    #[serde(default)]
    pub reused: bool,
}

impl ExerciseReport {
    /// The first stage that is not passing, if any (a stage that could not
    /// be graded here for want of a program is not failing).
    pub fn first_failing_stage(&self) -> Option<&StageReport> {
        self.stages.iter().find(|s| !s.passed && !s.unavailable())
    }

    /// Whether every point was earned.
    pub fn complete(&self) -> bool {
        self.score == self.max_score && self.compile_error.is_none()
    }
}

/// Whether the performance stage was measured: in the JSON, `measured`,
/// `not_run` or `error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PerfStatus {
    /// The benchmark ran and was scored.
    Measured,
    /// Not run: a correctness stage fails, or the crate does not compile.
    NotRun,
    /// The benchmark did not build, crashed or failed.
    Error,
}

/// One workload's ratios.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkloadRatios {
    /// The workload's name.
    pub name: String,
    /// What one operation is.
    pub unit: String,
    /// What the time was measured with: CPU time unless the candidate waits.
    pub clock: oslings_harness::perf::Clock,
    /// Whether the ratio counts towards the credit (or is shown for context).
    pub scored: bool,
    /// Candidate time / reference time: the median of the per-round ratios.
    pub ratio_to_reference: Option<f64>,
    /// Its 95 % confidence interval, `[low, high]`.
    pub interval: Option<[f64; 2]>,
    /// Candidate time / each baseline's time.
    pub ratio_to_baselines: BTreeMap<String, f64>,
    /// Figures measured beside the time (reads per operation, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<oslings_harness::perf::Metric>,
}

/// What kind of thing in the graded tree was not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalKind {
    /// A cargo configuration file (`.cargo/config.toml`).
    CargoConfig,
    /// A toolchain file (`rust-toolchain.toml`).
    Toolchain,
    /// A manifest that differs from the course's.
    Manifest,
    /// A build script.
    BuildScript,
    /// A symbolic link or a file that is not a regular file.
    NotAFile,
    /// A file or crate over the size limits.
    TooBig,
    /// A file outside the crate read at compile time (`include!`, `#[path]`).
    OutsideFile,
    /// An edited copy of the checker or its hidden tests.
    EditedGrader,
}

/// One thing in the graded tree the grader did not use, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// The exercise it belongs to; `None` for the whole tree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exercise: Option<String>,
    /// What kind of thing it is.
    pub kind: RefusalKind,
    /// Its path, relative to the graded tree.
    pub path: String,
    /// What it would have done and what the grader did instead.
    pub why: String,
}
