//! The GitHub Classroom report (`--format classroom`): the runner results
//! that `classroom-resources/autograding-grading-reporter` reads, as lines a
//! workflow appends to `$GITHUB_ENV`.
//!
//! What the reporter does (its own code, vendored in
//! `classroom/github-reporter/src/`, commit 43c2d9f): for each id in its
//! `runners` input it decodes the environment variable
//! `<ID in capitals>_RESULTS`, base64 of a JSON object `{version: 1, status,
//! max_score, tests: [{name, status, score, message, test_code, filename,
//! line_no, execution_time}]}`. Then:
//!
//! - the points it records for Classroom (the notice `Points N/M`) are the
//!   sum of every test's `score` over the sum of every runner's `max_score`
//!   (a runner whose `max_score` is 0 counts for neither);
//! - its log prints, per runner, `Total points for <id>: S/M` with
//!   S = passing tests ÷ tests × `max_score` — not the tests' scores;
//! - it prints a test's `message` only when the test's status is `error`
//!   (`Error: <message>`); a `fail` shows `❌ <name>`, a `pass` `✅ <name>`,
//!   and each is followed by its `test_code` when that is not empty;
//! - it fails the job ("Some tests failed.") when a runner's status is
//!   `fail`.
//!
//! So that the recorded points, the log's totals and the checker's score
//! agree, there is **one runner per stage**, whose `max_score` is the
//! stage's points and whose one test passes or not (a stage earns all its
//! points or none), and **one runner per performance stage**, which earns 0,
//! half (rounded down) or all its points (see `perf::credit`): two tests,
//! "half the points" and "full points", each worth half. With odd points the
//! two halves differ, so the performance stage is then two runners of one
//! test each (`<id>perf` worth the half, `<id>perffull` the rest). Any other
//! score (none is produced today) is split into equal tests so that the log
//! still agrees.
//!
//! Runner ids must match `^[a-zA-Z0-9]+$` (the reporter's own check): the
//! exercise's name without its hyphens, then the stage number or `perf`,
//! e.g. `bumpallocator1` and `bumpallocatorperf`.
//!
//! What a student reads in the log: the first failing stage of each
//! exercise is an `error` test whose message names the stage and gives its
//! failing hidden tests with their messages and rerun commands (or, for a
//! crate that does not compile, the compiler's errors), and whose
//! `test_code` is the command that shows the exercise in detail; a stage
//! that waits for an earlier one is a `fail` test whose name says which; a
//! performance stage short of full points gives its measured ratio the same
//! way. A runner is `pass` only at full points, otherwise `fail`.
//!
//! Messages are cut to [`MAX_MESSAGE_CHARS`], control characters are written
//! as `\u{..}`, and text that the Actions runner would take for a workflow
//! command (a line starting with `::`, or `##[`) is broken up, so a test's
//! output cannot add annotations such as a second `Points N/M`.
//!
//! The output is one `OSLINGS_RUNNERS=<id>,<id>,…` line, then one
//! `<ID>_RESULTS=<base64>` line per runner. In a workflow (the full one is
//! `.github/workflows/classroom.yml`):
//!
//! ```yaml
//! # Exit status 1: graded, not everything passed.
//! - run: cargo run -q -p checker -- --format classroom >> "$GITHUB_ENV" || [ $? -eq 1 ]
//! - uses: classroom-resources/autograding-grading-reporter@v1
//!   with:
//!     runners: ${{ env.OSLINGS_RUNNERS }}
//! ```

use base64::Engine as _;
use serde::Serialize;
use std::collections::BTreeSet;

use crate::report::gradescope;
use crate::report::model::{
    ExerciseReport, Outcome, PerfStatus, PerformanceReport, Report, StageReport,
};

/// The environment variable that lists the runner ids, for the reporter's
/// `runners` input.
pub const RUNNERS_VARIABLE: &str = "OSLINGS_RUNNERS";

