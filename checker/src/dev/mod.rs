//! `checker dev`: tools for the course's authors (as rustlings has `dev`).
//!
//! - `dev new <exercise> --title … --chapter <file>.md --stage "id: Title" …`
//!   scaffolds an exercise ([`new`]): the stub, the reference solution, the
//!   hidden suite with its `exercise.toml`, the chapter stub and the book's
//!   and workspace's wiring.
//! - `dev check [--exercise NAME] [--skip-grading]` proves the course
//!   consistent ([`check()`]) and prints each finding with its file and what to
//!   do; the exit status is 1 when it found anything.

mod asserts;
pub mod book;
mod catalogue;
pub mod check;
pub mod finding;
mod given;
pub mod new;

use anyhow::Result;
use std::path::Path;
use std::process::ExitCode;

pub use check::{CheckOptions, check};
pub use finding::Finding;
pub use new::{NewExercise, scaffold};

/// The `dev` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum DevCommand {
    /// Scaffold a new exercise: stub, solution, hidden suite, exercise.toml,
    /// chapter stub, SUMMARY.md entry and workspace dependencies.
    New {
        /// The exercise's name: a crate name in kebab-case, e.g. `ring-buffer`.
        name: String,
        /// Its human title, e.g. "Ring buffer".
        #[arg(long)]
        title: String,
        /// Its chapter's file under book/, e.g. `ring-buffer.md` (created
        /// with a section per stage, or extended if it exists).
        #[arg(long, value_name = "FILE.md")]
        chapter: String,
        /// A stage, in order (repeat for each): its id (a Rust module name,
        /// the first segment of its tests' names) and title.
        #[arg(long = "stage", value_name = "ID: TITLE", required = true)]
        stages: Vec<String>,
        /// Position in the course (default: after the last exercise).
        #[arg(long)]
        order: Option<u32>,
    },
    /// Check that the course is consistent: crates and package names, stage
    /// hints and book sections, hidden tests in stages, hidden assertions with
    /// a message, given code identical in stub and solution, pristine hashes,
    /// and (unless skipped) every stub failing and every solution passing
    /// when graded.
    Check {
        /// Only this exercise.
        #[arg(long)]
        exercise: Option<String>,
        /// Do not grade the stubs and the solutions (the slow part).
        #[arg(long)]
        skip_grading: bool,
    },
}

/// Runs a `dev` subcommand on the course at `root`.
pub fn run(root: &Path, command: DevCommand) -> Result<ExitCode> {
    match command {
        DevCommand::New {
            name,
            title,
            chapter,
            stages,
            order,
        } => {
            let spec = NewExercise::parse(&name, &title, &chapter, &stages, order)?;
            let made = scaffold(root, &spec)?;
            println!("{made}");
            Ok(ExitCode::SUCCESS)
        }
        DevCommand::Check {
            exercise,
            skip_grading,
        } => {
            let options = CheckOptions {
                exercise,
                grading: !skip_grading,
                verbose: true,
                target_dir: None,
                checker: None,
            };
            let (checked, findings) = check(root, &options)?;
            for finding in &findings {
                println!("{finding}");
            }
            if findings.is_empty() {
                println!(
                    "dev check: no finding in {} exercise(s): {}{}",
                    checked.len(),
                    checked.join(", "),
                    if skip_grading {
                        " (grading skipped)"
                    } else {
                        ""
                    }
                );
                Ok(ExitCode::SUCCESS)
            } else {
                println!(
                    "dev check: {} finding(s) in {} exercise(s)",
                    findings.len(),
                    checked.len()
                );
                Ok(ExitCode::FAILURE)
            }
        }
    }
}
