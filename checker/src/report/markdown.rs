//! The Markdown report (`--format markdown`): a compact table for
//! `$GITHUB_STEP_SUMMARY`, a pull-request comment or a README.

use crate::report::model::{
    ExerciseReport, Outcome, PerfStatus, PerformanceReport, Report, StageReport,
};

/// Characters of a failure message kept in a table cell.
const CELL_LIMIT: usize = 120;

/// The Markdown report: a heading with the score, then one row per stage.
pub fn render(report: &Report) -> String {
    let mut out = format!(
        "### oslings: {} of {} points\n\n",
        report.score, report.max_score
    );
    out.push_str("| exercise | stage | points | status | first failure |\n");
    out.push_str("| --- | --- | ---: | --- | --- |\n");
    for exercise in &report.exercises {
        rows(&mut out, exercise);
    }
    if !report.refused.is_empty() {
        out.push_str("\n**Not used from the graded tree** (only each exercise's `src/` is graded, with the course's `Cargo.toml`):\n\n");
        for refusal in &report.refused {
            out.push_str(&format!(
                "- `{}`: {}\n",
                cell(&refusal.path),
                cell(&refusal.why)
            ));
        }
    }
    out
}

fn rows(out: &mut String, exercise: &ExerciseReport) {
    let mut first = true;
    let mut row = |stage: String, points: String, status: &str, failure: String| {
        let name = if first {
            cell(&exercise.title)
        } else {
            String::new()
        };
        first = false;
        out.push_str(&format!(
            "| {name} | {} | {points} | {status} | {} |\n",
            cell(&stage),
            cell(&failure)
        ));
    };
    if let Some(compile) = &exercise.compile_error {
        row(
            "compile".to_string(),
            format!("0/{}", exercise.max_score),
            "❌ does not compile",
            compile.message.clone(),
        );
        return;
    }
    for stage in &exercise.stages {
        let (status, failure) = stage_cells(exercise, stage);
        row(
            format!("{}. {}", stage.number, stage.title),
            format!("{}/{}", stage.score, stage.max_score),
            &status,
            failure,
        );
    }
    if let Some(perf) = &exercise.performance {
        let (status, note) = perf_cells(perf);
        row(
            "performance".to_string(),
            format!("{}/{}", perf.score, perf.max_score),
            &status,
            note,
        );
    }
}

/// A stage's status cell, and its first failing test with its message.
fn stage_cells(exercise: &ExerciseReport, stage: &StageReport) -> (String, String) {
    let tests: Vec<_> = exercise
        .tests
        .iter()
        .filter(|t| t.stage == stage.name)
        .collect();
    let failure = tests
        .iter()
        .find(|t| !matches!(t.outcome, Outcome::Passed | Outcome::NotRun));
    let status = if stage.passed {
        "✅ passed".to_string()
    } else if stage.unavailable() {
        format!("❔ {}", stage.needs_advice())
    } else if failure.is_none() {
        "⏸ not run".to_string()
    } else {
        format!("❌ {}/{} tests pass", stage.tests_passed, stage.tests_total)
    };
    let failure = failure
        .map(|t| {
            format!(
                "`{}` {}: {}",
                t.name,
                t.outcome.label(),
                first_line(&t.message)
            )
        })
        .unwrap_or_default();
    (status, failure)
}

/// The performance stage's status cell, and why it lost points.
fn perf_cells(perf: &PerformanceReport) -> (String, String) {
    let status = match perf.status {
        PerfStatus::Measured => match perf.ratio_to_reference {
            Some(ratio) => format!("⏱ {ratio:.2}× the reference"),
            None => "⏱ measured".to_string(),
        },
        PerfStatus::Error => "❌ error".to_string(),
        PerfStatus::NotRun => "⏸ not run".to_string(),
    };
    let note = if perf.score < perf.max_score {
        first_line(&perf.message)
    } else {
        String::new()
    };
    (status, note)
}

fn first_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
        .to_string()
}

/// `text` made safe for one table cell: one line, no pipes, no HTML, no
/// control characters, short.
fn cell(text: &str) -> String {
    let printable: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let one_line = printable.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut short: String = one_line.chars().take(CELL_LIMIT).collect();
    if short.len() < one_line.len() {
        short.push('…');
    }
    short
        .replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
