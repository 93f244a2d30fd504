//! Helpers shared by the shell's hidden tests.
//!
//! Every shell a test starts (the learner's `osh` or `/bin/sh` for
//! comparison) runs in a session of its own (`setsid` before exec), so the
//! test can find everything it started, background jobs and orphans
//! included, through `/proc/<pid>/stat` (the session id is the shell's pid)
//! and kill it all when the test ends, passed or failed. The test process
//! makes itself a child subreaper, so orphans of a dead shell become its
//! children and are reaped here rather than left as zombies.
//!
//! Every wait has a deadline: a shell that hangs (a pipe end left open, a
//! wait for the wrong process) fails with a message that says what it was
//! waiting for, long before the checker's own time limit.

pub mod cases;

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;
use oslings_harness::procs::{self, Stat};
use oslings_harness::pty::{self, CarriageReturns, Missing, Terminal};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a test waits for something a working shell does at once (a
/// short script finishing, a prompt, a job stopping) before calling it lost.
pub const PATIENCE: Duration = Duration::from_secs(3);

/// The reference point of the comparisons: dash on these machines.
pub const DASH: &str = "/bin/sh";

/// Makes the test process a child subreaper (once): orphans of the shells
/// it starts are re-parented to it, so it can reap them.
pub fn become_subreaper() {
    let _ = nix::sys::prctl::set_child_subreaper(true);
}

/// What `/proc/<pid>/stat` says about one process: the harness's [`Stat`],
/// shown in messages under the name they have always used
/// (`ProcInfo { pid: 12, comm: "sh", state: 'Z', .. }`).
#[derive(Clone, PartialEq, Eq)]
pub struct ProcInfo(pub Stat);

impl std::ops::Deref for ProcInfo {
    type Target = Stat;

    fn deref(&self) -> &Stat {
        &self.0
    }
}

impl std::fmt::Debug for ProcInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcInfo")
            .field("pid", &self.pid)
            .field("comm", &self.comm)
            .field("state", &self.state)
            .field("ppid", &self.ppid)
            .field("pgrp", &self.pgrp)
            .field("session", &self.session)
            .field("tpgid", &self.tpgid)
            .finish()
    }
}

/// Reads `/proc/<pid>/stat`; `None` if the process is gone.
pub fn proc_info(pid: i32) -> Option<ProcInfo> {
    Stat::of(pid).map(ProcInfo)
}

/// Every process of session `sid` (zombies included).
pub fn session_members(sid: i32) -> Vec<ProcInfo> {
    procs::session_members(sid)
        .into_iter()
        .map(ProcInfo)
        .collect()
}

/// The children of `pid` (zombies included).
pub fn children_of(pid: i32) -> Vec<ProcInfo> {
    procs::children_of(pid).into_iter().map(ProcInfo).collect()
}

/// The children of `pid` once it has had up to a second to wait for them:
/// an empty list as soon as it has none, otherwise those still there at the
/// end. (A command the shell has just seen exit, such as the `echo` that
/// marks the end of a line for [`Driver::run`], can be a zombie for a
/// moment before the shell's `waitpid` collects it.)
pub fn lingering_children(pid: i32) -> Vec<ProcInfo> {
    let mut left = Vec::new();
    poll(Duration::from_secs(1), || {
        left = children_of(pid);
        left.is_empty().then_some(())
    });
    left
}

/// The system call process `pid` is blocked in, from `/proc/<pid>/syscall`
/// (`None` if it is running, gone, or the file cannot be read).
pub fn blocked_in_syscall(pid: i32) -> Option<i64> {
    procs::blocked_in(pid)
}

/// The descriptors open in process `pid`, from `/proc/<pid>/fd`.
pub fn open_fds(pid: i32) -> BTreeSet<i32> {
    procs::open_fds(pid).into_keys().collect()
}

/// What a stuck shell was doing, for the message that reports it: its
/// open descriptors (what each points to: a pipe end kept open is the
/// usual reason a pipeline never ends) and every process of its session.
pub fn stuck_shell_report(shell: i32) -> String {
    let fds: Vec<String> = procs::open_fds(shell)
        .into_iter()
        .map(|(fd, target)| format!("{fd} -> {target}"))
        .collect();
    let processes: Vec<String> = procs::session_members(shell)
        .into_iter()
        .map(|p| {
            let role = if p.pid == shell { " (the shell)" } else { "" };
            format!(
                "pid {} `{}`{role}, parent {}, group {}: {}",
                p.pid,
                p.comm,
                p.ppid,
                p.pgrp,
                p.state.description()
            )
        })
        .collect();
    format!(
        "the shell's open descriptors (/proc/{shell}/fd):\n{}\nthe processes of its session:\n{}",
        indent(&fds.join("\n")),
        indent(&processes.join("\n"))
    )
}

