//! Engine tests with no course at all: reports built in code.
//!
//! The report formats on a fixture report built in code (no grading, so
//! these run in milliseconds): JUnit XML parsed back with an XML parser,
//! Gradescope's `results.json`, GitHub Classroom's runner results and the
//! Markdown table, each checked for its structure and pinned to a file in
//! `tests/fixtures/` (`OSLINGS_BLESS=1` rewrites those files).

mod common;

use checker::course::pack::Visibility;
use checker::report;
use checker::report::model::{
    CompileErrorReport, ExerciseReport, Outcome, PerfStatus, PerformanceReport, Report,
    StageReport, TestReport,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// Text a test can print: markup, a CDATA end, an ANSI colour, NUL, a bell,
/// a replacement character, a table pipe and a second line.
const HOSTILE: &str = "assertion `left == right` failed: <Vec<&str>> & \"]]>\" \
                       \u{1b}[31mred\u{1b}[0m nul\u{0} bell\u{7} bad\u{FFFD} a|b\n  left: 1";

fn test(name: &str, stage: &str, outcome: Outcome, message: &str) -> TestReport {
    TestReport {
        name: name.to_string(),
        stage: stage.to_string(),
        outcome,
        message: message.to_string(),
        duration_ms: match outcome {
            Outcome::NotRun | Outcome::CompileError => None,
            _ => Some(250),
        },
        rerun: format!("cargo run -p checker -- ex --test {name}"),
        pack: None,
        visibility: Visibility::Visible,
    }
}

fn stage(
    name: &str,
    number: usize,
    passed: bool,
    points: u32,
    tests: (usize, usize),
) -> StageReport {
    StageReport {
        name: name.to_string(),
        title: format!("The {name} stage"),
        number,
        passed,
        score: if passed { points } else { 0 },
        max_score: points,
        tests_passed: tests.0,
        tests_total: tests.1,
        section: format!("chapter.md#{name}"),
        needs: Vec::new(),
    }
}

fn performance(
    status: PerfStatus,
    score: u32,
    ratio: Option<f64>,
    message: &str,
) -> PerformanceReport {
    PerformanceReport {
        status,
        score,
        max_score: 10,
        ratio_to_reference: ratio,
        ratio_interval: ratio.map(|r| [r * 0.95, r * 1.05]),
        ratio_to_baselines: BTreeMap::new(),
        reference_to_baselines: BTreeMap::new(),
        workload_ratios: Vec::new(),
        workloads: Vec::new(),
        message: message.to_string(),
        measured_at: ratio.map(|_| "2026-12-07T01:02:03Z".to_string()),
        reused: false,
    }
}

/// Three exercises: one part-way (every way a test can end), one that does
/// not compile, one complete but slow.
fn fixture() -> Report {
    let partial = ExerciseReport {
        name: "bump-allocator".to_string(),
        title: "Bump allocator".to_string(),
        score: 10,
        max_score: 45,
        crate_dir: "/students/ada/exercises/bump-allocator".to_string(),
        compile_error: None,
        stages: vec![
            stage("align", 1, true, 10, (2, 2)),
            stage("layout", 2, false, 10, (1, 5)),
            stage("arena", 3, false, 15, (0, 2)),
        ],
        tests: vec![
            test("align::rounds_up", "align", Outcome::Passed, ""),
            test("align::rounds_down", "align", Outcome::Passed, ""),
            test("layout::packs_fields", "layout", Outcome::Failed, HOSTILE),
            test("layout::pads_the_end", "layout", Outcome::Passed, ""),
            test(
                "layout::huge_struct",
                "layout",
                Outcome::TimedOut,
                "timed out after 1 s: a deadlock or an infinite loop?",
            ),
            test(
                "layout::zero_sized",
                "layout",
                Outcome::Crashed,
                "crashed: SIGSEGV (invalid memory access)",
            ),
            test(
                "layout::spawns",
                "layout",
                Outcome::Leaked,
                "passed, but left 1 process running",
            ),
            test("arena::fits", "arena", Outcome::NotRun, ""),
            test("arena::exact_fit", "arena", Outcome::NotRun, ""),
        ],
        performance: Some(performance(
            PerfStatus::NotRun,
            0,
            None,
            "measured once every correctness stage passes",
        )),
        reused_from: None,
    };
    let broken = ExerciseReport {
        name: "thread-pool".to_string(),
        title: "Thread pool".to_string(),
        score: 0,
        max_score: 30,
        crate_dir: "/students/ada/exercises/thread-pool".to_string(),
        compile_error: Some(CompileErrorReport {
            in_graded_crate: true,
            missing: false,
            message: "error[E0308]: mismatched types\n --> src/lib.rs:3:5 <T>".to_string(),
        }),
        stages: vec![stage("workers", 1, false, 20, (0, 2))],
        tests: vec![
            test("workers::runs", "workers", Outcome::CompileError, ""),
            test("workers::joins", "workers", Outcome::CompileError, ""),
        ],
        performance: Some(performance(
            PerfStatus::NotRun,
            0,
            None,
            "the crate does not compile",
        )),
        reused_from: None,
    };
    let slow = ExerciseReport {
        name: "rate-limiter".to_string(),
        title: "Rate limiter".to_string(),
        score: 25,
        max_score: 30,
        crate_dir: "/students/ada/exercises/rate-limiter".to_string(),
        compile_error: None,
        stages: vec![stage("bucket", 1, true, 20, (1, 1))],
        tests: vec![test("bucket::refills", "bucket", Outcome::Passed, "")],
        performance: Some(performance(
            PerfStatus::Measured,
            5,
            Some(2.25),
            "2.25× the reference's time: half the points",
        )),
        reused_from: None,
    };
    Report {
        schema_version: checker::report::model::SCHEMA_VERSION,
        checker_version: "0.1.0".to_string(),
        graded: "/students/ada".to_string(),
        packs: Vec::new(),
        score: 35,
        max_score: 105,
        passed: false,
        exercises: vec![partial, broken, slow],
        refused: Vec::new(),
        course_root: None,
    }
}

/// Compares `actual` with `tests/fixtures/<name>`, or writes it there when
/// `OSLINGS_BLESS` is set.
fn pinned(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    if common::blessing() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let bless = common::bless_command("formats");
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {} ({e}); write it with {bless}",
            path.display()
        )
    });
    assert!(
        actual == expected,
        "the {name} report changed shape. If that is intended, review the diff after \
         `{bless}`.\n--- actual ---\n{actual}"
    );
}

