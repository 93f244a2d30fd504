//! Compiling a scratch project with cargo, and turning compiler errors into
//! a short message a learner can act on.

use anyhow::{Context, Result};
use cargo_metadata::Message;

use crate::{scratch, snippet};
use cargo_metadata::diagnostic::DiagnosticLevel;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// One compiled test binary of the hidden suite.
#[derive(Debug, Clone)]
pub struct TestBinary {
    /// The `[[test]]` target's name.
    pub target: String,
    /// Path of the executable.
    pub path: PathBuf,
}

/// Why a build failed, trimmed for the report.
#[derive(Debug, Clone)]
pub struct CompileFailure {
    /// Whether the errors are in the graded crate (rather than in the hidden
    /// suite failing to compile against it).
    pub in_graded_crate: bool,
    /// True when there is no crate to compile at all.
    pub missing: bool,
    /// The first errors, as rustc rendered them, trimmed.
    pub message: String,
}

/// The result of a build: executables, or the reason there are none.
pub type BuildOutcome<T> = std::result::Result<T, CompileFailure>;

/// Most errors shown, and most lines of each.
const MAX_ERRORS: usize = 3;
const MAX_LINES_PER_ERROR: usize = 24;

/// The cargo to run: the one that ran us (`$CARGO`), else `cargo` on PATH.
fn cargo() -> Command {
    let program = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(program);
    // Variables cargo sets for the checker itself must not leak into the
    // nested build and confuse it.
    for key in [
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET_DIR",
        "CARGO_MANIFEST_DIR",
        "RUSTC_WORKSPACE_WRAPPER",
    ] {
        command.env_remove(key);
    }
    command
}

/// Builds the hidden suite's test binaries in `scratch`.
pub fn build_tests(
    scratch: &Path,
    target_dir: &Path,
    graded_crate: &Path,
    strip: &[PathBuf],
) -> Result<BuildOutcome<Vec<TestBinary>>> {
    let mut command = cargo();
    command.arg("test").arg("--no-run").arg("--tests");
    let (artifacts, failure) = run_cargo(command, scratch, target_dir, graded_crate, strip)?;
    if let Some(failure) = failure {
        return Ok(Err(failure));
    }
    let mut binaries: Vec<TestBinary> = artifacts
        .into_iter()
        .filter(|a| a.profile.test && a.target.kind.iter().any(|k| k.to_string() == "test"))
        .filter_map(|a| {
            Some(TestBinary {
                target: a.target.name.clone(),
                path: a.executable?.into_std_path_buf(),
            })
        })
        .collect();
    binaries.sort_by(|a, b| a.target.cmp(&b.target));
    Ok(Ok(binaries))
}

/// Builds the benchmark binary ([`scratch::perf_bin`]) in the optimised
/// `perf` profile.
pub fn build_perf(
    scratch: &Path,
    target_dir: &Path,
    graded_crate: &Path,
    strip: &[PathBuf],
) -> Result<BuildOutcome<PathBuf>> {
    let bin = scratch::perf_bin(scratch);
    let mut command = cargo();
    command
        .arg("build")
        .arg("--profile")
        .arg("perf")
        .arg("--bin")
        .arg(&bin);
    let (artifacts, failure) = run_cargo(command, scratch, target_dir, graded_crate, strip)?;
    if let Some(failure) = failure {
        return Ok(Err(failure));
    }
    let exe = artifacts
        .into_iter()
        .filter(|a| a.target.name == bin)
        .find_map(|a| a.executable)
        .with_context(|| format!("cargo built no `{bin}` executable"))?;
    Ok(Ok(exe.into_std_path_buf()))
}

fn run_cargo(
    mut command: Command,
    scratch: &Path,
    target_dir: &Path,
    graded_crate: &Path,
    strip: &[PathBuf],
) -> Result<(Vec<cargo_metadata::Artifact>, Option<CompileFailure>)> {
    command
        .arg("--manifest-path")
        .arg(scratch.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir)
        .arg("--message-format=json")
        // Not `--quiet`: it would hide cargo's "Blocking waiting for file lock",
        // which `toolchain::read_stderr` explains (and drops, with the other
        // status lines).
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .map_err(|err| crate::toolchain::spawn_error(command.get_program(), err))?;
    let stderr = child.stderr.take().context("no stderr pipe")?;
    let liveness = std::sync::Arc::new(crate::toolchain::Liveness::default());
    let stderr_reader = crate::toolchain::read_stderr(stderr, liveness.clone());
    let stdout = BufReader::new(child.stdout.take().context("no stdout pipe")?);
    let mut artifacts = Vec::new();
    let mut errors = Vec::new();
    let graded = graded_crate
        .canonicalize()
        .unwrap_or_else(|_| graded_crate.to_path_buf());
    let mut in_graded_crate = false;
    for message in Message::parse_stream(stdout) {
        liveness.message();
        match message? {
            Message::CompilerArtifact(artifact) => artifacts.push(artifact),
            Message::CompilerMessage(msg) if msg.message.level == DiagnosticLevel::Error => {
                let src = PathBuf::from(msg.target.src_path.as_str());
                if src.starts_with(&graded) {
                    in_graded_crate = true;
                }
                if let Some(rendered) = msg.message.rendered {
                    errors.push(rendered);
                }
            }
            _ => {}
        }
    }
    let status = child.wait()?;
    let stderr = stderr_reader.join().unwrap_or_default();
    if status.success() {
        return Ok((artifacts, None));
    }
    let message = if errors.is_empty() {
        // Cargo itself failed (a broken Cargo.toml, a missing crate, no network…).
        snippet::head(&stderr, 30)
    } else {
        let total = errors
            .iter()
            .filter(|e| !e.starts_with("error: aborting"))
            .count();
        let mut shown: Vec<String> = errors
            .iter()
            .filter(|e| {
                !e.starts_with("error: aborting") && !e.starts_with("error: could not compile")
            })
            .take(MAX_ERRORS)
            .map(|e| snippet::head(e, MAX_LINES_PER_ERROR))
            .collect();
        if total > MAX_ERRORS {
            shown.push(format!("… and {} more errors", total - MAX_ERRORS));
        }
        shown.join("\n")
    };
    let mut message = message;
    for prefix in strip {
        let mut prefix = prefix.display().to_string();
        if !prefix.ends_with('/') {
            prefix.push('/');
        }
        message = message.replace(&prefix, "");
    }
    Ok((
        artifacts,
        Some(CompileFailure {
            in_graded_crate,
            missing: false,
            message,
        }),
    ))
}
