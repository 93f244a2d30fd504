//! Fixture students for the cohort and fidelity tests: learner trees at a
//! chosen stage of the bump allocator, and the checker run that grades them.

#![allow(dead_code, unreachable_pub)] // each test binary uses a different part

use crate::common::{Run, Tree, checker, checker_with_env, repo};
use std::path::Path;
use std::time::Duration;

/// The exercise the fixture students work on.
pub const EXERCISE: &str = "bump-allocator";

/// Long enough for a cold build of the hidden suite on a loaded machine.
pub const BUILD_LIMIT: Duration = Duration::from_secs(900);

/// A learner who has done the stages taught in `files` (the reference
/// solution's version of each, e.g. `align.rs`), and nothing else: the rest
/// of the crate is the pristine stub, `todo!()`s included.
pub fn partway(files: &[&str]) -> Tree {
    let tree = Tree::pristine();
    let lib = EXERCISE.replace('-', "_");
    for file in files {
        let from = repo()
            .join("solutions")
            .join(EXERCISE)
            .join("src")
            .join(file);
        let text = std::fs::read_to_string(&from).unwrap();
        let to = tree
            .path()
            .join("exercises")
            .join(EXERCISE)
            .join("src")
            .join(file);
        assert!(to.is_file(), "the exercise has no {file}");
        std::fs::write(&to, text.replace(&format!("{lib}_solution"), &lib)).unwrap();
    }
    tree
}

/// The arguments that grade `dir` as a student's fork, as JSON.
pub fn grade_args(dir: &Path) -> Vec<String> {
    [
        "--exercises-from",
        dir.to_str().unwrap(),
        EXERCISE,
        "--format",
        "json",
    ]
    .map(String::from)
    .to_vec()
}

/// Grades `dir` with the pristine checker (this repository's binary).
pub fn grade(dir: &Path) -> Run {
    let args = grade_args(dir);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = checker(&args, BUILD_LIMIT);
    assert!(
        matches!(run.code, Some(0 | 1)),
        "grading {} failed: {run:?}",
        dir.display()
    );
    run
}

/// Grades `dir` the way a checker that trusted the fork would: the hidden
/// suites and stage manifests read from the fork itself.
pub fn grade_trusting_the_fork(dir: &Path) -> Run {
    let args = grade_args(dir);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let target = repo().join("target/oslings/build");
    checker_with_env(
        &args,
        &[("OSLINGS_ROOT", dir), ("OSLINGS_TARGET_DIR", &target)],
        BUILD_LIMIT,
    )
}
