//! The command line: clap's types, and nothing else (each command's work is
//! in [`crate::cmd`]).

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::ffi::OsString;
use std::path::PathBuf;

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
pub struct Cli {
    // The command; without one, grading (`grade`).
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub grade: GradeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Tools for the course's authors: scaffold an exercise, check the course.
    Dev {
        /// `new` or `check`.
        #[command(subcommand)]
        command: crate::dev::DevCommand,
    },
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
pub struct TreeArgs {
    /// Grade the reference solutions instead of your exercises.
    #[arg(long, value_enum, default_value_t = Against::Exercises)]
    pub against: Against,
    /// Grade the exercises of another checkout (read-only), e.g. a student's fork.
    #[arg(long, value_name = "DIR", conflicts_with = "against")]
    pub exercises_from: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct GradeArgs {
    /// Grade only this exercise, and show every failing test in detail.
    pub exercise: Option<String>,
    /// With an exercise: run only the hidden tests whose name contains this,
    /// ignoring stage order, and show everything they print.
    #[arg(long, value_name = "NAME", requires = "exercise")]
    pub test: Option<String>,
    /// Regrade the exercise you are editing each time you save
    /// (the named one, or the first that is not complete, to begin with).
    #[arg(long, conflicts_with_all = ["test", "format"])]
    pub watch: bool,
    /// Report format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Also write the JSON report to this file, whatever `--format` prints
    /// (one grading run gives both, e.g. a CI artifact and a summary table).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["test", "watch"])]
    pub json_out: Option<PathBuf>,
    /// How many tests run at once (default: the number of CPUs).
    #[arg(long, short)]
    pub jobs: Option<usize>,
    /// Time limit in seconds of each hidden test that has no limit of its own.
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    pub timeout: f64,
    /// Add an instructor's test pack (a folder with pack.toml; repeatable):
    /// its tests join the hidden ones, or replace them where it says so.
    #[arg(long = "pack", value_name = "DIR", conflicts_with = "watch")]
    pub packs: Vec<PathBuf>,
    /// Measure the performance stage again, even when nothing changed since
    /// the last measurement (which is otherwise reused).
    #[arg(long)]
    pub remeasure: bool,
    /// Run every test again even when nothing changed since the last
    /// grading (its results are otherwise reused, and the report says so).
    #[arg(long)]
    pub fresh: bool,
    #[command(flatten)]
    pub tree: TreeArgs,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Against {
    #[default]
    /// Your work in exercises/.
    Exercises,
    /// The reference solutions in solutions/.
    Solutions,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
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
