//! The stage the learner is on is graded first (its verdict shown before
//! the earlier stages are checked again), yet the report is the one grading
//! the stages in order gives: the same code gets the same grade whatever the
//! last grading said.

mod common;

use common::{Tree, checker_in_with_env};
use serde_json::Value;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(600);
const EXERCISE: &str = "bump-allocator";

/// Grades the fork's own exercise from inside the fork, as its learner
/// does (so its last results are kept and read), with the build cache of
/// this checkout (a cold build would take minutes).
fn grade_in(tree: &Tree) -> (Value, String) {
    let target = common::repo().join("target").join("oslings").join("build");
    let run = checker_in_with_env(
        tree.path(),
        &[EXERCISE, "--format", "json", "--timeout", "20"],
        &[
            ("OSLINGS_TARGET_DIR", &target),
            ("OSLINGS_TIMINGS", std::path::Path::new("1")),
        ],
        LIMIT,
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

#[test]
fn a_stage_graded_first_counts_only_when_the_stages_before_it_still_pass() {
    // The learner is on the last stage (chunked: the chunk size is rounded
    // down to whole pages).
    let tree = Tree::completed(EXERCISE);
    let round_down = "let chunk_size = chunk_size / page_size() * page_size();";
    tree.insert(EXERCISE, "chunked.rs", "pub fn new(chunk_size", round_down);
    let (first, _) = grade_in(&tree);
    let failing = first["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["passed"] == false)
        .expect("a stage fails");
    assert_eq!(failing["name"], "chunked", "{first:#}");

    // Then fixes it, and breaks stage 2 (layout) on the way: the last
    // stage is graded first and passes, but stage 2 fails now, so the
    // last stage's results must not count.
    let tree_fixed = Tree::completed(EXERCISE);
    let chunked = tree_fixed
        .path()
        .join("exercises")
        .join(EXERCISE)
        .join("src")
        .join("chunked.rs");
    let target = tree.path().join("exercises").join(EXERCISE).join("src");
    std::fs::copy(&chunked, target.join("chunked.rs")).unwrap();
    tree.insert(
        EXERCISE,
        "layout.rs",
        "pub fn repr_c_layout(",
        "if fields.len() > 1 { return None; }",
    );
    let (focused, stderr) = grade_in(&tree);
    let order: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("oslings timing: bump-allocator "))
        .filter(|l| l.starts_with("stage-") || l.starts_with("verdict"))
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert_eq!(
        order,
        ["stage-6", "verdict-at", "stage-1", "stage-2"],
        "the stage the learner was on runs first, then the stages before it until one fails"
    );
    assert_eq!(
        stage_outcomes(&focused, "chunked")
            .iter()
            .filter(|o| *o != "not_run")
            .count(),
        0,
        "stage 6 was graded first and passed, but stage 2 fails now: its tests count as \
         not run, as in order\n{focused:#}\n{stderr}"
    );
    assert!(
        stage_outcomes(&focused, "layout")
            .iter()
            .any(|o| o == "failed"),
        "{focused:#}"
    );

    // The same code graded in order (no last results to say which stage
    // the learner is on) gets the same report.
    let results = tree
        .path()
        .join("target/oslings/grade/exercises/results-bump-allocator.json");
    std::fs::remove_file(&results).expect("the last results were saved");
    let (in_order, _) = grade_in(&tree);
    assert_eq!(outcomes(&focused), outcomes(&in_order));
    assert_eq!(focused["score"], in_order["score"]);
    assert_eq!(focused["stages"], in_order["stages"]);
}

#[test]
fn stages_run_at_once_after_a_finished_grading_still_count_in_order() {
    // The learner had finished; then breaks stage 2 (layout). Every stage
    // runs in one batch (the last grading passed them all), but the stages
    // after the failing one count as not run, as in order.
    let tree = Tree::completed(EXERCISE);
    let (finished, _) = grade_in(&tree);
    assert!(
        finished["stages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["passed"] == true),
        "{finished:#}"
    );
    tree.insert(
        EXERCISE,
        "layout.rs",
        "pub fn repr_c_layout(",
        "if fields.len() > 1 { return None; }",
    );
    let (at_once, stderr) = grade_in(&tree);
    assert!(
        stderr.contains("oslings timing: bump-allocator all-stages "),
        "every stage ran in one batch:\n{stderr}"
    );
    for stage in ["arena", "edges", "global", "chunked"] {
        assert!(
            stage_outcomes(&at_once, stage)
                .iter()
                .all(|o| o == "not_run"),
            "{stage} ran in the batch, but stage 2 fails: it counts as not run\n{at_once:#}"
        );
    }
    let results = tree
        .path()
        .join("target/oslings/grade/exercises/results-bump-allocator.json");
    std::fs::remove_file(&results).expect("the last results were saved");
    let (in_order, _) = grade_in(&tree);
    assert_eq!(outcomes(&at_once), outcomes(&in_order));
    assert_eq!(at_once["stages"], in_order["stages"]);
}
