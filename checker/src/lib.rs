//! The oslings checker as a library: the binary in `main.rs` parses the
//! command line ([`cli`]) and hands each command to [`cmd`]; the
//! integration tests reach the pieces directly.
//!
//! The flow for one exercise: [`build::scratch`] writes a cargo project that
//! compiles the hidden suite against the graded crate, [`build::compile`]
//! builds it, [`exec::runner`] lists and runs each test alone in the
//! [`exec::sandbox`], [`exec::outcome`] classifies how it ended,
//! [`grade`] applies the stage gates ([`grade::stages`]) and the performance
//! stage ([`grade::perf`]), and [`report`] renders the [`report::model`].
//!
//! # Module map
//!
//! Each folder is one concept. Uses go one way only, so there is no import
//! circle between modules or between folders: [`util`] ← [`course`] ←
//! [`report::model`] ← [`build`] ← [`exec`] ← [`grade`] ← the [`report`]
//! formats ← [`cmd`] (which reads [`cli`]) ← `main.rs`. Within a folder, a
//! `mod.rs` declares its modules and they never use it ([`grade`]'s holds
//! the [`grade::Grader`], which uses [`grade::stages`], not the other way).
//!
//! - [`cli`]: the command line's clap types, and nothing else.
//! - [`cmd`]: what each command does.
//!   - [`cmd::setup`]: the tree, grader and exercises a command works on.
//!   - [`cmd::grade`]: the grading command: grade, build the report, print it; `--test`.
//!   - [`cmd::watch`]: `--watch`: regrade the exercise being edited on save.
//!   - [`cmd::hints`]: `hint`: progressive hints, and which levels were seen.
//!   - [`cmd::status`]: `list` and `progress`, and the spinner.
//!   - [`cmd::reset`]: `reset`: an exercise back to its stub, backed up first.
//!   - [`cmd::gradebook`]: `gradebook`: a folder of JSON reports as tables and CSV.
//!   - [`cmd::internal`]: the hidden commands `__supervise` and `__score-perf`.
//! - [`course`]: what the course is made of.
//!   - [`course::manifest`]: the stage manifests (`exercise.toml`) and the course.
//!   - [`course::pack`]: instructors' test packs (`--pack`).
//!   - [`course::paths`]: where the oslings repository is.
//!   - [`course::access`]: whether a tree to grade can be read at all.
//! - [`build`]: turning sources into test and benchmark binaries.
//!   - [`build::cargo_toml`]: reading manifests, resolving workspace dependencies.
//!   - [`build::scratch`]: the scratch project of the hidden suite against the graded crate.
//!   - [`build::seal`]: another tree's crate copied under the course's manifest.
//!   - [`build::compile`]: running cargo, and compiler errors a learner can act on.
//!   - [`build::toolchain`]: cargo's stderr, and a missing toolchain explained.
//!   - [`build::prebuild`]: the benchmark built ahead of need.
//! - [`exec`]: running untrusted programs.
//!   - [`exec::sandbox`]: one program isolated, with limits (the checker's side).
//!   - [`exec::supervisor`]: the supervisor process that enforces them and cleans up.
//!   - [`exec::task_limit`]: the cap on processes and threads (cgroup or `RLIMIT_NPROC`).
//!   - [`exec::procs`]: the processes `/proc` lists (through `oslings_harness::procs`).
//!   - [`exec::programs`]: programs a stage needs, on the sandbox's `PATH`.
//!   - [`exec::runner`]: listing the hidden tests and running each alone.
//!   - [`exec::guard`]: noticing a test that writes where it must not.
//!   - [`exec::outcome`]: how a test ended, as an outcome and a message.
//! - [`grade`]: grading one exercise ([`grade::Grader`]).
//!   - [`grade::news`]: what grading tells the user while it runs.
//!   - [`grade::stages`]: the correctness stages under their gates.
//!   - [`grade::perf`]: the performance stage: measure, score.
//!   - [`grade::reuse`]: the last results, reused when nothing changed.
//! - [`report`]: the results and their formats.
//!   - [`report::model`]: the report types (the JSON schema; the gradebook reads them back).
//!   - [`report::text`], [`report::junit`], [`report::gradescope`],
//!     [`report::classroom`], [`report::markdown`]: the formats.
//! - [`util`]: small helpers with no knowledge of the course.
//!   - [`util::fs`]: writing files only when they change; one directory or two.
//!   - [`util::fingerprint`]: stable hashes for cache keys and names.
//!   - [`util::snippet`]: cutting program output down to what a report shows.
//!   - [`util::timing`]: `OSLINGS_TIMINGS`: how long each phase takes.
//! - [`dev`]: `checker dev`, tools for course authors: `dev new` scaffolds an
//!   exercise, `dev check` proves the course consistent (manifests, book
//!   sections, given code identical in stub and solution, every hidden
//!   assertion with a message, the perf entry point, pristine hashes,
//!   grading of every stub and solution).

#[cfg(not(target_os = "linux"))]
compile_error!(
    "oslings grades on Linux only: the tests read /proc and use Linux process control. \
     Open the course in its dev container (.devcontainer/, see the README: VS Code's \
     \"Reopen in Container\" or GitHub Codespaces) or in a Linux virtual machine."
);

pub mod build;
pub mod cli;
pub mod cmd;
pub mod course;
pub mod dev;
pub mod exec;
pub mod grade;
pub mod report;
pub mod util;
