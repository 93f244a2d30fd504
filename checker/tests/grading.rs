//! The real checker binary on whole learner trees: the pristine exercises,
//! the reference solutions, a finished exercise, and trees broken in each way
//! a learner's code can break. Each must get the right outcome, in bounded
//! time, leaving nothing running.

mod common;

use common::{Tree, checker, checker_with_env, processes_matching, repo};
use serde_json::Value;
use std::time::Duration;

const BUILD_LIMIT: Duration = Duration::from_secs(600);
const EXERCISE: &str = "bump-allocator";
const ALIGN_UP: &str = "pub fn align_up(";

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

fn tests_of<'a>(ex: &'a Value, stage: &str) -> Vec<&'a Value> {
    ex["tests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["stage"] == stage)
        .collect()
}

fn outcomes(ex: &Value, stage: &str) -> Vec<String> {
    tests_of(ex, stage)
        .iter()
        .map(|t| t["outcome"].as_str().unwrap().to_string())
        .collect()
}

/// Grades `tree` as a learner's fork, with one-second test time limits.
fn grade_tree(tree: &Tree) -> (common::Run, Value) {
    grade_tree_within(tree, 1)
}

/// [`grade_tree`] with a per-test time limit of `timeout_secs`.
fn grade_tree_within(tree: &Tree, timeout_secs: u32) -> (common::Run, Value) {
    let dir = tree.path().to_str().unwrap();
    let timeout = timeout_secs.to_string();
    let run = checker(
        &[
            "--exercises-from",
            dir,
            EXERCISE,
            "--format",
            "json",
            "--timeout",
            &timeout,
        ],
        BUILD_LIMIT,
    );
    let report = run.json();
    (run, report)
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

#[test]
fn a_compile_error_is_reported_with_the_compilers_message() {
    let tree = Tree::mutated(
        EXERCISE,
        "align.rs",
        ALIGN_UP,
        "let _oops: u32 = \"not a number\";",
    );
    let (run, report) = grade_tree(&tree);
    assert_eq!(run.code, Some(1));
    let ex = exercise(&report);
    let error = &ex["compile_error"];
    assert_eq!(error["in_graded_crate"], true, "{error}");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("mismatched types"), "{message}");
    assert!(
        message.contains("exercises/bump-allocator/src/align.rs"),
        "{message}"
    );
    assert!(
        !message.contains(tree.path().to_str().unwrap()),
        "paths are shown relative: {message}"
    );
    let tests = ex["tests"].as_array().unwrap();
    assert!(!tests.is_empty(), "the tests are still listed");
    assert!(tests.iter().all(|t| t["outcome"] == "compile_error"));
}

#[test]
fn a_wrong_answer_fails_with_the_assertion() {
    let tree = Tree::mutated(
        EXERCISE,
        "align.rs",
        ALIGN_UP,
        "if align > 1 { return Ok(addr | 1); }",
    );
    let (_, report) = grade_tree(&tree);
    let ex = exercise(&report);
    let first = outcomes(ex, "align");
    assert!(first.iter().any(|o| o == "failed"), "{first:?}");
    let failed = tests_of(ex, "align")
        .into_iter()
        .find(|t| t["outcome"] == "failed")
        .unwrap();
    assert!(
        failed["message"].as_str().unwrap().contains("align_up"),
        "{failed}"
    );
    later_stages_not_run(ex);
    assert_eq!(ex["score"], 0);
}

#[test]
fn an_infinite_loop_times_out_and_is_called_a_loop() {
    let _cpu = cpu_bound();
    let tree = Tree::mutated(
        EXERCISE,
        "align.rs",
        ALIGN_UP,
        "loop { std::hint::spin_loop(); }",
    );
    let (run, report) = grade_tree(&tree);
    let ex = exercise(&report);
    let outcomes = outcomes(ex, "align");
    assert!(outcomes.iter().all(|o| o == "timed_out"), "{outcomes:?}");
    let message = tests_of(ex, "align")[0]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.contains("still running — an infinite loop"),
        "{message}"
    );
    assert!(run.elapsed < Duration::from_secs(300));
}

