//! The hidden commands the checker runs itself: `__supervise` (one program
//! in the sandbox) and `__score-perf` (`.ci/perf-spread`).

use anyhow::{Context, Result};
use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

use crate::cmd::setup::select;
use crate::course::manifest;
use crate::course::paths::repo_root;
use crate::exec::supervisor;
use crate::grade::perf;

/// `__supervise`: runs `program` under `limits` (JSON) as the supervisor
/// ([`supervisor::supervise`]) of the checker with process id `parent`.
pub fn supervise(
    status_file: &Path,
    limits: &str,
    parent: u32,
    program: &[OsString],
) -> Result<ExitCode> {
    let limits = serde_json::from_str(limits).context("bad --limits")?;
    supervisor::supervise(status_file, limits, parent, program)?;
    Ok(ExitCode::SUCCESS)
}

/// `__score-perf`: scores a benchmark report (the better of two, given a
/// `second`) as the performance stage of exercise `name` would, and prints
/// the performance entry as JSON.
pub fn score_perf(name: &str, report: &Path, second: Option<&Path>) -> Result<ExitCode> {
    let course = manifest::load_course(&repo_root(false).join("checker").join("hidden"))?;
    let exercise = select(&course, Some(name))?[0];
    let stage = exercise
        .perf
        .as_ref()
        .with_context(|| format!("{name} has no performance stage"))?;
    let read = |path: &Path| -> Result<oslings_harness::perf::PerfReport> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not a benchmark report", path.display()))
    };
    let mut measured = read(report)?;
    if let Some(second) = second {
        measured = perf::better(measured, read(second)?, stage);
    }
    let scored = perf::score(&measured, stage);
    println!("{}", serde_json::to_string_pretty(&scored)?);
    Ok(ExitCode::SUCCESS)
}
