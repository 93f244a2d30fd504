//! Compiling a scratch project with cargo, and turning compiler errors into
//! a short message a learner can act on.

use anyhow::{Context, Result};
use cargo_metadata::Message;

use crate::build::scratch;
use crate::util::snippet;
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
    /// What failed.
    pub failed: Failed,
    /// The first errors, as rustc rendered them, trimmed.
    pub message: String,
}

/// What failed to compile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failed {
    /// Nothing: there is no crate to compile at all.
    Missing,
    /// The graded crate: its own errors, or it was refused.
    GradedCrate,
    /// The hidden suite, compiled against the graded crate.
    Suite,
}

impl CompileFailure {
    /// Whether the errors are in the graded crate (or there is none),
    /// rather than in the hidden suite failing to compile against it.
    pub fn in_graded_crate(&self) -> bool {
        self.failed != Failed::Suite
    }

    /// Whether there is no crate to compile at all.
    pub fn missing(&self) -> bool {
        self.failed == Failed::Missing
    }
}

/// How a build ended: with what it built, or with errors for the report.
/// (The checker's own failures, e.g. cargo not starting, are the `Err` of
/// the [`Result`] around it.)
#[derive(Debug)]
pub enum Built<T> {
    /// It compiled: the executables.
    Compiled(T),
    /// It did not.
    Failed(CompileFailure),
}

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

/// What a build is given: where, against which crate, and how to word its errors.
#[derive(Clone, Copy)]
pub struct Build<'a> {
    /// The scratch project's directory.
    pub scratch: &'a Path,
    /// Cargo's target directory.
    pub target_dir: &'a Path,
    /// The graded crate's directory.
    pub graded_crate: &'a Path,
    /// Prefixes cut from paths in compiler messages.
    pub strip: &'a [PathBuf],
    /// The graded crate is a sealed copy of another tree ([`crate::build::seal`]):
    /// cargo runs outside that tree, with none of the caller's compiler
    /// wrappers or flags, and a crate that reads files outside itself at
    /// compile time is refused.
    pub sealed: bool,
    /// Told what is being compiled, crate by crate, while a build that is
    /// not fresh runs (a first build takes a minute or two).
    pub progress: &'a dyn Fn(&str),
}

impl std::fmt::Debug for Build<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Build")
            .field("scratch", &self.scratch)
            .field("target_dir", &self.target_dir)
            .field("graded_crate", &self.graded_crate)
            .field("sealed", &self.sealed)
            .finish_non_exhaustive()
    }
}

