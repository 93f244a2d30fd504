//! Helpers shared by the shell stages' visible tests: running `osh` on a
//! script with a deadline, talking to a running `osh` line by line, running
//! it on a pseudo-terminal, scratch directories, and a look at `/proc`.
//!
//! Every wait has a deadline. A shell that hangs (a pipeline that never sees
//! end of file, a `wait` that never returns) is killed, together with
//! everything it started, and the test fails with a message that says what
//! was being waited for, instead of hanging `cargo test`.

#![allow(dead_code, unreachable_pub)]

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use oslings_harness::procs::descendants_of;
use oslings_harness::pty::{self, CarriageReturns, Missing};
use std::fs;
use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

// What `/proc` says about a process, for the tests (each uses a part).
#[allow(unused_imports)]
pub use oslings_harness::procs::{Stat, State, children_of};

/// How long a whole script, or any single wait, may take. Far longer than a
/// correct shell needs for the tests' scripts, even on a loaded machine.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// The shell under test: the `osh` binary of this crate.
pub const OSH: &str = env!("CARGO_BIN_EXE_osh");

/// What a finished run of the shell left behind.
#[derive(Debug)]
pub struct Outcome {
    pub stdout: String,
    pub stderr: String,
    pub status: ExitStatus,
}

impl Outcome {
    /// The shell's exit code; fails the test if a signal killed the shell.
    pub fn code(&self) -> i32 {
        match (self.status.code(), self.status.signal()) {
            (Some(code), _) => code,
            (None, Some(signal)) => panic!(
                "the shell itself was killed by signal {signal} ({}); it must survive \
                 everything its commands do\nstderr:\n{}",
                signal_name(signal),
                self.stderr
            ),
            _ => unreachable!("a process ends with a code or a signal"),
        }
    }

    /// The lines the shell wrote on standard output.
    pub fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }
}

/// A directory for one test's files, removed when dropped.
#[derive(Debug)]
pub struct Scratch {
    pub path: PathBuf,
}

impl Scratch {
    pub fn new() -> Scratch {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "osh-test-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("cannot create a scratch directory");
        Scratch { path }
    }

    /// The path of `name` inside the directory.
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Writes `text` into the file `name`.
    pub fn write(&self, name: &str, text: &str) {
        fs::write(self.join(name), text).expect("cannot write a scratch file");
    }

    /// The contents of the file `name`; fails the test if it does not exist.
    pub fn read(&self, name: &str) -> String {
        fs::read_to_string(self.join(name))
            .unwrap_or_else(|e| panic!("the file `{name}` should exist after the script: {e}"))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// A command line for `osh`: started in `dir`, with a fixed `HOME` and
/// `PATH`, and with no descriptor but 0, 1 and 2 (whatever the test runner
/// holds open stays out of the shell, so that a leaked descriptor seen in a
/// child is the shell's own).
fn osh_command(dir: &Path) -> Command {
    let mut command = Command::new(OSH);
    command
        .current_dir(dir)
        .env("HOME", dir)
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env_remove("OLDPWD")
        .env_remove("CDPATH");
    // SAFETY: the closure runs in the child between fork and exec and only
    // makes system calls (close_range, close), which are async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            close_from(3);
            Ok(())
        });
    }
    command
}

/// Closes every descriptor from `first` up; for a child about to exec.
fn close_from(first: i32) {
    // SAFETY: close_range only closes descriptors of this process.
    let closed = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, 0) };
    if closed != 0 {
        for fd in first..4096 {
            // SAFETY: closing a descriptor that may or may not be open is harmless here.
            unsafe { libc::close(fd) };
        }
    }
}

/// Collects everything a pipe delivers, on a helper thread, into a buffer
/// that can be read at any moment (what the shell had printed when it hung).
#[derive(Clone, Default)]
struct Collector {
    bytes: Arc<Mutex<Vec<u8>>>,
    done: Arc<Mutex<bool>>,
}

impl Collector {
    fn start(mut from: impl Read + Send + 'static) -> Collector {
        let collector = Collector::default();
        let sink = collector.clone();
        thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            loop {
                match from.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => sink.bytes.lock().unwrap().extend_from_slice(&chunk[..n]),
                }
            }
            *sink.done.lock().unwrap() = true;
        });
        collector
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes.lock().unwrap()).into_owned()
    }

    fn is_done(&self) -> bool {
        *self.done.lock().unwrap()
    }
}

/// Runs `script` (lines of commands) through `osh` in a fresh scratch
/// directory, which is also `$HOME`. See [`run_in`].
pub fn run(script: &str) -> Outcome {
    let scratch = Scratch::new();
    run_in(&scratch, script)
}