fn attr<'a>(node: roxmltree::Node<'a, '_>, name: &str) -> &'a str {
    node.attribute(name)
        .unwrap_or_else(|| panic!("<{}> has no {name}", node.tag_name().name()))
}

fn count(node: roxmltree::Node<'_, '_>, name: &str) -> usize {
    attr(node, name).parse().unwrap()
}

fn elements<'a, 'input>(
    node: roxmltree::Node<'a, 'input>,
    name: &'static str,
) -> impl Iterator<Item = roxmltree::Node<'a, 'input>> {
    node.children()
        .filter(move |c| c.is_element() && c.tag_name().name() == name)
}

/// The one `<failure>`, `<error>` or `<skipped>` of a testcase, if any.
fn verdict<'a, 'input>(case: roxmltree::Node<'a, 'input>) -> Option<roxmltree::Node<'a, 'input>> {
    let mut found = case.children().filter(|c| c.is_element());
    let first = found.next();
    assert!(found.next().is_none(), "a testcase has one verdict at most");
    first
}

#[test]
fn junit_is_valid_xml_with_one_testcase_per_hidden_test_and_right_counts() {
    let report = fixture();
    let xml = report::junit::render(&report);
    let doc =
        roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("invalid XML ({e}):\n{xml}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");

    let suites: Vec<_> = elements(root, "testsuite").collect();
    assert_eq!(
        suites.iter().map(|s| attr(*s, "name")).collect::<Vec<_>>(),
        ["bump-allocator", "thread-pool", "rate-limiter"]
    );
    let (mut tests, mut failures, mut errors, mut skipped) = (0, 0, 0, 0);
    for (suite, exercise) in suites.iter().zip(&report.exercises) {
        let cases: Vec<_> = elements(*suite, "testcase").collect();
        // Every hidden test, the performance stage, and a build case when
        // the crate does not compile.
        let expected = exercise.tests.len() + 1 + usize::from(exercise.compile_error.is_some());
        assert_eq!(cases.len(), expected, "{}", exercise.name);
        let kinds: Vec<&str> = cases
            .iter()
            .map(|c| verdict(*c).map_or("pass", |v| v.tag_name().name()))
            .collect();
        let of = |kind: &str| kinds.iter().filter(|k| **k == kind).count();
        assert_eq!(count(*suite, "tests"), cases.len());
        assert_eq!(
            count(*suite, "failures"),
            of("failure"),
            "{}",
            exercise.name
        );
        assert_eq!(count(*suite, "errors"), of("error"), "{}", exercise.name);
        assert_eq!(count(*suite, "skipped"), of("skipped"), "{}", exercise.name);
        tests += cases.len();
        failures += of("failure");
        errors += of("error");
        skipped += of("skipped");
        for (case, test) in cases
            .iter()
            .filter(|c| attr(**c, "name") != "compile")
            .zip(&exercise.tests)
        {
            assert_eq!(attr(*case, "name"), test.name);
            assert_eq!(
                attr(*case, "classname"),
                format!("{}.{}", exercise.name, test.stage)
            );
        }
        let properties: BTreeMap<&str, &str> = elements(*suite, "properties")
            .flat_map(|p| elements(p, "property"))
            .map(|p| (attr(p, "name"), attr(p, "value")))
            .collect();
        assert_eq!(properties["score"], exercise.score.to_string());
        assert_eq!(properties["max_score"], exercise.max_score.to_string());
    }
    assert_eq!(count(root, "tests"), tests);
    assert_eq!(count(root, "failures"), failures);
    assert_eq!(count(root, "errors"), errors);
    assert_eq!(count(root, "skipped"), skipped);
    // bump-allocator: failed + leaked; timed out + crashed; two not run + perf not run.
    // thread-pool: the build error; two tests and perf skipped.
    // rate-limiter: perf measured below full points.
    assert_eq!((tests, failures, errors, skipped), (16, 3, 3, 6));
    // Eight tests ran, for 250 ms each.
    assert_eq!(attr(root, "time"), "2.000");

    let case = |suite: usize, name: &str| {
        elements(suites[suite], "testcase")
            .find(|c| attr(*c, "name") == name)
            .unwrap_or_else(|| panic!("no testcase {name}"))
    };
    let failure = verdict(case(0, "layout::packs_fields")).unwrap();
    assert_eq!(failure.tag_name().name(), "failure");
    assert_eq!(attr(failure, "type"), "failed");
    let text = failure.text().unwrap();
    // Markup and the CDATA end survive as text; what XML cannot carry is
    // spelled out; the rest of the message and the rerun command are there.
    for expected in [
        "<Vec<&str>> & \"]]>\"",
        "\\u{1b}[31mred\\u{1b}[0m",
        "nul\\u{0}",
        "bell\\u{7}",
        "bad\u{FFFD}",
        "left: 1",
        "Rerun it alone: cargo run -p checker -- ex --test layout::packs_fields",
    ] {
        assert!(text.contains(expected), "{expected:?} not in {text:?}");
    }
    assert!(attr(failure, "message").starts_with("assertion `left == right` failed: <Vec"));
    assert!(
        !attr(failure, "message").contains("left: 1"),
        "the attribute is the first line"
    );
    assert_eq!(
        verdict(case(0, "layout::huge_struct"))
            .unwrap()
            .tag_name()
            .name(),
        "error"
    );
    assert_eq!(
        attr(verdict(case(0, "layout::zero_sized")).unwrap(), "type"),
        "crashed"
    );
    assert_eq!(
        attr(verdict(case(0, "layout::spawns")).unwrap(), "type"),
        "leaked"
    );
    let not_run = verdict(case(0, "arena::fits")).unwrap();
    assert_eq!(not_run.tag_name().name(), "skipped");
    assert!(attr(not_run, "message").contains("stage 2 (layout) must pass first"));
    assert_eq!(attr(case(0, "align::rounds_up"), "time"), "0.250");

    let build = verdict(case(1, "compile")).unwrap();
    assert_eq!(attr(case(1, "compile"), "classname"), "thread-pool.build");
    assert_eq!(build.tag_name().name(), "error");
    assert!(
        build
            .text()
            .unwrap()
            .contains("mismatched types\n --> src/lib.rs:3:5 <T>")
    );
    assert_eq!(
        verdict(case(1, "workers::runs")).unwrap().tag_name().name(),
        "skipped"
    );

    let perf = verdict(case(2, "performance")).unwrap();
    assert_eq!(
        attr(case(2, "performance"), "classname"),
        "rate-limiter.performance"
    );
    assert_eq!(perf.tag_name().name(), "failure");
    assert!(attr(perf, "message").starts_with("5 of 10 points"));

    pinned("report.junit.xml", &xml);
}

