//! The GitHub Classroom report (`--format classroom`): the result a
//! Classroom *runner* action hands to `classroom-resources/autograding-grading-reporter`.
//!
//! Source: the reporter's own code (github.com/classroom-resources/
//! autograding-grading-reporter, `src/main.js`, `src/notify-classroom.js`,
//! `src/helpers/test-helpers.js`) and the runner actions it is documented
//! with (`autograding-command-grader`, `autograding-io-grader`). A runner
//! sets a step output `result`: base64 of a JSON object
//! `{version: 1, status, max_score, tests: [{name, status, score, message,
//! test_code, filename, line_no, execution_time}]}` with `status` one of
//! `pass`, `fail`, `error`. The reporter reads it from the environment
//! variable `<RUNNER-ID>_RESULTS` for each id in its `runners` input, prints
//! each test, adds up `tests[].score` against `max_score` for the points it
//! sends to Classroom ("Points N/M"), and fails the job on `fail` or `error`.
//!
//! So this format prints that base64 line, one runner for the whole run,
//! with one test per stage (points belong to stages, see the Gradescope
//! report) plus each exercise's performance stage; the test scores add up
//! to the checker's score. In a workflow:
//!
//! ```yaml
//! - id: oslings
//!   run: echo "result=$(cargo run -q -p checker -- --format classroom)" >> "$GITHUB_OUTPUT"
//! - uses: classroom-resources/autograding-grading-reporter@v1
//!   env:
//!     OSLINGS_RESULTS: ${{ steps.oslings.outputs.result }}
//!   with:
//!     runners: oslings
//! ```

use base64::Engine as _;
use serde::Serialize;

use crate::model::Report;
use crate::report::gradescope;

/// What one Classroom runner reports.
#[derive(Debug, Serialize)]
pub struct RunnerResult {
    /// Format version: 1.
    pub version: u32,
    /// `pass` (every point), `fail`, or `error` (an exercise does not compile).
    pub status: &'static str,
    /// Points available.
    pub max_score: u32,
    /// One entry per stage and performance stage.
    pub tests: Vec<Test>,
}

/// One test as the reporter prints it.
#[derive(Debug, Serialize)]
pub struct Test {
    /// `Exercise: stage N — title`.
    pub name: String,
    /// `pass` at full points, otherwise `fail`.
    pub status: &'static str,
    /// Points earned.
    pub score: u32,
    /// What failed (the reporter prints it after the test's name).
    pub message: String,
    /// The command that shows this exercise in detail.
    pub test_code: String,
    /// Unused by the checker: empty.
    pub filename: String,
    /// Unused by the checker: 0 (the reporter then prints no line number).
    pub line_no: u32,
    /// Unused by the checker: empty.
    pub execution_time: String,
}

/// The runner result for a report.
pub fn result(report: &Report) -> RunnerResult {
    let stages = gradescope::results(report);
    let mut tests = Vec::new();
    let mut entries = stages.tests.into_iter();
    for exercise in &report.exercises {
        let count = exercise.stages.len() + usize::from(exercise.performance.is_some());
        for entry in entries.by_ref().take(count) {
            tests.push(Test {
                name: entry.name,
                status: if entry.status == "passed" {
                    "pass"
                } else {
                    "fail"
                },
                score: entry.score as u32,
                message: entry.output,
                test_code: format!("cargo run -p checker -- {}", exercise.name),
                filename: String::new(),
                line_no: 0,
                execution_time: String::new(),
            });
        }
    }
    let status = if report.exercises.iter().any(|e| e.compile_error.is_some()) {
        "error"
    } else if report.passed {
        "pass"
    } else {
        "fail"
    };
    RunnerResult {
        version: 1,
        status,
        max_score: report.max_score,
        tests,
    }
}

/// The runner result as the single base64 line a step output carries.
pub fn render(report: &Report) -> String {
    let json = serde_json::to_string(&result(report)).expect("the result always serialises");
    let mut line = base64::engine::general_purpose::STANDARD.encode(json);
    line.push('\n');
    line
}
