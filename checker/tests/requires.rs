//! A stage whose tests need a program this machine lacks (the rate
//! limiter's distributed stage needs `redis-server`) is reported as needing
//! it — not run, not failing — and every other stage, the benchmark
//! included, is graded as usual.

mod common;

use common::checker_with_env;
use std::path::Path;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(900);

#[test]
fn without_redis_server_the_distributed_stage_says_so_and_the_rest_is_graded() {
    let missing = [("OSLINGS_PRETEND_MISSING", Path::new("redis-server"))];
    let args = ["rate-limiter", "--against", "solutions"];
    let json = checker_with_env(
        &[&args[..], &["--format", "json"]].concat(),
        &missing,
        LIMIT,
    );
    let report = json.json();
    let exercise = &report["exercises"][0];
    let stages = exercise["stages"].as_array().unwrap();
    let distributed = stages
        .iter()
        .find(|s| s["name"] == "distributed")
        .expect("the rate limiter has a distributed stage");
    assert_eq!(distributed["needs"], serde_json::json!(["redis-server"]));
    assert_eq!(distributed["passed"], false);
    for stage in stages.iter().filter(|s| s["name"] != "distributed") {
        assert_eq!(stage["passed"], true, "{stage:#}");
    }
    for test in exercise["tests"].as_array().unwrap() {
        if test["stage"] == "distributed" {
            assert_eq!(test["outcome"], "not_run", "{test:#}");
        }
    }
    assert_eq!(
        exercise["performance"]["status"], "measured",
        "the stage that could not run does not hold back the benchmark"
    );
    let points = distributed["max_score"].as_u64().unwrap();
    assert_eq!(
        exercise["score"].as_u64().unwrap() + points,
        exercise["max_score"].as_u64().unwrap()
    );

    let text = checker_with_env(&args, &missing, LIMIT);
    let joined = text.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        joined.contains(
            "stage 7 (distributed) needs redis-server (not installed): `sudo apt-get install \
             redis-server`"
        ),
        "{}",
        text.stdout
    );
    assert!(
        joined
            .contains("Next: rate-limiter stage 7 — One limit, many processes needs redis-server"),
        "the next step is to install it:\n{}",
        text.stdout
    );
    assert!(
        !text.stdout.contains("Hint (stage 7"),
        "no hint for a stage that is not failing:\n{}",
        text.stdout
    );
}
