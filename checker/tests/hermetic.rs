//! Course tests: what they protect is every real hidden test's grade (the
//! engine's side, that each test starts hermetic, is `hostile.rs`'s
//! `every_test_starts_hermetic_whatever_the_checker_was_started_from`, on the
//! fixture course).
//!
//! The learner's session does not leak into grades: the reference solutions
//! and the untouched exercises, graded by a checker started from a messy
//! session (50 extra open descriptors, umask 077, a Turkish locale, SIGINT,
//! SIGPIPE and SIGHUP ignored, `TERM=dumb`, `setsid`), get the same outcome
//! and the same message for every hidden test as a plain run.

mod common;

use common::{Start, checker_started};
use serde_json::Value;
use std::time::Duration;

/// Long enough for a cold build of every hidden suite on a loaded machine.
const LIMIT: Duration = Duration::from_secs(1800);

/// Every hidden test of a report: exercise, test, outcome and message.
fn outcomes(report: &Value) -> Vec<(String, String, String, String)> {
    report["exercises"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|ex| {
            ex["tests"].as_array().unwrap().iter().map(move |t| {
                let field = |key: &str| t[key].as_str().unwrap_or_default().to_string();
                (
                    ex["name"].as_str().unwrap().to_string(),
                    field("name"),
                    field("outcome"),
                    field("message"),
                )
            })
        })
        .collect()
}

fn graded(start: Start, args: &[&str]) -> Vec<(String, String, String, String)> {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    let run = checker_started(start, &all, &[], LIMIT, &mut |_, _| {});
    assert!(matches!(run.code, Some(0 | 1)), "{run:?}");
    outcomes(&run.json())
}

/// One grading at a time: two at once would slow each other's tests.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn same_grades_from_a_messy_session(args: &[&str]) {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let plain = graded(Start::Plain, args);
    let messy = graded(Start::Perturbed, args);
    assert!(!plain.is_empty(), "no hidden test was graded");
    let differ: Vec<String> = plain
        .iter()
        .zip(&messy)
        .filter(|(a, b)| a != b)
        .map(|(a, b)| format!("{}/{}: {} {:?} vs {} {:?}", a.0, a.1, a.2, a.3, b.2, b.3))
        .collect();
    assert_eq!(plain.len(), messy.len(), "{args:?}: another set of tests");
    assert!(
        differ.is_empty(),
        "{args:?}: {} test(s) graded differently from a messy session:\n{}",
        differ.len(),
        differ.join("\n")
    );
}

#[test]
fn the_solutions_grade_the_same_from_a_messy_session() {
    same_grades_from_a_messy_session(&["--against", "solutions"]);
}

#[test]
fn the_untouched_exercises_grade_the_same_from_a_messy_session() {
    same_grades_from_a_messy_session(&[]);
}
