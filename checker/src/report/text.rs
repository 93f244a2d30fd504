//! The human report: a calm progress table, then what to do next.
//!
//! Colour goes through `anstream`, which drops it when the output is not a
//! terminal or `NO_COLOR` is set.

use anstyle::{AnsiColor, Style};
use std::fmt::Write;

use crate::course::manifest::Exercise;
use crate::report::model::{ExerciseReport, Outcome, PerfStatus, PerformanceReport, Report};
use crate::util::snippet;

const GREEN: Style = AnsiColor::Green.on_default();
const RED: Style = AnsiColor::Red.on_default();
const YELLOW: Style = AnsiColor::Yellow.on_default();
const DIM: Style = Style::new().dimmed();
const BOLD: Style = Style::new().bold();

/// How much to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// The table and one next step.
    Summary,
    /// Also every failing test with its message, the hint and the book section.
    Full,
}

/// Renders the whole report. `width` is the terminal width to fit.
pub fn render(
    report: &Report,
    course: &[Exercise],
    detail: Detail,
    width: usize,
    flags: &str,
) -> String {
    let width = width.clamp(60, 110);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{BOLD}oslings{BOLD:#} {DIM}· grading {}{}{DIM:#}\n",
        describe_tree(&report.graded),
        report
            .course_root
            .as_deref()
            .map(|root| match report.graded.as_str() {
                "exercises" | "solutions" => format!(" in {root}"),
                _ => format!(", with the hidden tests of {root}"),
            })
            .unwrap_or_default()
    );
    for exercise in &report.exercises {
        let manifest = course.iter().find(|e| e.name == exercise.name);
        exercise_table(&mut out, exercise, width);
        if detail == Detail::Full {
            if let Some(manifest) = manifest {
                failures(&mut out, exercise, manifest, width, flags);
            }
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "{BOLD}Score{BOLD:#} {}/{}{}",
        report.score,
        report.max_score,
        if report.passed {
            format!("  {GREEN}everything passes{GREEN:#}")
        } else {
            String::new()
        }
    );
    refused(&mut out, report);
    next_step(&mut out, report, course, detail, flags);
    out
}

/// What the graded tree held that grading did not use.
fn refused(out: &mut String, report: &Report) {
    if report.refused.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\n{YELLOW}Not used from the graded tree{YELLOW:#} (only each exercise's src/ is graded, \
         with the course's Cargo.toml):"
    );
    for refusal in &report.refused {
        let _ = writeln!(out, "  {BOLD}{}{BOLD:#}: {}", refusal.path, refusal.why);
    }
}

fn describe_tree(graded: &str) -> String {
    match graded {
        "exercises" => "exercises/ (your work)".to_string(),
        "solutions" => "solutions/ (the reference solutions)".to_string(),
        other => other.to_string(),
    }
}

fn exercise_table(out: &mut String, exercise: &ExerciseReport, width: usize) {
    exercise_heading(out, exercise, width);
    let id_width = exercise
        .stages
        .iter()
        .map(|s| s.name.chars().count())
        .max()
        .unwrap_or(0)
        .max(8);
    let title_width = width.saturating_sub(32 + id_width).max(20);
    stage_rows(out, exercise, id_width, title_width);
    if let Some(perf) = &exercise.performance {
        let number = exercise.stages.len() + 1;
        perf_rows(out, perf, number, id_width, title_width);
    }
    needs_advice(out, exercise, width);
}

/// The exercise's name and score, and a line each for reused results and
/// a crate that does not compile.
fn exercise_heading(out: &mut String, exercise: &ExerciseReport, width: usize) {
    let score = format!("{}/{}", exercise.score, exercise.max_score);
    let head = format!("{} — {}", exercise.name, exercise.title);
    let pad = width
        .saturating_sub(head.chars().count() + score.len())
        .max(1);
    let _ = writeln!(out, "{BOLD}{head}{BOLD:#}{}{score}", " ".repeat(pad));
    if let Some(when) = &exercise.reused_from {
        let when = when
            .parse::<jiff::Timestamp>()
            .map(|t| t.strftime("%H:%M:%S UTC").to_string())
            .unwrap_or_else(|_| when.clone());
        let _ = writeln!(
            out,
            "  {DIM}nothing changed since the grading at {when}: its results, reused \
             (--fresh runs the tests again){DIM:#}"
        );
    }
    if let Some(error) = &exercise.compile_error {
        let what = if error.missing {
            "is missing"
        } else if error.in_graded_crate {
            "does not compile"
        } else {
            "compiles, but the hidden tests do not compile against it (did a public signature change?)"
        };
        let _ = writeln!(out, "  {RED}✗ the crate {what}{RED:#}");
    }
}

/// One row per correctness stage: a mark, its number, id and title, and
/// how its tests went.
fn stage_rows(out: &mut String, exercise: &ExerciseReport, id_width: usize, title_width: usize) {
    for stage in &exercise.stages {
        let (mark, style) = if stage.passed {
            ("✓", GREEN)
        } else if stage.unavailable() {
            ("?", YELLOW)
        } else if stage.tests_total > 0
            && exercise
                .tests
                .iter()
                .filter(|t| t.stage == stage.name)
                .all(|t| t.outcome == Outcome::NotRun)
        {
            ("·", DIM)
        } else {
            ("✗", RED)
        };
        let status = if stage.unavailable() {
            format!("{YELLOW}needs {}{YELLOW:#}", stage.needs.join(", "))
        } else {
            stage_status(exercise, &stage.name, stage.tests_passed, stage.tests_total)
        };
        let _ = writeln!(
            out,
            "  {style}{mark}{style:#} {:>2} {:<id_width$} {:<title_width$} {status}",
            stage.number,
            stage.name,
            truncate(&stage.title, title_width),
        );
    }
}

/// The performance stage's row (stage `number`), then its workloads.
fn perf_rows(
    out: &mut String,
    perf: &PerformanceReport,
    number: usize,
    id_width: usize,
    title_width: usize,
) {
    let (mark, style) = match (perf.status, perf.score == perf.max_score) {
        (PerfStatus::Measured, true) => ("✓", GREEN),
        (PerfStatus::Measured, false) => ("~", YELLOW),
        (PerfStatus::Error, _) => ("✗", RED),
        (PerfStatus::NotRun, _) => ("·", DIM),
    };
    let status = match perf.ratio_to_reference {
        Some(ratio) => format!(
            "{ratio:.2}× the reference's {}  {}/{}",
            headline_clock(perf),
            perf.score,
            perf.max_score
        ),
        None if perf.status == PerfStatus::Error => "benchmark failed".to_string(),
        None => format!("{DIM}after every stage passes{DIM:#}"),
    };
    let _ = writeln!(
        out,
        "  {style}{mark}{style:#} {number:>2} {:<id_width$} {:<title_width$} {status}",
        "perf", "Performance",
    );
    workload_rows(out, perf);
    if !perf.workload_ratios.is_empty() {
        let _ = writeln!(
            out,
            "  {DIM}{:>14}(your CPU time divided by theirs, round by round, side by side: the median \
             and its 95% interval; below 1 is faster){DIM:#}",
            ""
        );
    }
    if let (true, Some(when)) = (perf.reused, &perf.measured_at) {
        let _ = writeln!(
            out,
            "  {DIM}{:>14}(measured {}, reused: the benchmark has not changed since; \
             --remeasure measures again){DIM:#}",
            "",
            when.parse::<jiff::Timestamp>()
                .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_else(|_| when.clone())
        );
    }
}

/// A line per workload of `perf` (its ratios), and its metrics.
fn workload_rows(out: &mut String, perf: &PerformanceReport) {
    for workload in &perf.workload_ratios {
        let mut line = format!("{}:", workload.name);
        if let Some(r) = workload.ratio_to_reference {
            let _ = write!(line, " {r:.2}× reference");
            if let Some([low, high]) = workload.interval {
                let _ = write!(line, " ({low:.2}–{high:.2})");
            }
            if !workload.scored {
                line.push_str(" [context, not scored]");
            }
        }
        for (name, r) in &workload.ratio_to_baselines {
            let _ = write!(line, ", {r:.2}× {name}");
        }
        let _ = writeln!(out, "  {DIM}{:>14}{line}{DIM:#}", "");
        let mut names: Vec<&str> = workload.metrics.iter().map(|m| m.name.as_str()).collect();
        names.dedup();
        for name in names {
            let values: Vec<String> = workload
                .metrics
                .iter()
                .filter(|m| m.name == name)
                .map(|m| format!("{} {:.2}", m.subject, m.value))
                .collect();
            let _ = writeln!(out, "  {DIM}{:>16}{name}: {}{DIM:#}", "", values.join(", "));
        }
    }
}

/// What to install for each stage that needs a program this machine lacks.
fn needs_advice(out: &mut String, exercise: &ExerciseReport, width: usize) {
    for stage in exercise.stages.iter().filter(|s| s.unavailable()) {
        let advice = format!(
            "stage {} ({}) {}",
            stage.number,
            stage.name,
            stage.needs_advice()
        );
        let options = textwrap::Options::new(width.saturating_sub(2))
            .initial_indent("  ")
            .subsequent_indent("    ");
        let _ = writeln!(
            out,
            "{YELLOW}{}{YELLOW:#}",
            textwrap::fill(&advice, options)
        );
    }
}

fn stage_status(exercise: &ExerciseReport, stage: &str, passed: usize, total: usize) -> String {
    let tests: Vec<_> = exercise.tests.iter().filter(|t| t.stage == stage).collect();
    if tests.iter().all(|t| t.outcome == Outcome::NotRun) {
        return format!("{DIM}not run{DIM:#}");
    }
    if tests.iter().all(|t| t.outcome == Outcome::CompileError) {
        return format!("{RED}compile error{RED:#}");
    }
    let mut worst: Vec<&str> = Vec::new();
    for outcome in [Outcome::Crashed, Outcome::TimedOut, Outcome::Leaked] {
        let n = tests.iter().filter(|t| t.outcome == outcome).count();
        if n > 0 {
            worst.push(outcome.label());
        }
    }
    let extra = if worst.is_empty() {
        String::new()
    } else {
        format!(" {RED}({}){RED:#}", worst.join(", "))
    };
    format!("{passed}/{total} tests{extra}")
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut t: String = text.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

fn failures(
    out: &mut String,
    exercise: &ExerciseReport,
    manifest: &Exercise,
    width: usize,
    flags: &str,
) {
    if let Some(error) = &exercise.compile_error {
        let _ = writeln!(out);
        let _ = writeln!(out, "{}", snippet::indent(&error.message, "    "));
        return;
    }
    let failing: Vec<_> = exercise
        .tests
        .iter()
        .filter(|t| !matches!(t.outcome, Outcome::Passed | Outcome::NotRun))
        .collect();
    const SHOWN: usize = 5;
    for test in failing.iter().take(SHOWN) {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "  {RED}✗ {}{RED:#} — {}",
            test.name,
            test.outcome.label()
        );
        let message = wrap_long_lines(&test.message, width.saturating_sub(6));
        let _ = writeln!(out, "{}", snippet::indent(&message, "      "));
        let _ = writeln!(out, "      {DIM}rerun alone:{DIM:#} {}", test.rerun);
    }
    if failing.len() > SHOWN {
        let _ = writeln!(out, "\n  … and {} more:", failing.len() - SHOWN);
        for test in &failing[SHOWN..] {
            let _ = writeln!(
                out,
                "  {RED}✗{RED:#} {} — {}",
                test.name,
                test.outcome.label()
            );
        }
    }
    if let Some(stage) = exercise.first_failing_stage() {
        if let Some(spec) = manifest.stages.iter().find(|s| s.id == stage.name) {
            let _ = writeln!(out);
            let _ = writeln!(
                out,
                "  {BOLD}Hint{BOLD:#} (stage {}, 1 of {}):",
                stage.number,
                spec.hints.len()
            );
            let options = textwrap::Options::new(width.saturating_sub(2))
                .initial_indent("    ")
                .subsequent_indent("    ");
            let _ = writeln!(out, "{}", textwrap::fill(&spec.hints[0], options));
            if spec.hints.len() > 1 {
                let _ = writeln!(
                    out,
                    "  {DIM}more: cargo run -p checker -- hint {} --level 2{flags}{DIM:#}",
                    exercise.name
                );
            }
            let _ = writeln!(out, "  {BOLD}Read{BOLD:#} book/{}", stage.section);
        }
    }
}

/// What the headline ratio compares: the clock every scored workload was
/// judged on (`CPU time`, `wall time`), or `time` when they differ.
fn headline_clock(perf: &crate::report::model::PerformanceReport) -> &'static str {
    let mut clocks = perf
        .workload_ratios
        .iter()
        .filter(|w| w.scored)
        .map(|w| match w.clock {
            oslings_harness::perf::Clock::Wall => "wall time",
            _ => "CPU time",
        });
    let first = clocks.next().unwrap_or("time");
    if clocks.all(|c| c == first) {
        first
    } else {
        "time"
    }
}

