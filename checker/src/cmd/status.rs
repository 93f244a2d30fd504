//! `list` and `progress`: where the learner stands in every exercise, from a
//! fresh (cached, so fast) grade.

use anstyle::{AnsiColor, Style};
use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use crate::cli::TreeArgs;
use crate::cmd::setup::{learner, select};
use crate::course::manifest::Exercise;
use crate::grade::Grader;
use crate::grade::news::News;
use crate::report::model::{ExerciseReport, Outcome, PerfStatus};

/// Where one stage stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Every test passed (and every earlier stage).
    Passed,
    /// It ran and some test did not pass.
    Failing,
    /// An earlier stage fails, so it did not run.
    NotRun,
    /// The crate does not compile (or is missing), so nothing ran.
    NotGraded,
    /// It needs a program this machine lacks (see the report), so it did
    /// not run; the stages after it did.
    Unavailable,
}

impl Status {
    /// The word `list` prints.
    pub fn label(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Failing => "failing",
            Status::NotRun => "not run",
            Status::NotGraded => "not graded",
            Status::Unavailable => "needs a program",
        }
    }

    fn style(self) -> Style {
        match self {
            Status::Passed => AnsiColor::Green.on_default(),
            Status::Failing => AnsiColor::Red.on_default(),
            Status::NotRun | Status::NotGraded => Style::new().dimmed(),
            Status::Unavailable => AnsiColor::Yellow.on_default(),
        }
    }
}

/// The status of stage `number` (from 1) in `report`.
pub fn stage_status(report: &ExerciseReport, number: usize) -> Status {
    if report.compile_error.is_some() {
        return Status::NotGraded;
    }
    let Some(stage) = report.stages.get(number.wrapping_sub(1)) else {
        return Status::NotGraded;
    };
    if stage.passed {
        return Status::Passed;
    }
    if stage.unavailable() {
        return Status::Unavailable;
    }
    let ran = report
        .tests
        .iter()
        .any(|t| t.stage == stage.name && t.outcome != Outcome::NotRun);
    if ran { Status::Failing } else { Status::NotRun }
}

/// The status of the performance stage in `report`.
pub fn perf_status(report: &ExerciseReport) -> Status {
    if report.compile_error.is_some() {
        return Status::NotGraded;
    }
    match &report.performance {
        Some(p) if p.status == PerfStatus::Measured && p.score == p.max_score => Status::Passed,
        Some(p) if p.status == PerfStatus::NotRun => Status::NotRun,
        Some(_) => Status::Failing,
        None => Status::NotGraded,
    }
}

/// A spinner on stderr while something runs (invisible when not a terminal).
pub fn spinner() -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} {elapsed:.dim}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Grades one exercise behind a spinner.
pub fn grade_quietly(grader: &Grader, exercise: &Exercise) -> Result<ExerciseReport> {
    let bar = spinner();
    let progress = |news: News<'_>| match news {
        News::Doing(what) => bar.set_message(what.to_string()),
        News::Verdict(line) => bar.println(line),
    };
    let report = grader.grade(exercise, &progress);
    bar.finish_and_clear();
    report
}

/// `list [EXERCISE]` in the tree `tree` selects.
pub fn list_command(exercise: Option<&str>, tree: &TreeArgs) -> Result<ExitCode> {
    let (grader, course) = learner(tree)?;
    list(&grader, &select(&course, exercise)?)
}

/// `progress [EXERCISE] [--plain]` in the tree `tree` selects.
pub fn progress_command(exercise: Option<&str>, plain: bool, tree: &TreeArgs) -> Result<ExitCode> {
    let (grader, course) = learner(tree)?;
    progress(&grader, &select(&course, exercise)?, plain)
}

