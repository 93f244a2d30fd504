//! Grading one exercise end to end: compile the hidden suite against the
//! graded crate, run its stages in order (each gates the next), then the
//! performance stage.

pub mod news;
pub mod perf;
pub mod reuse;
pub mod stages;

use anyhow::{Context, Result};
use nix::fcntl::{Flock, FlockArg};
use std::path::{Path, PathBuf};

use crate::build::cargo_toml::read_toml;
use crate::build::compile::{self, Built, CompileFailure, Failed};
use crate::build::prebuild::Prebuild;
use crate::build::scratch::{self, Subject};
use crate::build::seal;
use crate::course::manifest::{Exercise, PerfStage};
use crate::course::pack::{self, Pack};
use crate::exec::programs::missing_programs;
use crate::exec::runner::{self, HiddenTest};
use crate::report::model::{
    CompileErrorReport, ExerciseReport, Outcome, PerfStatus, PerformanceReport, Refusal,
    StageReport, TestReport,
};
use crate::util::timing;
use news::{News, Progress};
use stages::{Plan, StageRun};

/// Which tree of crates is graded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tree {
    /// The repository's own `exercises/` (the learner's work).
    Exercises,
    /// The repository's `solutions/` (the reference; must score 100%).
    Solutions,
    /// Another checkout's exercises, read-only.
    Custom(PathBuf),
}

impl Tree {
    /// A short label for reports.
    pub fn label(&self) -> String {
        match self {
            Tree::Exercises => "exercises".to_string(),
            Tree::Solutions => "solutions".to_string(),
            Tree::Custom(dir) => dir.display().to_string(),
        }
    }

    /// The checker flags that select this tree, for commands in the report.
    /// Another tree is graded for its owner to read: its commands are the
    /// ones they run in their own checkout, without `--exercises-from`.
    pub fn flags(&self) -> String {
        match self {
            Tree::Exercises | Tree::Custom(_) => String::new(),
            Tree::Solutions => " --against solutions".to_string(),
        }
    }
}

/// Everything grading needs to know about where things are.
#[derive(Debug, Clone)]
pub struct Grader {
    /// The oslings repository (hidden suites, solutions, workspace manifest).
    pub root: PathBuf,
    /// The tree being graded.
    pub tree: Tree,
    /// Cargo's target directory for every scratch build.
    pub target_dir: PathBuf,
    /// Tests run at once.
    pub jobs: usize,
    /// Time limit of a test without its own override (default: 5 s).
    pub timeout: Option<std::time::Duration>,
    /// Instructors' test packs (`--pack`), loaded and checked.
    pub packs: Vec<Pack>,
    /// Measure the performance stage even when a measurement of the same
    /// benchmark binary could be reused.
    pub remeasure: bool,
    /// Run every test even when nothing changed since the last grading
    /// (whose results are otherwise reused, see [`crate::grade::reuse`]).
    pub fresh: bool,
    /// Build the benchmark in the background, to outlive this grading,
    /// while the learner works on the last stage ([`crate::build::prebuild`]):
    /// for a learner at a terminal, not for a one-off grading.
    pub build_ahead: bool,
}

