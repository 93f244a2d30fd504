//! The supervisor: the process (`checker __supervise …`) that starts one
//! sandboxed program and enforces its limits. It makes itself a child
//! subreaper, starts the program in a new process group with its limits,
//! drains its output pipes (keeping the start and the end of each), waits,
//! then kills and reaps everything the program left behind, and writes a
//! [`Status`] for the checker ([`crate::exec::sandbox`]) to read.

use anyhow::{Context, Result, bail};
use nix::fcntl::{FcntlArg, FdFlag, OFlag, fcntl};
use nix::sys::prctl::{set_child_subreaper, set_pdeathsig};
use nix::sys::resource::{Resource, setrlimit};
use nix::sys::signal::{Signal, kill, killpg};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{Pid, getppid, pipe2};
use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::exec::procs::children_of;
use crate::exec::sandbox::{
    KEEP_BYTES, Limits, Status, TRUNCATION_MARK, ThreadStates, poll_interval,
};
use crate::exec::task_limit::TaskLimit;

/// The start and the end of one output stream, and its length.
#[derive(Debug, Default)]
struct Capture {
    head: Vec<u8>,
    tail: Vec<u8>,
    total: u64,
}

impl Capture {
    /// Reads `from` to its end, keeping [`KEEP_BYTES`] of the start and of
    /// the end.
    fn drain(mut from: File) -> Capture {
        let keep = KEEP_BYTES as usize;
        let mut capture = Capture::default();
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let n = match from.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            };
            capture.total += n as u64;
            let mut chunk = &buffer[..n];
            if capture.head.len() < keep {
                let take = chunk.len().min(keep - capture.head.len());
                capture.head.extend_from_slice(&chunk[..take]);
                chunk = &chunk[take..];
            }
            capture.tail.extend_from_slice(chunk);
            if capture.tail.len() > 2 * keep {
                capture.tail.drain(..capture.tail.len() - keep);
            }
        }
        if capture.tail.len() > keep {
            capture.tail.drain(..capture.tail.len() - keep);
        }
        capture
    }

    /// The kept bytes, with a [`TRUNCATION_MARK`] line where bytes were dropped.
    fn write_to(&self, out: &mut impl Write) -> std::io::Result<()> {
        out.write_all(&self.head)?;
        let kept = (self.head.len() + self.tail.len()) as u64;
        if kept < self.total {
            write!(out, "\n{TRUNCATION_MARK}\n")?;
        }
        out.write_all(&self.tail)?;
        out.flush()
    }
}

/// Drains `from` on a thread of its own; the result arrives on the channel.
fn drain_in_background(from: OwnedFd) -> mpsc::Receiver<Capture> {
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = send.send(Capture::drain(File::from(from)));
    });
    receive
}

/// What a drain thread captured, waiting at most `patience` for its end of
/// file (a process outside the sandbox's reach may still hold the pipe).
fn collect(receiver: &mpsc::Receiver<Capture>, patience: Duration) -> Capture {
    receiver.recv_timeout(patience).unwrap_or_default()
}

/// The supervisor side: start `program`, enforce `limits`, clean up, and
/// write a [`Status`] to `status_file`. Runs inside `checker __supervise`.
pub fn supervise(
    status_file: &Path,
    limits: Limits,
    parent: u32,
    program: &[OsString],
) -> Result<()> {
    let (program, args) = program
        .split_first()
        .context("the supervisor needs a program to run")?;
    // Every orphaned descendant of the program is re-parented to us.
    let _ = set_child_subreaper(true);
    let task_limit = TaskLimit::apply(limits.tasks);
    let (stdout_read, stdout_write) = pipe2(OFlag::O_CLOEXEC).context("cannot make a pipe")?;
    let (stderr_read, stderr_write) = pipe2(OFlag::O_CLOEXEC).context("cannot make a pipe")?;
    let mut command = Command::new(program);
    command
        .args(args)
        .stdout(Stdio::from(stdout_write))
        .stderr(Stdio::from(stderr_write));
    confine(&mut command, limits, task_limit.rlimit());
    let started = Instant::now();
    let child = match command.spawn() {
        Ok(child) => child,
        Err(err) => {
            task_limit.release();
            return Err(err)
                .with_context(|| format!("cannot start {}", Path::new(program).display()));
        }
    };
    // The test (and all it starts) stays in the cgroup; the supervisor, its
    // drain threads included, does not, so the cgroup's members are exactly
    // what must be gone when the test ends.
    task_limit.leave();
    // Our copies of the pipes' write ends must close, or no drain would
    // ever see the end of its stream.
    drop(command);
    let stdout_capture = drain_in_background(stdout_read);
    let stderr_capture = drain_in_background(stderr_read);
    let pid = child.id() as libc::pid_t;
    let mut status = Status::default();
    let Waited::Ended { raw_status, usage } =
        wait_for(pid, parent, limits.timeout, started, &mut status)?
    else {
        // The checker is gone (Ctrl-C, killed): leave nothing behind, not
        // even the run's directory, which the checker would have removed.
        kill_leftovers(pid, &task_limit);
        task_limit.release();
        remove_run_dir(status_file);
        std::process::exit(1);
    };
    status.wall_ms = started.elapsed().as_millis() as u64;
    record_exit(&mut status, raw_status, &usage);
    status.leaked_processes = kill_leftovers(pid, &task_limit);
    status.task_limit = task_limit.max();
    status.task_limit_hit = task_limit.was_hit().unwrap_or(false);
    task_limit.release();
    let patience = Duration::from_secs(2);
    let out = collect(&stdout_capture, patience);
    let err = collect(&stderr_capture, patience);
    status.stdout_bytes = out.total;
    status.stderr_bytes = err.total;
    out.write_to(&mut std::io::stdout().lock())
        .context("cannot save the test's output")?;
    err.write_to(&mut std::io::stderr().lock())
        .context("cannot save the test's output")?;
    std::fs::write(status_file, serde_json::to_string(&status)?)
        .with_context(|| format!("cannot write {}", status_file.display()))?;
    Ok(())
}

