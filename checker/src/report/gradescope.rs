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
//!
//! **Visibility.** An instructor's test pack may say that students see its
//! tests' messages only `after_due_date`, `after_published`, or never
//! (`hidden`): a message can give away what the test checks. Hiding the
//! stage's own Gradescope test would hide its points too (and, with them,
//! the score a student works towards), so the split is: the stage test stays
//! `visible` and keeps the stage's score, and its output only *counts* the
//! failing tests whose messages are withheld, saying when they will be
//! shown; their names and messages go into one more Gradescope test per
//! stage and visibility, `Exercise: stage N — title (instructor tests)`,
//! numbered `<exercise>.<stage>.<k>`, worth 0 of 0 points with status
//! `failed`, and with the pack's visibility. Scores still add up (those
//! tests carry no points, so what Gradescope does with a hidden test's
//! points cannot change a total), and a withheld message appears nowhere a
//! student can read it before its time. Such a test is only written when a
//! withheld test fails.
//!
//! A missing exercise (no crate at `exercises/<name>/` in the submission)
//! scores 0 in every stage, whose output names the folder expected.

use serde::Serialize;
use std::collections::BTreeMap;

use crate::course::pack::Visibility;
use crate::report::model::{
    CompileErrorReport, ExerciseReport, Outcome, Report, StageReport, TestReport,
};

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

