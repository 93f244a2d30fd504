//! Engine tests, on the fixture course (`tests/fixture-course/`, see
//! `common/fixture.rs`): the real checker binary on a learner's tree
//! broken in each way a learner's code can break (a compile error, a wrong
//! answer, a loop, a deadlock, a crash, a leaked or forked process, a stack
//! overflow), the detailed report, one exercise that does not compile
//! beside one that does, the exit statuses and the errors for bad input.
//! Each must get the right outcome, in bounded time, leaving nothing
//! running. The real course's gradings are in `grading.rs`.

mod common;

use common::fixture::{Course, EXERCISE, LIMIT};
use common::{Run, checker, outcomes, processes_matching, tests_of};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

/// Held by the tests that keep CPUs busy on purpose (spinning, forking
/// hundreds of processes), so that two of them never run side by side on a
/// two-core machine.
static CPU_BOUND: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn cpu_bound() -> std::sync::MutexGuard<'static, ()> {
    CPU_BOUND.lock().unwrap_or_else(|e| e.into_inner())
}

fn exercise<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["exercises"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("{name} is graded: {report:#}"))
}

/// Grades `fork` as a learner's fork (`--exercises-from`) with a course of
/// its own and one-second test time limits.
fn grade_fork(fork: &Course) -> (Run, Value) {
    grade_fork_within(fork, 1)
}

/// [`grade_fork`] with a per-test time limit of `timeout_secs`.
fn grade_fork_within(fork: &Course, timeout_secs: u32) -> (Run, Value) {
    let course = Course::pristine();
    let dir = fork.path().to_str().unwrap();
    let timeout = timeout_secs.to_string();
    let run = course.run(&[
        "--exercises-from",
        dir,
        EXERCISE,
        "--format",
        "json",
        "--timeout",
        &timeout,
    ]);
    let report = run.json();
    (run, report)
}

/// Grades a finished tally whose `add` starts with `code`, as a fork.
fn grade_planted(code: &str) -> Value {
    grade_fork(&Course::planted(code)).1
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
fn the_pristine_fixture_fails_its_first_stage_and_the_finished_one_passes() {
    let run = Course::pristine().run(&["--format", "json"]);
    assert_eq!(run.code, Some(1), "not everything passes\n{run:?}");
    let report = run.json();
    let ex = exercise(&report, EXERCISE);
    for test in tests_of(ex, "add") {
        assert_eq!(test["outcome"], "failed", "{test}");
        assert!(
            test["message"].as_str().unwrap().contains("todo!()"),
            "{test}"
        );
    }
    later_stages_not_run(ex);
    assert_eq!(report["score"], 0);

    let run = Course::finished().run(&["--format", "json"]);
    assert_eq!(
        run.code,
        Some(0),
        "everything passes: exit status 0\n{run:?}"
    );
    let report = run.json();
    assert_eq!(report["score"], report["max_score"], "{report:#}");
    assert_eq!(
        exercise(&report, EXERCISE)["performance"]["status"],
        "measured"
    );
}

#[test]
fn a_compile_error_is_reported_with_the_compilers_message() {
    let fork = Course::planted("let _oops: u32 = \"not a number\";");
    let (run, report) = grade_fork(&fork);
    assert_eq!(run.code, Some(1));
    let ex = exercise(&report, EXERCISE);
    let error = &ex["compile_error"];
    assert_eq!(error["in_graded_crate"], true, "{error}");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("mismatched types"), "{message}");
    assert!(message.contains("exercises/tally/src/add.rs"), "{message}");
    assert!(
        !message.contains(fork.path().to_str().unwrap()),
        "paths are shown relative: {message}"
    );
    let tests = ex["tests"].as_array().unwrap();
    assert!(!tests.is_empty(), "the tests are still listed");
    assert!(tests.iter().all(|t| t["outcome"] == "compile_error"));
}