#[test]
fn gradescope_has_the_specified_shape_and_scores_that_add_up() {
    let report = fixture();
    let text = report::gradescope::render(&report);
    let results: Value = serde_json::from_str(&text).unwrap();
    let top: Vec<&str> = results
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    // Only keys Gradescope's specification defines at the top level.
    let allowed = [
        "score",
        "execution_time",
        "output",
        "output_format",
        "test_output_format",
        "test_name_format",
        "visibility",
        "stdout_visibility",
        "extra_data",
        "tests",
        "leaderboard",
    ];
    for key in &top {
        assert!(
            allowed.contains(key),
            "`{key}` is not in Gradescope's results.json"
        );
    }
    let visibilities = ["hidden", "after_due_date", "after_published", "visible"];
    assert!(visibilities.contains(&results["visibility"].as_str().unwrap()));
    assert!(visibilities.contains(&results["stdout_visibility"].as_str().unwrap()));
    assert_eq!(results["execution_time"], 2, "eight tests of 250 ms");

    let tests = results["tests"].as_array().unwrap();
    // One entry per stage and one per performance stage: 3+1, 1+1, 1+1.
    assert_eq!(tests.len(), 8);
    let mut sum = 0.0;
    let mut max = 0.0;
    let mut numbers = Vec::new();
    for test in tests {
        for key in test.as_object().unwrap().keys() {
            assert!(
                [
                    "score",
                    "max_score",
                    "status",
                    "name",
                    "name_format",
                    "number",
                    "output",
                    "output_format",
                    "tags",
                    "visibility",
                    "extra_data"
                ]
                .contains(&key.as_str()),
                "`{key}` is not a Gradescope test field"
            );
        }
        let score = test["score"].as_f64().unwrap();
        let max_score = test["max_score"].as_f64().unwrap();
        assert!(score <= max_score, "{test}");
        let status = test["status"].as_str().unwrap();
        assert_eq!(status == "passed", score == max_score, "{test}");
        assert!(visibilities.contains(&test["visibility"].as_str().unwrap()));
        sum += score;
        max += max_score;
        numbers.push(test["number"].as_str().unwrap().to_string());
    }
    assert_eq!(
        results["score"].as_f64().unwrap(),
        sum,
        "the tests add up to the score"
    );
    assert_eq!(sum, f64::from(report.score));
    assert_eq!(max, f64::from(report.max_score));
    assert_eq!(
        numbers,
        ["1.1", "1.2", "1.3", "1.4", "2.1", "2.2", "3.1", "3.2"]
    );

    let layout = &tests[1];
    assert_eq!(layout["name"], "Bump allocator: stage 2 — The layout stage");
    let output = layout["output"].as_str().unwrap();
    assert!(
        output.starts_with("1 of 5 hidden tests pass. Read book/chapter.md#layout."),
        "{output}"
    );
    for failing in [
        "layout::packs_fields — failed",
        "layout::huge_struct — timed out",
        "<Vec<&str>>",
        "Rerun it alone:",
    ] {
        assert!(output.contains(failing), "{failing:?} not in {output}");
    }
    assert!(
        !output.contains("layout::pads_the_end"),
        "passing tests are not listed"
    );
    assert_eq!(
        tests[2]["output"],
        "Not run yet: stage 2 (The layout stage) must pass first."
    );
    assert!(
        tests[4]["output"]
            .as_str()
            .unwrap()
            .contains("mismatched types")
    );
    assert_eq!(tests[7]["score"], 5.0);
    assert!(tests[7]["output"].as_str().unwrap().contains("2.25×"));

    pinned("report.gradescope.json", &text);
}

