//! Runs one untrusted program (a hidden test, a benchmark) isolated: its own
//! process group, resource limits, a time limit, output captured to files,
//! and every process it started killed and reaped afterwards.
//!
//! The checker does not run the program directly. It starts a copy of itself
//! as a *supervisor* (`checker __supervise …`), which makes itself a child
//! subreaper, starts the program in a new process group with its limits, and
//! waits. Because the supervisor is a subreaper, every orphaned descendant of
//! the program is re-parented to it, so after the program exits it can find,
//! kill and reap everything the program left behind, and count it. It writes
//! what happened to a small JSON status file for the checker to read.
//!
//! The program's standard output and error are pipes the supervisor drains
//! as they fill, keeping only the start and the end of each (an output flood
//! costs neither memory nor disk, and the program still runs to its verdict).

use anyhow::{Context, Result, bail};
use nix::fcntl::OFlag;
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{Pid, pipe2};
use serde::{Deserialize, Serialize};
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::task_limit::TaskLimit;

/// Resource limits for one sandboxed run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// Wall-clock limit.
    pub timeout: Duration,
    /// Address-space limit (`RLIMIT_AS`) in bytes.
    pub memory_bytes: u64,
    /// Largest file the program may write (`RLIMIT_FSIZE`), which also caps
    /// its captured output.
    pub file_bytes: u64,
    /// Open file descriptors (`RLIMIT_NOFILE`).
    pub open_files: u64,
    /// Processes and threads at once (a `pids` cgroup, or `RLIMIT_NPROC`).
    #[serde(default = "default_tasks")]
    pub tasks: u32,
    /// Whether a CPU-time limit (`RLIMIT_CPU`) backs the wall-clock one. A
    /// benchmark runs without: while a process-wide CPU timer is armed, the
    /// kernel reads the process's CPU clock only at scheduler ticks (every
    /// few milliseconds), too coarse for a benchmark's short batches.
    #[serde(default = "default_cpu_limit")]
    pub cpu_limit: bool,
}

fn default_cpu_limit() -> bool {
    true
}

fn default_tasks() -> u32 {
    512
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_secs(5),
            memory_bytes: 4 << 30,
            file_bytes: 64 << 20,
            open_files: 1024,
            tasks: default_tasks(),
            cpu_limit: default_cpu_limit(),
        }
    }
}

/// How a sandboxed program ended, as the supervisor saw it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// Exit code, if it exited normally.
    pub exit_code: Option<i32>,
    /// Signal number, if a signal killed it.
    pub signal: Option<i32>,
    /// Whether the supervisor killed it for running past its time limit.
    pub timed_out: bool,
    /// Processes still alive (or unreaped) after the program itself ended.
    pub leaked_processes: u32,
    /// Wall-clock time in milliseconds.
    pub wall_ms: u64,
    /// User plus system CPU time of the program in milliseconds.
    pub cpu_ms: u64,
    /// Peak resident memory of the program in KiB.
    pub max_rss_kib: u64,
    /// The cap on processes and threads, if one could be enforced.
    #[serde(default)]
    pub task_limit: Option<u32>,
    /// Whether a fork or thread creation failed because of that cap.
    #[serde(default)]
    pub task_limit_hit: bool,
    /// Bytes the program wrote to its standard output in all.
    #[serde(default)]
    pub stdout_bytes: u64,
    /// Bytes the program wrote to its standard error in all.
    #[serde(default)]
    pub stderr_bytes: u64,
    /// When it timed out: how many of its threads were running and how
    /// many asleep at that moment (a deadlock sleeps, a loop runs).
    #[serde(default)]
    pub threads_at_timeout: Option<ThreadStates>,
}

/// The states of a process's threads at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadStates {
    /// Threads running or ready to run (`R`).
    pub running: u32,
    /// Threads asleep (`S`, `D`): waiting for a lock, a condition variable,
    /// a channel, a join, a child process or input.
    pub asleep: u32,
}