/// Kills every process of session `sid` and reaps those that are (or
/// become) children of this process; returns once none is left, or after
/// [`PATIENCE`]. Returns the members it found on its first look.
pub fn kill_session(sid: i32) -> Vec<ProcInfo> {
    let me = std::process::id() as i32;
    let deadline = Instant::now() + PATIENCE;
    let first = session_members(sid);
    loop {
        let members = procs::session_members(sid);
        if members.is_empty() || Instant::now() > deadline {
            return first;
        }
        for member in &members {
            let pid = Pid::from_raw(member.pid);
            let _ = kill(pid, Signal::SIGKILL);
            if member.ppid == me {
                let _ = waitpid(pid, Some(WaitPidFlag::WNOHANG));
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A temporary directory for one shell to run in (removed at drop).
pub fn scratch_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("osh-test-")
        .tempdir()
        .expect("cannot create a temporary directory")
}

/// A shell process in a session of its own. Dropping it kills everything
/// in the session (the shell, its jobs, their orphans) and reaps it.
#[derive(Debug)]
pub struct Session {
    /// The shell process.
    pub child: Child,
    /// Its pid, which is also its session id and its process group.
    pub pid: i32,
}

impl Session {
    /// Starts `command` in a new session (its own process group too), with
    /// every signal at its default disposition; with `tty`, the child's
    /// standard input becomes the session's controlling terminal.
    pub fn spawn(command: &mut Command, tty: bool) -> Session {
        become_subreaper();
        // SAFETY: between fork and exec the closure only calls
        // async-signal-safe functions (setsid, sigaction, ioctl).
        unsafe {
            command.pre_exec(move || {
                nix::unistd::setsid()?;
                // Or the comparisons with /bin/sh would depend on whether
                // this suite was started in the background.
                oslings_harness::default_signal_dispositions();
                if tty {
                    pty::control_stdin()?;
                }
                Ok(())
            });
        }
        let child = command.spawn().expect("cannot start the shell");
        let pid = child.id() as i32;
        Session { child, pid }
    }

    /// Waits up to `patience` for the shell to exit; its exit status (128 +
    /// N if a signal killed it), or `None` if it is still running.
    pub fn wait_exit(&mut self, patience: Duration) -> Option<i32> {
        let deadline = Instant::now() + patience;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    use std::os::unix::process::ExitStatusExt;
                    return Some(
                        status
                            .code()
                            .or(status.signal().map(|s| 128 + s))
                            .unwrap_or(-1),
                    );
                }
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(2));
                }
                _ => return None,
            }
        }
    }

    /// Whether the shell process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        kill_session(self.pid);
    }
}

/// The base command for a shell under test: the program, run in `dir`,
/// with a small fixed environment.
pub fn shell_command(program: &str, dir: &Path) -> Command {
    let mut command = Command::new(program);
    command
        .current_dir(dir)
        .env_clear()
        .env(
            "PATH",
            std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into()),
        )
        .env("HOME", "/usr")
        .env("LC_ALL", "C")
        .env("TERM", "dumb")
        .env("OSH_TEST_VAR", "from the environment");
    command
}

/// Reads `reader` to its end on a thread; the bytes arrive through the receiver.
fn drain(mut reader: impl Read + Send + 'static) -> Receiver<Vec<u8>> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = vec![0; 64 * 1024];
        loop {
            match reader.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if sender.send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    receiver
}

/// Collects everything a receiver from [`drain`] delivers within `patience`.
fn collect(receiver: &Receiver<Vec<u8>>, patience: Duration) -> Vec<u8> {
    let deadline = Instant::now() + patience;
    let mut out = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match receiver.recv_timeout(left) {
            Ok(chunk) => out.extend_from_slice(&chunk),
            Err(_) => return out,
        }
    }
}

/// What a shell did with a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transcript {
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
    /// Its exit status (128 + N if killed by signal N).
    pub status: i32,
    /// How long it took.
    pub elapsed: Duration,
}