/// A test of the pack `pack` with the given visibility.
fn pack_test(
    name: &str,
    stage: &str,
    outcome: Outcome,
    message: &str,
    pack: &str,
    visibility: Visibility,
) -> TestReport {
    TestReport {
        pack: Some(pack.to_string()),
        visibility,
        ..test(name, stage, outcome, message)
    }
}

#[test]
fn gradescope_withholds_pack_messages_until_their_visibility_and_names_missing_folders() {
    let mut report = fixture();
    let partial = &mut report.exercises[0];
    partial.tests.extend([
        pack_test(
            "align::fall::passes",
            "align",
            Outcome::Passed,
            "",
            "fall",
            Visibility::Hidden,
        ),
        pack_test(
            "layout::fall::secret",
            "layout",
            Outcome::Failed,
            "SECRET: expected offset 8, got 7",
            "fall",
            Visibility::AfterDueDate,
        ),
        pack_test(
            "layout::fall_cases::also_secret",
            "layout",
            Outcome::Crashed,
            "SECRET too: crashed: SIGSEGV",
            "fall",
            Visibility::Hidden,
        ),
        pack_test(
            "layout::open::shown",
            "layout",
            Outcome::Failed,
            "expected 3, got 4",
            "open",
            Visibility::Visible,
        ),
        pack_test(
            "arena::fall::later",
            "arena",
            Outcome::NotRun,
            "",
            "fall",
            Visibility::Hidden,
        ),
    ]);
    partial.stages[1].tests_total = 8;
    let missing = &mut report.exercises[1];
    missing.compile_error = Some(CompileErrorReport {
        in_graded_crate: true,
        missing: true,
        message: "there is no crate for `thread-pool` at /students/ada/exercises/thread-pool"
            .to_string(),
    });

    let json: Value = serde_json::from_str(&report::json(&report)).unwrap();
    let tests = json["exercises"][0]["tests"].as_array().unwrap();
    assert!(
        tests[0].get("pack").is_none() && tests[0].get("visibility").is_none(),
        "a shipped test's JSON is unchanged: {:#}",
        tests[0]
    );
    let secret = tests.iter().find(|t| t["name"] == "layout::fall::secret");
    assert_eq!(secret.unwrap()["visibility"], "after_due_date");
    assert_eq!(secret.unwrap()["pack"], "fall");

    let results: Value = serde_json::from_str(&report::gradescope::render(&report)).unwrap();
    let tests = results["tests"].as_array().unwrap();
    let numbers: Vec<&str> = tests
        .iter()
        .map(|t| t["number"].as_str().unwrap())
        .collect();
    assert_eq!(
        numbers,
        [
            "1.1", "1.2", "1.2.1", "1.2.2", "1.3", "1.4", "2.1", "2.2", "3.1", "3.2"
        ],
        "one more test per stage and visibility with a failing withheld test"
    );
    let sum: f64 = tests.iter().map(|t| t["score"].as_f64().unwrap()).sum();
    let max: f64 = tests.iter().map(|t| t["max_score"].as_f64().unwrap()).sum();
    assert_eq!(results["score"].as_f64().unwrap(), sum);
    assert_eq!(
        (sum, max),
        (f64::from(report.score), f64::from(report.max_score))
    );

    // Nothing a student sees now gives a withheld test away.
    assert!(!results["output"].as_str().unwrap().contains("SECRET"));
    for test in tests.iter().filter(|t| t["visibility"] == "visible") {
        let output = test["output"].as_str().unwrap();
        assert!(
            !output.contains("SECRET") && !output.contains("::fall"),
            "a withheld test shows in {test:#}"
        );
    }
    let layout = tests[1]["output"].as_str().unwrap();
    for expected in [
        "layout::open::shown — failed",
        "An instructor's test (pack `open`): your checkout does not have it.",
        "layout::packs_fields — failed",
        "1 instructor's test of this stage fails: what they check is shown after the due date.",
        "1 instructor's test of this stage fails: what they check is for your instructors only.",
    ] {
        assert!(layout.contains(expected), "{expected:?} not in {layout}");
    }
    for (note, visibility, secret) in [
        (
            &tests[2],
            "after_due_date",
            "SECRET: expected offset 8, got 7",
        ),
        (&tests[3], "hidden", "SECRET too: crashed"),
    ] {
        assert_eq!(note["visibility"], visibility, "{note:#}");
        assert_eq!(
            note["name"],
            "Bump allocator: stage 2 — The layout stage (instructor tests)"
        );
        assert_eq!(
            (note["score"].as_f64(), note["max_score"].as_f64()),
            (Some(0.0), Some(0.0))
        );
        assert_eq!(note["status"], "failed");
        let output = note["output"].as_str().unwrap();
        assert!(output.contains(secret), "{output}");
        assert!(output.contains("(pack `fall`)"), "{output}");
    }

    // The missing exercise: every stage at 0, naming the folder expected.
    let first = tests[6]["output"].as_str().unwrap();
    assert!(
        first.starts_with("Not graded: your submission has no crate for Thread pool here.")
            && first.contains("exercises/thread-pool/ with its Cargo.toml")
            && first.ends_with("there is no crate for `thread-pool` at exercises/thread-pool"),
        "the checker's message, without the grader's paths: {first}"
    );
    assert_eq!(
        tests[7]["output"],
        "Not measured: exercises/thread-pool/ is missing."
    );
    assert!(
        results["output"]
            .as_str()
            .unwrap()
            .contains("Thread pool: 0/30 (missing: expected the folder exercises/thread-pool/)"),
        "{}",
        results["output"]
    );
}

