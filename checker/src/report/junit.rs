//! The JUnit XML report (`--format junit`), for CI systems and test dashboards.
//!
//! Shape: `<testsuites>` holds one `<testsuite>` per graded exercise, which
//! holds one `<testcase>` per hidden test (`classname` is
//! `<exercise>.<stage>`), then one for the performance stage
//! (`<exercise>.performance`). How a test ended maps onto JUnit's three
//! kinds of non-pass:
//!
//! - `failed` and `leaked` are `<failure>` (the code ran and was wrong);
//! - `timed_out` and `crashed` are `<error>` (the code never finished);
//! - `not_run` (an earlier stage fails) is `<skipped>`.
//!
//! When the crate does not compile, a testcase named `compile`
//! (`<exercise>.build`) carries the compiler's message as an `<error>` and
//! every hidden test is `<skipped>`, so one mistake counts once. The
//! performance testcase passes at full points, is a `<failure>` when it was
//! measured below full points, an `<error>` when the benchmark could not run,
//! and `<skipped>` until every correctness stage passes. Each suite also
//! carries its points as `<properties>`.
//!
//! XML 1.0 cannot carry most control characters even escaped: they are
//! written as `\u{..}` so the document always parses.

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use std::borrow::Cow;

use crate::report::model::{ExerciseReport, Outcome, PerfStatus, Report, TestReport};

/// How one `<testcase>` ended, in JUnit's words.
enum Verdict {
    Pass,
    Failure { kind: String, message: String },
    Error { kind: String, message: String },
    Skipped { message: String },
}

/// One `<testcase>` before it is written.
struct Case {
    name: String,
    classname: String,
    seconds: f64,
    verdict: Verdict,
}

/// The JUnit XML report.
pub fn render(report: &Report) -> String {
    let suites: Vec<(&ExerciseReport, Vec<Case>)> = report
        .exercises
        .iter()
        .map(|exercise| (exercise, cases(exercise)))
        .collect();
    let all: Vec<&Case> = suites.iter().flat_map(|(_, cases)| cases).collect();

    let mut xml = Writer::new_with_indent(Vec::new(), b' ', 2);
    write(
        &mut xml,
        Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)),
    );
    let mut root = BytesStart::new("testsuites");
    root.push_attribute(("name", "oslings"));
    counts(&mut root, &all);
    write(&mut xml, Event::Start(root));
    for (exercise, cases) in &suites {
        let mut suite = BytesStart::new("testsuite");
        suite.push_attribute(("name", clean(&exercise.name).as_ref()));
        let refs: Vec<&Case> = cases.iter().collect();
        counts(&mut suite, &refs);
        write(&mut xml, Event::Start(suite));
        write(&mut xml, Event::Start(BytesStart::new("properties")));
        for (name, value) in [
            ("title", exercise.title.clone()),
            ("score", exercise.score.to_string()),
            ("max_score", exercise.max_score.to_string()),
        ] {
            let mut property = BytesStart::new("property");
            property.push_attribute(("name", name));
            property.push_attribute(("value", clean(&value).as_ref()));
            write(&mut xml, Event::Empty(property));
        }
        write(&mut xml, Event::End(BytesEnd::new("properties")));
        for case in cases {
            write_case(&mut xml, case);
        }
        write(&mut xml, Event::End(BytesEnd::new("testsuite")));
    }
    write(&mut xml, Event::End(BytesEnd::new("testsuites")));
    let mut text = String::from_utf8(xml.into_inner()).expect("the writer was given UTF-8");
    text.push('\n');
    text
}

fn write(xml: &mut Writer<Vec<u8>>, event: Event<'_>) {
    xml.write_event(event)
        .expect("writing XML into memory cannot fail");
}

/// Sets `tests`, `failures`, `errors`, `skipped` and `time` from `cases`.
fn counts(element: &mut BytesStart<'_>, cases: &[&Case]) {
    let count = |f: fn(&Verdict) -> bool| cases.iter().filter(|c| f(&c.verdict)).count();
    let failures = count(|v| matches!(v, Verdict::Failure { .. }));
    let errors = count(|v| matches!(v, Verdict::Error { .. }));
    let skipped = count(|v| matches!(v, Verdict::Skipped { .. }));
    let time: f64 = cases.iter().map(|c| c.seconds).sum();
    element.push_attribute(("tests", cases.len().to_string().as_str()));
    element.push_attribute(("failures", failures.to_string().as_str()));
    element.push_attribute(("errors", errors.to_string().as_str()));
    element.push_attribute(("skipped", skipped.to_string().as_str()));
    element.push_attribute(("time", format!("{time:.3}").as_str()));
}

