//! The grading command (no subcommand): grade the selected exercises, build
//! the [`Report`] and print it in the format asked for; with `--test`, run
//! matching hidden tests alone and show their output.

use anyhow::{Context, Result, bail};
use std::io::Write;
use std::process::ExitCode;

use crate::build::seal;
use crate::cli::{Format, GradeArgs};
use crate::cmd::setup::{grader, select, tree_of};
use crate::cmd::{hints, status};
use crate::course::manifest::{self, Exercise};
use crate::course::pack;
use crate::exec::runner::{self, HiddenTest};
use crate::grade::news::News;
use crate::grade::{Grader, Prepared, Tree};
use crate::report::model::{ExerciseReport, Outcome, PackUsed, Report, SCHEMA_VERSION};
use crate::report::{self, text::Detail};

/// Grades what `args` select and prints the report; the exit status says
/// whether everything asked for passed.
pub fn run(args: &GradeArgs) -> Result<ExitCode> {
    let tree = tree_of(&args.tree)?;
    let mut grader = grader(tree, args.jobs, args.timeout);
    grader.remeasure = args.remeasure;
    grader.fresh = args.fresh;
    let course = manifest::load_course(&grader.root.join("checker").join("hidden"))?;
    grader.packs = pack::load_all(&args.packs, &course)?;
    let selected = select(&course, args.exercise.as_deref())?;
    if let Tree::Custom(dir) = &grader.tree {
        check_has_crates(dir, &selected)?;
    }
    if let (Some(filter), Some(exercise)) = (&args.test, selected.first()) {
        return run_single(&grader, exercise, filter);
    }
    let bar = status::spinner();
    let progress = |news: News<'_>| match news {
        News::Doing(what) => bar.set_message(what.to_string()),
        News::Verdict(line) => bar.println(line),
    };
    let mut exercises = Vec::new();
    for exercise in &selected {
        exercises.push(grader.grade(exercise, &progress)?);
    }
    bar.finish_and_clear();
    let report = report_of(&grader, &selected, exercises);
    if let Some(path) = &args.json_out {
        std::fs::write(path, format!("{}\n", report::json(&report)))
            .with_context(|| format!("--json-out: cannot write {}", path.display()))?;
    }
    print(args, &report, &course, &grader)?;
    Ok(if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Fails when another tree (`--exercises-from dir`) has no crate for any of
/// the `selected` exercises: it is not an oslings checkout.
fn check_has_crates(dir: &std::path::Path, selected: &[&Exercise]) -> Result<()> {
    let absent = |e: &&Exercise| {
        let found = seal::locate(dir, &e.name);
        found.join("Cargo.toml").symlink_metadata().is_err() && found.symlink_metadata().is_err()
    };
    if selected.iter().all(absent) {
        bail!(
            "{} does not look like an oslings checkout: it has no crate for any exercise \
             (expected, e.g., {}/exercises/{}/Cargo.toml)",
            dir.display(),
            dir.display(),
            selected
                .first()
                .map_or("bump-allocator", |e| e.name.as_str())
        );
    }
    Ok(())
}

/// The report of a grading of `selected` by `grader`.
fn report_of(grader: &Grader, selected: &[&Exercise], exercises: Vec<ExerciseReport>) -> Report {
    let score = exercises.iter().map(|e| e.score).sum();
    let max_score = exercises.iter().map(|e| e.max_score).sum();
    Report {
        schema_version: SCHEMA_VERSION,
        checker_version: env!("CARGO_PKG_VERSION").to_string(),
        graded: grader.tree.label(),
        course_root: Some(grader.root.display().to_string()),
        packs: grader
            .packs
            .iter()
            .map(|p| PackUsed {
                name: p.name.clone(),
                dir: p.dir.display().to_string(),
            })
            .collect(),
        score,
        max_score,
        passed: exercises.iter().all(|e| e.complete()),
        exercises,
        refused: grader.refusals(selected),
    }
}

/// Prints `report` on standard output in the format `args` ask for.
fn print(args: &GradeArgs, report: &Report, course: &[Exercise], grader: &Grader) -> Result<()> {
    let mut stdout = anstream::stdout();
    match args.format {
        Format::Json => writeln!(stdout, "{}", report::json(report))?,
        Format::Junit => write!(stdout, "{}", report::junit::render(report))?,
        Format::Gradescope => writeln!(stdout, "{}", report::gradescope::render(report))?,
        Format::Classroom => write!(stdout, "{}", report::classroom::render(report))?,
        Format::Markdown => write!(stdout, "{}", report::markdown::render(report))?,
        Format::Text => {
            let detail = if args.exercise.is_some() {
                Detail::Full
            } else {
                Detail::Summary
            };
            let width = terminal_size::terminal_size()
                .map(|(w, _)| w.0 as usize)
                .unwrap_or(88);
            let text = report::text::render(report, course, detail, width, &grader.flags());
            write!(stdout, "{text}")?;
            if detail == Detail::Full {
                remember_hints_shown(grader, report);
            }
        }
    }
    Ok(())
}

/// The detailed report showed level 1 of each failing stage's hints:
/// `hint --next` goes on from there.
fn remember_hints_shown(grader: &Grader, report: &Report) {
    let state = hints::state_path(&grader.root);
    for exercise in &report.exercises {
        if let Some(stage) = exercise.first_failing_stage() {
            let tree = grader.tree.label();
            hints::remember_shown(&state, &tree, &exercise.name, &stage.name);
        }
    }
}

/// `--test NAME`: runs the matching tests alone, in any stage, and shows
/// their output.
fn run_single(grader: &Grader, exercise: &Exercise, filter: &str) -> Result<ExitCode> {
    let _alone = grader.exclusive(exercise, &|_| {})?;
    let (tests, watched) = match grader.prepare(exercise, &|_| {})? {
        Prepared::Ready {
            tests,
            subject,
            scratch_dir,
        } => (tests, [subject.crate_dir, scratch_dir]),
        Prepared::Broken(_, failure) => {
            bail!("{} does not compile:\n{}", exercise.name, failure.message)
        }
    };
    let matching = matching(&tests, filter);
    if matching.is_empty() {
        bail!(
            "no hidden test of {} matches `{filter}`; run `cargo run -p checker -- {}` to see their names",
            exercise.name,
            exercise.name
        );
    }
    let mut all_passed = true;
    let mut stdout = anstream::stdout();
    for test in &matching {
        let result = runner::run_one(&grader.root, exercise, test, grader.timeout, &watched)?;
        all_passed &= result.outcome == Outcome::Passed;
        show(&mut stdout, test, &result)?;
    }
    Ok(if all_passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The tests called `filter`, or else those whose name contains it.
fn matching(tests: &[HiddenTest], filter: &str) -> Vec<HiddenTest> {
    let exact: Vec<_> = tests.iter().filter(|t| t.name == filter).cloned().collect();
    if !exact.is_empty() {
        return exact;
    }
    tests
        .iter()
        .filter(|t| t.name.contains(filter))
        .cloned()
        .collect()
}

/// One test's result for `--test`: the verdict, the message and, unless it
/// passed, everything it printed.
fn show(out: &mut impl Write, test: &HiddenTest, result: &runner::TestResult) -> Result<()> {
    let style = if result.outcome == Outcome::Passed {
        anstyle::AnsiColor::Green.on_default()
    } else {
        anstyle::AnsiColor::Red.on_default()
    };
    writeln!(
        out,
        "{style}{}{style:#} — {} ({} ms)",
        test.name,
        result.outcome.label(),
        result.duration.as_millis()
    )?;
    if !result.message.is_empty() {
        writeln!(out, "{}\n", result.message)?;
    }
    if result.outcome != Outcome::Passed && !result.output.trim().is_empty() {
        writeln!(
            out,
            "--- everything the test printed ---\n{}",
            result.output.trim_end()
        )?;
    }
    Ok(())
}