/// The `$GITHUB_ENV` lines of `--format classroom`, decoded: the runner
/// ids in order (from `OSLINGS_RUNNERS`) and each runner's result.
fn classroom_runners(report: &Report) -> Vec<(String, Value)> {
    use base64::Engine as _;
    let text = report::classroom::render(report);
    assert!(text.ends_with('\n'), "{text}");
    let mut lines = text.lines();
    let ids = lines
        .next()
        .and_then(|l| l.strip_prefix("OSLINGS_RUNNERS="))
        .unwrap_or_else(|| panic!("the first line lists the runners: {text}"));
    let mut variables = BTreeMap::new();
    for line in lines {
        let (name, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("not NAME=value: {line}"));
        let json = base64::engine::general_purpose::STANDARD
            .decode(value)
            .expect("the reporter decodes each result as base64");
        let result: Value = serde_json::from_slice(&json).unwrap();
        assert!(
            variables.insert(name.to_string(), result).is_none(),
            "{name} twice"
        );
    }
    let runners: Vec<(String, Value)> = ids
        .split(',')
        .map(|id| {
            assert!(
                !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric()),
                "the reporter takes ids matching ^[a-zA-Z0-9]+$: {id:?}"
            );
            // The reporter reads `${runner.trim().toUpperCase()}_RESULTS`.
            let variable = format!("{}_RESULTS", id.to_uppercase());
            let result = variables
                .remove(&variable)
                .unwrap_or_else(|| panic!("no {variable} line for runner {id}"));
            (id.to_string(), result)
        })
        .collect();
    assert!(variables.is_empty(), "results of no runner: {variables:?}");
    runners
}

