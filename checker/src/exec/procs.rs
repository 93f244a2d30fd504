//! The processes `/proc` lists, and who is whose parent: the harness's
//! readers ([`oslings_harness::procs`]), which the hidden suites use too.

pub use oslings_harness::procs::all_pids;

/// Processes whose parent is `parent` (zombies included).
pub fn children_of(parent: libc::pid_t) -> Vec<libc::pid_t> {
    oslings_harness::procs::children_of(parent)
        .into_iter()
        .map(|child| child.pid)
        .collect()
}
