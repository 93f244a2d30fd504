//! The benchmark built ahead of need: its optimised build starts while the
//! tests run (when the last grading says this one will measure), or in the
//! background while the learner works on the last stage, so the first
//! measurement after the last stage passes does not wait for a release
//! build of every dependency.

use std::process::Child;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::build::compile::{self, Build};
use crate::report::model::ExerciseReport;

/// A `cargo build --profile perf` of the benchmark binary, running.
#[derive(Debug)]
pub struct Prebuild {
    child: Child,
}

impl Prebuild {
    /// Starts the build if `last`, the previous grading of the exercise,
    /// says it will soon be needed: when every stage passed (this grading
    /// will likely measure), or when only the last stage failed and
    /// `background` allows it. Either way at a low priority: this
    /// grading's tests come first, and their verdict is shown while the
    /// benchmark is still being built.
    pub fn ahead_of(last: &ExerciseReport, build: Build<'_>, background: bool) -> Option<Prebuild> {
        if last.compile_error.is_some() {
            return None;
        }
        let failing: Vec<usize> = last
            .stages
            .iter()
            .filter(|s| !s.passed && !s.unavailable())
            .map(|s| s.number)
            .collect();
        match failing.as_slice() {
            [] => Prebuild::start(build),
            [only] if *only == last.stages.len() && background => Prebuild::start(build),
            _ => None,
        }
    }

    /// Starts the build (best effort: `None` when cargo cannot be started,
    /// and the benchmark is then built when it is needed, as before).
    pub fn start(build: Build<'_>) -> Option<Prebuild> {
        let mut command = compile::perf_build_command(build).ok()?;
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        // SAFETY: the closure runs in the child between fork and exec and
        // only makes the setpriority system call (nice 10: what the grading
        // leaves over), which is async-signal-safe; it touches no memory of
        // the parent.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut command, || {
                libc::setpriority(libc::PRIO_PROCESS, 0, 10);
                Ok(())
            });
        }
        command.spawn().ok().map(|child| Prebuild { child })
    }

    /// Waits for the build to end: the benchmark is needed now (building it
    /// again is then a no-op for cargo).
    pub fn finish(mut self) {
        let _ = self.child.wait();
    }

    /// The benchmark is not needed by this grading: left to finish on its
    /// own when `keep` (the learner will soon need it), else stopped.
    pub fn set_aside(mut self, keep: bool) {
        if keep {
            // Not waited for: when the checker exits, the build is adopted
            // and reaped by init (or the nearest subreaper).
            return;
        }
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // cargo and the compilers it started share its process group.
            let _ = killpg(Pid::from_raw(pid), Signal::SIGTERM);
        }
        let _ = self.child.wait();
    }
}
