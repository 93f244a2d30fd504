//! oslings checker: grades the exercise crates with hidden tests and
//! benchmarks, and says what to do next.

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use checker::grade::{self, Grader, Tree};
use checker::manifest::{self, Exercise};
use checker::model::{Outcome, Report, SCHEMA_VERSION};
use checker::report::{self, text::Detail};
use checker::{runner, sandbox};

/// Grade your oslings exercises.
///
/// With no arguments, grades every exercise and prints a progress table and
/// the next thing to do. Name an exercise to see each failing test in detail.
#[derive(Debug, Parser)]
#[command(
    name = "checker",
    version,
    args_conflicts_with_subcommands = true,
    after_help = "Environment: OSLINGS_ROOT (the oslings repository, default: where the checker \
                  was built), OSLINGS_TARGET_DIR (where graded builds go, default: \
                  target/oslings/build), NO_COLOR (plain output)."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    grade: GradeArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print a hint for the stage you are on.
    Hint {
        /// The exercise, e.g. bump-allocator.
        exercise: String,
        /// Hint level: 1 is a nudge, higher levels say more.
        #[arg(long, default_value_t = 1)]
        level: usize,
        /// A stage id or number instead of the first failing stage.
        #[arg(long)]
        stage: Option<String>,
        #[command(flatten)]
        tree: TreeArgs,
    },
    /// Internal: run one program in the sandbox (used by the checker itself).
    #[command(name = "__supervise", hide = true)]
    Supervise {
        #[arg(long)]
        status_file: PathBuf,
        #[arg(long)]
        limits: String,
        #[arg(long)]
        parent: u32,
        #[arg(last = true, required = true)]
        program: Vec<OsString>,
    },
}

#[derive(Debug, Args)]
struct TreeArgs {
    /// Grade the reference solutions instead of your exercises.
    #[arg(long, value_enum, default_value_t = Against::Exercises)]
    against: Against,
    /// Grade the exercises of another checkout (read-only), e.g. a student's fork.
    #[arg(long, value_name = "DIR", conflicts_with = "against")]
    exercises_from: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct GradeArgs {
    /// Grade only this exercise, and show every failing test in detail.
    exercise: Option<String>,
    /// With an exercise: run only the hidden tests whose name contains this,
    /// ignoring stage order, and show everything they print.
    #[arg(long, value_name = "NAME", requires = "exercise")]
    test: Option<String>,
    /// Report format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// How many tests run at once (default: the number of CPUs).
    #[arg(long, short)]
    jobs: Option<usize>,
    /// Time limit in seconds of each hidden test that has no limit of its own.
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    timeout: f64,
    #[command(flatten)]
    tree: TreeArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Against {
    /// Your work in exercises/.
    Exercises,
    /// The reference solutions in solutions/.
    Solutions,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// A table for people.
    Text,
    /// The versioned JSON report.
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Supervise {
            status_file,
            limits,
            parent,
            program,
        }) => supervise(&status_file, &limits, parent, &program).map(|()| ExitCode::SUCCESS),
        Some(Command::Hint {
            exercise,
            level,
            stage,
            tree,
        }) => hint(&exercise, level, stage.as_deref(), &tree),
        None => grade(&cli.grade),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            anstream::eprintln!(
                "{}error:{} {err:#}",
                anstyle::AnsiColor::Red.on_default().bold(),
                anstyle::Reset
            );
            ExitCode::from(2)
        }
    }
}

fn supervise(status_file: &Path, limits: &str, parent: u32, program: &[OsString]) -> Result<()> {
    let limits = serde_json::from_str(limits).context("bad --limits")?;
    sandbox::supervise(status_file, limits, parent, program)
}