#[test]
fn a_deadlock_times_out() {
    let tree = Tree::mutated(
        EXERCISE,
        "align.rs",
        ALIGN_UP,
        "{ static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(()); \
           let _first = LOCK.lock(); let _second = LOCK.lock(); }",
    );
    let (_, report) = grade_tree(&tree);
    let ex = exercise(&report);
    assert!(outcomes(ex, "align").iter().all(|o| o == "timed_out"));
    for test in tests_of(ex, "align") {
        let message = test["message"].as_str().unwrap();
        assert!(
            message.contains("were asleep") && message.contains("a deadlock"),
            "{message}"
        );
    }
}

#[test]
fn a_segfault_is_a_crash_named_by_its_signal() {
    let tree = Tree::mutated(
        EXERCISE,
        "align.rs",
        ALIGN_UP,
        "#[allow(clippy::undocumented_unsafe_blocks)] \
         unsafe { std::ptr::null_mut::<u8>().write_volatile(1) };",
    );
    let (_, report) = grade_tree(&tree);
    let ex = exercise(&report);
    let test = tests_of(ex, "align")[0];
    assert_eq!(test["outcome"], "crashed", "{test}");
    assert!(
        test["message"].as_str().unwrap().contains("SIGSEGV"),
        "{test}"
    );
}

#[test]
fn an_abort_is_a_crash_named_by_its_signal() {
    let tree = Tree::mutated(EXERCISE, "align.rs", ALIGN_UP, "std::process::abort();");
    let (_, report) = grade_tree(&tree);
    let ex = exercise(&report);
    let test = tests_of(ex, "align")[0];
    assert_eq!(test["outcome"], "crashed", "{test}");
    assert!(
        test["message"].as_str().unwrap().contains("SIGABRT"),
        "{test}"
    );
}

#[test]
fn a_panic_fails_with_its_message() {
    let tree = Tree::mutated(
        EXERCISE,
        "align.rs",
        ALIGN_UP,
        "panic!(\"the fixture panics here\");",
    );
    let (_, report) = grade_tree(&tree);
    let ex = exercise(&report);
    let test = tests_of(ex, "align")[0];
    assert_eq!(test["outcome"], "failed", "{test}");
    assert!(
        test["message"]
            .as_str()
            .unwrap()
            .contains("the fixture panics here"),
        "{test}"
    );
}

#[test]
fn a_process_left_running_is_a_leak_and_is_killed() {
    const MARKER: &str = "31.4159";
    let tree = Tree::mutated(
        EXERCISE,
        "align.rs",
        ALIGN_UP,
        &format!("let _ = std::process::Command::new(\"sleep\").arg(\"{MARKER}\").spawn();"),
    );
    let (_, report) = grade_tree(&tree);
    let ex = exercise(&report);
    let test = tests_of(ex, "align")[0];
    assert_eq!(test["outcome"], "leaked", "{test}");
    let message = test["message"].as_str().unwrap();
    assert!(
        message.contains("process") && message.contains("running"),
        "{test}"
    );
    let left = processes_matching(&format!("sleep {MARKER}"));
    assert!(
        left.is_empty(),
        "the leaked process is still running: {left:?}"
    );
}

#[test]
fn a_timed_out_test_leaves_nothing_even_outside_its_process_group() {
    let _cpu = cpu_bound();
    // What a shell does to its jobs: one child in a process group of its
    // own, one in a session of its own (`setsid`), then the test hangs.
    // Killing the test's process group reaches neither; the supervisor,
    // a subreaper, must find and kill both.
    const GROUP: &str = "27.1828";
    const SESSION: &str = "16.1803";
    let tree = Tree::mutated(
        EXERCISE,
        "align.rs",
        ALIGN_UP,
        &format!(
            "{{ use std::os::unix::process::CommandExt; \
               let _ = std::process::Command::new(\"sleep\").arg(\"{GROUP}\").process_group(0).spawn(); \
               let _ = std::process::Command::new(\"setsid\").args([\"sleep\", \"{SESSION}\"]).spawn(); \
               loop {{ std::hint::spin_loop(); }} }}"
        ),
    );
    let (_, report) = grade_tree(&tree);
    let ex = exercise(&report);
    let outcomes = outcomes(ex, "align");
    assert!(outcomes.iter().all(|o| o == "timed_out"), "{outcomes:?}");
    for marker in [GROUP, SESSION] {
        let left = processes_matching(&format!("sleep {marker}"));
        assert!(
            left.is_empty(),
            "a process started by the timed-out test is still running: {left:?}"
        );
    }
}

