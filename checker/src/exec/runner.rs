//! Listing the hidden tests of the compiled suite and running each one alone
//! in the sandbox, a few at a time.

use anyhow::{Context, Result};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use crate::build::compile::TestBinary;
use crate::course::manifest::Exercise;
use crate::exec::guard::Guard;
use crate::exec::outcome;
use crate::exec::sandbox::{self, Limits};
use crate::report::model::Outcome;
use crate::util::snippet;

/// A hidden test and where to find it.
#[derive(Debug, Clone)]
pub struct HiddenTest {
    /// Full libtest name.
    pub name: String,
    /// Index of its stage in the manifest.
    pub stage: usize,
    /// The binary that contains it.
    pub binary: PathBuf,
    /// The `[[test]]` target that binary was built from.
    pub target: String,
}

/// A test binary that could not list its tests (it crashed before `main`,
/// e.g. because a learner's global allocator panics), with what it printed.
#[derive(Debug, Clone)]
pub struct Unlisted {
    /// The binary.
    pub binary: TestBinary,
    /// Its standard error, trimmed.
    pub stderr: String,
}

/// One test's result.
#[derive(Debug, Clone)]
pub struct TestResult {
    /// How it ended.
    pub outcome: Outcome,
    /// What went wrong.
    pub message: String,
    /// Wall-clock time.
    pub duration: Duration,
    /// Everything it printed (the start of it), for `--test` runs.
    pub output: String,
}

/// Every test in `binaries`, mapped to its stage, and the binaries that
/// could not even list their tests.
pub fn list(
    exercise: &Exercise,
    binaries: &[TestBinary],
) -> Result<(Vec<HiddenTest>, Vec<Unlisted>)> {
    let mut tests = Vec::new();
    let mut unlisted = Vec::new();
    for binary in binaries {
        let output = Command::new(&binary.path)
            .args(["--list", "--format", "terse"])
            .stdin(std::process::Stdio::null())
            .output()
            .with_context(|| format!("cannot list the tests in {}", binary.path.display()))?;
        if !output.status.success() {
            unlisted.push(Unlisted {
                binary: binary.clone(),
                stderr: snippet::tail(&String::from_utf8_lossy(&output.stderr), 6),
            });
            continue;
        }
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            let Some(name) = line.strip_suffix(": test") else {
                continue;
            };
            let stage = exercise.stage_of(name).with_context(|| {
                format!(
                    "hidden test `{name}` of {} belongs to no stage: its first path segment \
                     must be a stage id in {}",
                    exercise.name,
                    exercise.dir.join("exercise.toml").display()
                )
            })?;
            tests.push(HiddenTest {
                name: name.to_string(),
                stage,
                binary: binary.path.clone(),
                target: binary.target.clone(),
            });
        }
    }
    Ok((tests, unlisted))
}

/// The limits a test runs under.
pub fn limits_for(exercise: &Exercise, name: &str, default_timeout: Option<Duration>) -> Limits {
    let mut limits = Limits::default();
    if let Some(timeout) = default_timeout {
        limits.timeout = timeout;
    }
    if let Some(over) = exercise.override_for(name) {
        if let Some(secs) = over.timeout_secs {
            limits.timeout = Duration::from_secs_f64(secs);
        }
        if let Some(mb) = over.memory_mb {
            limits.memory_bytes = mb << 20;
        }
    }
    limits
}

/// Runs one test alone in the sandbox. A test that changes a file of the
/// hidden suite, of the exercise's crates in the repository at `root` or
/// under `watched` (the graded crate, the generated project) fails, and the
/// report names the files.
pub fn run_one(
    root: &Path,
    exercise: &Exercise,
    test: &HiddenTest,
    default_timeout: Option<Duration>,
    watched: &[PathBuf],
) -> Result<TestResult> {
    run_guarded(
        exercise,
        test,
        default_timeout,
        &Mutex::new(Guard::new(root, exercise, watched)),
    )
}

/// [`run_one`], then a look at the files no test may change.
fn run_guarded(
    exercise: &Exercise,
    test: &HiddenTest,
    default_timeout: Option<Duration>,
    guard: &Mutex<Guard>,
) -> Result<TestResult> {
    let started = SystemTime::now();
    let limits = limits_for(exercise, &test.name, default_timeout);
    let args: Vec<OsString> = vec![
        test.name.clone().into(),
        "--exact".into(),
        "--nocapture".into(),
        "--test-threads=1".into(),
    ];
    let run = sandbox::run_libtest(&test.binary, &args, &[], limits)?;
    let (mut outcome, mut message) = outcome::classify(&run, &limits);
    let changed = guard
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .check(started);
    if let Some(changed) = changed {
        if outcome == Outcome::Passed {
            outcome = Outcome::Failed;
        }
        if !message.is_empty() {
            message.push('\n');
        }
        message.push_str(&changed);
    }
    let mut output = run.stdout.clone();
    if !run.stderr.is_empty() {
        output.push_str(&run.stderr);
    }
    Ok(TestResult {
        outcome,
        message,
        duration: Duration::from_millis(run.status.wall_ms),
        output,
    })
}

/// Runs `tests` with up to `jobs` at a time, watching files as [`run_one`]
/// does; results come back in input order.
pub fn run_many(
    root: &Path,
    exercise: &Exercise,
    tests: &[HiddenTest],
    jobs: usize,
    default_timeout: Option<Duration>,
    watched: &[PathBuf],
) -> Vec<Result<TestResult>> {
    let next = AtomicUsize::new(0);
    let guard = Mutex::new(Guard::new(root, exercise, watched));
    let results: Mutex<Vec<Option<Result<TestResult>>>> =
        Mutex::new((0..tests.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1).min(tests.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(test) = tests.get(i) else { break };
                    let result = run_guarded(exercise, test, default_timeout, &guard);
                    results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(result);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(anyhow::anyhow!("test was never run"))))
        .collect()
}
