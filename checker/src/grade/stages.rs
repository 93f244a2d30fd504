//! Running an exercise's correctness stages under their gates (a stage runs
//! only when every stage before it passes), the stage the learner is working
//! on first: its verdict is shown while the earlier stages are checked
//! again, and the results are exactly those of running them in order.

use anyhow::Result;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::course::manifest::Exercise;
use crate::exec::programs::missing_programs;
use crate::exec::runner::{self, HiddenTest};
use crate::grade::news::{News, Progress};
use crate::report::model::{ExerciseReport, Outcome, TestReport};
use crate::util::timing;

/// How one stage came out.
#[derive(Debug, Clone)]
pub enum StageRun {
    /// Its tests ran; `passed` when there were some and every one passed.
    Ran {
        /// One report per test of the stage.
        tests: Vec<TestReport>,
        /// Whether every test passed.
        passed: bool,
    },
    /// A program its tests need is missing here: not run, and not in the
    /// way of the stages after it.
    Unavailable {
        /// One report per test of the stage, each not run.
        tests: Vec<TestReport>,
        /// The missing programs.
        missing: Vec<String>,
    },
    /// An earlier stage fails, so it did not run.
    Gated {
        /// One report per test of the stage, each not run.
        tests: Vec<TestReport>,
    },
}

impl StageRun {
    /// The reports of the stage's tests.
    pub fn tests(&self) -> &[TestReport] {
        match self {
            StageRun::Ran { tests, .. }
            | StageRun::Unavailable { tests, .. }
            | StageRun::Gated { tests } => tests,
        }
    }

    /// Whether the stage passed.
    pub fn passed(&self) -> bool {
        matches!(self, StageRun::Ran { passed: true, .. })
    }

    /// Whether the stages after this one may run.
    pub fn opens_the_gate(&self) -> bool {
        matches!(
            self,
            StageRun::Ran { passed: true, .. } | StageRun::Unavailable { .. }
        )
    }
}

/// Whether every stage but the last opened its gate and the last did not
/// pass: the learner is on the last stage.
pub fn on_the_last(runs: &[StageRun]) -> bool {
    match runs.split_last() {
        Some((last, before)) => !last.passed() && before.iter().all(StageRun::opens_the_gate),
        None => false,
    }
}

/// Where and how the stages run: the exercise's tests, the folders they
/// must not write to, and what the grader adds to each test's report.
pub struct Place<'a> {
    /// The exercise.
    pub exercise: &'a Exercise,
    /// Every hidden test, with its stage.
    pub tests: &'a [HiddenTest],
    /// Folders a test must not write to (the graded crate, the scratch project).
    pub watched: Vec<PathBuf>,
    /// The oslings repository (whose crates of the exercise no test may change).
    pub root: PathBuf,
    /// Tests run at once.
    pub jobs: usize,
    /// Time limit of a test without its own override.
    pub timeout: Option<Duration>,
    /// How long each test took at the last grading, in milliseconds: the
    /// longest start first, so that a batch ends when its longest test does
    /// rather than when a long test picked up last does.
    pub last_ms: HashMap<String, u64>,
    /// The report of one test from how it ended (outcome, message,
    /// milliseconds): the grader adds its pack and the command that reruns it.
    pub report: ReportTest<'a>,
}

/// Makes the report of one test from how it ended: outcome, message and
/// milliseconds taken (`None` when it did not run).
pub type ReportTest<'a> = &'a dyn Fn(&HiddenTest, Outcome, String, Option<u64>) -> TestReport;

impl std::fmt::Debug for Place<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Place")
            .field("exercise", &self.exercise.name)
            .field("tests", &self.tests.len())
            .field("watched", &self.watched)
            .field("jobs", &self.jobs)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// In which order the stages run. Whatever the order, the report is the
/// one running them in order gives: a stage's results count only when every
/// stage before it passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// One stage after the other, stopping at the first that fails.
    InOrder,
    /// Stage `.0` (from 0, the learner's) first, its verdict shown, then
    /// the stages in order.
    FocusFirst(usize),
    /// Every stage's tests in one batch (the last grading passed them all,
    /// so no stage is likely to stop the others).
    AllAtOnce,
}

impl Plan {
    /// The plan the learner's last grading suggests.
    pub fn after(last: Option<&ExerciseReport>) -> Plan {
        let Some(last) = last.filter(|r| r.compile_error.is_none()) else {
            return Plan::InOrder;
        };
        match last.first_failing_stage() {
            None => Plan::AllAtOnce,
            Some(stage) if stage.number > 1 => Plan::FocusFirst(stage.number - 1),
            Some(_) => Plan::InOrder,
        }
    }
}