impl ThreadStates {
    /// The states of the threads of process `pid`, from `/proc/<pid>/task`.
    pub fn of(pid: i32) -> Option<ThreadStates> {
        let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
        let mut states = ThreadStates::default();
        for task in tasks.filter_map(Result::ok) {
            let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
                continue;
            };
            // The state follows the command name, which is in parentheses
            // and may itself hold spaces or parentheses.
            match stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.trim_start().chars().next())
            {
                Some('R') => states.running += 1,
                Some('S' | 'D') => states.asleep += 1,
                _ => {}
            }
        }
        (states.running + states.asleep > 0).then_some(states)
    }
}

/// What one sandboxed run produced.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// How it ended.
    pub status: Status,
    /// Its standard output: all of it, or its start and end around a
    /// [`TRUNCATION_MARK`] line when it was longer than twice [`KEEP_BYTES`].
    pub stdout: String,
    /// Its standard error, kept the same way.
    pub stderr: String,
    /// What libtest wrote to its log file (`--logfile`), for [`run_libtest`]:
    /// a line `ok <test>` once a test has finished and passed.
    pub libtest_log: Option<String>,
}

impl RunResult {
    /// Whether either stream was longer than what was kept of it.
    pub fn truncated(&self) -> bool {
        self.status.stdout_bytes > 2 * KEEP_BYTES || self.status.stderr_bytes > 2 * KEEP_BYTES
    }
}

/// How much of the start, and of the end, of each output stream is kept.
pub const KEEP_BYTES: u64 = 64 * 1024;

/// The line that stands for the middle of a stream that was not kept.
pub const TRUNCATION_MARK: &str = "[... output not kept ...]";

/// Runs `program args` in the sandbox with `limits`, extra environment
/// variables `env`, and a fresh temporary working directory.
pub fn run(
    program: &Path,
    args: &[OsString],
    env: &[(String, String)],
    limits: Limits,
) -> Result<RunResult> {
    run_inner(program, args, env, limits, false)
}

/// [`run`] for a libtest binary: it also gets `--logfile` with a random
/// file name outside its working directory, where libtest records each test
/// that finished. Only libtest writes there, so text a test prints to
/// imitate a pass (or an early `exit(0)`, or a closed stdout) cannot make it
/// look finished.
pub fn run_libtest(
    program: &Path,
    args: &[OsString],
    env: &[(String, String)],
    limits: Limits,
) -> Result<RunResult> {
    run_inner(program, args, env, limits, true)
}

fn run_inner(
    program: &Path,
    args: &[OsString],
    env: &[(String, String)],
    limits: Limits,
    with_log: bool,
) -> Result<RunResult> {
    let scratch = tempfile::Builder::new()
        .prefix("oslings-run-")
        .tempdir()
        .context("cannot create a temporary directory for a test run")?;
    let workdir = scratch.path().join("work");
    std::fs::create_dir(&workdir)?;
    let home = scratch.path().join("home");
    std::fs::create_dir(&home)?;
    let log_path = scratch.path().join(format!("libtest-{}.log", nonce()));
    let mut args = args.to_vec();
    if with_log {
        args.push("--logfile".into());
        args.push(log_path.clone().into());
    }
    let stdout_path = scratch.path().join("stdout");
    let stderr_path = scratch.path().join("stderr");
    let status_path = scratch.path().join("status.json");
    let stdout = File::create(&stdout_path)?;
    let stderr = File::create(&stderr_path)?;

    // The running executable itself, even if a rebuild has replaced the file
    // at its path since it started (`current_exe` would name the new file,
    // or a deleted one).
    let me = Path::new("/proc/self/exe");
    let mut command = Command::new(me);
    command
        .arg("__supervise")
        .arg("--status-file")
        .arg(&status_path)
        .arg("--limits")
        .arg(serde_json::to_string(&limits)?)
        .arg("--parent")
        .arg(std::process::id().to_string())
        .arg("--")
        .arg(program)
        .args(&args)
        .current_dir(&workdir)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .env_clear()
        .envs(environment(&workdir, &home))
        .envs(std::env::vars_os().filter(|(key, _)| key.to_string_lossy().starts_with("OSLINGS_")));
    for (key, value) in env {
        command.env(key, value);
    }
    // The supervisor gets its own process group, so a Ctrl-C aimed at the
    // checker does not also hit it mid-cleanup. If the checker dies, the
    // supervisor notices (its parent changes), kills everything, and exits.
    command.process_group(0);
    let started = Instant::now();
    let mut supervisor = command
        .spawn()
        .context("cannot start the test supervisor")?;
    // The supervisor enforces the real limit; this is only a safety net.
    let deadline = limits.timeout + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = supervisor.try_wait()? {
            break exit;
        }
        if started.elapsed() > deadline {
            let pgid = supervisor.id() as i32;
            // SAFETY: kill has no memory-safety preconditions.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
            supervisor.wait()?;
            bail!("the test supervisor did not finish within {deadline:?} and was killed");
        }
        std::thread::sleep(poll_interval(started.elapsed()));
    };
    let status: Status = match std::fs::read_to_string(&status_path) {
        Ok(text) => serde_json::from_str(&text).context("the supervisor wrote a bad status")?,
        Err(_) => bail!("the test supervisor failed ({exit}) without writing a status"),
    };
    let libtest_log = if with_log {
        std::fs::read(&log_path)
            .ok()
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
    } else {
        None
    };
    let mut stderr = read_lossy(&stderr_path)?;
    if with_log {
        // libtest's own note (no newline) is no part of what the test said.
        stderr = stderr.replacen(LOGFILE_WARNING, "", 1);
    }
    Ok(RunResult {
        status,
        stdout: read_lossy(&stdout_path)?,
        stderr,
        libtest_log,
    })
}

