//! Engine tests, on the fixture course (`tests/fixture-course/`): the stage
//! the learner is on is graded first (its verdict shown before the earlier
//! stages are checked again), yet the report is the one grading the stages
//! in order gives: the same code gets the same grade whatever the last
//! grading said. And a regrade with nothing changed reuses the last
//! results, until an edit or `--fresh`.

mod common;

use common::fixture::{Course, EXERCISE};
use serde_json::Value;
use std::path::Path;

/// Grades the copy's own exercise from inside it, as its learner does (so
/// its last results are kept and read).
fn grade_in(course: &Course) -> (Value, String) {
    let run = course.run_inside(
        &[EXERCISE, "--format", "json", "--timeout", "20"],
        &[("OSLINGS_TIMINGS", Path::new("1"))],
    );
    (run.json()["exercises"][0].clone(), run.stderr.clone())
}

/// Each test's name and outcome, in report order.
fn outcomes(exercise: &Value) -> Vec<(String, String)> {
    exercise["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_string(),
                t["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn stage_outcomes(exercise: &Value, stage: &str) -> Vec<String> {
    exercise["tests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["stage"] == stage)
        .map(|t| t["outcome"].as_str().unwrap().to_string())
        .collect()
}

/// Breaks stage 2: `scale` gives up on factors over 4.
fn break_scale(course: &Course) {
    course.insert("scale.rs", "pub fn scale(", "if k > 4 { return None; }");
}

/// Where the copy keeps the last results of the tally.
fn results(course: &Course) -> std::path::PathBuf {
    course
        .path()
        .join("target/oslings/grade/exercises/results-tally.json")
}

#[test]
fn a_stage_graded_first_counts_only_when_the_stages_before_it_still_pass() {
    // The learner is on the last stage (sum: long slices come out as 0).
    let course = Course::finished();
    course.insert("sum.rs", "pub fn sum(", "if xs.len() > 3 { return 0; }");
    let (first, _) = grade_in(&course);
    let failing = first["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["passed"] == false)
        .expect("a stage fails");
    assert_eq!(failing["name"], "sum", "{first:#}");

    // Then fixes it, and breaks stage 2 (scale) on the way: the last stage
    // is graded first and passes, but stage 2 fails now, so the last
    // stage's results must not count.
    course.finish("sum.rs");
    break_scale(&course);
    let (focused, stderr) = grade_in(&course);
    let order: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("oslings timing: tally "))
        .filter(|l| l.starts_with("stage-") || l.starts_with("verdict"))
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert_eq!(
        order,
        ["stage-3", "verdict-at", "stage-1", "stage-2"],
        "the stage the learner was on runs first, then the stages before it until one fails"
    );
    assert_eq!(
        stage_outcomes(&focused, "sum")
            .iter()
            .filter(|o| *o != "not_run")
            .count(),
        0,
        "stage 3 was graded first and passed, but stage 2 fails now: its tests count as \
         not run, as in order\n{focused:#}\n{stderr}"
    );
    assert!(
        stage_outcomes(&focused, "scale")
            .iter()
            .any(|o| o == "failed"),
        "{focused:#}"
    );

    // The same code graded in order (no last results to say which stage
    // the learner is on) gets the same report.
    std::fs::remove_file(results(&course)).expect("the last results were saved");
    let (in_order, _) = grade_in(&course);
    assert_eq!(outcomes(&focused), outcomes(&in_order));
    assert_eq!(focused["score"], in_order["score"]);
    assert_eq!(focused["stages"], in_order["stages"]);
}

#[test]
fn stages_run_at_once_after_a_finished_grading_still_count_in_order() {
    // The learner had finished; then breaks stage 2 (scale). Every stage
    // runs in one batch (the last grading passed them all), but the stages
    // after the failing one count as not run, as in order.
    let course = Course::finished();
    let (finished, _) = grade_in(&course);
    assert!(
        finished["stages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["passed"] == true),
        "{finished:#}"
    );
    break_scale(&course);
    let (at_once, stderr) = grade_in(&course);
    assert!(
        stderr.contains("oslings timing: tally all-stages "),
        "every stage ran in one batch:\n{stderr}"
    );
    assert!(
        stage_outcomes(&at_once, "sum")
            .iter()
            .all(|o| o == "not_run"),
        "sum ran in the batch, but stage 2 fails: it counts as not run\n{at_once:#}"
    );
    std::fs::remove_file(results(&course)).expect("the last results were saved");
    let (in_order, _) = grade_in(&course);
    assert_eq!(outcomes(&at_once), outcomes(&in_order));
    assert_eq!(at_once["stages"], in_order["stages"]);
}

#[test]
fn a_regrade_with_nothing_changed_reuses_the_results_until_an_edit_or_fresh() {
    let course = Course::finished();
    let (first, _) = grade_in(&course);
    assert!(first["reused_from"].is_null(), "{first:#}");
    let (again, _) = grade_in(&course);
    assert!(
        again["reused_from"].is_string(),
        "nothing changed: the last results are reused\n{again:#}"
    );
    assert_eq!(outcomes(&first), outcomes(&again));
    assert_eq!(first["score"], again["score"]);

    let run = course.run_inside(&[EXERCISE, "--format", "json", "--fresh"], &[]);
    let fresh = run.json()["exercises"][0].clone();
    assert!(
        fresh["reused_from"].is_null(),
        "--fresh grades again\n{fresh:#}"
    );

    break_scale(&course);
    let (edited, _) = grade_in(&course);
    assert!(
        edited["reused_from"].is_null(),
        "an edit grades again\n{edited:#}"
    );
    assert!(
        stage_outcomes(&edited, "scale")
            .iter()
            .any(|o| o == "failed"),
        "{edited:#}"
    );
}
