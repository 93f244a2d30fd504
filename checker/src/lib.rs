//! The oslings checker as a library: the binary in `main.rs` is its command
//! line, and the integration tests reach the pieces directly.
//!
//! The flow for one exercise: [`scratch`] writes a cargo project that compiles
//! the hidden suite against the graded crate, [`compile`] builds it,
//! [`runner`] lists and runs each test alone in the [`sandbox`], [`outcome`]
//! classifies how it ended, [`grade`] applies the stage gates and [`perf`] the
//! performance stage, and [`report`] renders the [`model`].

#[cfg(not(target_os = "linux"))]
compile_error!(
    "oslings grades on Linux only: the tests read /proc and use Linux process control. \
     Open the course in its dev container (.devcontainer/, see the README: VS Code's \
     \"Reopen in Container\" or GitHub Codespaces) or in a Linux virtual machine."
);

pub mod access;
pub mod compile;
pub mod grade;
pub mod gradebook;
pub mod hints;
pub mod manifest;
pub mod model;
pub mod outcome;
pub mod pack;
pub mod perf;
pub mod prebuild;
pub mod report;
pub mod reset;
pub mod reuse;
pub mod runner;
pub mod sandbox;
pub mod scratch;
pub mod seal;
pub mod snippet;
pub mod stages;
pub mod status;
pub mod task_limit;
pub mod timing;
pub mod toolchain;
pub mod watch;