/// The longest `message` a test carries, in characters (longer ones are cut
/// at a line): each runner result becomes one environment variable, and
/// Linux refuses to start a program with a single one over 128 KiB.
pub const MAX_MESSAGE_CHARS: usize = 6000;

/// One Classroom runner: its id and its result.
#[derive(Debug, Serialize)]
pub struct Runner {
    /// Letters and digits only, e.g. `bumpallocator1`; the result goes in
    /// the environment variable `<ID in capitals>_RESULTS`.
    pub id: String,
    /// What the reporter decodes.
    pub result: RunnerResult,
}

/// What one Classroom runner reports.
#[derive(Debug, Serialize)]
pub struct RunnerResult {
    /// Format version: 1.
    pub version: u32,
    /// `pass` at full points, otherwise `fail`.
    pub status: &'static str,
    /// Points available: the stage's (or its share of the performance stage's).
    pub max_score: u32,
    /// The tests; passing ÷ all × `max_score` is the runner's score.
    pub tests: Vec<Test>,
}

/// One test as the reporter prints it.
#[derive(Debug, Serialize)]
pub struct Test {
    /// `Exercise: stage N — title`, or `Exercise: performance — …`, and why
    /// it did not run when it did not.
    pub name: String,
    /// `pass`; `error` when `message` says what failed (the reporter prints
    /// the message only then); `fail` otherwise.
    pub status: &'static str,
    /// Points earned.
    pub score: u32,
    /// What failed, led by the test's name (the reporter prints `Error:
    /// <message>` instead of the name).
    pub message: String,
    /// The command that shows this exercise in detail, on `error` tests
    /// (the reporter prints it under the message); empty otherwise.
    pub test_code: String,
    /// Unused by the checker: empty.
    pub filename: String,
    /// Unused by the checker: 0 (the reporter then prints no line number).
    pub line_no: u32,
    /// Unused by the checker: empty.
    pub execution_time: String,
}

/// Every runner of a report, in course order: the stages of each exercise,
/// then its performance stage.
pub fn runners(report: &Report) -> Vec<Runner> {
    let mut ids = Ids::default();
    let mut texts = gradescope::results(report).tests.into_iter();
    let mut runners = Vec::new();
    for (index, exercise) in report.exercises.iter().enumerate() {
        let base = base_id(&exercise.name, index);
        for stage in &exercise.stages {
            let Some(text) = texts.next() else { break };
            let id = ids.claim(format!("{base}{}", stage.number));
            runners.push(stage_runner(id, exercise, stage, text));
        }
        if let Some(perf) = &exercise.performance {
            // Its Gradescope text adds the ratio the message already gives.
            texts.next();
            runners.extend(perf_runners(&base, &mut ids, exercise, perf));
        }
    }
    runners
}

/// The lines for `$GITHUB_ENV`: `OSLINGS_RUNNERS=<ids>`, then
/// `<ID>_RESULTS=<base64 JSON>` for each runner.
pub fn render(report: &Report) -> String {
    let runners = runners(report);
    let ids: Vec<&str> = runners.iter().map(|r| r.id.as_str()).collect();
    let mut out = format!("{RUNNERS_VARIABLE}={}\n", ids.join(","));
    for runner in &runners {
        let json =
            serde_json::to_string(&runner.result).expect("a runner result always serialises");
        let encoded = base64::engine::general_purpose::STANDARD.encode(json);
        out.push_str(&format!(
            "{}_RESULTS={encoded}\n",
            runner.id.to_ascii_uppercase()
        ));
    }
    out
}

