//! `cargo run --release -p key-numbers`: the latencies every systems
//! engineer should know (a call, a syscall, a lock, a fault, a fork, a
//! memory load, a durable write), measured on this machine, each with how
//! it was measured.

mod probes;
mod timing;

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Parser;

use probes::{Figure, PROBES, SCRATCH_DIR};
use timing::Budget;

/// Measures key operating-system latencies on this machine.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// A few rounds only: fast, noisy figures (for tests).
    #[arg(long)]
    quick: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Directory for the `fsync` figure's scratch file: choose one on the
    /// disk you care about (tmpfs has nothing to flush).
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Measure only these figures (by key, e.g. `syscall fork`); all by default.
    keys: Vec<String>,
}

fn human(ns: f64) -> String {
    if ns < 10.0 {
        format!("{ns:.2} ns")
    } else if ns < 1_000.0 {
        format!("{ns:.0} ns")
    } else if ns < 1_000_000.0 {
        format!("{:.1} µs", ns / 1_000.0)
    } else {
        format!("{:.1} ms", ns / 1_000_000.0)
    }
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let known: Vec<&str> = PROBES.iter().map(|(k, _)| *k).collect();
    for key in &cli.keys {
        if !known.contains(&key.as_str()) {
            bail!(
                "no figure called `{key}`; the figures are: {}",
                known.join(", ")
            );
        }
    }
    SCRATCH_DIR.get_or_init(|| cli.dir.clone());
    let budget = if cli.quick {
        Budget::quick()
    } else {
        Budget::full()
    };
    if !cli.json {
        eprintln!(
            "Measuring (median of {} rounds each; build with --release for real figures)...",
            budget.rounds
        );
    }
    let mut figures: Vec<Figure> = Vec::new();
    let mut out = std::io::stdout().lock();
    for (key, probe) in PROBES {
        if !cli.keys.is_empty() && !cli.keys.iter().any(|k| k == key) {
            continue;
        }
        let figure = probe(budget)?;
        if !cli.json {
            writeln!(
                out,
                "{:<48} {:>10}   {}",
                figure.what,
                human(figure.ns),
                figure.method
            )?;
        }
        figures.push(figure);
    }
    if cli.json {
        serde_json::to_writer_pretty(&mut out, &figures)?;
        writeln!(out)?;
    }
    Ok(())
}
