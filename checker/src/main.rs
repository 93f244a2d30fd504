//! oslings checker: grades the exercise crates with hidden tests and
//! benchmarks, and says what to do next. This file parses the command line
//! ([`checker::cli`]) and hands each command to [`checker::cmd`].

use clap::Parser;
use std::path::Path;
use std::process::ExitCode;

use checker::cli::{Cli, Command};
use checker::cmd::{grade, gradebook, hints, internal, reset, status, watch};
use checker::course::paths::repo_root;

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
        }) => internal::supervise(&status_file, &limits, parent, &program),
        Some(Command::ScorePerf {
            exercise,
            report,
            second,
        }) => internal::score_perf(&exercise, &report, second.as_deref()),
        Some(Command::Hint {
            exercise,
            level,
            next,
            stage,
            tree,
        }) => hints::command(&exercise, level, next, stage.as_deref(), &tree),
        Some(Command::List { exercise, tree }) => status::list_command(exercise.as_deref(), &tree),
        Some(Command::Progress {
            exercise,
            plain,
            tree,
        }) => status::progress_command(exercise.as_deref(), plain, &tree),
        Some(Command::Reset { exercise, yes }) => reset::command(&exercise, yes),
        Some(Command::Gradebook { dir, csv }) => gradebook::command(&dir, csv.as_deref()),
        Some(Command::Dev { command }) => checker::dev::run(&repo_root(false), command),
        None if cli.grade.watch => watch::command(&cli.grade),
        None => grade::run(&cli.grade),
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