/// Builds the hidden suite's test binaries in `scratch`.
pub fn build_tests(build: Build<'_>) -> Result<Built<Vec<TestBinary>>> {
    let mut command = cargo();
    command.arg("test").arg("--no-run").arg("--tests");
    let (artifacts, failure) = run_cargo(command, build)?;
    if let Some(failure) = failure {
        return Ok(Built::Failed(failure));
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
    Ok(Built::Compiled(binaries))
}

/// Builds the benchmark binary ([`scratch::perf_bin`]) in the optimised
/// `perf` profile.
pub fn build_perf(build: Build<'_>) -> Result<Built<PathBuf>> {
    let bin = scratch::perf_bin(build.scratch);
    let mut command = cargo();
    command
        .arg("build")
        .arg("--profile")
        .arg("perf")
        .arg("--features")
        .arg(scratch::PERF_FEATURE)
        .arg("--bin")
        .arg(&bin);
    let (artifacts, failure) = run_cargo(command, build)?;
    if let Some(failure) = failure {
        return Ok(Built::Failed(failure));
    }
    let exe = artifacts
        .into_iter()
        .filter(|a| a.target.name == bin)
        .find_map(|a| a.executable)
        .with_context(|| format!("cargo built no `{bin}` executable"))?;
    Ok(Built::Compiled(exe.into_std_path_buf()))
}

/// The command that builds the benchmark binary, for
/// [`crate::build::prebuild`] to start without waiting for it: quiet, and with
/// no output to read.
pub fn perf_build_command(build: Build<'_>) -> Result<Command> {
    let mut command = cargo();
    command
        .arg("build")
        .arg("--quiet")
        .arg("--profile")
        .arg("perf")
        .arg("--features")
        .arg(scratch::PERF_FEATURE)
        .arg("--bin")
        .arg(scratch::perf_bin(build.scratch));
    configure(&mut command, &build)?;
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    Ok(command)
}

/// Points `command` at the scratch project and the target directory, and
/// for a sealed crate keeps the caller's compiler wrappers and flags out.
fn configure(command: &mut Command, build: &Build<'_>) -> Result<()> {
    if build.sealed {
        command.current_dir(crate::build::seal::cargo_dir());
        for key in [
            "RUSTFLAGS",
            "CARGO_ENCODED_RUSTFLAGS",
            "CARGO_BUILD_RUSTFLAGS",
            "RUSTC_WRAPPER",
            "CARGO_BUILD_RUSTC_WRAPPER",
            "CARGO_BUILD_RUSTC_WORKSPACE_WRAPPER",
        ] {
            command.env_remove(key);
        }
    }
    command
        .arg("--manifest-path")
        .arg(std::path::absolute(build.scratch.join("Cargo.toml"))?)
        .arg("--target-dir")
        .arg(std::path::absolute(build.target_dir)?);
    Ok(())
}

fn run_cargo(
    mut command: Command,
    build: Build<'_>,
) -> Result<(Vec<cargo_metadata::Artifact>, Option<CompileFailure>)> {
    configure(&mut command, &build)?;
    let Build {
        graded_crate,
        strip,
        sealed,
        progress,
        ..
    } = build;
    command
        .arg("--message-format=json")
        // Not `--quiet`: it would hide cargo's "Blocking waiting for file lock",
        // which `toolchain::read_stderr` explains (and drops, with the other
        // status lines).
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .map_err(|err| crate::build::toolchain::spawn_error(command.get_program(), err))?;
    let stderr = child.stderr.take().context("no stderr pipe")?;
    let liveness = std::sync::Arc::new(crate::build::toolchain::Liveness::default());
    let stderr_reader = crate::build::toolchain::read_stderr(stderr, liveness.clone());
    let stdout = BufReader::new(child.stdout.take().context("no stdout pipe")?);
    let Messages {
        artifacts,
        errors,
        in_graded_crate,
    } = read_messages(stdout, graded_crate, progress, &liveness)?;
    let status = child.wait()?;
    let stderr = stderr_reader.join().unwrap_or_default();
    if status.success() {
        let refused = if sealed {
            outside_files(&artifacts, graded_crate, strip)?
        } else {
            None
        };
        return Ok((artifacts, refused));
    }
    let message = if errors.is_empty() {
        // Cargo itself failed (a broken Cargo.toml, a missing crate, no network…).
        snippet::head(&stderr, 30)
    } else {
        first_errors(&errors)
    };
    Ok((
        artifacts,
        Some(CompileFailure {
            failed: if in_graded_crate {
                Failed::GradedCrate
            } else {
                Failed::Suite
            },
            message: stripped(message, strip),
        }),
    ))
}

/// What cargo's JSON messages said: what it built, and the errors.
struct Messages {
    artifacts: Vec<cargo_metadata::Artifact>,
    /// The compiler's errors, as it rendered them.
    errors: Vec<String>,
    /// Whether an error is in the graded crate (at `graded_crate`).
    in_graded_crate: bool,
}

/// Reads cargo's JSON messages from `stdout` to their end, telling
/// `progress` of each crate built and `liveness` of each message.
fn read_messages(
    stdout: impl std::io::BufRead,
    graded_crate: &Path,
    progress: &dyn Fn(&str),
    liveness: &crate::build::toolchain::Liveness,
) -> Result<Messages> {
    let mut artifacts = Vec::new();
    let mut errors = Vec::new();
    let graded = graded_crate
        .canonicalize()
        .unwrap_or_else(|_| graded_crate.to_path_buf());
    let mut in_graded_crate = false;
    let mut compiled = 0;
    for message in Message::parse_stream(stdout) {
        liveness.message();
        match message? {
            Message::CompilerArtifact(artifact) => {
                if !artifact.fresh {
                    compiled += 1;
                    progress(&format!(
                        "compiling: {} built ({compiled} crates so far; a first build takes a \
                         minute or two, later ones seconds)",
                        artifact.target.name
                    ));
                }
                artifacts.push(artifact);
            }
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
    Ok(Messages {
        artifacts,
        errors,
        in_graded_crate,
    })
}

/// The first [`MAX_ERRORS`] of the compiler's `errors`, each cut to
/// [`MAX_LINES_PER_ERROR`] lines, and how many more there were.
fn first_errors(errors: &[String]) -> String {
    let total = errors
        .iter()
        .filter(|e| !e.starts_with("error: aborting"))
        .count();
    let mut shown: Vec<String> = errors
        .iter()
        .filter(|e| !e.starts_with("error: aborting") && !e.starts_with("error: could not compile"))
        .take(MAX_ERRORS)
        .map(|e| snippet::head(e, MAX_LINES_PER_ERROR))
        .collect();
    if total > MAX_ERRORS {
        shown.push(format!("… and {} more errors", total - MAX_ERRORS));
    }
    shown.join("\n")
}

/// `message` with the `strip` prefixes cut from its paths.
fn stripped(mut message: String, strip: &[PathBuf]) -> String {
    for prefix in strip {
        let mut prefix = prefix.display().to_string();
        if !prefix.ends_with('/') {
            prefix.push('/');
        }
        message = message.replace(&prefix, "");
    }
    message
}

/// The refusal of a sealed crate that pulled files from outside itself
/// into the build (see [`crate::build::seal::outside_inputs`]).
fn outside_files(
    artifacts: &[cargo_metadata::Artifact],
    graded_crate: &Path,
    strip: &[PathBuf],
) -> Result<Option<CompileFailure>> {
    let manifest = graded_crate.join("Cargo.toml");
    let rlibs = artifacts
        .iter()
        .filter(|a| a.manifest_path.as_std_path() == manifest)
        .flat_map(|a| &a.filenames)
        .filter(|f| f.extension() == Some("rlib"));
    let mut outside = Vec::new();
    for rlib in rlibs {
        outside.extend(crate::build::seal::outside_inputs(
            rlib.as_std_path(),
            graded_crate,
        )?);
    }
    if outside.is_empty() {
        return Ok(None);
    }
    let files: Vec<String> = outside
        .iter()
        .map(|p| format!("  {}", p.display()))
        .collect();
    let message = format!(
        "refused: the crate reads files from outside itself at compile time \
         (`include!`, `include_str!`, `include_bytes!` or `#[path]`):\n{}\n\
         Only the crate's own src/ is graded: copy what you need into src/ and \
         refer to it by a path inside the crate.",
        files.join("\n")
    );
    Ok(Some(CompileFailure {
        failed: Failed::GradedCrate,
        message: stripped(message, strip),
    }))
}
