//! Instructor test packs (`--pack DIR`). Course tests: the example pack
//! (`packs/example/`, shipped with the course) passes against the
//! reference solutions and fails against the pristine exercises, a wrong
//! expectation in a copy of it fails with the case file's name (and its
//! message waits for the pack's Gradescope `visibility`), and a malformed
//! pack is the instructor's error up front, named against the course's
//! exercises. Engine test, on the fixture course (`tests/fixture-course/`):
//! `replace = true` drops the shipped tests.

mod common;

use common::fixture::Course;
use common::{checker, repo};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

use checker::course::manifest::{Exercise, load_course};
use checker::course::pack::{Pack, Visibility};

const BUILD_LIMIT: Duration = Duration::from_secs(900);

fn example() -> PathBuf {
    repo().join("packs").join("example")
}

fn course() -> Vec<Exercise> {
    load_course(&repo().join("checker").join("hidden")).unwrap()
}

/// Grades one exercise with the given extra arguments; the JSON report.
fn grade(args: &[&str]) -> Value {
    let mut all = vec!["--format", "json", "--timeout", "10"];
    all.extend_from_slice(args);
    let run = checker(&all, BUILD_LIMIT);
    assert!(
        matches!(run.code, Some(0 | 1)),
        "the checker failed ({:?}):\n{}",
        run.code,
        run.stderr
    );
    run.json()
}

fn tests(report: &Value) -> &Vec<Value> {
    report["exercises"][0]["tests"].as_array().unwrap()
}

fn pack_tests<'a>(report: &'a Value, pack: &str) -> Vec<&'a Value> {
    tests(report)
        .iter()
        .filter(|t| {
            let name = t["name"].as_str().unwrap();
            name.contains(&format!("::{pack}::")) || name.contains(&format!("::{pack}_cases::"))
        })
        .collect()
}

