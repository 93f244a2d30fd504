//! The Gradescope autograder report (`--format gradescope`): the
//! `results.json` a Gradescope `run_autograder` script writes to
//! `/autograder/results/results.json`.
//!
//! Shape, from Gradescope's autograder specification
//! (gradescope-autograders.readthedocs.io, "Autograder Specifications",
//! "Output format"): top-level `score`, `execution_time` (seconds),
//! `output`, `output_format`, `test_output_format`, `visibility`,
//! `stdout_visibility` and `tests`, each test with `name`, `number`,
//! `score`, `max_score`, `status` (`passed`/`failed`), `output` and
//! `visibility`. The specification has no top-level `max_score`: Gradescope
//! takes the assignment's maximum from the tests' `max_score`, so none is
//! written.
//!
//! One Gradescope test per *stage*, not per hidden test: points belong to
//! stages (a stage earns all its points or none, and only when every earlier
//! stage passes), so a per-hidden-test entry could not carry a score that
//! adds up. Each stage's `output` lists its failing hidden tests with their
//! messages and rerun commands; a stage that did not run says which stage
//! must pass first. Each exercise's performance stage is one more test. The
//! top-level `score` is the sum of the tests' scores.

use serde::Serialize;

use crate::model::{ExerciseReport, Outcome, Report, StageReport};

/// Failing tests shown in full in one stage's output; the rest are counted.
const SHOWN_FAILURES: usize = 5;

/// The top level of `results.json`.
#[derive(Debug, Serialize)]
pub struct Results {
    /// Points earned: the sum of the tests' scores.
    pub score: f64,
    /// Seconds spent running hidden tests.
    pub execution_time: u64,
    /// A summary for the student.
    pub output: String,
    /// How `output` is rendered.
    pub output_format: &'static str,
    /// How each test's `output` is rendered.
    pub test_output_format: &'static str,
    /// When students see the results.
    pub visibility: &'static str,
    /// The checker's own stdout is for instructors only.
    pub stdout_visibility: &'static str,
    /// One entry per stage (and performance stage) of each exercise.
    pub tests: Vec<Test>,
}

/// One Gradescope test: a stage of an exercise.
#[derive(Debug, Serialize)]
pub struct Test {
    /// `Exercise: stage N — title`.
    pub name: String,
    /// `<exercise order>.<stage number>`, e.g. `1.3`.
    pub number: String,
    /// Points earned.
    pub score: f64,
    /// Points available.
    pub max_score: f64,
    /// `passed` at full points, otherwise `failed`.
    pub status: &'static str,
    /// What failed and how to see more.
    pub output: String,
    /// When students see this test.
    pub visibility: &'static str,
}

/// Builds `results.json` from a report.
pub fn results(report: &Report) -> Results {
    let mut tests = Vec::new();
    for (index, exercise) in report.exercises.iter().enumerate() {
        for stage in &exercise.stages {
            tests.push(Test {
                name: format!(
                    "{}: stage {} — {}",
                    exercise.title, stage.number, stage.title
                ),
                number: format!("{}.{}", index + 1, stage.number),
                score: f64::from(stage.score),
                max_score: f64::from(stage.max_score),
                status: status(stage.score, stage.max_score),
                output: stage_output(exercise, stage),
                visibility: "visible",
            });
        }
        if let Some(perf) = &exercise.performance {
            let ratio = perf
                .ratio_to_reference
                .map(|r| format!(" Time relative to the reference solution: {r:.2}×."))
                .unwrap_or_default();
            tests.push(Test {
                name: format!("{}: performance", exercise.title),
                number: format!("{}.{}", index + 1, exercise.stages.len() + 1),
                score: f64::from(perf.score),
                max_score: f64::from(perf.max_score),
                status: status(perf.score, perf.max_score),
                output: format!("{}{ratio}", perf.message).trim().to_string(),
                visibility: "visible",
            });
        }
    }
    let milliseconds: u64 = report
        .exercises
        .iter()
        .flat_map(|e| &e.tests)
        .filter_map(|t| t.duration_ms)
        .sum();
    Results {
        score: tests.iter().map(|t| t.score).sum(),
        execution_time: milliseconds.div_ceil(1000),
        output: overview(report),
        output_format: "text",
        test_output_format: "text",
        visibility: "visible",
        stdout_visibility: "hidden",
        tests,
    }
}

/// `results.json`, pretty-printed.
pub fn render(report: &Report) -> String {
    serde_json::to_string_pretty(&results(report)).expect("the results always serialise")
}

fn status(score: u32, max_score: u32) -> &'static str {
    if score >= max_score {
        "passed"
    } else {
        "failed"
    }
}

fn overview(report: &Report) -> String {
    let mut lines = vec![format!(
        "oslings: {} of {} points.",
        report.score, report.max_score
    )];
    for exercise in &report.exercises {
        let state = if exercise.compile_error.is_some() {
            "does not compile".to_string()
        } else if let Some(stage) = exercise.first_failing_stage() {
            format!("next: stage {} — {}", stage.number, stage.title)
        } else {
            "every stage passes".to_string()
        };
        lines.push(format!(
            "{}: {}/{} ({state})",
            exercise.title, exercise.score, exercise.max_score
        ));
    }
    lines.join("\n")
}

fn stage_output(exercise: &ExerciseReport, stage: &StageReport) -> String {
    if let Some(compile) = &exercise.compile_error {
        if stage.number > 1 {
            return format!("Not run: {} does not compile (see stage 1).", exercise.name);
        }
        return format!(
            "Not run: {} does not compile.\n\n{}",
            exercise.name, compile.message
        );
    }
    if stage.passed {
        return format!("All {} hidden tests pass.", stage.tests_total);
    }
    let tests: Vec<_> = exercise
        .tests
        .iter()
        .filter(|t| t.stage == stage.name)
        .collect();
    if tests.iter().all(|t| t.outcome == Outcome::NotRun) {
        let blocker = exercise
            .first_failing_stage()
            .map(|s| format!("stage {} ({})", s.number, s.title))
            .unwrap_or_else(|| "an earlier stage".to_string());
        return format!("Not run yet: {blocker} must pass first.");
    }
    let failing: Vec<_> = tests
        .iter()
        .filter(|t| t.outcome != Outcome::Passed)
        .collect();
    let mut out = format!(
        "{} of {} hidden tests pass. Read book/{}.\n",
        stage.tests_passed, stage.tests_total, stage.section
    );
    for test in failing.iter().take(SHOWN_FAILURES) {
        out.push_str(&format!(
            "\n{} — {}\n{}\nRerun it alone: {}\n",
            test.name,
            test.outcome.label(),
            test.message.trim_end(),
            test.rerun
        ));
    }
    if failing.len() > SHOWN_FAILURES {
        out.push_str(&format!(
            "\n…and {} more failing tests.\n",
            failing.len() - SHOWN_FAILURES
        ));
    }
    out
}