/// Runs `script` on the standard input of `program` in directory `dir` and
/// returns what it printed and its status. Panics, naming `program`, if it
/// does not finish within `patience`. Processes the shell left behind are
/// killed (after it exited), so that their output pipes close.
pub fn run_script_in(program: &str, script: &str, dir: &Path, patience: Duration) -> Transcript {
    try_run_script_in(program, script, dir, patience, None)
        .unwrap_or_else(|message| panic!("{message}"))
}

/// [`run_script_in`], with the shell started under `umask` if given (the
/// test's own umask otherwise); `Err` with a message saying what the shell
/// printed if it does not finish within `patience`.
pub fn try_run_script_in(
    program: &str,
    script: &str,
    dir: &Path,
    patience: Duration,
    umask: Option<libc::mode_t>,
) -> Result<Transcript, String> {
    let mut command = shell_command(program, dir);
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(mask) = umask {
        // SAFETY: umask is async-signal-safe and only sets a value of the child.
        unsafe {
            command.pre_exec(move || {
                libc::umask(mask);
                Ok(())
            });
        }
    }
    let started = Instant::now();
    let mut session = Session::spawn(&mut command, false);
    let mut stdin = session.child.stdin.take().expect("piped stdin");
    let stdout = drain(session.child.stdout.take().expect("piped stdout"));
    let stderr = drain(session.child.stderr.take().expect("piped stderr"));
    let script_owned = script.to_string();
    std::thread::spawn(move || {
        let _ = stdin.write_all(script_owned.as_bytes());
    });
    let status = session.wait_exit(patience);
    let elapsed = started.elapsed();
    let Some(status) = status else {
        // What the shell printed before the checker stepped in, and its
        // state, taken before anything is killed: once its children are
        // killed a stuck shell goes on and prints as if it had finished.
        let out = collect(&stdout, Duration::from_millis(100));
        let err = collect(&stderr, Duration::from_millis(100));
        let state = stuck_shell_report(session.pid);
        kill_session(session.pid);
        return Err(format!(
            "{program} did not finish this script within {patience:?} (a pipeline that never \
             ends because a pipe's write end is still open somewhere? a wait for a process \
             that is not there?):\n{}\nits output before it was stopped:\n{}\nits errors \
             before it was stopped:\n{}\n{state}",
            indent(script),
            indent(&String::from_utf8_lossy(&out)),
            indent(&String::from_utf8_lossy(&err)),
        ));
    };
    kill_session(session.pid);
    let out = collect(&stdout, PATIENCE);
    let err = collect(&stderr, PATIENCE);
    Ok(Transcript {
        stdout: String::from_utf8_lossy(&out).into_owned(),
        stderr: String::from_utf8_lossy(&err).into_owned(),
        status,
        elapsed,
    })
}

/// [`run_script_in`] in a fresh scratch directory.
pub fn run_script(program: &str, script: &str) -> Transcript {
    let dir = scratch_dir();
    run_script_in(program, script, dir.path(), PATIENCE)
}