/// An empty folder for the pack `name`, at the same place on every run:
/// its builds are then reused instead of piling up under `target/`.
fn pack_dir(name: &str) -> PathBuf {
    let dir = repo()
        .join("target")
        .join("oslings")
        .join("test-packs")
        .join(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A copy of the example pack under a new name, with only `exercises`.
fn copy_of_example(name: &str, exercises: &[&str]) -> PathBuf {
    let dir = pack_dir(name);
    for exercise in exercises {
        common::copy_tree(&example().join(exercise), &dir.join(exercise));
    }
    std::fs::write(
        dir.join("pack.toml"),
        format!("format = 1\nname = \"{name}\"\n"),
    )
    .unwrap();
    dir
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn the_example_pack_passes_against_the_solutions_in_its_stages() {
    let example = example();
    for (exercise, expected) in [
        (
            "bump-allocator",
            vec![
                (
                    "arena",
                    "arena::example::values_written_through_alloc_value_read_back",
                ),
                ("arena", "arena::example_cases::padding_and_undo"),
            ],
        ),
        (
            "rate-limiter",
            vec![
                (
                    "token_bucket",
                    "token_bucket::example_cases::burst_then_refill",
                ),
                (
                    "blocking",
                    "blocking::example_cases::acquire_sleeps_exactly",
                ),
            ],
        ),
    ] {
        let report = grade(&[
            "--against",
            "solutions",
            "--pack",
            example.to_str().unwrap(),
            exercise,
        ]);
        assert_eq!(
            report["packs"][0]["name"], "example",
            "the report does not say which pack graded: {:#}",
            report["packs"]
        );
        let ours = pack_tests(&report, "example");
        let found: Vec<(&str, &str)> = ours
            .iter()
            .map(|t| (t["stage"].as_str().unwrap(), t["name"].as_str().unwrap()))
            .collect();
        assert_eq!(found.len(), expected.len(), "{exercise}: {found:?}");
        for pair in &expected {
            assert!(
                found.contains(pair),
                "{exercise}: {pair:?} not in {found:?}"
            );
        }
        for test in &ours {
            assert_eq!(test["outcome"], "passed", "{test:#}");
            let rerun = test["rerun"].as_str().unwrap();
            assert!(
                rerun.contains("--pack "),
                "the rerun command drops the pack: {rerun}"
            );
        }
        let shipped = tests(&report).len() - ours.len();
        assert!(
            shipped > 10,
            "{exercise}: the shipped tests are gone ({shipped} left)"
        );
        for stage in report["exercises"][0]["stages"].as_array().unwrap() {
            assert_eq!(stage["passed"], true, "{exercise}: {stage:#}");
        }
    }
}

#[test]
fn against_the_pristine_exercises_the_pack_tests_do_not_pass() {
    // A copy of the repository as shipped, at the same place on every run.
    let tree = repo()
        .join("target")
        .join("oslings")
        .join("test-trees")
        .join("pristine");
    if tree.exists() {
        std::fs::remove_dir_all(&tree).unwrap();
    }
    common::copy_tree(&repo(), &tree);
    let report = grade(&[
        "--exercises-from",
        tree.to_str().unwrap(),
        "--pack",
        example().to_str().unwrap(),
        "bump-allocator",
    ]);
    let ours = pack_tests(&report, "example");
    assert_eq!(ours.len(), 2, "{ours:#?}");
    for test in ours {
        assert!(
            ["failed", "not_run"].contains(&test["outcome"].as_str().unwrap()),
            "{test:#}"
        );
        // Gated behind stage 1 they do not run; run alone, they fail.
        let name = test["name"].as_str().unwrap();
        let run = checker(
            &[
                "--exercises-from",
                tree.to_str().unwrap(),
                "--pack",
                example().to_str().unwrap(),
                "bump-allocator",
                "--test",
                name,
            ],
            BUILD_LIMIT,
        );
        assert_eq!(run.code, Some(1), "{name}:\n{}\n{}", run.stdout, run.stderr);
        assert!(
            run.stdout.contains(&format!("{name} — failed")),
            "{name}:\n{}",
            run.stdout
        );
    }
}

#[test]
fn a_wrong_expectation_fails_and_names_the_case_file_after_the_due_date() {
    let pack = copy_of_example("wrong", &["bump-allocator"]);
    std::fs::write(
        pack.join("pack.toml"),
        "format = 1\nname = \"wrong\"\n[exercises.bump-allocator]\nvisibility = \"after_due_date\"\n",
    )
    .unwrap();
    let case = pack.join("bump-allocator/cases/arena/padding-and-undo.toml");
    let text = std::fs::read_to_string(&case).unwrap();
    let planted = text.replacen("offset = 7 ", "offset = 8 ", 1);
    assert_ne!(
        text, planted,
        "the example case changed: plant the mistake elsewhere"
    );
    std::fs::write(&case, planted).unwrap();
    let report = grade(&[
        "--against",
        "solutions",
        "--pack",
        pack.to_str().unwrap(),
        "bump-allocator",
    ]);
    let failed = tests(&report)
        .iter()
        .find(|t| t["name"] == "arena::wrong_cases::padding_and_undo")
        .expect("the case is graded");
    assert_eq!(failed["outcome"], "failed", "{failed:#}");
    let message = failed["message"].as_str().unwrap();
    assert!(
        message.contains("wrong/bump-allocator/cases/arena/padding-and-undo.toml")
            && message.contains("step 2")
            && message.contains("expected offset 8"),
        "{message}"
    );
    assert_eq!(report["exercises"][0]["stages"][2]["passed"], false);
    assert_eq!(failed["pack"], "wrong", "{failed:#}");
    assert_eq!(failed["visibility"], "after_due_date", "{failed:#}");
    let shipped = tests(&report)
        .iter()
        .find(|t| t["pack"].is_null())
        .expect("shipped tests too");
    assert!(shipped.get("visibility").is_none(), "{shipped:#}");

    // On Gradescope the stage keeps its (visible) score; the case's name
    // and message wait for the due date in a test of their own.
    let run = checker(
        &[
            "--format",
            "gradescope",
            "--timeout",
            "10",
            "--against",
            "solutions",
            "--pack",
            pack.to_str().unwrap(),
            "bump-allocator",
        ],
        BUILD_LIMIT,
    );
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let results: Value = serde_json::from_str(&run.stdout).unwrap();
    let gradescope = results["tests"].as_array().unwrap();
    let arena = gradescope
        .iter()
        .find(|t| t["number"] == "1.3")
        .expect("stage 3");
    let output = arena["output"].as_str().unwrap();
    assert_eq!(arena["visibility"], "visible");
    assert!(
        !output.contains("padding") && output.contains("shown after the due date"),
        "{output}"
    );
    let later = gradescope
        .iter()
        .find(|t| t["number"] == "1.3.1")
        .expect("the withheld messages");
    assert_eq!(later["visibility"], "after_due_date", "{later:#}");
    assert_eq!(later["max_score"], 0.0);
    assert!(
        later["output"]
            .as_str()
            .unwrap()
            .contains("arena::wrong_cases::padding_and_undo"),
        "{later:#}"
    );
}

#[test]
fn visibility_is_the_packs_unless_an_exercise_says_otherwise() {
    let dir = tempfile::Builder::new()
        .prefix("oslings-pack-")
        .tempdir()
        .unwrap();
    let root = dir.path();
    write(
        &root.join("pack.toml"),
        "format = 1\nname = \"p\"\nvisibility = \"hidden\"\n\
         [exercises.thread-pool]\nvisibility = \"after_published\"\n",
    );
    write(&root.join("bump-allocator/arena.rs"), "");
    write(&root.join("thread-pool/execute.rs"), "");
    let pack = Pack::load(root, &course()).unwrap();
    assert_eq!(pack.visibility, Visibility::Hidden);
    assert_eq!(pack.visibility_of("bump-allocator"), Visibility::Hidden);
    assert_eq!(
        pack.visibility_of("thread-pool"),
        Visibility::AfterPublished
    );
    assert_eq!(pack.visibility_of("shell"), Visibility::Hidden);

    write(&root.join("pack.toml"), "format = 1\nname = \"p\"\n");
    let pack = Pack::load(root, &course()).unwrap();
    assert_eq!(pack.visibility_of("bump-allocator"), Visibility::Visible);

    write(
        &root.join("pack.toml"),
        "format = 1\nname = \"p\"\n\n[exercises.shell]\nvisibility = \"after_due\"\n",
    );
    let err = load_error(root);
    assert!(
        err.contains("pack.toml")
            && err.contains("line 5")
            && err.contains("after_due_date")
            && err.contains("hidden"),
        "{err}"
    );
}

/// Engine test, on the fixture course: a pack with `replace = true` for
/// an exercise is all its hidden tests, one module per stage.
#[test]
fn replace_drops_the_shipped_tests() {
    let course = Course::pristine();
    let dir = tempfile::Builder::new()
        .prefix("oslings-pack-")
        .tempdir()
        .unwrap();
    write(
        &dir.path().join("pack.toml"),
        "format = 1\nname = \"only\"\n[exercises.tally]\nreplace = true\n",
    );
    let stages = ["add", "scale", "sum"];
    for stage in stages {
        write(
            &dir.path().join("tally").join(format!("{stage}.rs")),
            "#[test]\nfn adds() {\n    assert_eq!(learner::add::add(2, 2), 4);\n}\n",
        );
    }
    let run = course.run(&[
        "--format",
        "json",
        "--against",
        "solutions",
        "--pack",
        dir.path().to_str().unwrap(),
        "tally",
    ]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let report = run.json();
    let names: Vec<&str> = tests(&report)
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = stages.iter().map(|s| format!("{s}::only::adds")).collect();
    assert_eq!(names, expected);
    assert!(tests(&report).iter().all(|t| t["outcome"] == "passed"));
}

/// The error `Pack::load` gives for the pack in `dir`.
fn load_error(dir: &Path) -> String {
    match Pack::load(dir, &course()) {
        Ok(pack) => panic!("the pack loaded: {pack:?}"),
        Err(err) => format!("{err:#}"),
    }
}

#[test]
fn malformed_packs_are_refused_with_the_file_line_and_what_to_write() {
    let dir = tempfile::Builder::new()
        .prefix("oslings-pack-")
        .tempdir()
        .unwrap();
    let root = dir.path();
    let manifest = root.join("pack.toml");

    let err = load_error(root);
    assert!(
        err.contains("has no pack.toml") && err.contains("format = 1"),
        "{err}"
    );

    write(
        &manifest,
        "format = 1\nname = \"p\"\n[exercises.bump-allocator]\nreplase = true\n",
    );
    let err = load_error(root);
    assert!(
        err.contains("pack.toml")
            && err.contains("line 4")
            && err.contains("unknown field `replase`"),
        "{err}"
    );

    write(&manifest, "format = 2\nname = \"p\"\n");
    let err = load_error(root);
    assert!(
        err.contains("pack.toml:1") && err.contains("write format = 1"),
        "{err}"
    );

    write(&manifest, "format = 1\nname = \"Fall-2026\"\n");
    let err = load_error(root);
    assert!(
        err.contains("pack.toml:2") && err.contains("name = \"fall_2026\""),
        "{err}"
    );

    write(
        &manifest,
        "format = 1\nname = \"p\"\n\n[exercises.bump-alocator]\n",
    );
    let err = load_error(root);
    assert!(
        err.contains("pack.toml:4") && err.contains("did you mean `bump-allocator`"),
        "{err}"
    );

    write(&manifest, "format = 1\nname = \"p\"\n");
    write(&root.join("shel/run.rs"), "");
    let err = load_error(root);
    assert!(
        err.contains("shel") && err.contains("did you mean `shell`"),
        "{err}"
    );
    std::fs::remove_dir_all(root.join("shel")).unwrap();

    write(&root.join("bump-allocator/arenas.rs"), "");
    let err = load_error(root);
    assert!(
        err.contains("arenas.rs") && err.contains("no stage `arenas`") && err.contains("arena.rs"),
        "{err}"
    );
    std::fs::remove_file(root.join("bump-allocator/arenas.rs")).unwrap();

    write(&root.join("bump-allocator/cases/arenas/a.toml"), "");
    let err = load_error(root);
    assert!(
        err.contains("cases/arenas") && err.contains("cases/arena/"),
        "{err}"
    );
    std::fs::remove_dir_all(root.join("bump-allocator/cases/arenas")).unwrap();

    let case = root.join("bump-allocator/cases/arena/bad.toml");
    write(
        &case,
        "capacity = 64\n\n[[steps]]\nop = \"alloc\"\nsize = 8\nalign = 3\noffset = 0\n",
    );
    let err = load_error(root);
    assert!(
        err.contains("cases/arena/bad.toml")
            && err.contains("line 3")
            && err.contains("not a power of two"),
        "{err}"
    );
    write(
        &case,
        "capacity = 64\n[[steps]]\nop = \"alloc\"\nsize = \"8\"\n",
    );
    let err = load_error(root);
    assert!(err.contains("bad.toml") && err.contains("line 4"), "{err}");
    std::fs::remove_dir_all(root.join("bump-allocator")).unwrap();

    write(&root.join("thread-pool/cases/execute/a.toml"), "");
    let err = load_error(root);
    assert!(
        err.contains("takes no data-driven cases") && err.contains("<stage>.rs"),
        "{err}"
    );
    std::fs::remove_dir_all(root.join("thread-pool")).unwrap();

    write(
        &manifest,
        "format = 1\nname = \"p\"\n[exercises.shell]\nreplace = true\n",
    );
    write(&root.join("shell/run.rs"), "");
    let err = load_error(root);
    assert!(
        err.contains("replace = true") && err.contains("tokenize"),
        "{err}"
    );
    assert!(!err.contains("run,"), "stage run has a test: {err}");

    // The binary says so too, before grading anything, and exits with 2.
    let run = checker(
        &["--pack", root.to_str().unwrap()],
        Duration::from_secs(120),
    );
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("replace = true"), "{}", run.stderr);
}

#[test]
fn two_packs_may_not_share_a_name() {
    let dir = tempfile::Builder::new()
        .prefix("oslings-pack-")
        .tempdir()
        .unwrap();
    write(
        &dir.path().join("pack.toml"),
        "format = 1\nname = \"example\"\n",
    );
    let err = checker::course::pack::load_all(&[example(), dir.path().to_path_buf()], &course())
        .unwrap_err()
        .to_string();
    assert!(err.contains("both called `example`"), "{err}");
}

#[test]
fn the_example_pack_loads() {
    let pack = Pack::load(&example(), &course()).unwrap();
    assert_eq!(pack.name, "example");
    let names: Vec<&str> = pack.exercises.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "bump-allocator",
            "page-table-walker",
            "rate-limiter",
            "shell",
            "thread-pool"
        ]
    );
    assert!(pack.exercises.iter().all(|e| !e.replace));
}