/// `list`: every exercise and stage with its status and book section.
pub fn list(grader: &Grader, course: &[&Exercise]) -> Result<ExitCode> {
    let mut out = anstream::stdout();
    for (i, exercise) in course.iter().enumerate() {
        let report = grade_quietly(grader, exercise)?;
        if i > 0 {
            writeln!(out)?;
        }
        let bold = Style::new().bold();
        writeln!(
            out,
            "{bold}{}{bold:#} — {}  {}/{}{}",
            exercise.name,
            exercise.title,
            report.score,
            report.max_score,
            if report.compile_error.is_some() {
                "  (does not compile)"
            } else {
                ""
            }
        )?;
        let width = exercise
            .stages
            .iter()
            .map(|s| s.title.chars().count())
            .max()
            .unwrap_or(0);
        for (index, stage) in exercise.stages.iter().enumerate() {
            let status = stage_status(&report, index + 1);
            let style = status.style();
            writeln!(
                out,
                "  {:>2}  {style}{:<10}{style:#}  {:<width$}  book/{}#{}",
                index + 1,
                status.label(),
                stage.title,
                exercise.chapter,
                stage.section
            )?;
        }
        if let Some(perf) = &exercise.perf {
            let status = perf_status(&report);
            let style = status.style();
            writeln!(
                out,
                "  {:>2}  {style}{:<10}{style:#}  {:<width$}  book/{}#{}",
                "",
                status.label(),
                perf.title,
                exercise.chapter,
                perf.section
            )?;
        }
    }
    let dim = Style::new().dimmed();
    writeln!(
        out,
        "\n{dim}In the served book (`mdbook serve`), book/<chapter>.md#<section> is \
         http://localhost:3000/<chapter>.html#<section>.{dim:#}"
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Where the learner is in one exercise: `stage 2/6`, `performance`,
/// `complete`, or `does not compile`.
pub fn position(report: &ExerciseReport) -> String {
    if report.compile_error.is_some() {
        return "does not compile".to_string();
    }
    match report.first_failing_stage() {
        Some(stage) => format!("stage {}/{}", stage.number, report.stages.len()),
        None if report.complete() => "complete".to_string(),
        None => "performance".to_string(),
    }
}

/// A bar of `cells` cells, `score / max` of them filled.
pub fn bar(score: u32, max: u32, cells: usize) -> (String, String) {
    let filled = if max == 0 {
        0
    } else {
        (score as usize * cells + max as usize / 2) / max as usize
    }
    .min(cells);
    ("█".repeat(filled), "░".repeat(cells - filled))
}

/// `progress`: one line per exercise; `plain` leaves out the bar (for a
/// shell prompt or a badge).
pub fn progress(grader: &Grader, course: &[&Exercise], plain: bool) -> Result<ExitCode> {
    let mut out = anstream::stdout();
    let width = course.iter().map(|e| e.name.len()).max().unwrap_or(0);
    for exercise in course {
        let report = grade_quietly(grader, exercise)?;
        let score = format!("{}/{}", report.score, report.max_score);
        if plain {
            writeln!(out, "{} {score} {}", exercise.name, position(&report))?;
            continue;
        }
        let (filled, empty) = bar(report.score, report.max_score, 10);
        let style = if report.complete() {
            AnsiColor::Green.on_default()
        } else {
            AnsiColor::Cyan.on_default()
        };
        writeln!(
            out,
            "{:<width$}  {style}{filled}{style:#}{empty}  {score:>7}  {}",
            exercise.name,
            position(&report)
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_rounds_to_the_nearest_cell() {
        assert_eq!(bar(80, 100, 10), ("█".repeat(8), "░".repeat(2)));
        assert_eq!(bar(0, 100, 10), (String::new(), "░".repeat(10)));
        assert_eq!(bar(100, 100, 10), ("█".repeat(10), String::new()));
        assert_eq!(bar(5, 0, 10), (String::new(), "░".repeat(10)));
        assert_eq!(bar(14, 100, 10).0.chars().count(), 1);
        assert_eq!(bar(15, 100, 10).0.chars().count(), 2);
    }
}