/// The oslings repository this checker belongs to.
fn repo_root() -> PathBuf {
    if let Some(root) = std::env::var_os("OSLINGS_ROOT") {
        return PathBuf::from(root);
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn tree_of(args: &TreeArgs) -> Result<Tree> {
    if let Some(dir) = &args.exercises_from {
        if !dir.is_dir() {
            bail!(
                "--exercises-from {}: no such directory (give the root of a checkout, \
                 the folder that contains exercises/)",
                dir.display()
            );
        }
        let dir = dir
            .canonicalize()
            .with_context(|| format!("cannot read {}", dir.display()))?;
        return Ok(Tree::Custom(dir));
    }
    Ok(match args.against {
        Against::Exercises => Tree::Exercises,
        Against::Solutions => Tree::Solutions,
    })
}

fn grader(tree: Tree, jobs: Option<usize>, timeout: f64) -> Grader {
    let root = repo_root();
    let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let target_dir = std::env::var_os("OSLINGS_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target").join("oslings").join("build"));
    Grader {
        target_dir,
        root,
        tree,
        jobs,
        timeout: Some(Duration::from_secs_f64(timeout.clamp(0.1, 3600.0))),
    }
}

fn select<'a>(course: &'a [Exercise], name: Option<&str>) -> Result<Vec<&'a Exercise>> {
    let Some(name) = name else {
        return Ok(course.iter().collect());
    };
    if let Some(exercise) = course.iter().find(|e| e.name == name) {
        return Ok(vec![exercise]);
    }
    let names: Vec<&str> = course.iter().map(|e| e.name.as_str()).collect();
    let close = names
        .iter()
        .copied()
        .min_by_key(|candidate| edit_distance(candidate, name))
        .filter(|c| edit_distance(c, name) <= c.len() / 2);
    let suggestion = close
        .map(|c| format!(" Did you mean `{c}`?"))
        .unwrap_or_default();
    bail!(
        "there is no exercise called `{name}`.{suggestion} The exercises are: {}",
        names.join(", ")
    )
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(row[j]).min(cur)
            };
            prev = cur;
        }
    }
    row[b.len()]
}

fn spinner() -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} {elapsed:.dim}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