/// The runner of one correctness stage.
fn stage_runner(
    id: String,
    exercise: &ExerciseReport,
    stage: &StageReport,
    text: gradescope::Test,
) -> Runner {
    let name = text.name;
    let detail = if stage.passed {
        Detail::Passed
    } else if exercise.compile_error.is_some() {
        if stage.number == 1 {
            Detail::Message(text.output)
        } else {
            Detail::Reason(format!("not run: {} does not compile", exercise.name))
        }
    } else if stage.unavailable() {
        Detail::Reason(format!("not graded: {}", stage.needs_advice()))
    } else if stage_ran(exercise, stage) {
        Detail::Message(text.output)
    } else {
        let blocker = exercise
            .first_failing_stage()
            .map(|s| format!("stage {}", s.number))
            .unwrap_or_else(|| "an earlier stage".to_string());
        Detail::Reason(format!("not run until {blocker} passes"))
    };
    let tests = if stage.passed || stage.score == 0 {
        vec![test(&name, stage.score, stage.passed, detail, exercise)]
    } else {
        equal_shares(&name, stage.max_score, stage.score, detail, exercise)
    };
    runner(id, stage.max_score, tests)
}

/// Whether any hidden test of the stage ran.
fn stage_ran(exercise: &ExerciseReport, stage: &StageReport) -> bool {
    exercise
        .tests
        .iter()
        .any(|t| t.stage == stage.name && t.outcome != Outcome::NotRun)
}

/// The runner (or, with odd points, two runners) of a performance stage.
fn perf_runners(
    base: &str,
    ids: &mut Ids,
    exercise: &ExerciseReport,
    perf: &PerformanceReport,
) -> Vec<Runner> {
    let (points, score) = (perf.max_score, perf.score);
    let half = points / 2;
    let title = &exercise.title;
    let what_failed = match perf.status {
        PerfStatus::Measured | PerfStatus::Error => Detail::Message(perf.message.clone()),
        PerfStatus::NotRun => Detail::Reason(format!("not run: {}", perf.message.trim())),
    };
    if score != 0 && score != half && score != points {
        let name = format!("{title}: performance");
        let id = ids.claim(format!("{base}perf"));
        let tests = equal_shares(&name, points, score, what_failed, exercise);
        return vec![runner(id, points, tests)];
    }
    let half_name = format!("{title}: performance — half the points");
    let full_name = format!("{title}: performance — full points");
    // A zero-point share passes with the stage: at full points, or (a stage
    // worth nothing) once it was measured.
    let full_passed = score == points && (points > 0 || perf.status == PerfStatus::Measured);
    let half_passed = if half == 0 {
        full_passed
    } else {
        score >= half
    };
    // The message goes on the first failing test only; a second one that
    // did not run says so in its name.
    let (half_detail, full_detail) = match (half_passed, full_passed) {
        (true, true) => (Detail::Passed, Detail::Passed),
        (true, false) => (Detail::Passed, what_failed),
        _ => {
            let full = match &what_failed {
                Detail::Reason(reason) => Detail::Reason(reason.clone()),
                _ => Detail::Plain,
            };
            (what_failed, full)
        }
    };
    let half_share = if half_passed { half } else { 0 };
    let full_share = if full_passed { points - half } else { 0 };
    if points % 2 == 0 {
        let id = ids.claim(format!("{base}perf"));
        let tests = vec![
            test(&half_name, half_share, half_passed, half_detail, exercise),
            test(&full_name, full_share, full_passed, full_detail, exercise),
        ];
        return vec![runner(id, points, tests)];
    }
    let half_id = ids.claim(format!("{base}perf"));
    let full_id = ids.claim(format!("{base}perffull"));
    vec![
        runner(
            half_id,
            half,
            vec![test(
                &half_name,
                half_share,
                half_passed,
                half_detail,
                exercise,
            )],
        ),
        runner(
            full_id,
            points - half,
            vec![test(
                &full_name,
                full_share,
                full_passed,
                full_detail,
                exercise,
            )],
        ),
    ]
}

/// What a test says beyond its name.
enum Detail {
    /// It passed: nothing.
    Passed,
    /// It failed and this says what failed: an `error` test with a message.
    Message(String),
    /// It did not run, for this reason: added to its name.
    Reason(String),
    /// It failed; another test of the runner says why.
    Plain,
}

