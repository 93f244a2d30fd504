//! Hidden tests of the shell, one module per stage. The first path segment
//! of every test name is the id of the stage it belongs to.
//!
//! Most tests run the learner's shell as a program (`osh-under-test`, whose
//! `main` is the learner's `shell::main`) on a script and compare what it
//! does with `/bin/sh` (dash) on the same script; the job-control tests run
//! it on a pseudo-terminal and type Ctrl-C and Ctrl-Z at it.

/// The shell under test, as a program.
const OSH: &str = env!("CARGO_BIN_EXE_osh-under-test");

#[path = "hidden/background.rs"]
mod background;
#[path = "hidden/builtins.rs"]
mod builtins;
#[path = "hidden/job_control.rs"]
mod job_control;
#[path = "hidden/pipeline.rs"]
mod pipeline;
#[path = "hidden/redirect.rs"]
mod redirect;
#[path = "hidden/run.rs"]
mod run;
#[path = "hidden/tokenize.rs"]
mod tokenize;
