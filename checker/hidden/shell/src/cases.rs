//! Runs the session scripts of instructor test packs
//! (`oslings_cases::session`) through the learner's shell. The checker
//! generates one `#[test]` per case file, calling [`run_case!`](crate::run_case).

use oslings_cases::session::Session;

use crate::{PATIENCE, indent, run_script_in, scratch_dir};

/// Runs the case file at `path` (absolute; the checker validated it when it
/// loaded the pack) through the shell under test; `name` is how the failure
/// message names it.
#[macro_export]
macro_rules! run_case {
    ($name:literal, $path:literal) => {
        $crate::cases::run(
            $name,
            include_str!($path),
            env!("CARGO_BIN_EXE_osh-under-test"),
        )
    };
}

/// Runs one session script through `program`; panics listing every
/// expectation it missed.
pub fn run(name: &str, text: &str, program: &str) {
    let session: Session = oslings_cases::parse(text)
        .unwrap_or_else(|err| panic!("the case file {name} is not valid: {err}"));
    let dir = scratch_dir();
    for (file, contents) in &session.files {
        std::fs::write(dir.path().join(file), contents)
            .unwrap_or_else(|err| panic!("case {name}: cannot create {file}: {err}"));
    }
    let actual = run_script_in(program, &session.script, dir.path(), PATIENCE);
    let mut problems = Vec::new();
    if let Some(stdout) = session.stdout.as_ref().filter(|s| **s != actual.stdout) {
        problems.push(format!(
            "standard output differs.\n  expected:\n{}\n  actual:\n{}",
            indent(stdout),
            indent(&actual.stdout)
        ));
    }
    if let Some(status) = session.status.filter(|s| *s != actual.status) {
        problems.push(format!(
            "exit status differs: expected {status}, got {}",
            actual.status
        ));
    }
    match session.stderr_empty {
        Some(true) if !actual.stderr.trim().is_empty() => {
            problems.push("the shell printed errors where none were expected".to_string());
        }
        Some(false) if actual.stderr.trim().is_empty() => {
            problems.push("the shell printed no error message where one was expected".to_string());
        }
        _ => {}
    }
    assert!(
        problems.is_empty(),
        "case {name}: the script (on the shell's standard input):\n{}\n{}\nthe shell's standard error:\n{}",
        indent(&session.script),
        problems.join("\n"),
        indent(&actual.stderr)
    );
}