fn wrap_long_lines(text: &str, width: usize) -> String {
    // Assertion messages keep their own line breaks; a long line is wrapped
    // (never cut mid-advice), keeping its indentation. Only a line too long
    // to be a message (a dumped buffer) is cut, and says so.
    const LONGEST: usize = 4000;
    let width = width.max(40);
    text.lines()
        .map(|l| {
            let count = l.chars().count();
            let l = if count > LONGEST {
                let kept: String = l.chars().take(LONGEST).collect();
                format!("{kept}… ({} more characters)", count - LONGEST)
            } else {
                l.to_string()
            };
            if l.chars().count() <= width {
                return l;
            }
            let indent: String = l.chars().take_while(|c| *c == ' ').collect();
            let options = textwrap::Options::new(width)
                .initial_indent(&indent)
                .subsequent_indent(&indent);
            textwrap::fill(l.trim_start(), options)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn next_step(out: &mut String, report: &Report, course: &[Exercise], detail: Detail, flags: &str) {
    let Some(exercise) = report.exercises.iter().find(|e| !e.complete()) else {
        return;
    };
    let chapter = course
        .iter()
        .find(|e| e.name == exercise.name)
        .map(|e| e.chapter.clone())
        .unwrap_or_default();
    let _ = writeln!(out);
    if exercise.compile_error.is_some() {
        next_compile(out, exercise, detail, flags);
        return;
    }
    if let Some(stage) = exercise.first_failing_stage() {
        let _ = writeln!(
            out,
            "{BOLD}Next{BOLD:#}: {} stage {} — {}",
            exercise.name, stage.number, stage.title
        );
        let _ = writeln!(out, "  read:    book/{}", stage.section);
        if detail == Detail::Summary {
            let _ = writeln!(
                out,
                "  details: cargo run -p checker --{flags} {}",
                exercise.name
            );
        }
        let _ = writeln!(
            out,
            "  hint:    cargo run -p checker -- hint {}{flags}",
            exercise.name
        );
        return;
    }
    next_after_stages(out, exercise, &chapter);
}

/// The next step when `exercise` does not compile (or has no crate).
fn next_compile(out: &mut String, exercise: &ExerciseReport, detail: Detail, flags: &str) {
    if exercise.compile_error.as_ref().is_some_and(|e| e.missing) {
        let _ = writeln!(
            out,
            "{BOLD}Next{BOLD:#}: {} has no crate in the graded tree; restore it with \
             `git checkout -- exercises/{}` (or copy it from the course repository).",
            exercise.name, exercise.name
        );
        return;
    }
    let _ = writeln!(
        out,
        "{BOLD}Next{BOLD:#}: make {} compile again.",
        exercise.name
    );
    if detail == Detail::Summary {
        let _ = writeln!(
            out,
            "  errors:  cargo run -p checker --{flags} {}",
            exercise.name
        );
    }
    if flags.is_empty() {
        let _ = writeln!(out, "  or:      cargo build -p {}", exercise.name);
    }
}

/// The next step when every stage that could run passes: the performance
/// stage, or a stage that needs a program this machine lacks.
fn next_after_stages(out: &mut String, exercise: &ExerciseReport, chapter: &str) {
    let unavailable = exercise.stages.iter().find(|s| s.unavailable());
    match (&exercise.performance, unavailable) {
        (Some(perf), _) if perf.score < perf.max_score => {
            let _ = writeln!(
                out,
                "{BOLD}Next{BOLD:#}: {} performance — {}",
                exercise.name, perf.message
            );
            let _ = writeln!(out, "  read:    book/{chapter}");
        }
        (_, Some(stage)) => {
            let _ = writeln!(
                out,
                "{BOLD}Next{BOLD:#}: {} stage {} — {} {}.",
                exercise.name,
                stage.number,
                stage.title,
                stage.needs_advice()
            );
            let _ = writeln!(out, "  read:    book/{}", stage.section);
        }
        (Some(perf), None) => {
            let _ = writeln!(
                out,
                "{BOLD}Next{BOLD:#}: {} performance — {}",
                exercise.name, perf.message
            );
            let _ = writeln!(out, "  read:    book/{chapter}");
        }
        (None, None) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_message_line_is_wrapped_whole_never_cut() {
        let advice = "    Publish the new TAT with compare_exchange, and on failure decide \
                      again from the value it returns: a plain load followed by a store \
                      loses updates when two threads read the same TAT.";
        let wrapped = wrap_long_lines(advice, 40);
        assert!(
            wrapped.lines().all(|l| l.chars().count() <= 40),
            "{wrapped}"
        );
        assert!(wrapped.lines().all(|l| l.starts_with("    ")), "{wrapped}");
        assert!(wrapped.ends_with("read the same TAT."), "{wrapped}");
        let words = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
        assert_eq!(words(&wrapped), words(advice), "every word kept");
    }

    #[test]
    fn only_a_dumped_buffer_is_cut_and_it_says_so() {
        let dump = "x".repeat(5000);
        let shown = wrap_long_lines(&dump, 100);
        assert!(shown.contains("(1000 more characters)"), "{shown}");
    }
}
