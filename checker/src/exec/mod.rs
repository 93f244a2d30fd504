//! Running untrusted programs: the sandbox and its supervisor, the cap on
//! tasks, the hidden tests run one by one, the files they must not touch,
//! and how each ended.

pub mod guard;
pub mod outcome;
pub mod procs;
pub mod programs;
pub mod runner;
pub mod sandbox;
pub mod supervisor;
pub mod task_limit;
