//! Running an exercise's correctness stages under their gates (a stage runs
//! only when every stage before it passes), the stage the learner is working
//! on first: its verdict is shown while the earlier stages are checked
//! again, and the results are exactly those of running them in order.

use anyhow::Result;
use std::path::PathBuf;

use crate::grade::{Grader, News, Progress, missing_programs};
use crate::manifest::Exercise;
use crate::model::{Outcome, TestReport};
use crate::runner::{self, HiddenTest};
use crate::timing;

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

/// Where the stages run: the graded crate and its scratch project.
#[derive(Debug)]
pub struct Place<'a> {
    /// The exercise.
    pub exercise: &'a Exercise,
    /// Every hidden test, with its stage.
    pub tests: &'a [HiddenTest],
    /// Folders a test must not write to (the graded crate, the scratch project).
    pub watched: Vec<PathBuf>,
}

/// Runs every stage under its gate, stage `focus` (from 0) first when
/// given: the learner's stage, whose verdict `progress` shows before the
/// stages before it are checked again. If one of those fails, the focus
/// stage counts as not run, as it would have been in order.
pub fn run_all(
    grader: &Grader,
    place: &Place<'_>,
    focus: Option<usize>,
    progress: Progress<'_>,
) -> Result<Vec<StageRun>> {
    let stages = &place.exercise.stages;
    let focus = focus.filter(|&k| k > 0 && k < stages.len());
    let mut early = match focus {
        Some(k) if missing_programs(&stages[k].requires).is_empty() => {
            let run = run_one(grader, place, k, progress)?;
            let verdict = early_verdict(place.exercise, k, &run);
            progress(News::Verdict(&verdict));
            timing::mark(&place.exercise.name, "verdict-at");
            Some(run)
        }
        _ => None,
    };
    let mut runs = Vec::with_capacity(stages.len());
    let mut gate_open = true;
    for (index, stage) in stages.iter().enumerate() {
        let run = if !gate_open {
            StageRun::Gated {
                tests: reports(grader, place, index, Outcome::NotRun, ""),
            }
        } else if let missing @ [_, ..] = missing_programs(&stage.requires).as_slice() {
            unavailable(grader, place, index, missing.to_vec())
        } else if focus == Some(index) && early.is_some() {
            early.take().expect("checked just above")
        } else {
            run_one(grader, place, index, progress)?
        };
        gate_open = run.opens_the_gate();
        runs.push(run);
    }
    Ok(runs)
}

/// The reports of `index`'s tests, each with the same outcome and message.
fn reports(
    grader: &Grader,
    place: &Place<'_>,
    index: usize,
    outcome: Outcome,
    message: &str,
) -> Vec<TestReport> {
    of_stage(place, index)
        .map(|t| grader.test_report(place.exercise, t, outcome, message.to_string(), None))
        .collect()
}

fn unavailable(grader: &Grader, place: &Place<'_>, index: usize, missing: Vec<String>) -> StageRun {
    let why = format!(
        "not run: this stage needs {}, which is not installed here",
        missing.join(", ")
    );
    StageRun::Unavailable {
        tests: reports(grader, place, index, Outcome::NotRun, &why),
        missing,
    }
}

fn of_stage<'a>(place: &'a Place<'_>, index: usize) -> impl Iterator<Item = &'a HiddenTest> {
    place.tests.iter().filter(move |t| t.stage == index)
}

/// Runs the tests of stage `index`.
fn run_one(
    grader: &Grader,
    place: &Place<'_>,
    index: usize,
    progress: Progress<'_>,
) -> Result<StageRun> {
    let exercise = place.exercise;
    let stage_tests: Vec<HiddenTest> = of_stage(place, index).cloned().collect();
    progress(News::Doing(&format!(
        "{}: stage {} ({}), {} tests",
        exercise.name,
        index + 1,
        exercise.stages[index].id,
        stage_tests.len()
    )));
    let what = format!("stage-{}", index + 1);
    let results = timing::timed(&exercise.name, &what, || {
        runner::run_many(
            exercise,
            &stage_tests,
            grader.jobs,
            grader.timeout,
            &place.watched,
        )
    });
    let mut tests = Vec::with_capacity(stage_tests.len());
    for (test, result) in stage_tests.iter().zip(results) {
        let result = result?;
        tests.push(grader.test_report(
            exercise,
            test,
            result.outcome,
            result.message,
            Some(result.duration.as_millis() as u64),
        ));
    }
    let passed = !tests.is_empty() && tests.iter().all(|t| t.outcome == Outcome::Passed);
    Ok(StageRun::Ran { tests, passed })
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