fn test(name: &str, score: u32, passed: bool, detail: Detail, exercise: &ExerciseReport) -> Test {
    let command = format!("cargo run -p checker -- {}", exercise.name);
    let (name, status, message, test_code) = match detail {
        _ if passed => (name.to_string(), "pass", String::new(), String::new()),
        Detail::Message(text) => (
            name.to_string(),
            "error",
            format!("{name}\n{}", text.trim_end()),
            command,
        ),
        Detail::Reason(reason) => (
            format!("{name} ({reason})"),
            "fail",
            String::new(),
            String::new(),
        ),
        Detail::Passed | Detail::Plain => (name.to_string(), "fail", String::new(), String::new()),
    };
    Test {
        name: log_safe(&name),
        status,
        score: if passed { score } else { 0 },
        message: log_safe(&cut(&message, &exercise.name)),
        test_code,
        filename: String::new(),
        line_no: 0,
        execution_time: String::new(),
    }
}

/// A score between 0 and `points` as equal tests, `score` of them passing
/// in points: passing ÷ all × `points` = `score`.
fn equal_shares(
    name: &str,
    points: u32,
    score: u32,
    detail: Detail,
    exercise: &ExerciseReport,
) -> Vec<Test> {
    let share = gcd(points, score).max(1);
    let (count, passing) = (points / share, score / share);
    let mut detail = Some(detail);
    (0..count)
        .map(|i| {
            let name = format!("{name} ({}/{count})", i + 1);
            if i < passing {
                test(&name, share, true, Detail::Passed, exercise)
            } else {
                let detail = detail.take().unwrap_or(Detail::Plain);
                test(&name, share, false, detail, exercise)
            }
        })
        .collect()
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a } else { gcd(b, a % b) }
}

fn runner(id: String, max_score: u32, tests: Vec<Test>) -> Runner {
    let status = if tests.iter().all(|t| t.status == "pass") {
        "pass"
    } else {
        "fail"
    };
    Runner {
        id,
        result: RunnerResult {
            version: 1,
            status,
            max_score,
            tests,
        },
    }
}

/// The exercise's name as letters and digits (`bump-allocator` →
/// `bumpallocator`).
fn base_id(name: &str, index: usize) -> String {
    let base: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if base.is_empty() {
        format!("exercise{}", index + 1)
    } else {
        base
    }
}

/// Runner ids handed out so far: a second claim of the same id gets a suffix.
#[derive(Default)]
struct Ids(BTreeSet<String>);

impl Ids {
    fn claim(&mut self, wanted: String) -> String {
        let mut id = wanted.clone();
        let mut n = 2;
        while !self.0.insert(id.clone()) {
            id = format!("{wanted}n{n}");
            n += 1;
        }
        id
    }
}

/// `text` cut to [`MAX_MESSAGE_CHARS`] at a line, with a note.
fn cut(text: &str, exercise: &str) -> String {
    if text.chars().count() <= MAX_MESSAGE_CHARS {
        return text.to_string();
    }
    let end = text
        .char_indices()
        .nth(MAX_MESSAGE_CHARS)
        .map_or(text.len(), |(i, _)| i);
    let kept = &text[..end];
    let kept = kept.rfind('\n').map_or(kept, |i| &kept[..i]);
    format!("{kept}\n… (cut short: `cargo run -p checker -- {exercise}` shows everything)")
}

/// `text` as the reporter may print it to an Actions log: control
/// characters other than newline and tab written as `\u{..}`, and nothing
/// the runner would read as a workflow command (a line that starts with
/// `::`, or `##[` anywhere).
fn log_safe(text: &str) -> String {
    let escaped: String = text
        .chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                format!("\\u{{{:x}}}", c as u32)
            } else {
                c.to_string()
            }
        })
        .collect();
    escaped
        .split('\n')
        .map(|line| {
            let line = line.replace("##[", "# #[");
            let indent = line.len() - line.trim_start().len();
            if line[indent..].starts_with("::") {
                format!("{}: :{}", &line[..indent], &line[indent + 2..])
            } else {
                line
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}
