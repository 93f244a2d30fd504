//! Stages 2, 4, 5 and 7: starting programs and waiting for them.
//!
//! Running `ls -l | wc -l` takes, in the shell (the parent):
//! a pipe, two forks, closing both pipe ends, two waits; and in each child:
//! joining the job's process group, default signal dispositions, `dup2` of
//! the pipe end onto standard input or output, the command's own
//! redirections, and finally `execvp`, which replaces the child's program
//! and never returns (unless the program cannot be run).

use std::convert::Infallible;
#[allow(unused_imports)] // you will want these
use std::ffi::CString;
use std::fmt;
#[allow(unused_imports)] // you will want these
use std::os::fd::{AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::wait::WaitStatus;
use nix::unistd::{ForkResult, Pid};

use crate::jobs::Process;
use crate::parser::{Job, Redirect};

// ANCHOR: fork_child
/// Forks the shell. The child runs `child`, which must end by replacing
/// itself (`exec_program`) or by `_exit`; the parent gets the child's pid.
///
/// If `child` panics (say on a `todo!()`), the child exits with status 101
/// right there: it must never unwind back into the shell's code, where it
/// would go on reading commands as a second copy of the shell.
pub fn fork_child(child: impl FnOnce() -> Infallible) -> nix::Result<Pid> {
    // SAFETY: the shell is single-threaded, so the child does not inherit
    // a lock held by another thread; it only runs `child`, which ends in
    // exec or `_exit`, and never returns into the parent's code.
    match unsafe { nix::unistd::fork() }? {
        ForkResult::Parent { child } => Ok(child),
        ForkResult::Child => {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(child));
            // SAFETY: `_exit` ends the process at once, without running the
            // parent's atexit handlers or flushing its copied buffers.
            unsafe { libc::_exit(101) }
        }
    }
}
// ANCHOR_END: fork_child

// ANCHOR: exit_code
/// The number `$?` shows for a status `waitpid` returned: the exit code
/// of a process that exited, 128 + N for one killed (or stopped) by
/// signal N (130 for SIGINT, 137 for SIGKILL, 148 for SIGTSTP).
pub fn exit_code(status: WaitStatus) -> i32 {
    todo!(
        "stage 2: turn {status:?} into an exit code: \
         the code, or 128 + the signal"
    )
}
// ANCHOR_END: exit_code

// ANCHOR: exec_program
/// In the child: replaces the process with the program `argv[0]`, found
/// through `$PATH` as `execvp` does, with arguments `argv`. Never returns:
/// if the program cannot be run, prints `osh: NAME: command not found`
/// (status 127) or `osh: NAME: Permission denied` (126), or
/// `osh: NAME: <reason>` (126) on standard error and exits with `_exit`.
pub fn exec_program(argv: &[String]) -> ! {
    todo!(
        "stage 2: execvp {argv:?}; \
         if that fails, report it and _exit with 127 or 126"
    )
}
// ANCHOR_END: exec_program

// ANCHOR: redirect_error
/// A redirection that could not be made: the file and the reason.
/// Displays as `FILE: No such file or directory` (the shell adds `osh: `).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectError {
    /// The file named in the redirection, or `"2>&1"` when the
    /// `dup2(1, 2)` of a `2>&1` fails (it names no file).
    pub path: String,
    /// Why `open` (or `dup2`) failed.
    pub errno: Errno,
}
// ANCHOR_END: redirect_error

impl fmt::Display for RedirectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.errno.desc())
    }
}

impl std::error::Error for RedirectError {}

// ANCHOR: apply_redirects
/// Applies `redirects` to the calling process, left to right: opens each
/// file with the right flags and `dup2`s it onto descriptor 0, 1 or 2,
/// then closes the descriptor `open` returned, so that no extra descriptor
/// is left behind. `2>&1` makes descriptor 2 a copy of descriptor 1 as it
/// is at that point. Stops at the first failure.
///
/// | redirect | open flags | onto |
/// |---|---|---|
/// | `< f` | `O_RDONLY` | 0 |
/// | `> f`, `2> f` | `O_WRONLY \| O_CREAT \| O_TRUNC`, mode 0o666 | 1, 2 |
/// | `>> f` | `O_WRONLY \| O_CREAT \| O_APPEND`, mode 0o666 | 1 |
pub fn apply_redirects(redirects: &[Redirect]) -> Result<(), RedirectError> {
    todo!("stage 4: open each file and dup2 it onto 0, 1 or 2: {redirects:?}")
}
// ANCHOR_END: apply_redirects

