//! Course tests: the fork is the real course, tampered with (its real
//! hidden suite, manifest and checker source).
//!
//! Grading a fork must not trust the fork: a student who edits the checker
//! in their own tree (its hidden tests, its stage points, its source) gets
//! the same grade from a pristine checker run with `--exercises-from` as a
//! student who did not.

mod common;
mod students;

use serde_json::Value;
use std::path::Path;
use students::{EXERCISE, grade, grade_trusting_the_fork, partway};

/// Makes every hidden test of the bump allocator return before it checks
/// anything, gives every stage 1000 points, and makes the checker's own
/// grading credit every stage whether it passed or not.
fn tamper(root: &Path) {
    let hidden = root.join("checker/hidden").join(EXERCISE);
    let mut emptied = 0;
    for file in common::rust_files(&hidden.join("tests")) {
        let text = std::fs::read_to_string(&file).unwrap();
        let mut out = String::new();
        let mut rest = text.as_str();
        while let Some(at) = rest.find("#[test]") {
            let body = at + rest[at..].find('{').unwrap() + 1;
            out.push_str(&rest[..body]);
            out.push_str(" return; ");
            emptied += 1;
            rest = &rest[body..];
        }
        out.push_str(rest);
        std::fs::write(&file, out).unwrap();
    }
    assert!(emptied > 20, "only {emptied} hidden tests found to empty");

    let manifest = hidden.join("exercise.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let inflated: Vec<String> = text
        .lines()
        .map(|l| {
            if l.starts_with("points = ") {
                "points = 1000".to_string()
            } else {
                l.to_string()
            }
        })
        .collect();
    assert_ne!(inflated.join("\n"), text.trim_end(), "no points to inflate");
    std::fs::write(&manifest, inflated.join("\n") + "\n").unwrap();

    let grade_rs = root.join("checker/src/grade/mod.rs");
    let text = std::fs::read_to_string(&grade_rs).unwrap();
    let gate = "score: if ok { stage.points } else { 0 },";
    assert!(
        text.contains(gate),
        "the stage gate moved: update this test"
    );
    std::fs::write(&grade_rs, text.replace(gate, "score: stage.points,")).unwrap();
}

/// The grade, without what differs between two trees and two runs (paths,
/// timings, rerun commands that name the tree).
fn grade_of(report: &Value) -> Value {
    let mut grade = report.clone();
    let object = grade.as_object_mut().unwrap();
    object.remove("graded");
    object.remove("refused");
    for exercise in object["exercises"].as_array_mut().unwrap() {
        let exercise = exercise.as_object_mut().unwrap();
        exercise.remove("crate_dir");
        for test in exercise["tests"].as_array_mut().unwrap() {
            let test = test.as_object_mut().unwrap();
            test.remove("duration_ms");
            test.remove("rerun");
        }
    }
    grade
}

fn score(report: &Value) -> (u64, u64) {
    (
        report["score"].as_u64().unwrap(),
        report["max_score"].as_u64().unwrap(),
    )
}

#[test]
fn a_students_edited_checker_does_not_change_the_grade_from_a_pristine_checker() {
    // Two stages done: the edits would be worth most if they were trusted.
    let honest = partway(&["align.rs", "layout.rs"]);
    let cheat = partway(&["align.rs", "layout.rs"]);
    tamper(cheat.path());

    let honest_report = grade(honest.path()).json();
    assert_eq!(score(&honest_report), (20, 100), "{honest_report:#}");
    let cheat_report = grade(cheat.path()).json();
    assert_eq!(
        score(&cheat_report),
        score(&honest_report),
        "the tampered tree's score differs from the honest one's"
    );
    assert_eq!(
        grade_of(&cheat_report),
        grade_of(&honest_report),
        "the tampered tree's grade differs from the honest one's"
    );

    let refused = cheat_report["refused"].to_string();
    assert!(
        refused.contains("edited_grader") && refused.contains("checker/"),
        "the report does not name the edited checker: {refused}"
    );
    assert!(
        honest_report.get("refused").is_none(),
        "an untouched fork had something refused: {honest_report:#}"
    );

    // The edits are real: a checker that read the fork's own hidden suite
    // and manifest would have been fooled by them.
    let fooled = grade_trusting_the_fork(cheat.path()).json();
    assert_ne!(
        score(&fooled),
        score(&honest_report),
        "the tampering should fool a checker that trusts the fork: {fooled:#}"
    );
}
