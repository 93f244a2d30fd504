//! Runs the book's quick labs. Every `examples/*.rs` whose source has the line
//! `// book-labs: run in tests` is run with no arguments, in an empty
//! directory, with no input, and must exit with status 0 within 30 seconds.
//! The others are only compiled (by `cargo test`, which builds every example).
//!
//! This is a test without libtest's harness (`harness = false` in Cargo.toml),
//! so it prints every lab it runs, even under `cargo test -q`.

use std::io::{Read, Seek};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime};

/// The line that marks a lab as quick enough to run here.
const MARKER: &str = "// book-labs: run in tests";

/// A lab that has not finished by then is killed, and the test fails.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The labs marked to run: (name, source path), by name.
fn marked_examples(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap();
        if source.lines().any(|line| line.trim() == MARKER) {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            found.push((name, path));
        }
    }
    found.sort();
    found
}

/// Where cargo put the examples of this build: `target/<profile>/examples/`,
/// beside the `deps/` directory this test runs from.
fn examples_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    deps.parent().unwrap().join("examples")
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// How a run ended.
enum Outcome {
    Exited(ExitStatus),
    TimedOut,
}

/// Runs one lab in its own process group (so a timeout kills its children
/// too) and returns how it ended, its output and how long it took.
fn run(binary: &Path) -> std::io::Result<(Outcome, String, Duration)> {
    let dir = tempfile::tempdir()?;
    let mut output = tempfile::tempfile()?;
    let start = Instant::now();
    let mut child = Command::new(binary)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(output.try_clone()?)
        .stderr(output.try_clone()?)
        .process_group(0)
        .spawn()?;
    let group = -(child.id() as libc::pid_t);
    let outcome = loop {
        if let Some(status) = child.try_wait()? {
            break Outcome::Exited(status);
        }
        if start.elapsed() > TIMEOUT {
            break Outcome::TimedOut;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let elapsed = start.elapsed();
    // The whole group: the lab on a timeout, and whatever it left running.
    // SAFETY: kill(2) with a negative pid only sends a signal to that group,
    // which holds only the lab and its descendants.
    unsafe { libc::kill(group, libc::SIGKILL) };
    if let Outcome::TimedOut = outcome {
        child.wait()?;
    }
    let mut text = String::new();
    output.rewind()?;
    output.read_to_string(&mut text).ok();
    Ok((outcome, text, elapsed))
}

/// The last lines of a lab's output, indented, for a failure message.
fn tail(output: &str) -> String {
    let lines: Vec<&str> = output.lines().collect();
    let start = lines.len().saturating_sub(30);
    let mut text = String::new();
    if lines.is_empty() {
        text.push_str("    (no output)\n");
    }
    if start > 0 {
        text.push_str(&format!("    ... ({start} lines before)\n"));
    }
    for line in &lines[start..] {
        text.push_str(&format!("    | {line}\n"));
    }
    text
}

fn main() -> ExitCode {
    if std::env::args().any(|a| a == "--list") {
        println!("examples: test");
        return ExitCode::SUCCESS;
    }
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sources = crate_dir.join("examples");
    let binaries = examples_dir();
    let mut failures = Vec::new();

    // Every lab says what it shows on its first line (the rule for labs).
    let mut all: Vec<PathBuf> = std::fs::read_dir(&sources)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    all.sort();
    for path in &all {
        let source = std::fs::read_to_string(path).unwrap();
        if !source.starts_with("//!") {
            failures.push(format!(
                "tools/book-labs/examples/{}: the first line is not a `//!` line saying \
                 what the lab shows",
                path.file_name().unwrap().to_string_lossy()
            ));
        }
    }

    let labs = marked_examples(&sources);
    if labs.is_empty() {
        println!("book-labs: no example is marked `{MARKER}` yet; nothing to run");
    }
    for (name, source) in &labs {
        let binary = binaries.join(name);
        let Some(built) = modified(&binary) else {
            failures.push(format!(
                "{name}: {} is not built. `cargo test -p book-labs` builds every example; \
                 a run limited to `--test examples` does not: \
                 `cargo build -p book-labs --examples` first",
                binary.display()
            ));
            continue;
        };
        if modified(source).is_some_and(|changed| changed > built) {
            failures.push(format!(
                "{name}: {} is older than its source: run `cargo test -p book-labs` \
                 (or `cargo build -p book-labs --examples` first)",
                binary.display()
            ));
            continue;
        }
        match run(&binary) {
            Err(error) => failures.push(format!("{name}: could not run it: {error}")),
            Ok((Outcome::TimedOut, output, _)) => {
                println!("book-labs: {name} ... killed after {} s", TIMEOUT.as_secs());
                failures.push(format!(
                    "{name}: still running after {} s, killed. A lab marked `{MARKER}` \
                     must finish in about 2 s in a debug build; unmark it if it cannot. Its output:\n{}",
                    TIMEOUT.as_secs(),
                    tail(&output)
                ));
            }
            Ok((Outcome::Exited(status), output, elapsed)) => {
                let secs = elapsed.as_secs_f64();
                if status.success() {
                    println!("book-labs: {name} ... ok ({secs:.2} s)");
                } else {
                    println!("book-labs: {name} ... FAILED ({status}, {secs:.2} s)");
                    failures.push(format!(
                        "{name}: {status} (`cargo run -p book-labs --example {name}` \
                         must exit 0). Its output:\n{}",
                        tail(&output)
                    ));
                }
            }
        }
    }
    if failures.is_empty() {
        println!(
            "book-labs: {} lab(s) run, {} compiled",
            labs.len(),
            all.len()
        );
        ExitCode::SUCCESS
    } else {
        eprintln!("\nbook-labs: {} failure(s):", failures.len());
        for failure in &failures {
            eprintln!("  {failure}");
        }
        ExitCode::FAILURE
    }
}
