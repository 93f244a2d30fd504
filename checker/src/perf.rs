//! The performance stage: run the exercise's benchmark binary (the graded
//! crate, the reference and well-known crates interleaved in one process) and
//! turn its medians into ratios and points.

use anyhow::{Context, Result, bail};
use oslings_harness::perf::{PerfReport, Role, WorkloadResult};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::time::Duration;

use crate::manifest::PerfStage;
use crate::model::{PerformanceReport, WorkloadRatios};
use crate::sandbox::{self, Limits};

/// Budget per workload, in milliseconds, passed to the benchmark.
const BUDGET_MS: u64 = 400;

#[derive(Serialize, Deserialize)]
struct Cached {
    key: u64,
    report: PerfReport,
}

/// Runs (or reuses the cached result of) the benchmark `exe` and scores it.
///
/// A result is reused when the benchmark binary is byte-for-byte the same as
/// last time: nothing that could change its speed has changed.
pub fn measure(exe: &Path, cache: &Path, stage: &PerfStage) -> Result<PerformanceReport> {
    let bytes = std::fs::read(exe).with_context(|| format!("cannot read {}", exe.display()))?;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut hasher);
    BUDGET_MS.hash(&mut hasher);
    let key = hasher.finish();
    let cached = std::fs::read_to_string(cache)
        .ok()
        .and_then(|text| serde_json::from_str::<Cached>(&text).ok())
        .filter(|c| c.key == key);
    let report = match cached {
        Some(cached) => cached.report,
        None => {
            let report = run_benchmark(exe)?;
            let text = serde_json::to_string(&Cached {
                key,
                report: report.clone(),
            })?;
            let _ = std::fs::write(cache, text);
            report
        }
    };
    Ok(score(&report, stage))
}

fn run_benchmark(exe: &Path) -> Result<PerfReport> {
    let out = tempfile::NamedTempFile::new()?;
    let env = vec![
        (
            "OSLINGS_PERF_OUT".to_string(),
            out.path().display().to_string(),
        ),
        ("OSLINGS_PERF_BUDGET_MS".to_string(), BUDGET_MS.to_string()),
    ];
    let limits = Limits {
        timeout: Duration::from_secs(60),
        ..Limits::default()
    };
    let run = sandbox::run(exe, &[], &env, limits)?;
    let status = &run.status;
    if status.timed_out {
        bail!("the benchmark did not finish within 60 s: is one operation extremely slow?");
    }
    if let Some(signal) = status.signal {
        bail!(
            "the benchmark crashed ({}); it runs an optimised build with overflow checks, \
             so look for arithmetic overflow or undefined behaviour:\n{}",
            crate::outcome::signal_name(signal),
            tail(&run.stderr)
        );
    }
    if status.exit_code != Some(0) {
        bail!(
            "the benchmark failed (optimised build with overflow checks):\n{}",
            tail(&run.stderr)
        );
    }
    let text = std::fs::read_to_string(out.path())?;
    serde_json::from_str(&text).context("the benchmark wrote an unreadable report")
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(12)..].join("\n")
}

/// Geometric mean of `values` (all positive).
fn geomean(values: &[f64]) -> Option<f64> {
    if values.is_empty() || values.iter().any(|v| *v <= 0.0 || !v.is_finite()) {
        return None;
    }
    Some((values.iter().map(|v| v.ln()).sum::<f64>() / values.len() as f64).exp())
}

fn ratio_between(workloads: &[WorkloadResult], num: Role, den: &str) -> Option<f64> {
    let ratios: Vec<f64> = workloads
        .iter()
        .filter_map(|w| {
            let n = w.by_role(num)?.ns_per_op;
            let d = w.subject(den)?.ns_per_op;
            Some(n / d)
        })
        .collect();
    geomean(&ratios)
}

/// Points and ratios from a benchmark report.
pub fn score(report: &PerfReport, stage: &PerfStage) -> PerformanceReport {
    let workloads = &report.workloads;
    let ratio = ratio_between(workloads, Role::Candidate, "reference");
    let mut baselines: Vec<String> = workloads
        .iter()
        .flat_map(|w| w.subjects.iter())
        .filter(|s| s.role == Role::Baseline)
        .map(|s| s.name.clone())
        .collect();
    baselines.sort();
    baselines.dedup();
    let mut to_baselines = BTreeMap::new();
    let mut reference_to = BTreeMap::new();
    for name in &baselines {
        if let Some(r) = ratio_between(workloads, Role::Candidate, name) {
            to_baselines.insert(name.clone(), r);
        }
        if let Some(r) = ratio_between(workloads, Role::Reference, name) {
            reference_to.insert(name.clone(), r);
        }
    }
    let (score, message) = match ratio {
        Some(r) if r <= stage.full_credit_ratio => (
            stage.points,
            format!(
                "{r:.2}× the reference's time: full credit (≤ {:.1}×)",
                stage.full_credit_ratio
            ),
        ),
        Some(r) if r <= stage.partial_credit_ratio => (
            stage.points / 2,
            format!(
                "{r:.2}× the reference's time: half credit (full credit at ≤ {:.1}×)",
                stage.full_credit_ratio
            ),
        ),
        Some(r) => (
            0,
            format!(
                "{r:.2}× the reference's time: too slow for credit (half credit at ≤ {:.1}×)",
                stage.partial_credit_ratio
            ),
        ),
        None => (
            0,
            "the benchmark reported no candidate/reference pair".to_string(),
        ),
    };
    let workload_ratios = workloads
        .iter()
        .map(|w| {
            let candidate = w.by_role(Role::Candidate).map(|c| c.ns_per_op);
            let per = |name: &str| Some(candidate? / w.subject(name)?.ns_per_op);
            WorkloadRatios {
                name: w.name.clone(),
                unit: w.unit.clone(),
                ratio_to_reference: per("reference"),
                ratio_to_baselines: w
                    .subjects
                    .iter()
                    .filter(|s| s.role == Role::Baseline)
                    .filter_map(|s| Some((s.name.clone(), per(&s.name)?)))
                    .collect(),
            }
        })
        .collect();
    PerformanceReport {
        status: "measured".to_string(),
        workload_ratios,
        score,
        max_score: stage.points,
        ratio_to_reference: ratio,
        ratio_to_baselines: to_baselines,
        reference_to_baselines: reference_to,
        workloads: workloads.clone(),
        message,
    }
}

/// The performance entry when it was not measured.
pub fn not_measured(stage: &PerfStage, status: &str, message: String) -> PerformanceReport {
    PerformanceReport {
        status: status.to_string(),
        score: 0,
        max_score: stage.points,
        ratio_to_reference: None,
        ratio_to_baselines: BTreeMap::new(),
        reference_to_baselines: BTreeMap::new(),
        workload_ratios: Vec::new(),
        workloads: Vec::new(),
        message,
    }
}