/// Makes the child `command` starts begin hermetic ([`hermetic_start`]),
/// die with the supervisor, and run under `limits` (and `nproc`, the
/// `RLIMIT_NPROC` the task limit asks for, if any).
fn confine(command: &mut Command, limits: Limits, nproc: Option<u64>) {
    let cpu_secs = if limits.cpu_limit {
        limits.timeout.as_secs() * 2 + 2
    } else {
        libc::RLIM_INFINITY
    };
    // SAFETY: between fork and exec the closure only calls async-signal-safe
    // functions (setsid, umask, sigaction, sigprocmask, close_range, fcntl,
    // prctl, getrlimit, setrlimit) on values already computed.
    unsafe {
        command.pre_exec(move || {
            hermetic_start();
            let _ = set_pdeathsig(Signal::SIGKILL);
            set_limit(Resource::RLIMIT_AS, limits.memory_bytes);
            set_limit(Resource::RLIMIT_CPU, cpu_secs);
            set_limit(Resource::RLIMIT_FSIZE, limits.file_bytes);
            set_limit(Resource::RLIMIT_NOFILE, limits.open_files);
            set_limit(Resource::RLIMIT_STACK, STACK_BYTES);
            set_limit(Resource::RLIMIT_CORE, 0);
            if let Some(nproc) = nproc {
                set_limit(Resource::RLIMIT_NPROC, nproc);
            }
            Ok(())
        });
    }
}

/// How waiting for the program ended.
enum Waited {
    /// It ended (or was killed at its time limit): its wait status and
    /// resource usage.
    Ended {
        raw_status: libc::c_int,
        usage: libc::rusage,
    },
    /// The checker that started the supervisor is gone.
    CheckerGone,
}

/// Waits for the program `pid` to end, or kills its process group once it
/// has run for `timeout` (and notes in `status` that it timed out, and what
/// its threads were doing); stops waiting when the checker, `parent`, is gone.
fn wait_for(
    pid: libc::pid_t,
    parent: u32,
    timeout: Duration,
    started: Instant,
    status: &mut Status,
) -> Result<Waited> {
    let mut raw_status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: wait4 writes only into the two valid out-pointers. (nix
        // has no wait4: its waitpid does not give the child's rusage.)
        let done = unsafe { libc::wait4(pid, &mut raw_status, libc::WNOHANG, &mut usage) };
        if done == pid {
            break;
        }
        if done < 0 {
            bail!(
                "waiting for the test failed: {}",
                std::io::Error::last_os_error()
            );
        }
        if getppid().as_raw() as u32 != parent {
            return Ok(Waited::CheckerGone);
        }
        if started.elapsed() > timeout {
            status.timed_out = true;
            status.threads_at_timeout = ThreadStates::of(pid);
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
            // SAFETY: as above; this wait blocks until the killed child is gone.
            unsafe { libc::wait4(pid, &mut raw_status, 0, &mut usage) };
            break;
        }
        std::thread::sleep(poll_interval(started.elapsed()));
    }
    Ok(Waited::Ended { raw_status, usage })
}

/// Notes in `status` how the program ended (its exit code or signal) and
/// what it used.
fn record_exit(status: &mut Status, raw_status: libc::c_int, usage: &libc::rusage) {
    if libc::WIFEXITED(raw_status) {
        status.exit_code = Some(libc::WEXITSTATUS(raw_status));
    } else if libc::WIFSIGNALED(raw_status) {
        status.signal = Some(libc::WTERMSIG(raw_status));
    }
    status.cpu_ms = timeval_ms(usage.ru_utime) + timeval_ms(usage.ru_stime);
    status.max_rss_kib = usage.ru_maxrss as u64;
}

/// Removes the run's temporary directory (the one holding `status_file`),
/// if it is one the checker made.
fn remove_run_dir(status_file: &Path) {
    if let Some(scratch) = status_file.parent() {
        let ours = scratch
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("oslings-run-"));
        if ours {
            let _ = std::fs::remove_dir_all(scratch);
        }
    }
}

/// The main thread's stack, as most Linux systems set it (`ulimit -s`):
/// a learner's `ulimit -s unlimited` must not hide a stack overflow.
const STACK_BYTES: u64 = 8 << 20;