fn write_case(xml: &mut Writer<Vec<u8>>, case: &Case) {
    let mut element = BytesStart::new("testcase");
    element.push_attribute(("name", clean(&case.name).as_ref()));
    element.push_attribute(("classname", clean(&case.classname).as_ref()));
    element.push_attribute(("time", format!("{:.3}", case.seconds).as_str()));
    let (tag, kind, message) = match &case.verdict {
        Verdict::Pass => {
            write(xml, Event::Empty(element));
            return;
        }
        Verdict::Failure { kind, message } => ("failure", Some(kind), message),
        Verdict::Error { kind, message } => ("error", Some(kind), message),
        Verdict::Skipped { message } => ("skipped", None, message),
    };
    write(xml, Event::Start(element));
    let mut detail = BytesStart::new(tag);
    detail.push_attribute(("message", clean(&summary(message)).as_ref()));
    if let Some(kind) = kind {
        detail.push_attribute(("type", kind.as_str()));
    }
    if tag == "skipped" {
        write(xml, Event::Empty(detail));
    } else {
        write(xml, Event::Start(detail));
        write(xml, Event::Text(BytesText::new(&clean(message))));
        write(xml, Event::End(BytesEnd::new(tag)));
    }
    write(xml, Event::End(BytesEnd::new("testcase")));
}

/// The testcases of one exercise, in report order, then performance.
fn cases(exercise: &ExerciseReport) -> Vec<Case> {
    let mut cases = Vec::new();
    if let Some(compile) = &exercise.compile_error {
        let kind = if compile.missing {
            "missing_crate"
        } else {
            "compile_error"
        };
        cases.push(Case {
            name: "compile".to_string(),
            classname: format!("{}.build", exercise.name),
            seconds: 0.0,
            verdict: Verdict::Error {
                kind: kind.to_string(),
                message: compile.message.clone(),
            },
        });
    }
    for test in &exercise.tests {
        cases.push(Case {
            name: test.name.clone(),
            classname: format!("{}.{}", exercise.name, test.stage),
            seconds: test.duration_ms.unwrap_or(0) as f64 / 1000.0,
            verdict: test_verdict(exercise, test),
        });
    }
    if let Some(perf) = &exercise.performance {
        let message = perf.message.clone();
        let verdict = match perf.status {
            PerfStatus::Measured if perf.score >= perf.max_score => Verdict::Pass,
            PerfStatus::Measured => Verdict::Failure {
                kind: "too_slow".to_string(),
                message: format!("{} of {} points: {message}", perf.score, perf.max_score),
            },
            PerfStatus::Error => Verdict::Error {
                kind: "benchmark_error".to_string(),
                message,
            },
            PerfStatus::NotRun => Verdict::Skipped { message },
        };
        cases.push(Case {
            name: "performance".to_string(),
            classname: format!("{}.performance", exercise.name),
            seconds: 0.0,
            verdict,
        });
    }
    cases
}

fn test_verdict(exercise: &ExerciseReport, test: &TestReport) -> Verdict {
    let detail = || {
        if test.rerun.is_empty() {
            test.message.clone()
        } else {
            format!("{}\n\nRerun it alone: {}", test.message, test.rerun)
        }
    };
    let kind = || {
        serde_json::to_value(test.outcome).map_or_else(
            |_| "failed".to_string(),
            |v| v.as_str().unwrap_or("failed").to_string(),
        )
    };
    match test.outcome {
        Outcome::Passed => Verdict::Pass,
        Outcome::Failed | Outcome::Leaked => Verdict::Failure {
            kind: kind(),
            message: detail(),
        },
        Outcome::TimedOut | Outcome::Crashed => Verdict::Error {
            kind: kind(),
            message: detail(),
        },
        Outcome::CompileError => Verdict::Skipped {
            message: format!(
                "not run: {} does not compile (see {}.build)",
                exercise.name, exercise.name
            ),
        },
        Outcome::NotRun => Verdict::Skipped {
            message: match exercise.first_failing_stage() {
                Some(stage) => format!(
                    "not run: stage {} ({}) must pass first",
                    stage.number, stage.name
                ),
                None => "not run".to_string(),
            },
        },
    }
}

/// The first non-empty line, shortened: what fits in an attribute.
fn summary(message: &str) -> String {
    let line = message
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let mut short: String = line.chars().take(200).collect();
    if short.len() < line.len() {
        short.push('…');
    }
    short
}

/// `text` with every character XML 1.0 cannot carry written as `\u{..}`.
fn clean(text: &str) -> Cow<'_, str> {
    let allowed = |c: char| {
        matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}')
            || c >= '\u{10000}'
    };
    if text.chars().all(allowed) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| {
                if allowed(c) {
                    c.to_string()
                } else {
                    format!("\\u{{{:x}}}", c as u32)
                }
            })
            .collect(),
    )
}