/// Runs `script` through `osh`, fed on standard input, in `dir`; waits at
/// most [`TIMEOUT`] for the shell to exit and for its output to end. On
/// timeout, kills the shell and everything it started and fails the test.
pub fn run_in(dir: &Scratch, script: &str) -> Outcome {
    let mut session = Session::start(dir);
    session.send(script);
    session.finish()
}

/// A running `osh` reading commands from a pipe the test writes into line
/// by line, so that the test can look at the shell (its children, their
/// states, their descriptors) between two lines.
pub struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Collector,
    stderr: Collector,
    /// How much of stdout [`Session::expect_line`] has already consumed.
    seen: usize,
    /// Everything sent so far, for failure messages.
    script: String,
}

impl Session {
    /// Starts `osh` in `dir`, reading from a pipe.
    pub fn start(dir: &Scratch) -> Session {
        let mut child = osh_command(&dir.path)
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {OSH}: {e}"));
        let stdout = Collector::start(child.stdout.take().unwrap());
        let stderr = Collector::start(child.stderr.take().unwrap());
        Session {
            stdin: child.stdin.take(),
            child,
            stdout,
            stderr,
            seen: 0,
            script: String::new(),
        }
    }

    /// The shell's process id.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends `text` (one or more lines) to the shell.
    pub fn send(&mut self, text: &str) {
        self.script.push_str(text);
        let stdin = self.stdin.as_mut().expect("stdin is already closed");
        if let Err(e) = stdin
            .write_all(text.as_bytes())
            .and_then(|()| stdin.flush())
        {
            self.fail(&format!(
                "could not send {text:?} to the shell ({e}): did it exit or crash early?"
            ));
        }
    }