/// Replaces the thread id in Rust's panic messages (`thread 'main'
/// (12345) panicked at`) with `PID`, and makes panic locations in the
/// graded crate relative to the repository, so that reports do not change
/// from run to run or from machine to machine.
pub fn mask_pids(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(") panicked") {
        let open = rest[..at].rfind('(');
        match open {
            Some(open)
                if open + 1 < at && rest[open + 1..at].bytes().all(|b| b.is_ascii_digit()) =>
            {
                out.push_str(&rest[..=open]);
                out.push_str("PID");
            }
            _ => out.push_str(&rest[..at]),
        }
        out.push_str(") panicked");
        rest = &rest[at + ") panicked".len()..];
    }
    out.push_str(rest);
    // Panic locations inside the graded crate, relative to the repository.
    out.lines()
        .map(|line| match line.find("panicked at /") {
            Some(at) => {
                let path = &line[at + "panicked at ".len()..];
                match ["/exercises/", "/solutions/"]
                    .iter()
                    .find_map(|dir| path.find(dir))
                {
                    Some(cut) => {
                        format!("{}{}", &line[..at + "panicked at ".len()], &path[cut + 1..])
                    }
                    None => line.to_string(),
                }
            }
            None => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Indents every line of `text` by four spaces, for messages (with
/// [`mask_pids`] applied).
pub fn indent(text: &str) -> String {
    if text.is_empty() {
        return "    (nothing)".to_string();
    }
    mask_pids(text)
        .lines()
        .map(|line| format!("    {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What to compare between the shell under test and dash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compare {
    /// Standard output, exactly.
    pub stdout: bool,
    /// The exit status, exactly.
    pub status: bool,
    /// Standard error: both empty or both non-empty (messages differ).
    pub stderr_presence: bool,
}

impl Compare {
    /// Output, status and whether there were error messages.
    pub const ALL: Compare = Compare {
        stdout: true,
        status: true,
        stderr_presence: true,
    };
    /// Output and status only (dash prints messages osh need not print,
    /// such as "Killed").
    pub const OUTPUT_AND_STATUS: Compare = Compare {
        stdout: true,
        status: true,
        stderr_presence: false,
    };
}

/// Runs `script` through the shell under test (`osh`) and through dash,
/// each in a fresh directory, and asserts they agree on what `compare`
/// names. `why` says what the script exercises, for the failure message.
/// Returns the shell's transcript.
pub fn same_as_dash(osh: &str, script: &str, compare: Compare, why: &str) -> Transcript {
    let expected = run_script(DASH, script);
    let actual = run_script(osh, script);
    let mut problems = Vec::new();
    if compare.stdout && actual.stdout != expected.stdout {
        problems.push(format!(
            "standard output differs.\n  expected (what /bin/sh prints):\n{}\n  actual:\n{}",
            indent(&expected.stdout),
            indent(&actual.stdout)
        ));
    }
    if compare.status && actual.status != expected.status {
        problems.push(format!(
            "exit status differs: expected {}, got {}",
            expected.status, actual.status
        ));
    }
    if compare.stderr_presence
        && actual.stderr.trim().is_empty() != expected.stderr.trim().is_empty()
    {
        problems.push(if expected.stderr.trim().is_empty() {
            format!(
                "the shell printed errors where /bin/sh prints none:\n{}",
                indent(&actual.stderr)
            )
        } else {
            format!(
                "/bin/sh prints an error message here, the shell printed nothing on \
                 standard error (/bin/sh said:\n{})",
                indent(&expected.stderr)
            )
        });
    }
    assert!(
        problems.is_empty(),
        "{why}\nThe script (on the shell's standard input):\n{}\n{}\nthe shell's standard error:\n{}",
        indent(script),
        problems.join("\n"),
        indent(&actual.stderr)
    );
    actual
}

/// A shell driven line by line through pipes (not a terminal), so the
/// test can look at it through `/proc` between lines.
#[derive(Debug)]
pub struct Driver {
    /// The shell's session (dropped last: it kills everything).
    pub session: Session,
    stdin: Option<ChildStdin>,
    stdout: Receiver<Vec<u8>>,
    pending: Vec<u8>,
    stderr: Arc<Mutex<Vec<u8>>>,
    marks: usize,
    /// The directory the shell runs in.
    pub dir: tempfile::TempDir,
}

impl Driver {
    /// Starts `program` reading commands from a pipe, in a scratch directory.
    pub fn start(program: &str) -> Driver {
        let dir = scratch_dir();
        let mut command = shell_command(program, dir.path());
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut session = Session::spawn(&mut command, false);
        let stdin = session.child.stdin.take();
        let stdout = drain(session.child.stdout.take().expect("piped stdout"));
        let errors = drain(session.child.stderr.take().expect("piped stderr"));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for chunk in errors {
                sink.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend_from_slice(&chunk);
            }
        });
        Driver {
            session,
            stdin,
            stdout,
            pending: Vec::new(),
            stderr,
            marks: 0,
            dir,
        }
    }

    /// The shell's pid.
    pub fn pid(&self) -> i32 {
        self.session.pid
    }

    /// Everything the shell printed on standard error so far.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }

    /// Sends one line without waiting for anything (nothing happens if the
    /// shell has exited).
    pub fn send(&mut self, line: &str) {
        // A shell that has exited cannot take the line; what happened to it
        // is reported by whatever waits for its output next.
        if let Some(stdin) = self.stdin.as_mut() {
            let _ = stdin
                .write_all(format!("{line}\n").as_bytes())
                .and_then(|()| stdin.flush());
        }
    }

    /// Runs `line`, then a marker `echo`, and returns what the shell printed
    /// on standard output before the marker: by then the shell has finished
    /// `line` (unless it is a background job) and read the next line.
    pub fn run(&mut self, line: &str) -> String {
        self.try_run(line)
            .unwrap_or_else(|message| panic!("{message}"))
    }

    /// [`Driver::run`], with `Err` and a message saying what the shell
    /// printed if it does not finish `line` within [`PATIENCE`].
    pub fn try_run(&mut self, line: &str) -> Result<String, String> {
        self.marks += 1;
        let mark = format!("--osh-test-mark-{}--\n", self.marks);
        self.send(line);
        self.send(&format!("echo {}", mark.trim_end()));
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(at) = find(&self.pending, mark.as_bytes()) {
                let before = String::from_utf8_lossy(&self.pending[..at]).into_owned();
                self.pending.drain(..at + mark.len());
                return Ok(before);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(chunk) => self.pending.extend_from_slice(&chunk),
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!(
                        "the shell did not finish `{line}` (and the `echo` after it) within \
                         {PATIENCE:?}; its output so far:\n{}\nits errors:\n{}\n{}",
                        indent(&String::from_utf8_lossy(&self.pending)),
                        indent(&self.stderr()),
                        stuck_shell_report(self.session.pid)
                    ));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(format!(
                        "the shell exited (or closed its output) while running `{line}`; its \
                         output:\n{}\nits errors:\n{}",
                        indent(&String::from_utf8_lossy(&self.pending)),
                        indent(&self.stderr())
                    ));
                }
            }
        }
    }

    /// Whatever the shell prints on standard output within `patience`
    /// (consumed), for checking that something does *not* happen.
    pub fn output_within(&mut self, patience: Duration) -> String {
        self.pending.extend(collect(&self.stdout, patience));
        String::from_utf8_lossy(&std::mem::take(&mut self.pending)).into_owned()
    }

    /// Closes the shell's input and waits for it to exit; its status.
    pub fn finish(&mut self) -> i32 {
        self.stdin = None;
        self.session.wait_exit(PATIENCE).unwrap_or_else(|| {
            panic!("the shell did not exit within {PATIENCE:?} after the end of its input")
        })
    }
}

/// Where `needle` starts in `haystack`.
pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Polls `condition` every 2 ms until it returns `Some`, for at most
/// `patience`; `None` if it never did.
pub fn poll<T>(patience: Duration, mut condition: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + patience;
    loop {
        if let Some(value) = condition() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A shell running on a pseudo-terminal, as a user at a terminal would run
/// it: the pty's slave is its standard input, output and error and its
/// controlling terminal (it leads a new session), and the test types into
/// the master side (`\x03` is Ctrl-C, `\x1a` is Ctrl-Z).
#[derive(Debug)]
pub struct Pty {
    /// The shell's session (dropped last: it kills everything).
    pub session: Session,
    terminal: Terminal,
    /// The directory the shell runs in.
    pub dir: tempfile::TempDir,
}

/// The prompt of an interactive `osh`.
pub const PROMPT: &str = "osh$ ";

impl Pty {
    /// Starts `program` on a new pseudo-terminal and waits for its first prompt.
    pub fn start(program: &str) -> Pty {
        let pty = pty::open().expect("cannot open a pseudo-terminal");
        let dir = scratch_dir();
        let mut command = shell_command(program, dir.path());
        pty.connect(&mut command)
            .expect("cannot give the terminal to the shell");
        let session = Session::spawn(&mut command, true);
        // The command (and with it the test's copies of the slave) is gone
        // once this function returns: only the shell holds the terminal.
        drop(command);
        let terminal = pty
            .into_terminal(CarriageReturns::Keep)
            .expect("cannot read the pseudo-terminal");
        let mut pty = Pty {
            session,
            terminal,
            dir,
        };
        pty.expect(PROMPT, "the first prompt");
        pty
    }

    /// The shell's pid (its session and its own process group).
    pub fn pid(&self) -> i32 {
        self.session.pid
    }

    /// Everything the terminal showed so far (echoed input included).
    pub fn seen(&self) -> String {
        self.terminal.shown()
    }

    /// Types `text` on the terminal.
    pub fn type_text(&mut self, text: &str) {
        self.terminal
            .type_text(text)
            .expect("cannot write to the pseudo-terminal");
    }

    /// Waits until `needle` appears in the terminal's output after what was
    /// already consumed; consumes up to its end and returns the text before it.
    pub fn expect(&mut self, needle: &str, what: &str) -> String {
        let missing = match self.terminal.expect(needle, PATIENCE) {
            Ok(before) => return before,
            Err(missing) => missing,
        };
        let alive = match missing {
            // The terminal closes as the shell exits: give the exit a moment
            // to be complete.
            Missing::Closed => self.session.wait_exit(Duration::from_millis(500)).is_none(),
            Missing::Timeout => self.session.alive(),
        };
        let stuck = if alive {
            format!("\n{}", stuck_shell_report(self.session.pid))
        } else {
            String::new()
        };
        let why = match (missing, alive) {
            (_, false) => ": the shell has exited (a shell that hands the \
                           terminal to a job must ignore SIGTTOU, SIGTTIN and \
                           SIGTSTP: without that, taking the terminal back fails \
                           and its next read of the terminal ends its input)"
                .to_string(),
            (Missing::Closed, true) => ": the terminal closed".to_string(),
            _ => format!(" within {PATIENCE:?}"),
        };
        panic!(
            "{what} (`{}`) never appeared on the terminal{why}; the terminal showed:\n{}{stuck}",
            needle.escape_debug(),
            indent(&self.seen())
        )
    }

    /// Types `line` and Enter, then waits for the next prompt; returns what
    /// the terminal showed in between (the echoed line included).
    pub fn run(&mut self, line: &str) -> String {
        self.type_text(&format!("{line}\n"));
        self.expect(PROMPT, &format!("the prompt after `{line}`"))
    }

    /// The terminal's foreground process group, as the shell's stat shows it.
    pub fn foreground_group(&self) -> Option<i32> {
        Stat::of(self.pid()).map(|p| p.tpgid)
    }

    /// Waits until a process named `comm` of this session is running or
    /// sleeping (not stopped, not a zombie), and returns it.
    pub fn wait_for_process(&self, comm: &str) -> ProcInfo {
        poll(PATIENCE, || {
            session_members(self.pid())
                .into_iter()
                .find(|p| p.comm == comm && p.state.is_live())
        })
        .unwrap_or_else(|| {
            panic!(
                "no `{comm}` process of the shell's session was running after {PATIENCE:?}; \
                 the terminal showed:\n{}",
                indent(&self.seen())
            )
        })
    }
}

/// The state of process `pid` once it satisfies `wanted` (polled for
/// [`PATIENCE`]), or its last state otherwise (`None`: gone).
pub fn wait_state(pid: i32, wanted: impl Fn(Option<State>) -> bool) -> Option<State> {
    let mut last = None;
    poll(PATIENCE, || {
        last = Stat::of(pid).map(|p| p.state);
        wanted(last).then_some(())
    });
    last
}

/// A process state: the letter of `/proc/<pid>/stat`, named.
pub use oslings_harness::procs::State;
/// A process state as the book says it (`/proc`'s letters are not
/// self-explanatory): `None` is a process that is gone (reaped).
pub use oslings_harness::procs::described;

/// Writes `contents` to `dir/name`.
pub fn write_file(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("cannot write a test file");
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_states_are_said_in_words() {
        assert_eq!(
            described(Some(State::Zombie)),
            "exited but not reaped (a zombie)"
        );
        assert!(described(Some(State::Stopped)).starts_with("stopped"));
        assert_eq!(described(None), "gone (exited and reaped)");
    }

    #[test]
    fn processes_are_shown_as_they_always_were() {
        let me = proc_info(std::process::id() as i32).unwrap();
        let shown = format!("{me:?}");
        assert!(
            shown.starts_with(&format!("ProcInfo {{ pid: {}, comm: ", me.pid)),
            "{shown}"
        );
        assert!(
            shown.contains(&format!(", state: '{}', ppid: ", me.state)),
            "{shown}"
        );
    }

    #[test]
    fn a_stuck_shell_is_shown_with_its_descriptors_and_processes() {
        let (read, _write) = nix::unistd::pipe().unwrap();
        let me = std::process::id() as i32;
        let report = stuck_shell_report(me);
        let fd = std::os::fd::AsRawFd::as_raw_fd(&read);
        assert!(report.contains(&format!("{fd} -> pipe:[")), "{report}");
        assert!(report.contains("the processes of its session"), "{report}");
    }
}