/// The right to grade one exercise in a target directory (see
/// [`Grader::exclusive`]); released when dropped.
#[derive(Debug)]
pub struct ExerciseLock(#[allow(dead_code)] Flock<std::fs::File>);

impl Grader {
    /// The graded crate of `exercise`: the repository's own, or for another
    /// tree its sources sealed under the course's manifest ([`seal`]).
    pub fn subject(&self, exercise: &Exercise) -> Result<Subject> {
        if let Tree::Custom(dir) = &self.tree {
            let sealed = seal::seal(&self.root, dir, exercise, &self.sealed_dir())?;
            return Ok(Subject {
                crate_dir: sealed.crate_dir,
                package: sealed.package,
                refused: sealed.refused,
            });
        }
        let crate_dir = self.source_dir(exercise);
        let manifest = crate_dir.join("Cargo.toml");
        let table = read_toml(&manifest).with_context(|| {
            format!(
                "there is no crate for `{}` at {}: the graded tree must contain \
                 exercises/{}/Cargo.toml",
                exercise.name,
                crate_dir.display(),
                exercise.name
            )
        })?;
        let package = table
            .get("package")
            .and_then(|p| p.get("name"))
            .and_then(toml::Value::as_str)
            .with_context(|| format!("{} has no [package] name", manifest.display()))?
            .to_string();
        Ok(Subject {
            crate_dir,
            package,
            refused: Vec::new(),
        })
    }

    /// The graded crate's own folder, where its owner edits it (for another
    /// tree, not the sealed copy [`Grader::subject`] builds).
    pub fn source_dir(&self, exercise: &Exercise) -> PathBuf {
        match &self.tree {
            Tree::Exercises => self.root.join("exercises").join(&exercise.name),
            Tree::Solutions => self.root.join("solutions").join(&exercise.name),
            Tree::Custom(dir) => seal::locate(dir, &exercise.name),
        }
    }

    /// Where the sources of another tree are sealed: `exercises/<name>`
    /// below it, so that messages read as paths in the learner's checkout.
    fn sealed_dir(&self) -> PathBuf {
        self.work_dir().join("sealed")
    }

    /// What the graded tree holds that grading did not use (another
    /// tree only; the repository's own exercises are graded as they are).
    pub fn refusals(&self, exercises: &[&Exercise]) -> Vec<Refusal> {
        let Tree::Custom(dir) = &self.tree else {
            return Vec::new();
        };
        let mut refused = seal::inspect_tree(&self.root, dir);
        for exercise in exercises {
            refused.extend(
                self.subject(exercise)
                    .map(|s| s.refused)
                    .unwrap_or_default(),
            );
        }
        refused
    }

    /// Scratch space for this tree under the target directory.
    fn work_dir(&self) -> PathBuf {
        let key = match &self.tree {
            Tree::Exercises => "exercises".to_string(),
            Tree::Solutions => "solutions".to_string(),
            Tree::Custom(dir) => {
                let canonical = dir.canonicalize().unwrap_or_else(|_| dir.clone());
                let hash = crate::util::fingerprint::fingerprint(&canonical) as u32;
                let name = canonical
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                format!("custom-{name}-{hash:08x}")
            }
        };
        // Results with and without a pack (or with another) never mix.
        let key = match pack::key(&self.packs) {
            Some(packs) => format!("{key}+pack-{packs}"),
            None => key,
        };
        self.root
            .join("target")
            .join("oslings")
            .join("grade")
            .join(key)
    }

    /// The checker flags that select this tree and these packs, for commands
    /// in the report (an instructor's packs are left out of the commands in
    /// another tree's report: its owner does not have them).
    pub fn flags(&self) -> String {
        let mut flags = self.tree.flags();
        if matches!(self.tree, Tree::Custom(_)) {
            return flags;
        }
        for pack in &self.packs {
            flags.push_str(" --pack ");
            flags.push_str(&shell_words::quote(&pack.dir.display().to_string()));
        }
        flags
    }

    /// The command that reruns one test alone with its output.
    pub fn rerun_command(&self, exercise: &str, test: &str) -> String {
        format!(
            "cargo run -p checker --{} {exercise} --test {test}",
            self.flags()
        )
    }

    /// Compiles the suite against the graded crate and lists its tests.
    pub fn prepare(&self, exercise: &Exercise, progress: Progress<'_>) -> Result<Prepared> {
        Ok(self.prepare_ahead(exercise, progress, None)?.0)
    }

    /// [`Grader::prepare`], and the benchmark's build started beside it
    /// when `last`, the learner's last grading, says it will soon be
    /// needed ([`Prebuild::ahead_of`]).
    fn prepare_ahead(
        &self,
        exercise: &Exercise,
        progress: Progress<'_>,
        last: Option<&ExerciseReport>,
    ) -> Result<(Prepared, Option<Prebuild>)> {
        let subject = match self.subject(exercise) {
            Ok(subject) => subject,
            Err(err) => {
                let missing = CompileFailure {
                    failed: Failed::Missing,
                    message: format!("{err:#}"),
                };
                return Ok((Prepared::Broken(PathBuf::new(), missing), None));
            }
        };
        let scratch = scratch::prepare(
            &self.root,
            &self.work_dir(),
            exercise,
            &subject,
            &self.packs,
        )?;
        progress(News::Doing(&format!("{}: compiling", exercise.name)));
        let strip = self.strip_prefixes();
        let prebuild = match (&exercise.perf, last) {
            (Some(_), Some(last)) => Prebuild::ahead_of(
                last,
                self.build(&scratch.dir, &subject, &strip, &|_| {}),
                self.build_ahead,
            ),
            _ => None,
        };
        let name = &exercise.name;
        let compiling = |what: &str| progress(News::Doing(&format!("{name}: {what}")));
        let built = timing::timed(name, "compile", || {
            compile::build_tests(self.build(&scratch.dir, &subject, &strip, &compiling))
        })?;
        match built {
            Built::Compiled(binaries) => {
                let (mut tests, unlisted) =
                    timing::timed(name, "list", || runner::list(exercise, &binaries))?;
                if !unlisted.is_empty() {
                    tests.extend(self.tests_of_unlisted(exercise, &unlisted)?);
                }
                let ready = Prepared::Ready {
                    subject,
                    scratch_dir: scratch.dir,
                    tests,
                };
                Ok((ready, prebuild))
            }
            Built::Failed(failure) => {
                if let Some(prebuild) = prebuild {
                    prebuild.set_aside(false);
                }
                Ok((Prepared::Broken(subject.crate_dir, failure), None))
            }
        }
    }

    /// A binary that crashes before it can list its tests (a learner's
    /// global allocator that panics, say) still has tests to fail: take their
    /// names from the suite built against the reference solution, and run
    /// them from the learner's binary, where each will crash and say why.
    fn tests_of_unlisted(
        &self,
        exercise: &Exercise,
        unlisted: &[runner::Unlisted],
    ) -> Result<Vec<HiddenTest>> {
        if self.tree == Tree::Solutions {
            let first = &unlisted[0];
            anyhow::bail!(
                "the reference suite's test binary `{}` cannot list its tests:\n{}",
                first.binary.target,
                first.stderr
            );
        }
        let reference = self.reference_tests(exercise);
        let mut tests = Vec::new();
        for broken in unlisted {
            for test in reference
                .iter()
                .filter(|t| t.target == broken.binary.target)
            {
                tests.push(HiddenTest {
                    binary: broken.binary.path.clone(),
                    ..test.clone()
                });
            }
        }
        Ok(tests)
    }

    /// How to build `scratch` against `subject`.
    fn build<'a>(
        &'a self,
        scratch: &'a Path,
        subject: &'a Subject,
        strip: &'a [PathBuf],
        progress: &'a dyn Fn(&str),
    ) -> compile::Build<'a> {
        compile::Build {
            scratch,
            target_dir: &self.target_dir,
            graded_crate: &subject.crate_dir,
            strip,
            sealed: matches!(self.tree, Tree::Custom(_)),
            progress,
        }
    }

    fn strip_prefixes(&self) -> Vec<PathBuf> {
        let mut prefixes = vec![self.root.clone()];
        if let Tree::Custom(dir) = &self.tree {
            prefixes.insert(0, dir.clone());
            prefixes.insert(0, self.sealed_dir());
        }
        prefixes
    }

    /// The hidden tests' names, from the suite compiled against the reference
    /// solution: used to list tests when the graded crate does not compile.
    fn reference_tests(&self, exercise: &Exercise) -> Vec<HiddenTest> {
        let reference = Grader {
            tree: Tree::Solutions,
            fresh: true,
            ..self.clone()
        };
        match reference.prepare(exercise, &|_| {}) {
            Ok(Prepared::Ready { tests, .. }) => tests,
            _ => Vec::new(),
        }
    }

    /// Waits until no other checker is grading `exercise` with the same
    /// target directory, and keeps the others out until the lock is
    /// dropped. Builds of different trees share that directory, where the
    /// programs a hidden suite runs (the shell under test) live at a path of
    /// their own name: two checkers at once would test each other's build.
    pub fn exclusive(&self, exercise: &Exercise, progress: Progress<'_>) -> Result<ExerciseLock> {
        std::fs::create_dir_all(&self.target_dir)
            .with_context(|| format!("cannot create {}", self.target_dir.display()))?;
        let path = self
            .target_dir
            .join(format!("grading-{}.lock", exercise.name));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => Ok(ExerciseLock(lock)),
            Err((file, _)) => {
                progress(News::Doing(&format!(
                    "{}: waiting for another checker that is grading it",
                    exercise.name
                )));
                Flock::lock(file, FlockArg::LockExclusive)
                    .map(ExerciseLock)
                    .map_err(|(_, err)| err)
                    .with_context(|| format!("cannot lock {}", path.display()))
            }
        }
    }

    /// Grades one exercise, or reuses its last results when nothing they
    /// depend on has changed (the learner's own tree only).
    pub fn grade(&self, exercise: &Exercise, progress: Progress<'_>) -> Result<ExerciseReport> {
        timing::timed(&exercise.name, "total", || {
            self.grade_or_reuse(exercise, progress)
        })
    }

    fn grade_or_reuse(
        &self,
        exercise: &Exercise,
        progress: Progress<'_>,
    ) -> Result<ExerciseReport> {
        let _alone = timing::timed(&exercise.name, "lock", || {
            self.exclusive(exercise, progress)
        })?;
        let key = timing::timed(&exercise.name, "reuse-key", || self.reuse_key(exercise));
        let Some(key) = key else {
            return self.grade_afresh(exercise, progress);
        };
        let saved = reuse::path(&self.work_dir(), &exercise.name);
        if let Some(report) = reuse::load(&saved, key) {
            return Ok(report);
        }
        let report = self.grade_afresh(exercise, progress)?;
        reuse::save(&saved, key, &report);
        Ok(report)
    }

    /// What the last results of `exercise` must match to be reused; `None`
    /// when they must not be (another tree, `--fresh`, `--remeasure`).
    fn reuse_key(&self, exercise: &Exercise) -> Option<reuse::Key> {
        if self.fresh || self.remeasure || matches!(self.tree, Tree::Custom(_)) {
            return None;
        }
        let mut inputs = vec![
            self.source_dir(exercise),
            self.root
                .join("checker")
                .join("hidden")
                .join(&exercise.name),
            self.root.join("checker").join("harness"),
            self.root.join("Cargo.toml"),
            self.root.join("Cargo.lock"),
        ];
        inputs.extend(self.packs.iter().map(|p| p.dir.clone()));
        // Installing a program a stage needs changes what grading can do.
        let missing: Vec<String> = exercise
            .stages
            .iter()
            .flat_map(|s| missing_programs(&s.requires))
            .collect();
        let settings = format!(
            "{} {:?} {} missing {missing:?}",
            self.tree.label(),
            self.timeout,
            self.jobs
        );
        Some(reuse::key(&inputs, &settings))
    }

    fn grade_afresh(&self, exercise: &Exercise, progress: Progress<'_>) -> Result<ExerciseReport> {
        let previous = reuse::last(&reuse::path(&self.work_dir(), &exercise.name));
        let (prepared, prebuild) = self.prepare_ahead(exercise, progress, previous.as_ref())?;
        let mut report = ExerciseReport {
            name: exercise.name.clone(),
            title: exercise.title.clone(),
            score: 0,
            max_score: exercise.max_score(),
            crate_dir: String::new(),
            compile_error: None,
            stages: Vec::new(),
            tests: Vec::new(),
            performance: None,
            reused_from: None,
        };
        report.crate_dir = self.source_dir(exercise).display().to_string();
        let (subject, scratch_dir, tests) = match prepared {
            Prepared::Ready {
                subject,
                scratch_dir,
                tests,
            } => (subject, scratch_dir, tests),
            Prepared::Broken(_, failure) => return Ok(self.broken(exercise, report, failure)),
        };

        let strip = self.strip_prefixes();
        let build = self.build(&scratch_dir, &subject, &strip, &|_| {});
        let report_test = |test: &HiddenTest, outcome, message, duration_ms| {
            self.test_report(exercise, test, outcome, message, duration_ms)
        };
        let place = stages::Place {
            exercise,
            tests: &tests,
            watched: vec![subject.crate_dir.clone(), scratch_dir.clone()],
            root: self.root.clone(),
            jobs: self.jobs,
            timeout: self.timeout,
            last_ms: previous
                .iter()
                .flat_map(|r| &r.tests)
                .filter_map(|t| Some((t.name.clone(), t.duration_ms?)))
                .collect(),
            report: &report_test,
        };
        let plan = Plan::after(previous.as_ref());
        let runs = stages::run_all(&place, plan, progress)?;
        let gate_open = runs.iter().all(StageRun::opens_the_gate);
        let stage_passed: Vec<bool> = runs.iter().map(StageRun::passed).collect();
        report.tests = runs.iter().flat_map(|r| r.tests().to_vec()).collect();
        report.stages = self.stage_reports(exercise, &report.tests, &stage_passed);
        for (stage, run) in report.stages.iter_mut().zip(&runs) {
            if let StageRun::Unavailable { missing, .. } = run {
                stage.needs = missing.clone();
            }
        }
        self.settle_prebuild(exercise, prebuild, build, &runs);
        report.score = report.stages.iter().map(|s| s.score).sum();

        if let Some(stage) = &exercise.perf {
            let perf_report = if gate_open {
                progress(News::Doing(&format!(
                    "{}: benchmarking against the reference",
                    exercise.name
                )));
                self.measure(exercise, &subject, &scratch_dir, stage)
            } else {
                perf::not_measured(
                    stage,
                    PerfStatus::NotRun,
                    "measured once every correctness stage passes".to_string(),
                )
            };
            report.score += perf_report.score;
            report.performance = Some(perf_report);
        }
        Ok(report)
    }

    /// The report of `exercise` whose crate (or suite) did not compile:
    /// every test of the reference suite counts as a compile error.
    fn broken(
        &self,
        exercise: &Exercise,
        mut report: ExerciseReport,
        failure: CompileFailure,
    ) -> ExerciseReport {
        let tests = self.reference_tests(exercise);
        report.tests = tests
            .iter()
            .map(|t| self.test_report(exercise, t, Outcome::CompileError, String::new(), None))
            .collect();
        report.stages = self.stage_reports(exercise, &report.tests, &[]);
        report.performance = exercise.perf.as_ref().map(|p| {
            perf::not_measured(
                p,
                PerfStatus::NotRun,
                "the crate does not compile".to_string(),
            )
        });
        report.compile_error = Some(CompileErrorReport {
            in_graded_crate: failure.in_graded_crate(),
            missing: failure.missing(),
            message: failure.message,
        });
        report
    }

    /// What becomes of the benchmark's build ahead once the stages `runs`
    /// are known: waited for when it will be measured now, else left to
    /// finish or stopped; or started in the background when the learner is
    /// on the last stage and none runs.
    fn settle_prebuild(
        &self,
        exercise: &Exercise,
        prebuild: Option<Prebuild>,
        build: compile::Build<'_>,
        runs: &[StageRun],
    ) {
        let gate_open = runs.iter().all(StageRun::opens_the_gate);
        match prebuild {
            Some(prebuild) if gate_open => {
                timing::timed(&exercise.name, "perf-build-ahead", || prebuild.finish());
            }
            Some(prebuild) => prebuild.set_aside(self.build_ahead),
            None if self.build_ahead && exercise.perf.is_some() && stages::on_the_last(runs) => {
                if let Some(prebuild) = Prebuild::start(build) {
                    prebuild.set_aside(true);
                }
            }
            None => {}
        }
    }

    fn measure(
        &self,
        exercise: &Exercise,
        subject: &Subject,
        scratch_dir: &Path,
        stage: &PerfStage,
    ) -> PerformanceReport {
        let strip = self.strip_prefixes();
        let built = timing::timed(&exercise.name, "perf-build", || {
            compile::build_perf(self.build(scratch_dir, subject, &strip, &|_| {}))
        });
        let result = match built {
            Ok(Built::Compiled(exe)) => {
                let remeasure = perf::Remeasure {
                    forced: self.remeasure,
                    command: format!(
                        "cargo run -p checker -- {}{} --remeasure",
                        exercise.name,
                        self.tree.flags()
                    ),
                };
                let cache = scratch_dir.join("perf-cache.json");
                timing::timed(&exercise.name, "perf-measure", || {
                    perf::measure(&exe, &cache, stage, &remeasure)
                })
            }
            Ok(Built::Failed(failure)) => Err(anyhow::anyhow!(
                "the benchmark of {} did not compile:\n{}",
                exercise.name,
                failure.message
            )),
            Err(err) => Err(err),
        };
        result
            .unwrap_or_else(|err| perf::not_measured(stage, PerfStatus::Error, format!("{err:#}")))
    }

    /// The report of one test of `exercise`.
    fn test_report(
        &self,
        exercise: &Exercise,
        test: &HiddenTest,
        outcome: Outcome,
        message: String,
        duration_ms: Option<u64>,
    ) -> TestReport {
        // A pack's tests are built into a `[[test]]` target of their own.
        let pack = self.packs.iter().find(|p| p.target_name() == test.target);
        TestReport {
            name: test.name.clone(),
            stage: exercise.stages[test.stage].id.clone(),
            outcome,
            message,
            duration_ms,
            rerun: self.rerun_command(&exercise.name, &test.name),
            pack: pack.map(|p| p.name.clone()),
            visibility: pack
                .map(|p| p.visibility_of(&exercise.name))
                .unwrap_or_default(),
        }
    }

    fn stage_reports(
        &self,
        exercise: &Exercise,
        tests: &[TestReport],
        passed: &[bool],
    ) -> Vec<StageReport> {
        exercise
            .stages
            .iter()
            .enumerate()
            .map(|(i, stage)| {
                let of_stage: Vec<&TestReport> =
                    tests.iter().filter(|t| t.stage == stage.id).collect();
                let ok = passed.get(i).copied().unwrap_or(false);
                StageReport {
                    name: stage.id.clone(),
                    title: stage.title.clone(),
                    number: i + 1,
                    passed: ok,
                    score: if ok { stage.points } else { 0 },
                    max_score: stage.points,
                    tests_passed: of_stage
                        .iter()
                        .filter(|t| t.outcome == Outcome::Passed)
                        .count(),
                    tests_total: of_stage.len(),
                    section: format!("{}#{}", exercise.chapter, stage.section),
                    needs: Vec::new(),
                }
            })
            .collect()
    }
}

/// The suite compiled against the graded crate, or why it could not be.
#[derive(Debug)]
pub enum Prepared {
    /// Compiled; here are its tests.
    Ready {
        /// The graded crate.
        subject: Subject,
        /// The scratch project.
        scratch_dir: PathBuf,
        /// Every hidden test, with its stage.
        tests: Vec<HiddenTest>,
    },
    /// The graded crate (at this directory) or the suite against it did not compile.
    Broken(PathBuf, CompileFailure),
}