/// The environment every sandboxed program starts with, whatever the
/// checker's own is: the same on every machine, so that a learner's locale,
/// `PATH` or terminal cannot change a verdict. Only variables named
/// `OSLINGS_*` (the checker's and the suites' own knobs, such as
/// `OSLINGS_SEED`) are passed on from the checker's environment.
fn environment<'a>(workdir: &'a Path, home: &'a Path) -> [(&'static str, &'a OsStr); 8] {
    [
        ("PATH", OsStr::new(SANDBOX_PATH)),
        ("HOME", home.as_os_str()),
        ("TMPDIR", workdir.as_os_str()),
        ("LC_ALL", OsStr::new("C")),
        ("LANG", OsStr::new("C")),
        ("TERM", OsStr::new("dumb")),
        ("RUST_BACKTRACE", OsStr::new("0")),
        ("NO_COLOR", OsStr::new("1")),
    ]
}

/// The `PATH` of every sandboxed program.
pub const SANDBOX_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What libtest prints on stderr when given `--logfile`.
const LOGFILE_WARNING: &str = "warning: `--logfile` is deprecated";

/// 64 random bits in hex, so that a test cannot guess its log file's name.
fn nonce() -> String {
    let mut bytes = [0u8; 8];
    if let Ok(mut random) = File::open("/dev/urandom") {
        let _ = random.read_exact(&mut bytes);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Short sleeps first (most tests finish in milliseconds), longer later.
fn poll_interval(elapsed: Duration) -> Duration {
    if elapsed < Duration::from_millis(20) {
        Duration::from_micros(500)
    } else if elapsed < Duration::from_millis(500) {
        Duration::from_millis(2)
    } else {
        Duration::from_millis(10)
    }
}

/// A file the supervisor wrote (at most a few [`KEEP_BYTES`]), lossily
/// decoded; read with a bound all the same.
fn read_lossy(path: &Path) -> Result<String> {
    let mut bytes = Vec::new();
    File::open(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .take(8 * KEEP_BYTES)
        .read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

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
    // SAFETY: prctl with these arguments only changes this process's flags.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    }
    let task_limit = TaskLimit::apply(limits.tasks);
    let nproc = task_limit.rlimit();
    let (stdout_read, stdout_write) = pipe2(OFlag::O_CLOEXEC).context("cannot make a pipe")?;
    let (stderr_read, stderr_write) = pipe2(OFlag::O_CLOEXEC).context("cannot make a pipe")?;
    let mut command = Command::new(program);
    command
        .args(args)
        .stdout(Stdio::from(stdout_write))
        .stderr(Stdio::from(stderr_write));
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
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            set_limit(libc::RLIMIT_AS, limits.memory_bytes);
            set_limit(libc::RLIMIT_CPU, cpu_secs);
            set_limit(libc::RLIMIT_FSIZE, limits.file_bytes);
            set_limit(libc::RLIMIT_NOFILE, limits.open_files);
            set_limit(libc::RLIMIT_STACK, STACK_BYTES);
            set_limit(libc::RLIMIT_CORE, 0);
            if let Some(nproc) = nproc {
                set_limit(libc::RLIMIT_NPROC, nproc);
            }
            Ok(())
        });
    }
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
    let mut raw_status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: wait4 writes only into the two valid out-pointers.
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
        // SAFETY: getppid has no preconditions.
        if unsafe { libc::getppid() } as u32 != parent {
            // The checker is gone (Ctrl-C, killed): leave nothing behind,
            // not even the run's directory, which the checker would have
            // removed.
            kill_leftovers(pid, &task_limit);
            task_limit.release();
            if let Some(scratch) = status_file.parent() {
                let ours = scratch
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("oslings-run-"));
                if ours {
                    let _ = std::fs::remove_dir_all(scratch);
                }
            }
            std::process::exit(1);
        }
        if started.elapsed() > limits.timeout {
            status.timed_out = true;
            status.threads_at_timeout = ThreadStates::of(pid);
            // SAFETY: kill has no memory-safety preconditions.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
            // SAFETY: as above; this wait blocks until the killed child is gone.
            unsafe { libc::wait4(pid, &mut raw_status, 0, &mut usage) };
            break;
        }
        std::thread::sleep(poll_interval(started.elapsed()));
    }
    status.wall_ms = started.elapsed().as_millis() as u64;
    if libc::WIFEXITED(raw_status) {
        status.exit_code = Some(libc::WEXITSTATUS(raw_status));
    } else if libc::WIFSIGNALED(raw_status) {
        status.signal = Some(libc::WTERMSIG(raw_status));
    }
    status.cpu_ms = timeval_ms(usage.ru_utime) + timeval_ms(usage.ru_stime);
    status.max_rss_kib = usage.ru_maxrss as u64;
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
            // SAFETY: fcntl on a descriptor number that may or may not be
            // open only sets its flag (or fails with EBADF).
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
    }
}

