//! The fixture course (`checker/tests/fixture-course/`): one tiny exercise,
//! `tally`, in three stages (`add`, `scale`, `sum`, which `requires` `sh`)
//! and a benchmark, laid out as the real course is. The engine's tests copy
//! it into a temporary directory and run the checker on the copy with
//! `OSLINGS_ROOT`, so they take seconds and do not change when a real
//! exercise does.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Run, Start, checker_in_with_env, checker_started, copy_tree, repo};

/// The fixture's exercise.
pub const EXERCISE: &str = "tally";

/// What one grading of the fixture may take: a cold build of its few small
/// crates (and of the harness for the benchmark) on a busy machine.
pub const LIMIT: Duration = Duration::from_secs(300);

/// The fixture course in the repository.
pub fn source() -> PathBuf {
    repo().join("checker/tests/fixture-course")
}

/// Cargo's target directory for every copy of the fixture: the copies'
/// crates are tiny, and their dependencies (the harness and what it uses)
/// are then built once.
pub fn target_dir() -> PathBuf {
    repo().join("target/oslings/fixture-build")
}

/// A copy of the fixture course in a temporary directory.
#[derive(Debug)]
pub struct Course {
    pub dir: tempfile::TempDir,
}

impl Course {
    /// The course as it ships: the stub has a `todo!()` in every stage.
    pub fn pristine() -> Course {
        let dir = tempfile::Builder::new()
            .prefix("oslings-fixture-course-")
            .tempdir()
            .unwrap();
        copy_tree(&source(), dir.path());
        // The course's own lock, so that nothing needs the network: the
        // harness's dependencies are the versions the course builds with.
        std::fs::copy(repo().join("Cargo.lock"), dir.path().join("Cargo.lock")).unwrap();
        // The harness is the course's, where it is.
        let manifest = dir.path().join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest).unwrap();
        let harness = repo().join("checker/harness");
        let text = text.replace(
            "path = \"../../harness\"",
            &format!("path = {:?}", harness.display().to_string()),
        );
        std::fs::write(&manifest, text).unwrap();
        Course { dir }
    }

    /// A learner who has done the stages taught in `files` (`add.rs`,
    /// `scale.rs`, `sum.rs`: the solution's version of each).
    pub fn partway(files: &[&str]) -> Course {
        let course = Course::pristine();
        for file in files {
            course.finish(file);
        }
        course
    }

    /// A learner who has finished the exercise.
    pub fn finished() -> Course {
        Course::partway(&["add.rs", "scale.rs", "sum.rs"])
    }

    /// A finished exercise with `code` at the start of `add` (stage 1).
    pub fn planted(code: &str) -> Course {
        let course = Course::finished();
        course.insert("add.rs", "pub fn add(", code);
        course
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `exercises/tally/src/<file>` of this copy.
    pub fn stub(&self, file: &str) -> PathBuf {
        self.path()
            .join("exercises")
            .join(EXERCISE)
            .join("src")
            .join(file)
    }

    /// Puts the solution's `file` in the exercise crate.
    pub fn finish(&self, file: &str) {
        let from = self
            .path()
            .join("solutions")
            .join(EXERCISE)
            .join("src")
            .join(file);
        std::fs::copy(from, self.stub(file)).unwrap();
    }

    /// Inserts `code` at the start of the body of the function whose
    /// signature starts with `signature`, in `exercises/tally/src/<file>`.
    pub fn insert(&self, file: &str, signature: &str, code: &str) {
        super::insert_into(&self.stub(file), signature, code);
    }

    /// Adds `tally-twin`, a renamed copy of the exercise (see
    /// [`super::add_twin_at`]).
    pub fn add_twin(&self) -> String {
        super::add_twin_at(self.path(), EXERCISE)
    }

    /// The environment that grades this copy: it is the course.
    pub fn env(&self) -> Vec<(&'static str, PathBuf)> {
        vec![
            ("OSLINGS_ROOT", self.path().to_path_buf()),
            ("OSLINGS_TARGET_DIR", target_dir()),
        ]
    }

    /// Runs the checker on this copy with `args` and `extra` variables.
    pub fn run_with(&self, args: &[&str], extra: &[(&str, &Path)]) -> Run {
        self.run_started(Start::Plain, args, extra)
    }

    /// [`Course::run_with`] with no extra variables.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, &[])
    }

    /// [`Course::run_with`], the checker started as `start` says.
    pub fn run_started(&self, start: Start, args: &[&str], extra: &[(&str, &Path)]) -> Run {
        let env = self.env();
        let mut all: Vec<(&str, &Path)> = env.iter().map(|(k, v)| (*k, v.as_path())).collect();
        all.extend_from_slice(extra);
        checker_started(start, args, &all, LIMIT, &mut |_, _| {})
    }

    /// Runs the checker from inside this copy, as its learner does (no
    /// `OSLINGS_ROOT`: the course is found from the current directory).
    pub fn run_inside(&self, args: &[&str], extra: &[(&str, &Path)]) -> Run {
        let target = target_dir();
        let mut env: Vec<(&str, &Path)> = vec![("OSLINGS_TARGET_DIR", &target)];
        env.extend_from_slice(extra);
        checker_in_with_env(self.path(), args, &env, LIMIT)
    }
}