fn grade(args: &GradeArgs) -> Result<ExitCode> {
    let tree = tree_of(&args.tree)?;
    let grader = grader(tree, args.jobs, args.timeout);
    let course = manifest::load_course(&grader.root.join("checker").join("hidden"))?;
    let selected = select(&course, args.exercise.as_deref())?;
    if let Tree::Custom(dir) = &grader.tree {
        if selected.iter().all(|e| grader.subject(e).is_err()) {
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
    }
    if let (Some(filter), Some(exercise)) = (&args.test, selected.first()) {
        return run_single(&grader, exercise, filter);
    }
    let bar = spinner();
    let progress = |msg: &str| bar.set_message(msg.to_string());
    let mut exercises = Vec::new();
    for exercise in &selected {
        exercises.push(grader.grade(exercise, &progress)?);
    }
    bar.finish_and_clear();
    let score = exercises.iter().map(|e| e.score).sum();
    let max_score = exercises.iter().map(|e| e.max_score).sum();
    let report = Report {
        schema_version: SCHEMA_VERSION,
        checker_version: env!("CARGO_PKG_VERSION").to_string(),
        graded: grader.tree.label(),
        score,
        max_score,
        passed: exercises.iter().all(|e| e.complete()),
        exercises,
    };
    let mut stdout = anstream::stdout();
    match args.format {
        Format::Json => writeln!(stdout, "{}", report::json(&report))?,
        Format::Text => {
            let detail = if args.exercise.is_some() {
                Detail::Full
            } else {
                Detail::Summary
            };
            let width = terminal_size::terminal_size()
                .map(|(w, _)| w.0 as usize)
                .unwrap_or(88);
            let text = report::text::render(&report, &course, detail, width, &grader.tree.flags());
            write!(stdout, "{text}")?;
        }
    }
    Ok(if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `--test NAME`: run matching tests alone, in any stage, and show their output.
fn run_single(grader: &Grader, exercise: &Exercise, filter: &str) -> Result<ExitCode> {
    let tests = match grader.prepare(exercise, &|_| {})? {
        grade::Prepared::Ready { tests, .. } => tests,
        grade::Prepared::Broken(_, failure) => {
            bail!("{} does not compile:\n{}", exercise.name, failure.message)
        }
    };
    let exact: Vec<_> = tests.iter().filter(|t| t.name == filter).cloned().collect();
    let matching: Vec<_> = if exact.is_empty() {
        tests
            .iter()
            .filter(|t| t.name.contains(filter))
            .cloned()
            .collect()
    } else {
        exact
    };
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
        let result = runner::run_one(exercise, test, grader.timeout)?;
        let style = if result.outcome == Outcome::Passed {
            anstyle::AnsiColor::Green.on_default()
        } else {
            all_passed = false;
            anstyle::AnsiColor::Red.on_default()
        };
        writeln!(
            stdout,
            "{style}{}{style:#} — {} ({} ms)",
            test.name,
            result.outcome.label(),
            result.duration.as_millis()
        )?;
        if !result.message.is_empty() {
            writeln!(stdout, "{}\n", result.message)?;
        }
        if result.outcome != Outcome::Passed && !result.output.trim().is_empty() {
            writeln!(
                stdout,
                "--- everything the test printed ---\n{}",
                result.output.trim_end()
            )?;
        }
    }
    Ok(if all_passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn hint(name: &str, level: usize, stage: Option<&str>, tree: &TreeArgs) -> Result<ExitCode> {
    let grader = grader(tree_of(tree)?, None, 5.0);
    let course = manifest::load_course(&grader.root.join("checker").join("hidden"))?;
    let exercise = select(&course, Some(name))?[0];
    let index = match stage {
        Some(stage) => exercise
            .stages
            .iter()
            .position(|s| {
                s.id == stage || stage.parse::<usize>().ok() == Some(s_number(exercise, &s.id))
            })
            .with_context(|| {
                let ids: Vec<&str> = exercise.stages.iter().map(|s| s.id.as_str()).collect();
                format!(
                    "{name} has no stage `{stage}`; its stages are {}",
                    ids.join(", ")
                )
            })?,
        None => {
            let bar = spinner();
            let progress = |msg: &str| bar.set_message(msg.to_string());
            let report = grader.grade(exercise, &progress)?;
            bar.finish_and_clear();
            match report.first_failing_stage() {
                Some(stage) => stage.number - 1,
                None => {
                    let mut stdout = anstream::stdout();
                    if let Some(perf) = exercise.perf.as_ref().filter(|_| !report.complete()) {
                        let n = level.clamp(1, perf.hints.len().max(1));
                        if let Some(text) = perf.hints.get(n - 1) {
                            writeln!(
                                stdout,
                                "Hint for {name}, performance ({n} of {}):\n\n  {text}",
                                perf.hints.len()
                            )?;
                            return Ok(ExitCode::SUCCESS);
                        }
                    }
                    writeln!(stdout, "Every stage of {name} passes. Nothing to hint at.")?;
                    return Ok(ExitCode::SUCCESS);
                }
            }
        }
    };
    let stage = &exercise.stages[index];
    let n = level.clamp(1, stage.hints.len());
    let mut stdout = anstream::stdout();
    writeln!(
        stdout,
        "Hint for {name}, stage {} — {} ({n} of {}):\n",
        index + 1,
        stage.title,
        stage.hints.len()
    )?;
    let width = terminal_size::terminal_size()
        .map_or(88, |(w, _)| w.0 as usize)
        .clamp(40, 100);
    let options = textwrap::Options::new(width)
        .initial_indent("  ")
        .subsequent_indent("  ");
    writeln!(stdout, "{}", textwrap::fill(&stage.hints[n - 1], options))?;
    writeln!(
        stdout,
        "\nRead: book/{}#{}",
        exercise.chapter, stage.section
    )?;
    if n < stage.hints.len() {
        writeln!(
            stdout,
            "More: cargo run -p checker -- hint {name} --level {}{}",
            n + 1,
            grader.tree.flags()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn s_number(exercise: &Exercise, id: &str) -> usize {
    exercise
        .stages
        .iter()
        .position(|s| s.id == id)
        .map_or(0, |i| i + 1)
}
