//! Course tests: the real checker binary on the real course as shipped —
//! the pristine exercises (their JSON report and summary pinned as insta
//! snapshots, which list every exercise and stage), the reference
//! solutions, and a finished bump allocator and thread pool (the solution's
//! code in the exercise crate). They grade every hidden test of the course,
//! so they change when an exercise does, and take minutes. How the engine
//! grades broken code is tested on the fixture course, in `outcomes.rs`.

mod common;

use common::{Tree, checker, outcomes, repo, tests_of};
use serde_json::Value;
use std::time::Duration;

const BUILD_LIMIT: Duration = Duration::from_secs(600);
const EXERCISE: &str = "bump-allocator";

/// Held by the tests that measure speed and by the tests that keep CPUs
/// busy on purpose (spinning, forking hundreds of processes), so that the
/// second kind never runs beside the first: on a two-core machine a spinning
/// neighbour can make one of two identical pools look many times slower.
static CPU_BOUND: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn cpu_bound() -> std::sync::MutexGuard<'static, ()> {
    CPU_BOUND.lock().unwrap_or_else(|e| e.into_inner())
}

fn exercise(report: &Value) -> &Value {
    report["exercises"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == EXERCISE)
        .expect("the bump allocator is graded")
}

/// Every stage after the first is reported as not run.
fn later_stages_not_run(ex: &Value) {
    for stage in ex["stages"].as_array().unwrap().iter().skip(1) {
        let name = stage["name"].as_str().unwrap();
        assert!(
            outcomes(ex, name).iter().all(|o| o == "not_run"),
            "stage {name} ran although stage 1 fails: {:?}",
            outcomes(ex, name)
        );
        assert_eq!(stage["passed"], false);
    }
}

#[test]
fn pristine_exercises_score_zero_and_say_what_to_do_next() {
    common::bless_snapshots();
    let run = checker(&["--format", "json"], BUILD_LIMIT);
    assert_eq!(
        run.code,
        Some(1),
        "not everything passes: exit status 1\n{run:?}"
    );
    let report = run.json();
    assert_eq!(report["schema_version"], 1);
    assert_eq!(report["score"], 0);
    let ex = exercise(&report);
    assert!(
        ex["compile_error"].is_null(),
        "the stub must compile: {}",
        ex["compile_error"]
    );
    let first = ex["stages"][0]["name"].as_str().unwrap();
    let tests = tests_of(ex, first);
    assert!(!tests.is_empty());
    for test in tests {
        assert_eq!(test["outcome"], "failed", "{test}");
        assert!(
            test["message"].as_str().unwrap().contains("todo!()"),
            "{test}"
        );
        assert!(test["rerun"].as_str().unwrap().contains("--test"), "{test}");
    }
    later_stages_not_run(ex);
    assert_eq!(ex["performance"]["status"], "not_run");
    // The JSON report's shape is a contract (schema version 1): pin it.
    insta::with_settings!({filters => vec![
        (r#""duration_ms": \d+"#, r#""duration_ms": "[MS]""#),
        (r#""crate_dir": "[^"]*""#, r#""crate_dir": "[DIR]""#),
        (r#""checker_version": "[^"]*""#, r#""checker_version": "[VERSION]""#),
        (r"exercises/bump-allocator/src/align.rs:\d+:\d+", "exercises/bump-allocator/src/align.rs:[LINE]"),
    ]}, {
        insta::assert_snapshot!("pristine_json", run.stdout);
    });

    let text = checker(&[], BUILD_LIMIT);
    assert_eq!(text.code, Some(1));
    assert!(
        text.stdout.contains("Next: bump-allocator stage 1"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout
            .contains("cargo run -p checker -- bump-allocator"),
        "{}",
        text.stdout
    );
    // The first line names the checkout graded, a path of this machine.
    let root = repo().display().to_string();
    insta::with_settings!({filters => vec![
        (regex_escape(&root).as_str(), "[COURSE]"),
        (r"\d\d:\d\d:\d\d UTC", "[TIME]"),
    ]}, {
        insta::assert_snapshot!("pristine_summary", text.stdout);
    });
}

#[test]
fn reference_solutions_score_everything_with_a_measured_ratio() {
    let _cpu = cpu_bound();
    let run = checker(&["--against", "solutions", "--format", "json"], BUILD_LIMIT);
    let report = run.json();
    assert_eq!(
        run.code,
        Some(0),
        "the solutions must pass everything: {report:#}"
    );
    assert_eq!(report["passed"], true);
    assert_eq!(report["score"], report["max_score"]);
    let ex = exercise(&report);
    for test in ex["tests"].as_array().unwrap() {
        assert_eq!(test["outcome"], "passed", "{test}");
    }
    let perf = &ex["performance"];
    assert_eq!(perf["status"], "measured", "{perf}");
    let ratio = perf["ratio_to_reference"].as_f64().unwrap();
    assert!(ratio > 0.0, "{perf}");
    assert!(
        perf["reference_to_baselines"]["bumpalo"].as_f64().is_some(),
        "{perf}"
    );
}

#[test]
fn a_finished_bump_allocator_passes_every_stage_and_is_never_modified() {
    finished_exercise_passes_every_stage(EXERCISE);
}

#[test]
fn a_finished_thread_pool_passes_every_stage_and_is_never_modified() {
    finished_exercise_passes_every_stage("thread-pool");
}

/// A learner who has finished `name` (the solution's code in the exercise
/// crate) passes every stage, the visible tests pass, and the checker writes
/// nothing into their tree.
fn finished_exercise_passes_every_stage(name: &str) {
    let _cpu = cpu_bound();
    let tree = Tree::completed(name);
    let before = snapshot_files(tree.path());
    let dir = tree.path().to_str().unwrap();
    let run = checker(
        &["--exercises-from", dir, name, "--format", "json"],
        BUILD_LIMIT,
    );
    let report = run.json();
    let ex = report["exercises"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap();
    for stage in ex["stages"].as_array().unwrap() {
        assert_eq!(stage["passed"], true, "{stage}\n{report:#}");
    }
    // Two copies of the same code, measured side by side, must not differ
    // enough to lose more than half the performance points, even on a
    // loaded machine.
    let perf = &ex["performance"];
    assert_eq!(perf["status"], "measured", "{perf}");
    assert!(
        perf["score"].as_u64().unwrap() * 2 >= perf["max_score"].as_u64().unwrap(),
        "{perf}"
    );
    assert!(matches!(run.code, Some(0 | 1)), "{run:?}");
    assert_eq!(
        before,
        snapshot_files(tree.path()),
        "the checker modified the learner's tree"
    );

    // The visible tests pass too once the exercise is done.
    let status = std::process::Command::new(env!("CARGO"))
        .args(["test", "-q", "-p", name, "--manifest-path"])
        .arg(tree.path().join("Cargo.toml"))
        .env(
            "CARGO_TARGET_DIR",
            repo().join("target/oslings/fixture-build"),
        )
        .status()
        .unwrap();
    assert!(
        status.success(),
        "the visible tests of {name} fail on the finished exercise"
    );
}

fn snapshot_files(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push((
                    path.display().to_string(),
                    std::fs::read(&path).unwrap_or_default(),
                ));
            }
        }
    }
    files.sort();
    files
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '/' || c == '-' || c == '_' {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}