fn set_limit(resource: libc::__rlimit_resource_t, value: u64) {
    let limit = libc::rlimit {
        rlim_cur: value,
        rlim_max: value,
    };
    // SAFETY: setrlimit reads the rlimit we pass by reference.
    unsafe { libc::setrlimit(resource, &limit) };
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
    // SAFETY: kill with signal 0 only probes; with SIGKILL it has no
    // memory-safety preconditions.
    if unsafe { libc::kill(-pgid, 0) } == 0 {
        // SAFETY: as above.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
    }
    let me = std::process::id() as libc::pid_t;
    for _ in 0..100 {
        let children = children_of(me);
        if children.is_empty() {
            break;
        }
        for child in children {
            seen.insert(child);
            // SAFETY: as above.
            unsafe { libc::kill(child, libc::SIGKILL) };
            // SAFETY: waitpid on our own child; the status is discarded.
            unsafe { libc::waitpid(child, std::ptr::null_mut(), 0) };
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
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
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

/// Every process on the machine, as listed in `/proc`.
pub(crate) fn all_pids() -> Vec<libc::pid_t> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<libc::pid_t>().ok())
        .collect()
}

/// Processes whose parent is `parent`, read from `/proc`.
fn children_of(parent: libc::pid_t) -> Vec<libc::pid_t> {
    all_pids()
        .into_iter()
        .filter(|pid| parent_of(*pid) == Some(parent))
        .collect()
}

fn parent_of(pid: libc::pid_t) -> Option<libc::pid_t> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces.
    let after = &stat[stat.rfind(')')? + 2..];
    after.split_whitespace().nth(1)?.parse().ok()
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