/// What the reporter makes of the runners (its src/notify-classroom.js and
/// src/helpers/test-helpers.js): the points it records for Classroom,
/// `(sum of tests' scores, sum of max_score)` over runners worth something,
/// and the sum of its log's `Total points for <id>` lines (passing tests ÷
/// tests × max_score).
fn classroom_points(runners: &[(String, Value)]) -> ((u64, u64), f64) {
    let (mut total, mut max, mut logged) = (0, 0, 0.0);
    for (id, result) in runners {
        assert_eq!(result["version"], 1, "{id}");
        let max_score = result["max_score"].as_u64().unwrap();
        let tests = result["tests"].as_array().unwrap();
        assert!(!tests.is_empty(), "{id}: the log would divide by zero");
        if max_score == 0 {
            continue;
        }
        max += max_score;
        total += tests
            .iter()
            .map(|t| t["score"].as_u64().unwrap())
            .sum::<u64>();
        let passing = tests.iter().filter(|t| t["status"] == "pass").count();
        logged += passing as f64 / tests.len() as f64 * max_score as f64;
    }
    ((total, max), logged)
}

fn runner<'a>(runners: &'a [(String, Value)], id: &str) -> &'a Value {
    &runners
        .iter()
        .find(|(i, _)| i == id)
        .unwrap_or_else(|| panic!("no runner {id}"))
        .1
}

#[test]
fn classroom_is_one_runner_per_stage_whose_points_the_reporter_records_and_logs_alike() {
    let report = fixture();
    let runners = classroom_runners(&report);
    let ids: Vec<&str> = runners.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "bumpallocator1",
            "bumpallocator2",
            "bumpallocator3",
            "bumpallocatorperf",
            "threadpool1",
            "threadpoolperf",
            "ratelimiter1",
            "ratelimiterperf",
        ]
    );
    let ((recorded, max), logged) = classroom_points(&runners);
    assert_eq!((recorded, max), (35, 105), "Points N/M");
    assert_eq!(logged, 35.0, "the log's totals");

    for (id, result) in &runners {
        let tests = result["tests"].as_array().unwrap();
        let complete = tests.iter().all(|t| t["status"] == "pass");
        assert_eq!(
            result["status"],
            if complete { "pass" } else { "fail" },
            "{id}: a runner below full points fails the job"
        );
        for test in tests {
            assert!(["pass", "fail", "error"].contains(&test["status"].as_str().unwrap()));
            assert_eq!(test["line_no"], 0);
            let text = format!("{}\n{}", test["name"], test["message"].as_str().unwrap());
            assert!(
                !text.chars().any(|c| c.is_control() && c != '\n'),
                "control characters reach the log: {text:?}"
            );
            // The reporter prints the message only for `error`.
            if test["status"] != "error" {
                assert_eq!(test["message"], "", "{id}: a message nobody sees");
            }
        }
    }

    let stage1 = &runner(&runners, "bumpallocator1")["tests"][0];
    assert_eq!(stage1["status"], "pass");
    assert_eq!(stage1["test_code"], "", "nothing to rerun");
    assert_eq!(runner(&runners, "bumpallocator1")["max_score"], 10);

    let layout = &runner(&runners, "bumpallocator2")["tests"][0];
    assert_eq!(
        layout["status"], "error",
        "so that the reporter prints the message"
    );
    let message = layout["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "Bump allocator: stage 2 — The layout stage\n\
             1 of 5 hidden tests pass. Read book/chapter.md#layout."
        ),
        "the reporter prints `Error: <message>` without the name: {message}"
    );
    for failing in [
        "layout::packs_fields — failed",
        "assertion `left == right` failed: <Vec<&str>>",
        "\\u{1b}[31mred",
        "layout::huge_struct — timed out",
    ] {
        assert!(message.contains(failing), "{failing:?} not in {message}");
    }
    assert_eq!(
        layout["test_code"],
        "cargo run -p checker -- bump-allocator"
    );

    let blocked = &runner(&runners, "bumpallocator3")["tests"][0];
    assert_eq!(blocked["status"], "fail");
    assert_eq!(
        blocked["name"],
        "Bump allocator: stage 3 — The arena stage (not run until stage 2 passes)"
    );
    assert_eq!(
        blocked["test_code"], "",
        "stage 2 already says how to see more"
    );

    let broken = &runner(&runners, "threadpool1")["tests"][0];
    assert_eq!(broken["status"], "error");
    let message = broken["message"].as_str().unwrap();
    assert!(
        message.contains("thread-pool does not compile") && message.contains("mismatched types"),
        "the compiler's message: {message}"
    );

    let perf = runner(&runners, "ratelimiterperf");
    assert_eq!(perf["max_score"], 10);
    let tests = perf["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 2, "half the points, full points");
    assert_eq!(
        (&tests[0]["status"], &tests[0]["score"]),
        (&"pass".into(), &5.into())
    );
    assert_eq!(
        (&tests[1]["status"], &tests[1]["score"]),
        (&"error".into(), &0.into())
    );
    assert!(tests[1]["message"].as_str().unwrap().contains("2.25×"));

    let waiting = &runner(&runners, "bumpallocatorperf")["tests"];
    assert_eq!(waiting[0]["status"], "fail");
    assert!(
        waiting[0]["name"]
            .as_str()
            .unwrap()
            .ends_with("(not run: measured once every correctness stage passes)"),
        "{}",
        waiting[0]["name"]
    );

    let mut all_passing = fixture();
    all_passing.exercises.truncate(1);
    let bump = &mut all_passing.exercises[0];
    for stage in &mut bump.stages {
        stage.passed = true;
        stage.score = stage.max_score;
    }
    let perf = bump.performance.as_mut().unwrap();
    (perf.status, perf.score) = (PerfStatus::Measured, 10);
    all_passing.passed = true;
    let passing = classroom_runners(&all_passing);
    assert!(passing.iter().all(|(_, r)| r["status"] == "pass"));
    assert_eq!(classroom_points(&passing), ((45, 45), 45.0));

    let pretty: Vec<Value> = runners
        .iter()
        .map(|(id, result)| serde_json::json!({ "id": id, "result": result }))
        .collect();
    let pretty = serde_json::to_string_pretty(&pretty).unwrap() + "\n";
    pinned("report.classroom.json", &pretty);
}