#[test]
fn a_wrong_answer_fails_with_the_assertion() {
    let report = grade_planted("if a > 1 { return a + b + 1; }");
    let ex = exercise(&report, EXERCISE);
    let first = outcomes(ex, "add");
    assert!(first.iter().any(|o| o == "failed"), "{first:?}");
    let failed = tests_of(ex, "add")
        .into_iter()
        .find(|t| t["outcome"] == "failed")
        .unwrap();
    assert!(
        failed["message"]
            .as_str()
            .unwrap()
            .contains("add(2, 3) returned 6"),
        "{failed}"
    );
    later_stages_not_run(ex);
    assert_eq!(ex["score"], 0);
}

#[test]
fn an_infinite_loop_times_out_and_is_called_a_loop() {
    let _cpu = cpu_bound();
    let fork = Course::planted("loop { std::hint::spin_loop(); }");
    let (run, report) = grade_fork(&fork);
    let ex = exercise(&report, EXERCISE);
    let outcomes = outcomes(ex, "add");
    assert!(outcomes.iter().all(|o| o == "timed_out"), "{outcomes:?}");
    let message = tests_of(ex, "add")[0]["message"].as_str().unwrap();
    assert!(
        message.contains("still running — an infinite loop"),
        "{message}"
    );
    assert!(run.elapsed < Duration::from_secs(120), "{:?}", run.elapsed);
}

#[test]
fn a_deadlock_times_out() {
    let report = grade_planted(
        "{ static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(()); \
           let _first = LOCK.lock(); let _second = LOCK.lock(); }",
    );
    let ex = exercise(&report, EXERCISE);
    assert!(outcomes(ex, "add").iter().all(|o| o == "timed_out"));
    for test in tests_of(ex, "add") {
        let message = test["message"].as_str().unwrap();
        assert!(
            message.contains("were asleep") && message.contains("a deadlock"),
            "{message}"
        );
    }
}

#[test]
fn a_segfault_is_a_crash_named_by_its_signal() {
    let report = grade_planted(
        "#[allow(clippy::undocumented_unsafe_blocks)] \
         unsafe { std::ptr::null_mut::<u8>().write_volatile(1) };",
    );
    let test = tests_of(exercise(&report, EXERCISE), "add")[0];
    assert_eq!(test["outcome"], "crashed", "{test}");
    assert!(
        test["message"].as_str().unwrap().contains("SIGSEGV"),
        "{test}"
    );
}

#[test]
fn an_abort_is_a_crash_named_by_its_signal() {
    let report = grade_planted("std::process::abort();");
    let test = tests_of(exercise(&report, EXERCISE), "add")[0];
    assert_eq!(test["outcome"], "crashed", "{test}");
    assert!(
        test["message"].as_str().unwrap().contains("SIGABRT"),
        "{test}"
    );
}