/// Puts the calling process (between `fork` and `exec`) in the state every
/// test starts in, whatever state the checker was started in: a session and
/// process group of its own with no controlling terminal, umask 022, every
/// signal at its default and none blocked, and no descriptor open past
/// standard input, output and error (those the checker's caller left open
/// are closed at `exec`). Only async-signal-safe calls.
fn hermetic_start() {
    let _ = nix::unistd::setsid();
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    oslings_harness::default_signal_dispositions();
    let _ = nix::sys::signal::sigprocmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&nix::sys::signal::SigSet::empty()),
        None,
    );
    // Close-on-exec rather than closed: std's own pipe that reports a
    // failed exec must stay open until the exec.
    // SAFETY: close_range only changes the flags of this process's own
    // descriptors; it reads no memory of ours.
    let marked = unsafe {
        libc::close_range(
            3,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC as libc::c_int,
        )
    } == 0;
    if !marked {
        let (open, _) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
            .unwrap_or((1024, 1024));
        for fd in 3..open.min(1 << 16) as libc::c_int {
            // A descriptor number that is not open fails with EBADF.
            let _ = fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC));
        }
    }
}

/// Sets both the soft and the hard limit of `resource` (best effort).
fn set_limit(resource: Resource, value: u64) {
    let _ = setrlimit(resource, value, value);
}

fn timeval_ms(tv: libc::timeval) -> u64 {
    tv.tv_sec as u64 * 1000 + tv.tv_usec as u64 / 1000
}

/// Kills and reaps every process the program left behind: every member of
/// its cgroup where it has one, its process group, and every orphan
/// re-parented to this subreaper. Returns how many there were.
fn kill_leftovers(pgid: libc::pid_t, task_limit: &TaskLimit) -> u32 {
    let mut seen = std::collections::BTreeSet::new();
    if let Some(members) = task_limit.members() {
        seen.extend(kill_cgroup(task_limit, members));
    }
    let group = Pid::from_raw(pgid);
    if killpg(group, None).is_ok() {
        let _ = killpg(group, Signal::SIGKILL);
    }
    let me = std::process::id() as libc::pid_t;
    for _ in 0..100 {
        let children = children_of(me);
        if children.is_empty() {
            break;
        }
        for child in children {
            seen.insert(child);
            let _ = kill(Pid::from_raw(child), Signal::SIGKILL);
            let _ = waitpid(Pid::from_raw(child), None);
        }
    }
    seen.len() as u32
}

/// Empties the test's cgroup: no more forks, then SIGKILL to every member,
/// again until none is left (a fork under way when the cap dropped may still
/// add one), reaping the ones that are our children. Returns every pid seen.
fn kill_cgroup(task_limit: &TaskLimit, mut members: Vec<libc::pid_t>) -> Vec<libc::pid_t> {
    let mut seen = Vec::new();
    if members.is_empty() {
        return seen;
    }
    task_limit.forbid_forks();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !members.is_empty() && Instant::now() < deadline {
        for &pid in &members {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        seen.extend_from_slice(&members);
        reap_children();
        std::thread::sleep(Duration::from_millis(1));
        members = task_limit.members().unwrap_or_default();
    }
    seen.sort_unstable();
    seen.dedup();
    seen
}

/// Reaps every child of this process that has ended, without blocking.
fn reap_children() {
    while let Ok(status) = waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
        if status == WaitStatus::StillAlive {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drains `total` bytes written by another thread: the numbered lines
    /// make the kept start and end recognisable.
    fn drain_lines(lines: usize) -> (Capture, Vec<u8>) {
        let (read, write) = pipe2(OFlag::O_CLOEXEC).unwrap();
        let writer = std::thread::spawn(move || {
            let mut out = File::from(write);
            let mut all = Vec::new();
            for i in 0..lines {
                let line = format!("line {i:08}\n");
                out.write_all(line.as_bytes()).unwrap();
                all.extend_from_slice(line.as_bytes());
            }
            all
        });
        let capture = Capture::drain(File::from(read));
        (capture, writer.join().unwrap())
    }

    #[test]
    fn a_short_stream_is_kept_whole() {
        let (capture, all) = drain_lines(100);
        let mut kept = Vec::new();
        capture.write_to(&mut kept).unwrap();
        assert_eq!(kept, all);
        assert_eq!(capture.total, all.len() as u64);
    }

    #[test]
    fn a_flood_keeps_its_start_and_end_and_counts_every_byte() {
        // 14 bytes a line: about 56 MiB.
        let (capture, all) = drain_lines(4_000_000);
        assert_eq!(capture.total, all.len() as u64);
        let mut kept = Vec::new();
        capture.write_to(&mut kept).unwrap();
        let keep = KEEP_BYTES as usize;
        assert!(kept.len() <= 2 * keep + 64, "{} bytes kept", kept.len());
        assert_eq!(&kept[..keep], &all[..keep]);
        assert_eq!(&kept[kept.len() - keep..], &all[all.len() - keep..]);
        let text = String::from_utf8_lossy(&kept);
        assert!(text.contains(TRUNCATION_MARK));
    }
}