#[test]
fn a_fork_bomb_is_capped_diagnosed_and_cleaned_up() {
    let _cpu = cpu_bound();
    // Bounded so that it cannot hurt a machine where no cap can be set:
    // 2,000 sleeping children at most, started as fast as possible.
    const MARKER: &str = "14.1421";
    let tree = Tree::mutated(
        EXERCISE,
        "align.rs",
        ALIGN_UP,
        &format!(
            "{{ let mut children = Vec::new(); \
               for i in 0..2000 {{ \
                   match std::process::Command::new(\"sleep\").arg(\"{MARKER}\").spawn() {{ \
                       Ok(child) => children.push(child), \
                       Err(err) => panic!(\"spawn number {{i}} failed: {{err}}\"), \
                   }} \
               }} }}"
        ),
    );
    // Generous: under load, reaching the cap of 512 took more than the 1 s
    // the other cases get (it timed out with 286 children started).
    let (_, report) = grade_tree_within(&tree, 30);
    let ex = exercise(&report);
    let test = tests_of(ex, "align")[0];
    assert_ne!(test["outcome"], "passed", "{test}");
    if checker::exec::task_limit::TaskLimit::cgroup_available() {
        let message = test["message"].as_str().unwrap();
        assert!(
            message.contains("processes and threads at once") && message.contains("fork bomb"),
            "{test}"
        );
    } else {
        eprintln!("no pids cgroup here: only the clean-up is checked");
    }
    let left = processes_matching(&format!("sleep {MARKER}"));
    assert!(
        left.is_empty(),
        "children of the fork bomb survived: {} left",
        left.len()
    );
}

#[test]
fn an_unknown_exercise_suggests_the_closest_name() {
    let run = checker(&["bump-alocator"], Duration::from_secs(30));
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr.contains("Did you mean `bump-allocator`?"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
}

#[test]
fn a_missing_tree_is_a_clear_error() {
    let run = checker(
        &["--exercises-from", "/nonexistent/oslings"],
        Duration::from_secs(30),
    );
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("no such directory"), "{}", run.stderr);
}

#[test]
fn one_exercise_that_does_not_compile_does_not_stop_the_others() {
    let tree = Tree::pristine();
    let twin = tree.add_twin(EXERCISE);
    tree.insert(
        &twin,
        "align.rs",
        ALIGN_UP,
        "let _oops: u32 = \"not a number\";",
    );
    let target = repo().join("target/oslings/build");
    let run = checker_with_env(
        &["--format", "json"],
        &[
            ("OSLINGS_ROOT", tree.path()),
            ("OSLINGS_TARGET_DIR", &target),
        ],
        BUILD_LIMIT,
    );
    assert_eq!(run.code, Some(1));
    let report = run.json();
    let graded: Vec<&Value> = report["exercises"].as_array().unwrap().iter().collect();
    let broken = graded
        .iter()
        .find(|e| e["name"] == twin.as_str())
        .unwrap_or_else(|| panic!("the twin exercise is graded: {report:#}"));
    assert!(
        broken["compile_error"]["message"]
            .as_str()
            .unwrap()
            .contains("mismatched types")
    );
    let healthy = exercise(&report);
    assert!(healthy["compile_error"].is_null(), "{healthy}");
    assert!(outcomes(healthy, "align").iter().all(|o| o == "failed"));
}

#[test]
fn killing_the_checker_mid_test_leaves_nothing_running() {
    let tree = Tree::mutated(
        EXERCISE,
        "align.rs",
        ALIGN_UP,
        "loop { std::hint::spin_loop(); }",
    );
    common::kill_checker_mid_test(
        &[
            "--exercises-from",
            tree.path().to_str().unwrap(),
            EXERCISE,
            "--timeout",
            "60",
        ],
        &[],
        BUILD_LIMIT,
    );
}