/// Runs every stage under its gate, in the order `plan` says. With
/// [`Plan::FocusFirst`], `progress` shows the learner's stage's verdict
/// before the stages before it are checked again; if one of those fails,
/// the focus stage counts as not run, as it would have been in order.
pub fn run_all(place: &Place<'_>, plan: Plan, progress: Progress<'_>) -> Result<Vec<StageRun>> {
    let stages = &place.exercise.stages;
    // What each stage needs and this machine lacks, looked up once.
    let missing: Vec<Vec<String>> = stages
        .iter()
        .map(|stage| missing_programs(&stage.requires))
        .collect();
    let runnable: Vec<usize> = (0..stages.len())
        .filter(|&i| missing[i].is_empty())
        .collect();
    let mut ahead: Vec<Option<StageRun>> = vec![None; stages.len()];
    match plan {
        Plan::FocusFirst(k) if k < stages.len() && runnable.contains(&k) => {
            let run = run_together(place, &[k], progress)?.remove(0);
            let verdict = early_verdict(place.exercise, k, &run);
            progress(News::Verdict(&verdict));
            timing::mark(&place.exercise.name, "verdict-at");
            ahead[k] = Some(run);
        }
        Plan::AllAtOnce => {
            let runs = run_together(place, &runnable, progress)?;
            for (index, run) in runnable.iter().zip(runs) {
                ahead[*index] = Some(run);
            }
        }
        _ => {}
    }
    let mut runs = Vec::with_capacity(stages.len());
    let mut gate_open = true;
    for (index, missing) in missing.into_iter().enumerate() {
        let run = if !gate_open {
            StageRun::Gated {
                tests: reports(place, index, Outcome::NotRun, ""),
            }
        } else if !missing.is_empty() {
            unavailable(place, index, missing)
        } else if let Some(run) = ahead[index].take() {
            run
        } else {
            run_together(place, &[index], progress)?.remove(0)
        };
        gate_open = run.opens_the_gate();
        runs.push(run);
    }
    if plan == Plan::AllAtOnce && place.exercise.perf.is_some() {
        progress(News::Verdict(&finished_verdict(place.exercise, &runs)));
        timing::mark(&place.exercise.name, "verdict-at");
    }
    Ok(runs)
}

/// What the learner of a finished exercise reads before the benchmark
/// runs: whether every stage still passes.
fn finished_verdict(exercise: &Exercise, runs: &[StageRun]) -> String {
    let failing = runs
        .iter()
        .zip(&exercise.stages)
        .enumerate()
        .find(|(_, (run, _))| !run.opens_the_gate());
    match failing {
        None => {
            let tests: usize = runs.iter().map(|r| r.tests().len()).sum();
            format!(
                "{}: ✓ every stage still passes ({tests} tests); the benchmark is next",
                exercise.name
            )
        }
        Some((index, (run, stage))) => {
            let passing = run
                .tests()
                .iter()
                .filter(|t| t.outcome == Outcome::Passed)
                .count();
            format!(
                "{}: ✗ stage {} ({}) fails now: {passing} of {} tests pass",
                exercise.name,
                index + 1,
                stage.id,
                run.tests().len()
            )
        }
    }
}

/// The reports of `index`'s tests, each with the same outcome and message.
fn reports(place: &Place<'_>, index: usize, outcome: Outcome, message: &str) -> Vec<TestReport> {
    of_stage(place, index)
        .map(|t| (place.report)(t, outcome, message.to_string(), None))
        .collect()
}

fn unavailable(place: &Place<'_>, index: usize, missing: Vec<String>) -> StageRun {
    let why = format!(
        "not run: this stage needs {}, which is not installed here",
        missing.join(", ")
    );
    StageRun::Unavailable {
        tests: reports(place, index, Outcome::NotRun, &why),
        missing,
    }
}

fn of_stage<'a>(place: &'a Place<'_>, index: usize) -> impl Iterator<Item = &'a HiddenTest> {
    place.tests.iter().filter(move |t| t.stage == index)
}