#[test]
fn a_panic_fails_with_its_message() {
    let report = grade_planted("panic!(\"the fixture panics here\");");
    let test = tests_of(exercise(&report, EXERCISE), "add")[0];
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
fn a_stack_overflow_is_recognised() {
    let report = grade_planted(
        "fn deeper(n: u64) -> u64 { if n == u64::MAX { 0 } else { 1 + deeper(std::hint::black_box(n + 1)) } } \
         std::hint::black_box(deeper(std::hint::black_box(0)));",
    );
    let test = tests_of(exercise(&report, EXERCISE), "add")[0];
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
fn a_process_left_running_is_a_leak_and_is_killed() {
    const MARKER: &str = "31.4160";
    let report = grade_planted(&format!(
        "let _ = std::process::Command::new(\"sleep\").arg(\"{MARKER}\").spawn();"
    ));
    let test = tests_of(exercise(&report, EXERCISE), "add")[0];
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
    const GROUP: &str = "27.1829";
    const SESSION: &str = "16.1804";
    let report = grade_planted(&format!(
        "{{ use std::os::unix::process::CommandExt; \
           let _ = std::process::Command::new(\"sleep\").arg(\"{GROUP}\").process_group(0).spawn(); \
           let _ = std::process::Command::new(\"setsid\").args([\"sleep\", \"{SESSION}\"]).spawn(); \
           loop {{ std::hint::spin_loop(); }} }}"
    ));
    let outcomes = outcomes(exercise(&report, EXERCISE), "add");
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
    const MARKER: &str = "14.1422";
    let fork = Course::planted(&format!(
        "{{ let mut children = Vec::new(); \
           for i in 0..2000 {{ \
               match std::process::Command::new(\"sleep\").arg(\"{MARKER}\").spawn() {{ \
                   Ok(child) => children.push(child), \
                   Err(err) => panic!(\"spawn number {{i}} failed: {{err}}\"), \
               }} \
           }} }}"
    ));
    // Generous: under load, reaching the cap of 512 took more than the 1 s
    // the other cases get (it timed out with 286 children started).
    let (_, report) = grade_fork_within(&fork, 30);
    let test = tests_of(exercise(&report, EXERCISE), "add")[0];
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
fn killing_the_checker_mid_test_leaves_nothing_running() {
    let course = Course::pristine();
    let fork = Course::planted("loop { std::hint::spin_loop(); }");
    let env = course.env();
    let env: Vec<(&str, &Path)> = env.iter().map(|(k, v)| (*k, v.as_path())).collect();
    common::kill_checker_mid_test(
        &[
            "--exercises-from",
            fork.path().to_str().unwrap(),
            EXERCISE,
            "--timeout",
            "60",
        ],
        &env,
        LIMIT,
    );
}

#[test]
fn one_exercise_that_does_not_compile_does_not_stop_the_others() {
    let course = Course::pristine();
    let twin = course.add_twin();
    common::insert_into(
        &course
            .path()
            .join("exercises")
            .join(&twin)
            .join("src/add.rs"),
        "pub fn add(",
        "let _oops: u32 = \"not a number\";",
    );
    let run = course.run(&["--format", "json"]);
    assert_eq!(run.code, Some(1));
    let report = run.json();
    let broken = exercise(&report, &twin);
    assert!(
        broken["compile_error"]["message"]
            .as_str()
            .unwrap()
            .contains("mismatched types"),
        "{broken}"
    );
    let healthy = exercise(&report, EXERCISE);
    assert!(healthy["compile_error"].is_null(), "{healthy}");
    assert!(outcomes(healthy, "add").iter().all(|o| o == "failed"));
}

#[test]
fn the_detailed_report_shows_the_assertion_the_hint_and_the_rerun_command() {
    common::bless_snapshots();
    let course = Course::pristine();
    let fork = Course::planted("if a > 1 { return a + b + 1; }");
    let dir = fork.path().to_str().unwrap();
    let run = course.run(&["--exercises-from", dir, EXERCISE, "--timeout", "2"]);
    assert_eq!(run.code, Some(1));
    let text = &run.stdout;
    assert!(
        text.contains("rerun alone: cargo run -p checker -- tally --test add::"),
        "{text}"
    );
    assert!(text.contains("Hint (stage 1, 1 of"), "{text}");
    assert!(text.contains("Read book/tally.md#stage-1-adding"), "{text}");
    let root = course.path().display().to_string();
    insta::with_settings!({filters => vec![
        (regex_escape(dir).as_str(), "[TREE]"),
        (regex_escape(&root).as_str(), "[COURSE]"),
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
fn an_unknown_exercise_suggests_the_closest_name() {
    let run = Course::pristine().run(&["taly"]);
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr.contains("Did you mean `tally`?"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
}

#[test]
fn a_missing_tree_is_a_clear_error() {
    let run = Course::pristine().run(&["--exercises-from", "/nonexistent/oslings"]);
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("no such directory"), "{}", run.stderr);
}

#[test]
fn a_directory_that_is_not_a_checkout_is_a_clear_error() {
    let empty = tempfile::tempdir().unwrap();
    let run = Course::pristine().run(&["--exercises-from", empty.path().to_str().unwrap()]);
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr
            .contains("does not look like an oslings checkout"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("exercises/tally/Cargo.toml"),
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

/// The checker's own command line, with no course involved.
#[test]
fn a_bad_flag_is_a_usage_error() {
    let run = checker(&["--no-such-flag"], Duration::from_secs(30));
    assert_eq!(run.code, Some(2), "{run:?}");
}