#[test]
fn a_stack_overflow_is_recognised() {
    let tree = Tree::mutated(
        EXERCISE,
        "align.rs",
        ALIGN_UP,
        "fn deeper(n: u64) -> u64 { if n == u64::MAX { 0 } else { 1 + deeper(std::hint::black_box(n + 1)) } } \
         std::hint::black_box(deeper(std::hint::black_box(0)));",
    );
    let (_, report) = grade_tree(&tree);
    let ex = exercise(&report);
    let test = tests_of(ex, "align")[0];
    assert_eq!(test["outcome"], "crashed", "{test}");
    assert!(
        test["message"]
            .as_str()
            .unwrap()
            .starts_with("stack overflow"),
        "{test}"
    );
}

#[test]
fn the_detailed_report_shows_the_assertion_the_hint_and_the_rerun_command() {
    let tree = Tree::mutated(
        EXERCISE,
        "align.rs",
        ALIGN_UP,
        "if align > 1 { return Ok(addr | 1); }",
    );
    let dir = tree.path().to_str().unwrap();
    let run = checker(
        &["--exercises-from", dir, EXERCISE, "--timeout", "2"],
        BUILD_LIMIT,
    );
    assert_eq!(run.code, Some(1));
    let text = &run.stdout;
    assert!(
        text.contains("rerun alone: cargo run -p checker -- bump-allocator --test align::"),
        "{text}"
    );
    assert!(text.contains("Hint (stage 1, 1 of"), "{text}");
    assert!(
        text.contains("Read book/how-programs-get-memory.md#stage-1-alignment-arithmetic"),
        "{text}"
    );
    let root = repo().display().to_string();
    insta::with_settings!({filters => vec![
        (regex_escape(dir).as_str(), "[TREE]"),
        (regex_escape(&root).as_str(), "[COURSE]"),
        // Addresses of the test's buffers change from run to run; small
        // values (an offset, an aligned result) do not.
        (r"0x[0-9a-f]{6,}", "[ADDR]"),
        (r"seed \d+", "seed [SEED]"),
    ]}, {
        insta::assert_snapshot!("wrong_answer_details", text);
    });
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

#[test]
fn a_directory_that_is_not_a_checkout_is_a_clear_error() {
    let empty = tempfile::tempdir().unwrap();
    let run = checker(
        &["--exercises-from", empty.path().to_str().unwrap()],
        Duration::from_secs(30),
    );
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr
            .contains("does not look like an oslings checkout"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("exercises/bump-allocator/Cargo.toml"),
        "{}",
        run.stderr
    );
}

/// A benchmark runs without `RLIMIT_CPU`: while a process-wide CPU timer is
/// armed, the kernel reads a process's CPU clock only at scheduler ticks,
/// and the reference solution once measured 525 times its own time. Tests
/// keep the limit.
#[test]
fn benchmarks_run_without_a_cpu_time_limit_and_tests_with_one() {
    let cpu_limit_of = |cpu_limit: bool| {
        let dir = tempfile::tempdir().unwrap();
        let status = dir.path().join("status.json");
        let limits = serde_json::json!({
            "timeout": { "secs": 5, "nanos": 0 },
            "memory_bytes": 1u64 << 30,
            "file_bytes": 1u64 << 20,
            "open_files": 64,
            "tasks": 64,
            "cpu_limit": cpu_limit,
        });
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_checker"))
            .arg("__supervise")
            .arg("--status-file")
            .arg(&status)
            .arg("--limits")
            .arg(limits.to_string())
            .arg("--parent")
            .arg(std::process::id().to_string())
            .args(["--", "/bin/sh", "-c", "ulimit -t"])
            .output()
            .unwrap();
        assert!(status.is_file(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(cpu_limit_of(false), "unlimited");
    assert_eq!(
        cpu_limit_of(true),
        "12",
        "5 s tests get 2 × 5 + 2 s of CPU time"
    );
}
