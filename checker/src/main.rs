//! oslings checker: grades the exercise crates with hidden tests and
//! benchmarks, and says what to do next.

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use checker::grade::{self, Grader, News, Tree};
use checker::manifest::{self, Exercise};
use checker::model::{Outcome, PackUsed, Report, SCHEMA_VERSION};
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
    /// Collect a folder of JSON reports (one `<student>.json` each) into a
    /// table per exercise, and optionally a CSV.
    Gradebook {
        /// The folder of reports.
        dir: PathBuf,
        /// Also write the gradebook as CSV to this file.
        #[arg(long, value_name = "FILE")]
        csv: Option<PathBuf>,
    },
    /// Print a hint for the stage you are on.
    Hint {
        /// The exercise, e.g. bump-allocator.
        exercise: String,
        /// Show this level only: 1 is a nudge, higher levels say more.
        #[arg(long)]
        level: Option<usize>,
        /// Reveal one more level than you have seen (remembered).
        #[arg(long, conflicts_with = "level")]
        next: bool,
        /// A stage id or number instead of the first failing stage.
        #[arg(long)]
        stage: Option<String>,
        #[command(flatten)]
        tree: TreeArgs,
    },
    /// Every exercise and stage: passed, failing, not run; and its book section.
    List {
        /// Only this exercise.
        exercise: Option<String>,
        #[command(flatten)]
        tree: TreeArgs,
    },
    /// One line per exercise: a bar, the score, the stage you are on.
    Progress {
        /// Only this exercise.
        exercise: Option<String>,
        /// No bar: `name score/max stage` (for a shell prompt or a badge).
        #[arg(long)]
        plain: bool,
        #[command(flatten)]
        tree: TreeArgs,
    },
    /// Put an exercise back to its stub as shipped (your files are backed up first).
    Reset {
        /// The exercise, e.g. bump-allocator.
        exercise: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
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
    /// Internal: score a benchmark report as the performance stage would
    /// (used by `.ci/perf-spread`); prints the performance entry as JSON.
    #[command(name = "__score-perf", hide = true)]
    ScorePerf {
        /// The exercise whose credit lines apply.
        exercise: String,
        /// The benchmark's JSON report (`OSLINGS_PERF_OUT`).
        report: PathBuf,
        /// A second run's report, made because the first lost points: the
        /// better of the two counts, as in grading.
        second: Option<PathBuf>,
    },
}

