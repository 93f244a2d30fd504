//! `cargo run --release -p oslings-fuzz -- <tokenizer|walker> --seconds N`:
//! random inputs against the reference solutions for a bounded time, on
//! stable Rust.
//!
//! Each case is generated from its own 64-bit seed (derived from the run's
//! seed and the case number), so a finding is replayed exactly with
//! `--replay <case seed>`. A case that panics where it must not, disagrees
//! with the model, or runs longer than `--case-timeout` is a finding; the
//! run stops at the first one and exits with status 1.
//!
//! Build with `--profile perf` instead of `--release` to also trap integer
//! overflow (the release profile wraps silently).

mod runner;
mod tokenizer;
mod walker;

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::{Parser, ValueEnum};

use runner::{Outcome, Run};

/// Fuzzes a reference solution against a model, for a bounded time.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// What to fuzz.
    target: Target,
    /// How long to run, in seconds.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// The run's seed (random, and printed, if not given).
    #[arg(long, value_parser = parse_seed)]
    seed: Option<u64>,
    /// Stop after this many cases even if time is left.
    #[arg(long)]
    iterations: Option<u64>,
    /// Run only the case with this seed (as printed with a finding) and
    /// show everything about it.
    #[arg(long, value_parser = parse_seed, conflicts_with = "seed")]
    replay: Option<u64>,
    /// A case that takes longer than this many seconds is reported as a hang.
    #[arg(long, default_value_t = 5.0)]
    case_timeout: f64,
}

/// The fuzz targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Target {
    /// `shell_solution::tokenize` (and `parse` after it) against a
    /// reference lexer written from the module's rules.
    Tokenizer,
    /// `page_table_walker_solution::{walk, translate}` over random, partly
    /// garbage page tables, against a model walk and the `x86_64` crate.
    Walker,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::Tokenizer => "tokenizer",
            Target::Walker => "walker",
        }
    }

    fn stats(self) -> String {
        match self {
            Target::Tokenizer => tokenizer::stats(),
            Target::Walker => walker::stats(),
        }
    }

    fn case(self) -> fn(u64, bool) -> Result<(), String> {
        match self {
            Target::Tokenizer => tokenizer::case,
            Target::Walker => walker::case,
        }
    }
}

/// Accepts `12345` or `0x3039`.
fn parse_seed(text: &str) -> Result<u64, String> {
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.map_err(|e| format!("`{text}` is not a 64-bit seed: {e}"))
}

fn main() -> Result<ExitCode> {
    let cli = Cli::parse();
    let target = cli.target;
    anyhow::ensure!(
        cli.seconds > 0.0 && cli.case_timeout > 0.0,
        "--seconds and --case-timeout must be positive"
    );
    runner::silence_panics();
    if let Some(seed) = cli.replay {
        println!("{}: replaying case {seed:#018x}", target.name());
        return Ok(match runner::replay(target.case(), seed) {
            Ok(()) => {
                println!("no finding: the case passes");
                ExitCode::SUCCESS
            }
            Err(finding) => {
                println!("FINDING\n{finding}");
                ExitCode::FAILURE
            }
        });
    }
    let run = Run {
        seed: cli.seed.unwrap_or_else(|| fastrand::u64(..)),
        budget: Duration::from_secs_f64(cli.seconds),
        max_cases: cli.iterations.unwrap_or(u64::MAX),
        case_timeout: Duration::from_secs_f64(cli.case_timeout),
    };
    println!(
        "{}: fuzzing for {:.0} s with seed {:#018x} (rerun: --seed {:#x})",
        target.name(),
        cli.seconds,
        run.seed,
        run.seed
    );
    let report = run.go(target.case());
    let replay = |seed: u64| {
        format!(
            "reproduce: cargo run --release -p oslings-fuzz -- {} --replay {seed:#x}",
            target.name()
        )
    };
    match report.outcome {
        Outcome::Clean => {
            println!(
                "{}: {} cases in {:.1} s, no finding ({})",
                target.name(),
                report.cases,
                report.elapsed.as_secs_f64(),
                target.stats()
            );
            Ok(ExitCode::SUCCESS)
        }
        Outcome::Finding { case_seed, finding } => {
            println!(
                "{}: FINDING after {} cases ({:.1} s), case seed {case_seed:#018x}\n{finding}\n{}",
                target.name(),
                report.cases,
                report.elapsed.as_secs_f64(),
                replay(case_seed)
            );
            Ok(ExitCode::FAILURE)
        }
        Outcome::Hang { case_seed } => {
            println!(
                "{}: FINDING after {} cases: case {case_seed:#018x} ran for more than {:.1} s \
                 (a loop that never ends?)\n{}",
                target.name(),
                report.cases,
                cli.case_timeout,
                replay(case_seed)
            );
            Ok(ExitCode::FAILURE)
        }
    }
}