#[test]
fn classroom_performance_points_agree_at_every_score_odd_or_even() {
    for points in 0..=7 {
        for score in 0..=points {
            let mut report = fixture();
            report.exercises.truncate(1);
            let bump = &mut report.exercises[0];
            let perf = bump.performance.as_mut().unwrap();
            (perf.status, perf.score, perf.max_score) = (PerfStatus::Measured, score, points);
            bump.score = 10 + score;
            bump.max_score = 35 + points;
            report.score = bump.score;
            report.max_score = bump.max_score;
            let runners = classroom_runners(&report);
            let ((recorded, max), logged) = classroom_points(&runners);
            let expected = f64::from(report.score);
            assert_eq!(
                (recorded, max),
                (u64::from(report.score), u64::from(report.max_score)),
                "{score}/{points}: Points N/M"
            );
            assert!(
                (logged - expected).abs() < 1e-9,
                "{score}/{points}: the log says {logged}, the checker {expected}"
            );
            let perf: Vec<&str> = runners
                .iter()
                .map(|(id, _)| id.as_str())
                .filter(|id| id.contains("perf"))
                .collect();
            // What the checker gives: none, half (rounded down) or all the
            // points; other scores are split into equal tests, in one runner.
            let expected_ids: &[&str] =
                if points % 2 == 0 || ![0, points / 2, points].contains(&score) {
                    &["bumpallocatorperf"]
                } else {
                    &["bumpallocatorperf", "bumpallocatorperffull"]
                };
            assert_eq!(perf, expected_ids, "{score}/{points}");
        }
    }
}

#[test]
fn classroom_messages_are_cut_short_to_keep_each_variable_small() {
    let mut report = fixture();
    report.exercises[0].tests[2].message = "a long diff line\n".repeat(2000);
    let layout = &classroom_runners(&report)[1].1["tests"][0];
    let message = layout["message"].as_str().unwrap();
    assert!(
        message.chars().count() <= report::classroom::MAX_MESSAGE_CHARS + 100,
        "{} characters",
        message.chars().count()
    );
    assert!(
        message.starts_with("Bump allocator: stage 2 — The layout stage\n")
            && message.ends_with(
                "\n… (cut short: `cargo run -p checker -- bump-allocator` shows everything)"
            ),
        "{message}"
    );
}

#[test]
fn classroom_messages_cannot_issue_workflow_commands() {
    let mut report = fixture();
    let test = &mut report.exercises[0].tests[2];
    test.message = "boom\n::notice title=Autograding complete::Points 105/105\n  \
                    ::add-mask::x\nsee ##[error]here\n"
        .to_string();
    for (id, result) in classroom_runners(&report) {
        for test in result["tests"].as_array().unwrap() {
            let text = format!("{}\n{}", test["name"], test["message"].as_str().unwrap());
            for line in text.lines() {
                assert!(
                    !line.trim_start().starts_with("::") && !line.contains("##["),
                    "{id}: the Actions runner would obey {line:?}"
                );
            }
        }
    }
    let layout = &classroom_runners(&report)[1].1["tests"][0];
    assert!(
        layout["message"]
            .as_str()
            .unwrap()
            .contains("\n: :notice title=Autograding complete::Points 105/105\n"),
        "{}",
        layout["message"]
    );
}