/// Runs the tests of the stages `indices` in one batch; one run per stage,
/// in the same order.
fn run_together(
    place: &Place<'_>,
    indices: &[usize],
    progress: Progress<'_>,
) -> Result<Vec<StageRun>> {
    let exercise = place.exercise;
    let mut batch: Vec<HiddenTest> = place
        .tests
        .iter()
        .filter(|t| indices.contains(&t.stage))
        .cloned()
        .collect();
    longest_first(&mut batch, &place.last_ms);
    let (doing, what) = match indices {
        [index] => (
            format!(
                "{}: stage {} ({}), {} tests",
                exercise.name,
                index + 1,
                exercise.stages[*index].id,
                batch.len()
            ),
            format!("stage-{}", index + 1),
        ),
        _ => (
            format!("{}: every stage, {} tests", exercise.name, batch.len()),
            "all-stages".to_string(),
        ),
    };
    progress(News::Doing(&doing));
    let results = timing::timed(&exercise.name, &what, || {
        runner::run_many(
            &place.root,
            exercise,
            &batch,
            place.jobs,
            place.timeout,
            &place.watched,
        )
    });
    let mut by_stage: Vec<Vec<TestReport>> = vec![Vec::new(); indices.len()];
    for (test, result) in batch.iter().zip(results) {
        let result = result?;
        timing::note(&exercise.name, &test.name, result.duration);
        let slot = indices
            .iter()
            .position(|&i| i == test.stage)
            .expect("in the batch");
        by_stage[slot].push((place.report)(
            test,
            result.outcome,
            result.message,
            Some(result.duration.as_millis() as u64),
        ));
    }
    for tests in &mut by_stage {
        in_suite_order(tests, place.tests);
    }
    Ok(by_stage
        .into_iter()
        .map(|tests| {
            let passed = !tests.is_empty() && tests.iter().all(|t| t.outcome == Outcome::Passed);
            StageRun::Ran { tests, passed }
        })
        .collect())
}

/// Orders `batch` by how long each test took last time, longest first
/// (tests never timed, and ties, keep their order).
fn longest_first(batch: &mut [HiddenTest], last_ms: &HashMap<String, u64>) {
    batch.sort_by_key(|t| std::cmp::Reverse(last_ms.get(&t.name).copied().unwrap_or(0)));
}

/// Puts a stage's reports back in the order of the suite's tests.
fn in_suite_order(reports: &mut [TestReport], suite: &[HiddenTest]) {
    reports.sort_by_key(|r| suite.iter().position(|t| t.name == r.name));
}

/// What the learner reads while the earlier stages are checked again.
fn early_verdict(exercise: &Exercise, focus: usize, run: &StageRun) -> String {
    let tests = run.tests();
    let passing = tests
        .iter()
        .filter(|t| t.outcome == Outcome::Passed)
        .count();
    let verdict = if run.passed() {
        format!("✓ all {} tests pass", tests.len())
    } else {
        format!("✗ {passing} of {} tests pass", tests.len())
    };
    let earlier = if focus == 1 {
        "stage 1 still passes".to_string()
    } else {
        format!("stages 1–{focus} still pass")
    };
    format!(
        "{}: stage {} ({}), the one you are on: {verdict}; checking that {earlier}",
        exercise.name,
        focus + 1,
        exercise.stages[focus].id
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test(name: &str) -> HiddenTest {
        HiddenTest {
            name: name.into(),
            stage: 0,
            binary: PathBuf::from("hidden"),
            target: "hidden".into(),
        }
    }

    fn names<'a>(tests: impl IntoIterator<Item = &'a HiddenTest>) -> Vec<&'a str> {
        tests.into_iter().map(|t| t.name.as_str()).collect()
    }

    #[test]
    fn the_longest_tests_start_first_and_the_report_keeps_the_suite_order() {
        let suite = vec![
            test("a::quick"),
            test("a::slow"),
            test("a::new"),
            test("a::slower"),
        ];
        let last_ms = HashMap::from([
            ("a::quick".to_string(), 3),
            ("a::slow".to_string(), 900),
            ("a::slower".to_string(), 2_000),
        ]);
        let mut batch = suite.clone();
        longest_first(&mut batch, &last_ms);
        assert_eq!(
            names(&batch),
            ["a::slower", "a::slow", "a::quick", "a::new"]
        );

        let mut reports: Vec<TestReport> = batch
            .iter()
            .map(|t| TestReport {
                name: t.name.clone(),
                stage: "a".into(),
                outcome: Outcome::Passed,
                message: String::new(),
                duration_ms: None,
                rerun: String::new(),
                pack: None,
                visibility: Default::default(),
            })
            .collect();
        in_suite_order(&mut reports, &suite);
        let order: Vec<&str> = reports.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(order, names(&suite));
    }
}