/// One Gradescope test: a stage of an exercise (or the withheld messages of
/// one, see the module's documentation).
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
                output: stage_output(&report.graded, exercise, stage),
                visibility: "visible",
            });
            for (k, (visibility, failing)) in withheld(exercise, stage).into_iter().enumerate() {
                tests.push(Test {
                    name: format!(
                        "{}: stage {} — {} (instructor tests)",
                        exercise.title, stage.number, stage.title
                    ),
                    number: format!("{}.{}.{}", index + 1, stage.number, k + 1),
                    score: 0.0,
                    max_score: 0.0,
                    status: "failed",
                    output: withheld_output(stage, &failing),
                    visibility: visibility.as_str(),
                });
            }
        }
        if let Some(perf) = &exercise.performance {
            let ratio = perf
                .ratio_to_reference
                .map(|r| format!(" Time relative to the reference solution: {r:.2}×."))
                .unwrap_or_default();
            let output = match &exercise.compile_error {
                Some(compile) if compile.missing => {
                    format!("Not measured: exercises/{}/ is missing.", exercise.name)
                }
                _ => format!("{}{ratio}", perf.message).trim().to_string(),
            };
            tests.push(Test {
                name: format!("{}: performance", exercise.title),
                number: format!("{}.{}", index + 1, exercise.stages.len() + 1),
                score: f64::from(perf.score),
                max_score: f64::from(perf.max_score),
                status: status(perf.score, perf.max_score),
                output,
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
        let state = if let Some(compile) = &exercise.compile_error {
            if compile.missing {
                format!("missing: expected the folder exercises/{}/", exercise.name)
            } else {
                "does not compile".to_string()
            }
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
    if !report.refused.is_empty() {
        lines.push(
            "Not used from your submission (only each exercise's src/ is graded, with the \
             course's Cargo.toml):"
                .to_string(),
        );
        for refusal in &report.refused {
            lines.push(format!("  {}: {}", refusal.path, refusal.why));
        }
    }
    lines.join("\n")
}

/// `graded` is the graded tree, left out of paths in the checker's own
/// messages: a student reads them against their upload.
fn stage_output(graded: &str, exercise: &ExerciseReport, stage: &StageReport) -> String {
    if let Some(compile) = &exercise.compile_error {
        return not_compiled_output(graded, exercise, stage, compile);
    }
    if stage.passed {
        return format!("All {} hidden tests pass.", stage.tests_total);
    }
    if stage.unavailable() {
        return format!("Not graded: this stage {}.", stage.needs_advice());
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
    failing_output(exercise, stage, &tests)
}

/// The output of a stage of an exercise whose crate is missing or does not
/// compile.
fn not_compiled_output(
    graded: &str,
    exercise: &ExerciseReport,
    stage: &StageReport,
    compile: &CompileErrorReport,
) -> String {
    if compile.missing {
        if stage.number > 1 {
            return format!(
                "Not graded: exercises/{}/ is missing (see stage 1).",
                exercise.name
            );
        }
        return format!(
            "Not graded: your submission has no crate for {} here. Expected the folder \
             exercises/{}/ with its Cargo.toml and src/ (upload your whole checkout, or \
             its exercises/ folder).\n\nThe checker says: {}",
            exercise.title,
            exercise.name,
            compile
                .message
                .replace(&format!("{}/", graded.trim_end_matches('/')), "")
                .trim_end()
        );
    }
    if stage.number > 1 {
        return format!("Not run: {} does not compile (see stage 1).", exercise.name);
    }
    format!(
        "Not run: {} does not compile.\n\n{}",
        exercise.name, compile.message
    )
}

/// The output of a stage that ran and failed: its failing tests, as many
/// as are shown, and how many instructor's tests are withheld.
fn failing_output(exercise: &ExerciseReport, stage: &StageReport, tests: &[&TestReport]) -> String {
    let failing: Vec<_> = tests
        .iter()
        .filter(|t| t.outcome != Outcome::Passed && t.visibility.is_visible())
        .collect();
    let mut out = format!(
        "{} of {} hidden tests pass. Read book/{}.\n",
        stage.tests_passed, stage.tests_total, stage.section
    );
    for test in failing.iter().take(SHOWN_FAILURES) {
        let rerun = match &test.pack {
            Some(pack) => {
                format!("An instructor's test (pack `{pack}`): your checkout does not have it.")
            }
            None => format!("Rerun it alone: {}", test.rerun),
        };
        out.push_str(&format!(
            "\n{} — {}\n{}\n{rerun}\n",
            test.name,
            test.outcome.label(),
            test.message.trim_end(),
        ));
    }
    if failing.len() > SHOWN_FAILURES {
        out.push_str(&format!(
            "\n…and {} more failing tests.\n",
            failing.len() - SHOWN_FAILURES
        ));
    }
    for (visibility, withheld) in withheld(exercise, stage) {
        let (count, verb) = match withheld.len() {
            1 => ("1 instructor's test".to_string(), "fails"),
            n => (format!("{n} instructor's tests"), "fail"),
        };
        let when = match visibility {
            Visibility::Hidden => "what they check is for your instructors only".to_string(),
            other => format!("what they check is shown {}", other.when()),
        };
        out.push_str(&format!("\n{count} of this stage {verb}: {when}.\n"));
    }
    out
}

/// The failing tests of `stage` whose messages their pack withholds, by
/// visibility (in the order visible → hidden).
fn withheld<'a>(
    exercise: &'a ExerciseReport,
    stage: &StageReport,
) -> BTreeMap<Visibility, Vec<&'a TestReport>> {
    let mut groups: BTreeMap<Visibility, Vec<&TestReport>> = BTreeMap::new();
    if exercise.compile_error.is_some() {
        return groups;
    }
    for test in exercise.tests.iter().filter(|t| {
        t.stage == stage.name
            && !t.visibility.is_visible()
            && !matches!(
                t.outcome,
                Outcome::Passed | Outcome::NotRun | Outcome::CompileError
            )
    }) {
        groups.entry(test.visibility).or_default().push(test);
    }
    groups
}

/// The output of the Gradescope test that holds withheld messages.
fn withheld_output(stage: &StageReport, failing: &[&TestReport]) -> String {
    let mut out = format!(
        "Instructor's tests of stage {} ({}) that fail:\n",
        stage.number, stage.title
    );
    for test in failing {
        let pack = test.pack.as_deref().unwrap_or("?");
        out.push_str(&format!(
            "\n{} — {} (pack `{pack}`)\n{}\n",
            test.name,
            test.outcome.label(),
            test.message.trim_end()
        ));
    }
    out
}