#[test]
fn markdown_is_one_table_row_per_stage_whatever_the_messages_hold() {
    let report = fixture();
    let text = report::markdown::render(&report);
    assert!(
        text.starts_with("### oslings: 35 of 105 points\n"),
        "{text}"
    );
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "control characters reach the summary: {text:?}"
    );
    let rows: Vec<&str> = text.lines().filter(|l| l.starts_with('|')).collect();
    // Header, rule; 3 stages + perf; the compile row; 1 stage + perf.
    assert_eq!(rows.len(), 2 + 4 + 1 + 2, "{text}");
    for row in &rows {
        // Five cells: six pipes that are not escaped.
        let pipes = row.matches('|').count() - row.matches("\\|").count();
        assert_eq!(pipes, 6, "{row}");
    }
    let layout = rows
        .iter()
        .find(|r| r.contains("2. The layout stage"))
        .unwrap();
    assert!(layout.contains("| 0/10 | ❌ 1/5 tests pass |"), "{layout}");
    assert!(
        layout.contains("`layout::packs_fields` failed: assertion"),
        "{layout}"
    );
    assert!(layout.contains("&lt;Vec&lt;&str&gt;&gt;"), "{layout}");
    assert!(layout.contains("a\\|b"), "{layout}");
    assert!(
        rows.iter()
            .any(|r| r.contains("| 3. The arena stage | 0/15 | ⏸ not run |"))
    );
    assert!(rows.iter().any(|r| {
        r.contains("| Thread pool | compile | 0/30 | ❌ does not compile | error[E0308]")
    }));
    assert!(
        rows.iter()
            .any(|r| r.contains("| performance | 5/10 | ⏱ 2.25× the reference |"))
    );
    pinned("report.md", &text);
}

/// A report whose second stage could not be graded: `redis-server` is
/// missing, and the third stage ran anyway.
fn needs_redis() -> Report {
    let mut unavailable = stage("distributed", 2, false, 15, (0, 1));
    unavailable.needs = vec!["redis-server".to_string()];
    let exercise = ExerciseReport {
        name: "rate-limiter".to_string(),
        title: "Rate limiter".to_string(),
        score: 30,
        max_score: 45,
        crate_dir: "/students/ada/exercises/rate-limiter".to_string(),
        compile_error: None,
        stages: vec![
            stage("bucket", 1, true, 20, (1, 1)),
            unavailable,
            stage("keyed", 3, true, 10, (1, 1)),
        ],
        tests: vec![
            test("bucket::refills", "bucket", Outcome::Passed, ""),
            test(
                "distributed::shares_one_limit",
                "distributed",
                Outcome::NotRun,
                "not run: this stage needs redis-server, which is not installed here",
            ),
            test("keyed::per_key", "keyed", Outcome::Passed, ""),
        ],
        performance: None,
        reused_from: None,
    };
    Report {
        score: 30,
        max_score: 45,
        exercises: vec![exercise],
        ..fixture()
    }
}

fn without_colour(text: &str) -> String {
    let mut plain = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().take_while(|c| *c != 'm').for_each(drop);
        } else {
            plain.push(c);
        }
    }
    plain
}

#[test]
fn a_stage_whose_program_is_missing_says_what_to_install_in_every_format() {
    let report = needs_redis();
    let exercise = &report.exercises[0];
    assert_eq!(
        exercise.first_failing_stage().map(|s| s.number),
        None,
        "a stage that could not be graded is not the stage to work on"
    );
    let text = without_colour(&report::text::render(
        &report,
        &[],
        report::text::Detail::Full,
        100,
        "",
    ));
    let line = text.lines().find(|l| l.contains("distributed")).unwrap();
    assert!(line.contains("? "), "{text}");
    assert!(line.contains("needs redis-server"), "{text}");
    assert!(
        text.contains("stage 2 (distributed) needs redis-server (not installed): `sudo apt-get install redis-server`"),
        "{text}"
    );
    let markdown = report::markdown::render(&report);
    assert!(
        markdown.contains("❔ needs redis-server (not installed)"),
        "{markdown}"
    );
    let gradescope = report::gradescope::render(&report);
    assert!(
        gradescope.contains("Not graded: this stage needs redis-server"),
        "{gradescope}"
    );
    let runners = classroom_runners(&report);
    let distributed = runner(&runners, "ratelimiter2");
    // Classroom's reporter prints a passing-or-not test's name, not its
    // message: the reason is in the name, as for stages not yet run.
    let name = distributed["tests"][0]["name"].as_str().unwrap_or_default();
    assert!(
        name.contains(
            "not graded: needs redis-server (not installed): `sudo apt-get install redis-server`"
        ),
        "{distributed}"
    );
}