#[derive(Debug, Default, Args)]
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
    /// Regrade the exercise you are editing each time you save
    /// (the named one, or the first that is not complete, to begin with).
    #[arg(long, conflicts_with_all = ["test", "format"])]
    watch: bool,
    /// Report format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Also write the JSON report to this file, whatever `--format` prints
    /// (one grading run gives both, e.g. a CI artifact and a summary table).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["test", "watch"])]
    json_out: Option<PathBuf>,
    /// How many tests run at once (default: the number of CPUs).
    #[arg(long, short)]
    jobs: Option<usize>,
    /// Time limit in seconds of each hidden test that has no limit of its own.
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    timeout: f64,
    /// Add an instructor's test pack (a folder with pack.toml; repeatable):
    /// its tests join the hidden ones, or replace them where it says so.
    #[arg(long = "pack", value_name = "DIR", conflicts_with = "watch")]
    packs: Vec<PathBuf>,
    /// Measure the performance stage again, even when nothing changed since
    /// the last measurement (which is otherwise reused).
    #[arg(long)]
    remeasure: bool,
    /// Run every test again even when nothing changed since the last
    /// grading (its results are otherwise reused, and the report says so).
    #[arg(long)]
    fresh: bool,
    #[command(flatten)]
    tree: TreeArgs,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Against {
    #[default]
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
    /// JUnit XML: one testcase per hidden test.
    Junit,
    /// Gradescope's results.json: one test per stage.
    Gradescope,
    /// GitHub Classroom: the base64 result the autograding reporter reads.
    Classroom,
    /// A Markdown table for $GITHUB_STEP_SUMMARY.
    Markdown,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !Path::new("/proc/self/stat").exists() {
        eprintln!(
            "error: /proc is not mounted here, and grading needs it (the tests read what \
             processes, memory and descriptors are doing there). Mount it \
             (`mount -t proc proc /proc`) or grade in the course's dev container \
             (.devcontainer/, see the README)."
        );
        return ExitCode::from(2);
    }
    let result = match cli.command {
        Some(Command::Supervise {
            status_file,
            limits,
            parent,
            program,
        }) => supervise(&status_file, &limits, parent, &program).map(|()| ExitCode::SUCCESS),
        Some(Command::ScorePerf {
            exercise,
            report,
            second,
        }) => score_perf(&exercise, &report, second.as_deref()),
        Some(Command::Hint {
            exercise,
            level,
            next,
            stage,
            tree,
        }) => learner(&tree).and_then(|(grader, course)| {
            let request = match (level, next) {
                (Some(n), _) => checker::hints::Request::Level(n),
                (None, true) => checker::hints::Request::Next,
                (None, false) => checker::hints::Request::Revealed,
            };
            let exercise = select(&course, Some(&exercise))?[0];
            checker::hints::run(&grader, exercise, stage.as_deref(), request)
        }),
        Some(Command::List { exercise, tree }) => learner(&tree).and_then(|(grader, course)| {
            checker::status::list(&grader, &select(&course, exercise.as_deref())?)
        }),
        Some(Command::Progress {
            exercise,
            plain,
            tree,
        }) => learner(&tree).and_then(|(grader, course)| {
            checker::status::progress(&grader, &select(&course, exercise.as_deref())?, plain)
        }),
        Some(Command::Reset { exercise, yes }) => {
            learner(&TreeArgs::default()).and_then(|(grader, course)| {
                checker::reset::run(&grader.root, select(&course, Some(&exercise))?[0], yes)
            })
        }
        None if cli.grade.watch => learner(&cli.grade.tree).and_then(|(grader, course)| {
            let start = select(&course, cli.grade.exercise.as_deref())?;
            let start = cli.grade.exercise.as_ref().map(|_| start[0].name.as_str());
            let grader = Grader {
                jobs: cli.grade.jobs.unwrap_or(grader.jobs),
                timeout: Some(Duration::from_secs_f64(
                    cli.grade.timeout.clamp(0.1, 3600.0),
                )),
                ..grader
            };
            checker::watch::run(&grader, &course, start)
        }),
        Some(Command::Gradebook { dir, csv }) => checker::gradebook::run(
            &dir,
            csv.as_deref(),
            &mut anstream::stdout(),
            &mut anstream::stderr(),
        )
        .map(|complete| {
            if complete {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }),
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

/// The oslings repository this checker belongs to: `OSLINGS_ROOT` if set;
/// otherwise, for a learner grading their own checkout, the checkout that
/// holds the current directory (two checkouts sharing one
/// `CARGO_TARGET_DIR` share one built checker, which must grade the one it
/// was run in); otherwise where the checker was built. Grading another
/// tree (`--exercises-from`) never looks at the current directory: the
/// hidden tests must be the grader's own.
fn repo_root(grading_another_tree: bool) -> PathBuf {
    if let Some(root) = std::env::var_os("OSLINGS_ROOT") {
        return PathBuf::from(root);
    }
    let built_in = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    if grading_another_tree {
        return built_in;
    }
    std::env::current_dir()
        .ok()
        .and_then(|cwd| {
            cwd.ancestors()
                .find(|dir| is_course(dir))
                .map(Path::to_path_buf)
        })
        .unwrap_or(built_in)
}

/// Whether `dir` is the root of an oslings checkout.
fn is_course(dir: &Path) -> bool {
    dir.join("Cargo.toml").is_file()
        && dir.join("checker").join("hidden").is_dir()
        && dir.join("exercises").is_dir()
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
        checker::access::check_readable(&dir)?;
        return Ok(Tree::Custom(dir));
    }
    Ok(match args.against {
        Against::Exercises => {
            checker::access::check_readable(&repo_root(false))?;
            Tree::Exercises
        }
        Against::Solutions => Tree::Solutions,
    })
}

fn grader(tree: Tree, jobs: Option<usize>, timeout: f64) -> Grader {
    let root = repo_root(matches!(tree, Tree::Custom(_)));
    let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let target_dir = std::env::var_os("OSLINGS_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target").join("oslings").join("build"));
    Grader {
        target_dir,
        root,
        jobs,
        timeout: Some(Duration::from_secs_f64(timeout.clamp(0.1, 3600.0))),
        packs: Vec::new(),
        remeasure: false,
        fresh: false,
        build_ahead: matches!(tree, Tree::Exercises) && build_ahead_wanted(),
        tree,
    }
}

/// Whether to build the benchmark ahead, in the background
/// ([`checker::prebuild`]): for a learner at a terminal, unless
/// `OSLINGS_BUILD_AHEAD` says otherwise (`0` or `1`).
fn build_ahead_wanted() -> bool {
    match std::env::var("OSLINGS_BUILD_AHEAD").as_deref() {
        Ok("0") => false,
        Ok("1") => true,
        _ => std::io::IsTerminal::is_terminal(&std::io::stderr()),
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
        .min_by_key(|candidate| strsim::levenshtein(candidate, name))
        .filter(|c| strsim::levenshtein(c, name) <= c.len() / 2);
    let suggestion = close
        .map(|c| format!(" Did you mean `{c}`?"))
        .unwrap_or_default();
    bail!(
        "there is no exercise called `{name}`.{suggestion} The exercises are: {}",
        names.join(", ")
    )
}

fn grade(args: &GradeArgs) -> Result<ExitCode> {
    let tree = tree_of(&args.tree)?;
    let mut grader = grader(tree, args.jobs, args.timeout);
    grader.remeasure = args.remeasure;
    grader.fresh = args.fresh;
    let course = manifest::load_course(&grader.root.join("checker").join("hidden"))?;
    grader.packs = checker::pack::load_all(&args.packs, &course)?;
    let selected = select(&course, args.exercise.as_deref())?;
    if let Tree::Custom(dir) = &grader.tree {
        let absent = |e: &&Exercise| {
            let found = checker::seal::locate(dir, &e.name);
            found.join("Cargo.toml").symlink_metadata().is_err()
                && found.symlink_metadata().is_err()
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
    }
    if let (Some(filter), Some(exercise)) = (&args.test, selected.first()) {
        return run_single(&grader, exercise, filter);
    }
    let bar = checker::status::spinner();
    let progress = |news: News<'_>| match news {
        News::Doing(what) => bar.set_message(what.to_string()),
        News::Verdict(line) => bar.println(line),
    };
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
        refused: grader.refusals(&selected),
    };
    if let Some(path) = &args.json_out {
        std::fs::write(path, format!("{}\n", report::json(&report)))
            .with_context(|| format!("--json-out: cannot write {}", path.display()))?;
    }
    let mut stdout = anstream::stdout();
    match args.format {
        Format::Json => writeln!(stdout, "{}", report::json(&report))?,
        Format::Junit => write!(stdout, "{}", report::junit::render(&report))?,
        Format::Gradescope => writeln!(stdout, "{}", report::gradescope::render(&report))?,
        Format::Classroom => write!(stdout, "{}", report::classroom::render(&report))?,
        Format::Markdown => write!(stdout, "{}", report::markdown::render(&report))?,
        Format::Text => {
            let detail = if args.exercise.is_some() {
                Detail::Full
            } else {
                Detail::Summary
            };
            let width = terminal_size::terminal_size()
                .map(|(w, _)| w.0 as usize)
                .unwrap_or(88);
            let text = report::text::render(&report, &course, detail, width, &grader.flags());
            write!(stdout, "{text}")?;
            if detail == Detail::Full {
                // The detailed report showed level 1 of each failing
                // stage's hints: `hint --next` goes on from there.
                let state = checker::hints::state_path(&grader.root);
                for exercise in &report.exercises {
                    if let Some(stage) = exercise.first_failing_stage() {
                        let tree = grader.tree.label();
                        checker::hints::remember_shown(&state, &tree, &exercise.name, &stage.name);
                    }
                }
            }
        }
    }
    Ok(if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `--test NAME`: run matching tests alone, in any stage, and show their output.
fn score_perf(name: &str, report: &Path, second: Option<&Path>) -> Result<ExitCode> {
    let course = manifest::load_course(&repo_root(false).join("checker").join("hidden"))?;
    let exercise = select(&course, Some(name))?[0];
    let stage = exercise
        .perf
        .as_ref()
        .with_context(|| format!("{name} has no performance stage"))?;
    let read = |path: &Path| -> Result<oslings_harness::perf::PerfReport> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not a benchmark report", path.display()))
    };
    let mut measured = read(report)?;
    if let Some(second) = second {
        measured = checker::perf::better(measured, read(second)?, stage);
    }
    let scored = checker::perf::score(&measured, stage);
    println!("{}", serde_json::to_string_pretty(&scored)?);
    Ok(ExitCode::SUCCESS)
}

fn run_single(grader: &Grader, exercise: &Exercise, filter: &str) -> Result<ExitCode> {
    let _alone = grader.exclusive(exercise, &|_| {})?;
    let (tests, watched) = match grader.prepare(exercise, &|_| {})? {
        grade::Prepared::Ready {
            tests,
            subject,
            scratch_dir,
        } => (tests, [subject.crate_dir, scratch_dir]),
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
        let result = runner::run_one(exercise, test, grader.timeout, &watched)?;
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

/// The grader (for `tree`) and the course, for the learner's commands.
fn learner(tree: &TreeArgs) -> Result<(Grader, Vec<Exercise>)> {
    let grader = grader(tree_of(tree)?, None, 5.0);
    let course = manifest::load_course(&grader.root.join("checker").join("hidden"))?;
    Ok((grader, course))
}
