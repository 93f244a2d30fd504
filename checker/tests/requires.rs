//! Engine tests, on the fixture course (`tests/fixture-course/`): a stage
//! whose tests need a program this machine lacks (the tally's `sum` stage
//! `requires` `sh`; `OSLINGS_PRETEND_MISSING` makes it missing) is
//! reported as needing it — not run, not failing — and every other stage,
//! the benchmark included, is graded as usual. Plus one course test: the
//! rate limiter's distributed stage declares that it needs `redis-server`.

mod common;

use common::fixture::{Course, EXERCISE};
use std::path::Path;

#[test]
fn without_the_program_a_stage_needs_it_says_so_and_the_rest_is_graded() {
    let course = Course::pristine();
    let missing = [("OSLINGS_PRETEND_MISSING", Path::new("sh"))];
    let args = [EXERCISE, "--against", "solutions"];
    let json = course.run_with(&[&args[..], &["--format", "json"]].concat(), &missing);
    let report = json.json();
    let exercise = &report["exercises"][0];
    let stages = exercise["stages"].as_array().unwrap();
    let needy = stages
        .iter()
        .find(|s| s["name"] == "sum")
        .expect("the tally has a sum stage");
    assert_eq!(needy["needs"], serde_json::json!(["sh"]));
    assert_eq!(needy["passed"], false);
    for stage in stages.iter().filter(|s| s["name"] != "sum") {
        assert_eq!(stage["passed"], true, "{stage:#}");
    }
    for test in exercise["tests"].as_array().unwrap() {
        if test["stage"] == "sum" {
            assert_eq!(test["outcome"], "not_run", "{test:#}");
        }
    }
    assert_eq!(
        exercise["performance"]["status"], "measured",
        "the stage that could not run does not hold back the benchmark"
    );
    let points = needy["max_score"].as_u64().unwrap();
    assert_eq!(
        exercise["score"].as_u64().unwrap() + points,
        exercise["max_score"].as_u64().unwrap()
    );

    let text = course.run_with(&args, &missing);
    let joined = text.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        joined.contains("stage 3 (sum) needs sh (not installed): `sudo apt-get install sh`"),
        "{}",
        text.stdout
    );
    assert!(
        joined.contains("Next: tally stage 3 — Summing needs sh"),
        "the next step is to install it:\n{}",
        text.stdout
    );
    assert!(
        !text.stdout.contains("Hint (stage 3"),
        "no hint for a stage that is not failing:\n{}",
        text.stdout
    );
}

/// Course test: the real stage that starts a program says so, so that a
/// machine without it is told what to install (the behaviour itself is
/// tested above, on the fixture).
#[test]
fn the_rate_limiters_distributed_stage_requires_redis_server() {
    let course =
        checker::course::manifest::load_course(&common::repo().join("checker/hidden")).unwrap();
    let limiter = course
        .iter()
        .find(|e| e.name == "rate-limiter")
        .expect("the course has a rate limiter");
    let distributed = limiter
        .stages
        .iter()
        .find(|s| s.id == "distributed")
        .expect("the rate limiter has a distributed stage");
    assert_eq!(distributed.requires, ["redis-server"]);
}
