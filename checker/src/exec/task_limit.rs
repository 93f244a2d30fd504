//! A cap on how many processes and threads one test may have at once, so
//! that a fork bomb fails with `EAGAIN` instead of filling the machine.
//!
//! The supervisor puts itself into a fresh `pids` cgroup (v1, or v2 where the
//! controller is enabled for its cgroup) before it starts the test, so the
//! test and everything it starts inherit the cap; the cgroup is removed
//! afterwards. Where no cgroup can be made (no permission, no controller),
//! `RLIMIT_NPROC` is the fallback for ordinary users: it counts all of the
//! user's processes, so it is set to what the user runs now plus the cap.
//! Root ignores `RLIMIT_NPROC`; there the cgroup is the only cap.

use oslings_harness::procs::Status;
use std::path::{Path, PathBuf};

/// How the cap is enforced for one run.
#[derive(Debug)]
pub enum TaskLimit {
    /// A `pids` cgroup of our own.
    Cgroup {
        /// The cgroup's directory.
        dir: PathBuf,
        /// `cgroup.procs` of the cgroup the supervisor came from.
        home: PathBuf,
        /// The cap.
        max: u32,
    },
    /// `RLIMIT_NPROC` set to this value in the test process.
    Rlimit {
        /// The limit to set (the user's processes now plus the cap).
        value: u64,
        /// The cap.
        max: u32,
    },
    /// Nothing could enforce a cap.
    None,
}

impl TaskLimit {
    /// Caps the tasks of everything the calling process starts from now on
    /// at `max`, the best way this machine allows.
    pub fn apply(max: u32) -> TaskLimit {
        if let Some(limit) = cgroup(max) {
            return limit;
        }
        if !nix::unistd::geteuid().is_root() {
            let value = user_tasks() + u64::from(max);
            return TaskLimit::Rlimit { value, max };
        }
        TaskLimit::None
    }

    /// Whether a `pids` cgroup can be made here (without making one), so
    /// that a run's report can say when its cap was hit.
    pub fn cgroup_available() -> bool {
        own_pids_cgroup().is_some_and(|dir| writable(&dir))
    }

    /// The cap, if one is enforced.
    pub fn max(&self) -> Option<u32> {
        match self {
            TaskLimit::Cgroup { max, .. } | TaskLimit::Rlimit { max, .. } => Some(*max),
            TaskLimit::None => None,
        }
    }

    /// The `RLIMIT_NPROC` value the test process must set, if any.
    pub fn rlimit(&self) -> Option<u64> {
        match self {
            TaskLimit::Rlimit { value, .. } => Some(*value),
            _ => None,
        }
    }

    /// Whether a fork or clone failed because of the cap (known only for
    /// the cgroup; `None` when it cannot be told).
    pub fn was_hit(&self) -> Option<bool> {
        match self {
            TaskLimit::Cgroup { dir, .. } => {
                let events = std::fs::read_to_string(dir.join("pids.events")).ok()?;
                let count = events
                    .lines()
                    .find_map(|l| l.strip_prefix("max "))
                    .and_then(|n| n.trim().parse::<u64>().ok())?;
                Some(count > 0)
            }
            _ => None,
        }
    }

    /// Moves the caller back to the cgroup it came from, leaving in ours only
    /// what it started since [`TaskLimit::apply`]: the test and every process
    /// it starts, which cannot leave it by forking or by changing process
    /// group or session.
    pub fn leave(&self) {
        if let TaskLimit::Cgroup { home, .. } = self {
            let _ = std::fs::write(home, std::process::id().to_string());
        }
    }

    /// Every process in our cgroup now (`None` without a cgroup).
    pub fn members(&self) -> Option<Vec<libc::pid_t>> {
        let TaskLimit::Cgroup { dir, .. } = self else {
            return None;
        };
        let procs = std::fs::read_to_string(dir.join("cgroup.procs")).ok()?;
        Some(
            procs
                .lines()
                .filter_map(|l| l.trim().parse().ok())
                .collect(),
        )
    }

    /// Stops every process in our cgroup from starting another (the cap
    /// drops to zero), so that a sweep that kills them all cannot be
    /// outrun by their forks.
    pub fn forbid_forks(&self) {
        if let TaskLimit::Cgroup { dir, .. } = self {
            let _ = std::fs::write(dir.join("pids.max"), "0");
        }
    }

    /// Leaves the cgroup and removes it (it must have no task left but the
    /// caller). Best effort: a cgroup that cannot be removed is left empty.
    pub fn release(self) {
        if let TaskLimit::Cgroup { dir, home, .. } = self {
            let _ = std::fs::write(home, std::process::id().to_string());
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// Makes a `pids` cgroup below the caller's, sets `pids.max` and moves the
/// caller into it.
fn cgroup(max: u32) -> Option<TaskLimit> {
    let parent = own_pids_cgroup()?;
    let dir = parent.join(format!("oslings-{}", std::process::id()));
    std::fs::create_dir(&dir).ok()?;
    let entered = std::fs::write(dir.join("pids.max"), max.to_string()).is_ok()
        && std::fs::write(dir.join("cgroup.procs"), std::process::id().to_string()).is_ok();
    if !entered {
        let _ = std::fs::remove_dir(&dir);
        return None;
    }
    Some(TaskLimit::Cgroup {
        dir,
        home: parent.join("cgroup.procs"),
        max,
    })
}

/// The directory of the caller's cgroup in the `pids` hierarchy, if there
/// is one we could make children in.
fn own_pids_cgroup() -> Option<PathBuf> {
    let table = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    for line in table.lines() {
        let mut fields = line.splitn(3, ':');
        let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
        let path = path.trim_start_matches('/');
        if controllers.split(',').any(|c| c == "pids") {
            let dir = Path::new("/sys/fs/cgroup/pids").join(path);
            if dir.join("cgroup.procs").is_file() {
                return Some(dir);
            }
        } else if controllers.is_empty() {
            // cgroup v2: usable only if `pids` is enabled for our children.
            let dir = Path::new("/sys/fs/cgroup").join(path);
            let enabled = std::fs::read_to_string(dir.join("cgroup.subtree_control")).ok()?;
            if enabled.split_whitespace().any(|c| c == "pids") {
                return Some(dir);
            }
        }
    }
    None
}

/// Whether the calling process may create entries in `dir`.
fn writable(dir: &Path) -> bool {
    nix::unistd::access(dir, nix::unistd::AccessFlags::W_OK).is_ok()
}

/// Processes and threads the calling user runs now (what `RLIMIT_NPROC`
/// counts).
fn user_tasks() -> u64 {
    let uid = nix::unistd::getuid().as_raw();
    crate::exec::procs::all_pids()
        .into_iter()
        .filter_map(Status::of)
        .filter(|status| status.uid == uid)
        .map(|status| status.threads)
        .sum()
}