    /// Waits until the shell has printed `line` as a whole line on standard
    /// output (after anything matched before), and returns what it printed
    /// before it.
    pub fn expect_line(&mut self, line: &str, why: &str) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let text = self.stdout.text();
            let fresh = &text[self.seen..];
            let mut offset = 0;
            for got in fresh.split_inclusive('\n') {
                if got.ends_with('\n') && got.trim_end_matches('\n') == line {
                    let before = fresh[..offset].to_string();
                    self.seen += offset + got.len();
                    return before;
                }
                offset += got.len();
            }
            if Instant::now() > deadline || self.stdout.is_done() {
                self.fail(&format!(
                    "waited for the line {line:?} on standard output: {why}"
                ));
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Closes the shell's standard input (end of the script), waits for the
    /// shell to exit and for its output to end, and returns what it did.
    pub fn finish(mut self) -> Outcome {
        drop(self.stdin.take());
        let deadline = Instant::now() + TIMEOUT;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(5)),
                Ok(None) => self.fail(
                    "the shell did not finish within 5 s: a pipeline whose write end is still \
                     open somewhere never sees end of file, and a shell that waits for a \
                     process that never ends (or for one it never started) hangs",
                ),
                Err(e) => panic!("cannot wait for the shell: {e}"),
            }
        };
        while !(self.stdout.is_done() && self.stderr.is_done()) {
            if Instant::now() > deadline {
                self.fail(
                    "the shell exited, but its standard output or error stayed open for 5 s: \
                     some process it started still holds them (a background job that never \
                     ends, or a pipe end that leaked into a child)",
                );
            }
            thread::sleep(Duration::from_millis(5));
        }
        let outcome = Outcome {
            stdout: self.stdout.text(),
            stderr: self.stderr.text(),
            status,
        };
        kill_descendants(self.pid());
        outcome
    }

    /// Kills the shell and its descendants and fails the test with `why`,
    /// the script and what the shell printed.
    pub fn fail(&mut self, why: &str) -> ! {
        let processes = process_list(self.pid());
        kill_descendants(self.pid());
        let _ = self.child.kill();
        let _ = self.child.wait();
        panic!(
            "{why}\n--- script sent to osh ---\n{}--- stdout so far ---\n{}--- stderr so far \
             ---\n{}--- the shell and its descendants at that moment ---\n{processes}",
            self.script,
            self.stdout.text(),
            self.stderr.text()
        );
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        kill_descendants(self.pid());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Kills every descendant of `pid` (the test started the shell, so these
/// are all processes the test started).
pub fn kill_descendants(pid: i32) {
    for _ in 0..3 {
        let all = descendants_of(pid);
        if all.is_empty() {
            return;
        }
        for pid in all {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// The shell and its descendants, one line each (pid, name, state,
/// process group, terminal's foreground group), for failure messages.
pub fn process_list(shell: i32) -> String {
    let mut text = String::from("  pid comm state pgrp tpgid\n");
    for pid in std::iter::once(shell).chain(descendants_of(shell)) {
        if let Some(s) = Stat::of(pid) {
            text.push_str(&format!(
                "  {} {} {} {} {}\n",
                s.pid, s.comm, s.state, s.pgrp, s.tpgid
            ));
        }
    }
    text
}

/// Polls `condition` until it holds or [`TIMEOUT`] passes; returns whether it held.
pub fn eventually(mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// A signal's name, for messages.
pub fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGABRT => "SIGABRT",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGTERM => "SIGTERM",
        libc::SIGTSTP => "SIGTSTP",
        libc::SIGTTIN => "SIGTTIN",
        libc::SIGTTOU => "SIGTTOU",
        _ => "another signal",
    }
}

/// `osh` on a pseudo-terminal, as a user at a keyboard would run it: the
/// shell leads a new session whose controlling terminal is the pty, so it
/// is interactive and does job control. Echo is off, so what the test reads
/// from the terminal is only what the shell and its jobs print.
pub struct Terminal {
    terminal: pty::Terminal,
    child: Child,
    /// What was typed so far, for failure messages.
    typed: String,
    /// The shell's working directory.
    pub scratch: Scratch,
}

impl Terminal {
    /// Starts `osh` on a new pseudo-terminal and waits for its first prompt.
    pub fn start() -> Terminal {
        let scratch = Scratch::new();
        let pty = pty::open().expect("cannot open a pseudo-terminal");
        pty.without_echo()
            .expect("cannot turn the terminal's echo off");
        let mut command = osh_command(&scratch.path);
        pty.connect(&mut command)
            .expect("cannot give the terminal to osh");
        // SAFETY: runs in the child between fork and exec; setsid and ioctl
        // are system calls, async-signal-safe.
        unsafe {
            command.pre_exec(pty::lead_session_on_stdin);
        }
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {OSH} on a pseudo-terminal: {e}"));
        // Only the shell (and what it starts) may hold the terminal's slave
        // side: once they are all gone, reading the master fails at once.
        drop(command);
        let terminal = pty
            .into_terminal(CarriageReturns::Drop)
            .expect("cannot read the pseudo-terminal");
        let mut terminal = Terminal {
            terminal,
            child,
            typed: String::new(),
            scratch,
        };
        terminal.expect_prompt("the first prompt of an interactive shell");
        terminal
    }

    /// The shell's process id.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Types `text` (add `\n` to press Enter).
    pub fn type_text(&mut self, text: &str) {
        self.typed.push_str(text);
        if let Err(e) = self.terminal.type_text(text) {
            self.fail(&format!("cannot type into the terminal: {e}"));
        }
    }

    /// Types one command and presses Enter.
    pub fn line(&mut self, command: &str) {
        self.type_text(&format!("{command}\n"));
    }

    /// Presses Ctrl-C.
    pub fn ctrl_c(&mut self) {
        self.type_text("\x03");
    }

    /// Presses Ctrl-Z.
    pub fn ctrl_z(&mut self) {
        self.type_text("\x1a");
    }

    /// Waits until the terminal shows `needle` (after anything matched
    /// before) and returns what it showed before it.
    pub fn expect(&mut self, needle: &str, why: &str) -> String {
        match self.terminal.expect(needle, TIMEOUT) {
            Ok(before) => before,
            Err(Missing::Closed) => self.fail(&format!(
                "waited for {needle:?} on the terminal ({why}), but every process on it \
                 is gone: did the shell die?"
            )),
            Err(Missing::Timeout) => {
                self.fail(&format!("waited 5 s for {needle:?} on the terminal: {why}"))
            }
        }
    }

    /// Waits for the shell's prompt, `osh$ `.
    pub fn expect_prompt(&mut self, why: &str) -> String {
        self.expect("osh$ ", why)
    }

    /// Runs one command and returns what it printed before the next prompt.
    pub fn run(&mut self, command: &str) -> String {
        self.line(command);
        self.expect_prompt(&format!("the prompt after `{command}`"))
    }

    /// Kills the shell and its descendants and fails the test with `why`
    /// and the whole terminal transcript.
    pub fn fail(&mut self, why: &str) -> ! {
        let processes = process_list(self.pid());
        kill_descendants(self.pid());
        let _ = self.child.kill();
        let _ = self.child.wait();
        panic!(
            "{why}\n--- typed (\\x03 is Ctrl-C, \\x1a Ctrl-Z) ---\n{:?}\n--- the terminal \
             showed ---\n{}\n--- the shell and its descendants at that moment ---\n{processes}",
            self.typed,
            self.terminal.shown()
        );
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        kill_descendants(self.pid());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
