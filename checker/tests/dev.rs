//! Course tests: `dev new` must fit into the real course (its workspace,
//! book and SUMMARY.md), and `dev check` grades it with the real checker.
//!
//! `checker dev`: `dev new` scaffolds a sixth exercise in a copy of the
//! course that `dev check` passes, graded (the stub scores 0, the solution
//! full marks); then each way of breaking the course is one finding.

mod common;

use checker::dev::{CheckOptions, Finding, NewExercise, check, scaffold};
use common::{Tree, repo};
use std::path::Path;
use std::process::Command;

const NAME: &str = "ring-buffer";

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=oslings test",
            "-c",
            "user.email=test@oslings.invalid",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn findings(root: &Path, grading: bool) -> Vec<Finding> {
    let options = CheckOptions {
        exercise: Some(NAME.to_string()),
        grading,
        verbose: false,
        // The shared cache, as the other grading tests use.
        target_dir: Some(repo().join("target").join("oslings").join("build")),
        checker: Some(env!("CARGO_BIN_EXE_checker").into()),
    };
    let (checked, found) = check(root, &options).unwrap();
    assert_eq!(checked, [NAME]);
    found
}

fn edit(path: &Path, from: &str, to: &str) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "`{from}` not in {}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
    text
}

/// The one finding there is, which must be in `file` and say `says`.
fn expect_one(found: &[Finding], file: &str, says: &str) {
    assert!(
        found.len() == 1 && found[0].file == file && found[0].message.contains(says),
        "expected one finding in {file} saying {says:?}, got:\n{}",
        found
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn dev_new_scaffolds_an_exercise_dev_check_passes_and_finds_each_break() {
    let tree = Tree::pristine();
    let root = tree.path();
    git(root, &["init", "-q"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "the course"]);

    let stages = [
        "push: Push and pop".to_string(),
        "wrap: Wrapping around".to_string(),
    ];
    let spec = NewExercise::parse(NAME, "Ring buffer", "ring-buffer.md", &stages, None).unwrap();
    let made = scaffold(root, &spec).unwrap();
    let created: Vec<String> = made
        .created
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    for file in [
        "exercises/ring-buffer/Cargo.toml",
        "exercises/ring-buffer/src/push.rs",
        "exercises/ring-buffer/tests/stage2_wrap.rs",
        "solutions/ring-buffer/src/wrap.rs",
        "checker/hidden/ring-buffer/exercise.toml",
        "checker/hidden/ring-buffer/tests/hidden/wrap.rs",
        "book/ring-buffer.md",
    ] {
        assert!(
            created.contains(&file.to_string()),
            "{file} not in {created:?}"
        );
    }
    assert_eq!(made.created.len(), 17, "{created:?}");
    assert!(made.pristine, "a git checkout: pristine_tree recorded");
    assert!(
        made.to_string()
            .contains("dev check --exercise ring-buffer")
    );
    let summary = std::fs::read_to_string(root.join("book/SUMMARY.md")).unwrap();
    assert!(summary.contains("](ring-buffer.md)"));

    // What dev new refuses.
    let taken = scaffold(root, &spec).unwrap_err().to_string();
    assert!(taken.contains("already exists"), "{taken}");
    for bad in ["Ring_Buffer", "ring--buffer", "9lives", "-x"] {
        assert!(
            NewExercise::parse(bad, "T", "t.md", &stages, None).is_err(),
            "{bad}"
        );
    }
    let keyword = ["fn: A keyword".to_string()];
    assert!(NewExercise::parse("ok-name", "T", "t.md", &keyword, None).is_err());

    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "dev new ring-buffer"]);
    let clean = findings(root, true);
    assert!(
        clean.is_empty(),
        "a fresh scaffold has findings:\n{}",
        clean
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );

    // A stage's section missing from the chapter.
    let chapter = root.join("book/ring-buffer.md");
    let original = edit(&chapter, "## Stage 2: Wrapping around", "## Wrapping");
    expect_one(
        &findings(root, false),
        "book/ring-buffer.md",
        "stage `wrap` links to section `stage-2-wrapping-around`",
    );
    std::fs::write(&chapter, original).unwrap();

    // Given code changed in the solution.
    let solution = root.join("solutions/ring-buffer/src/push.rs");
    let original = edit(
        &solution,
        "pub fn stage() -> u32 {\n    1\n}",
        "pub fn stage() -> u32 {\n    1 + 0\n}",
    );
    expect_one(
        &findings(root, false),
        "exercises/ring-buffer/src/push.rs",
        "`fn stage` is given code (no `todo!()`) but differs",
    );
    std::fs::write(&solution, original).unwrap();

    // A hidden test in no stage, and an override naming no test.
    let hidden = root.join("checker/hidden/ring-buffer");
    let suite = edit(
        &hidden.join("tests/hidden.rs"),
        "mod push;\n",
        "mod push;\n\n#[path = \"hidden/extra.rs\"]\nmod extra;\n",
    );
    std::fs::write(
        hidden.join("tests/hidden/extra.rs"),
        "#[test]\nfn orphan() {}\n",
    )
    .unwrap();
    expect_one(
        &findings(root, false),
        "checker/hidden/ring-buffer/tests/hidden/extra.rs",
        "hidden test `extra::orphan` belongs to no stage",
    );
    std::fs::write(hidden.join("tests/hidden.rs"), suite).unwrap();
    let manifest = hidden.join("exercise.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        format!("{text}\n[[tests]]\nname = \"push::no_such_test\"\ntimeout_secs = 9\n"),
    )
    .unwrap();
    expect_one(
        &findings(root, false),
        "checker/hidden/ring-buffer/exercise.toml",
        "override for `push::no_such_test` names no hidden test",
    );
    std::fs::write(&manifest, text).unwrap();

    // A reference solution that fails a hidden test (graded).
    let solution = root.join("solutions/ring-buffer/src/wrap.rs");
    let original = edit(&solution, "    x + 2\n", "    x + 3\n");
    expect_one(
        &findings(root, true),
        "solutions/ring-buffer",
        "the reference solution scores 50/100",
    );
    std::fs::write(&solution, original).unwrap();

    // A stub changed without committing it and updating pristine_tree.
    let stub = root.join("exercises/ring-buffer/src/wrap.rs");
    edit(&stub, "//! Stage 2", "//! The second stage, stage 2");
    expect_one(
        &findings(root, false),
        "exercises/ring-buffer",
        "has uncommitted changes",
    );
    git(root, &["commit", "-q", "-am", "a stub edited"]);
    expect_one(
        &findings(root, false),
        "checker/hidden/ring-buffer/exercise.toml",
        "`pristine_tree` is",
    );
}