/// `dup2(from, to)` on raw descriptors (the new one is not close-on-exec).
pub fn dup2_raw(from: i32, to: i32) -> nix::Result<()> {
    nix::unistd::dup2(from, to).map(drop)
}

// ANCHOR: reset_signals
/// In the child, before exec: every signal the shell ignores or handles
/// goes back to its default action, and no signal stays blocked.
///
/// `exec` resets *handled* signals but keeps *ignored* ones: without this,
/// a program started by an interactive shell would ignore Ctrl-C, and one
/// started by any Rust program would ignore SIGPIPE (the Rust runtime
/// ignores it), so `yes | head -n 1` would see `yes` fail with "Broken
/// pipe" instead of dying quietly.
pub fn reset_signals() {
    todo!(
        "stage 7: restore the default action of every signal \
         the shell ignores, unblock all"
    )
}
// ANCHOR_END: reset_signals

// ANCHOR: give_terminal
/// Makes `pgid` the terminal's foreground process group (`tcsetpgrp` on
/// standard input): Ctrl-C and Ctrl-Z then go to that group, and only it
/// may read from the terminal. Errors are ignored (the job may be gone).
/// Called only under job control, by the shell (before waiting for a
/// foreground job, and for itself afterwards) and by the job's children.
pub fn give_terminal(pgid: Pid) {
    todo!("stage 7: make {pgid} the terminal's foreground process group")
}
// ANCHOR_END: give_terminal

// ANCHOR: start_job
/// Starts every command of `job` (a pipeline of one or more commands),
/// connected by pipes, and returns its processes in order, all running.
/// Does not wait for them.
///
/// - Stage 2: one command: [`fork_child`]; in the child, [`exec_program`].
/// - Stage 4: in the child, [`apply_redirects`] before exec; on failure
///   print `osh: <error>` and `_exit(1)`.
/// - Stage 5: N commands, N−1 pipes, N children all started before anyone
///   waits. Command i reads from pipe i−1 and writes into pipe i
///   (`dup2`), then its redirections apply. Every pipe end must be closed
///   in the shell as soon as the children that need it exist, and no child
///   may keep one it does not use: a reader sees end-of-file only when
///   every copy of the write end is closed.
/// - Stage 7: with `job_control`, every process joins the job's process
///   group, whose id is the first child's pid (`setpgid`, in the child
///   *and* in the parent, so it is done whichever runs first); a
///   foreground job's children also take the terminal
///   ([`give_terminal`]). Every child, with or without job control, calls
///   [`reset_signals`] before exec.
///
/// If a fork fails, the processes already started are killed and reaped
/// before the error is returned.
pub fn start_job(job: &Job, job_control: bool) -> nix::Result<Vec<Process>> {
    let _ = (job, job_control);
    todo!(
        "stage 2: fork and exec the job's command \
         (stage 5: a pipeline; stage 7: process groups)"
    )
}
// ANCHOR_END: start_job

/// Kills and reaps the processes of a job that could not be started
/// whole: call it when a fork in the middle of a pipeline fails.
pub fn abandon(processes: &[Process]) {
    for process in processes {
        let _ = nix::sys::signal::kill(process.pid, nix::sys::signal::Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(process.pid, None);
    }
}

// ANCHOR: wait_job
/// Waits until every process in `processes` has ended, or (stage 7) one
/// of them has stopped, recording each status with [`crate::jobs::record`].
/// Processes already `Done` are not waited for again.
///
/// - Stage 2: `waitpid` for the one process.
/// - Stage 5: for every process of the pipeline, not only the first.
/// - Stage 7: with `WUNTRACED`, so that a job stopped by Ctrl-Z returns
///   control to the shell instead of hanging it; return as soon as one
///   process is reported stopped.
pub fn wait_job(processes: &mut [Process]) -> nix::Result<()> {
    let _ = processes;
    todo!(
        "stage 2: waitpid for the job's processes \
         (stage 5: all of them; stage 7: WUNTRACED)"
    )
}
// ANCHOR_END: wait_job
