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
//! This module is the checker's side; [`crate::exec::supervisor`] is the
//! supervisor's.

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use oslings_harness::procs::{self, State};
use serde::{Deserialize, Serialize};
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

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
        let mut states = ThreadStates::default();
        for tid in procs::threads_of(pid) {
            match (procs::Thread { pid, tid }).state() {
                Some(State::Running) => states.running += 1,
                Some(State::Sleeping | State::DiskSleep) => states.asleep += 1,
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

/// The files and folders of one run, in a temporary directory of its own
/// (removed when this is dropped).
struct RunDir {
    _scratch: tempfile::TempDir,
    /// The program's working directory (and `TMPDIR`).
    workdir: std::path::PathBuf,
    /// Its `HOME`.
    home: std::path::PathBuf,
    /// libtest's log, named so that the test cannot guess it.
    log_path: std::path::PathBuf,
    stdout_path: std::path::PathBuf,
    stderr_path: std::path::PathBuf,
    /// Where the supervisor writes the [`Status`].
    status_path: std::path::PathBuf,
}

impl RunDir {
    fn new() -> Result<RunDir> {
        let scratch = tempfile::Builder::new()
            .prefix("oslings-run-")
            .tempdir()
            .context("cannot create a temporary directory for a test run")?;
        let workdir = scratch.path().join("work");
        std::fs::create_dir(&workdir)?;
        let home = scratch.path().join("home");
        std::fs::create_dir(&home)?;
        Ok(RunDir {
            log_path: scratch.path().join(format!("libtest-{}.log", nonce())),
            stdout_path: scratch.path().join("stdout"),
            stderr_path: scratch.path().join("stderr"),
            status_path: scratch.path().join("status.json"),
            workdir,
            home,
            _scratch: scratch,
        })
    }
}

fn run_inner(
    program: &Path,
    args: &[OsString],
    env: &[(String, String)],
    limits: Limits,
    with_log: bool,
) -> Result<RunResult> {
    let run = RunDir::new()?;
    let mut args = args.to_vec();
    if with_log {
        args.push("--logfile".into());
        args.push(run.log_path.clone().into());
    }
    let stdout = File::create(&run.stdout_path)?;
    let stderr = File::create(&run.stderr_path)?;

    // The running executable itself, even if a rebuild has replaced the file
    // at its path since it started (`current_exe` would name the new file,
    // or a deleted one).
    let me = Path::new("/proc/self/exe");
    let mut command = Command::new(me);
    command
        .arg("__supervise")
        .arg("--status-file")
        .arg(&run.status_path)
        .arg("--limits")
        .arg(serde_json::to_string(&limits)?)
        .arg("--parent")
        .arg(std::process::id().to_string())
        .arg("--")
        .arg(program)
        .args(&args)
        .current_dir(&run.workdir)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .env_clear()
        .envs(environment(&run.workdir, &run.home))
        .envs(std::env::vars_os().filter(|(key, _)| key.to_string_lossy().starts_with("OSLINGS_")));
    for (key, value) in env {
        command.env(key, value);
    }
    // The supervisor gets its own process group, so a Ctrl-C aimed at the
    // checker does not also hit it mid-cleanup. If the checker dies, the
    // supervisor notices (its parent changes), kills everything, and exits.
    command.process_group(0);
    let supervisor = command
        .spawn()
        .context("cannot start the test supervisor")?;
    // The supervisor enforces the real limit; this is only a safety net.
    let exit = wait_or_kill(supervisor, limits.timeout + Duration::from_secs(10))?;
    let status: Status = match std::fs::read_to_string(&run.status_path) {
        Ok(text) => serde_json::from_str(&text).context("the supervisor wrote a bad status")?,
        Err(_) => bail!("the test supervisor failed ({exit}) without writing a status"),
    };
    let libtest_log = if with_log {
        std::fs::read(&run.log_path)
            .ok()
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
    } else {
        None
    };
    let mut stderr = read_lossy(&run.stderr_path)?;
    if with_log {
        // libtest's own note (no newline) is no part of what the test said.
        stderr = stderr.replacen(LOGFILE_WARNING, "", 1);
    }
    Ok(RunResult {
        status,
        stdout: read_lossy(&run.stdout_path)?,
        stderr,
        libtest_log,
    })
}

/// Waits for the `supervisor` to exit, or kills its process group and
/// fails once `deadline` (from now) has passed.
fn wait_or_kill(mut supervisor: Child, deadline: Duration) -> Result<ExitStatus> {
    let started = Instant::now();
    loop {
        if let Some(exit) = supervisor.try_wait()? {
            return Ok(exit);
        }
        if started.elapsed() > deadline {
            let _ = killpg(Pid::from_raw(supervisor.id() as i32), Signal::SIGKILL);
            supervisor.wait()?;
            bail!("the test supervisor did not finish within {deadline:?} and was killed");
        }
        std::thread::sleep(poll_interval(started.elapsed()));
    }
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
pub(crate) fn poll_interval(elapsed: Duration) -> Duration {
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
