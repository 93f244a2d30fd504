//! Mostly given: the shell itself, its state and its main loop.
//!
//! The loop, for each line: reap finished background jobs (stage 6),
//! tokenize (stage 1), parse (given), then run: a builtin in the shell's
//! own process (stage 3), anything else with [`exec::start_job`] (stages
//! 2, 4, 5) and, unless the line ends with `&` (stage 6), wait for it
//! ([`Shell::wait_foreground`]). Interactive shells also do job control
//! (stage 7).

use std::io::{BufRead, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;

use nix::unistd::Pid;

use crate::builtins;
use crate::exec;
use crate::jobs::{JobEntry, JobState, JobTable, ProcessState};
use crate::lexer::tokenize;
use crate::parser::{Job, Redirect, parse};

/// What the shell does after a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Read the next line; the line's status (also stored in `$?`).
    Continue(i32),
    /// Stop reading and exit with this status (`exit`).
    Exit(i32),
}

// ANCHOR: shell
/// The shell's state between lines.
#[derive(Debug)]
pub struct Shell {
    /// The status of the last command, shown by `$?`.
    pub last_status: i32,
    /// The directory `cd` left last, where `cd -` goes back to.
    pub previous_dir: Option<PathBuf>,
    /// Jobs in the background or stopped.
    pub jobs: JobTable,
    /// Whether the shell reads from a terminal: then it prompts, reports
    /// background jobs, and does job control (process groups, the
    /// terminal's foreground group, `fg`, `bg`).
    pub interactive: bool,
    /// The shell's own process group, which takes the terminal back after
    /// each foreground job (under job control).
    pub pgid: Pid,
}
// ANCHOR_END: shell

impl Default for Shell {
    fn default() -> Self {
        Shell::new()
    }
}

impl Shell {
    /// A shell for scripts: no prompt, no job control.
    pub fn new() -> Shell {
        Shell {
            last_status: 0,
            previous_dir: None,
            jobs: JobTable::new(),
            interactive: false,
            pgid: nix::unistd::getpgrp(),
        }
    }

    /// A shell for a terminal on standard input: prompts, reports jobs,
    /// and controls them (see [`Shell::init_job_control`]).
    pub fn interactive() -> Shell {
        let mut shell = Shell::new();
        shell.interactive = true;
        if let Err(err) = shell.init_job_control() {
            eprintln!("osh: cannot set up job control: {}", err.desc());
        }
        shell
    }

    // ANCHOR: init_job_control
    /// Stage 7: makes the shell ready to control jobs on its terminal.
    ///
    /// 1. Waits until the shell is in the terminal's foreground group (a
    ///    shell started in the background sends itself SIGTTIN until its
    ///    parent brings it to the foreground).
    /// 2. Ignores SIGINT, SIGQUIT, SIGTSTP, SIGTTIN and SIGTTOU: Ctrl-C and
    ///    Ctrl-Z are for the foreground job, not for the shell, and the
    ///    shell must be able to call `tcsetpgrp` from the background.
    /// 3. Puts itself in its own process group (`setpgid(0, 0)`; this
    ///    fails harmlessly if it already leads one, e.g. as a session
    ///    leader) and records it in `self.pgid`.
    /// 4. Takes the terminal: [`exec::give_terminal`] with its own group.
    pub fn init_job_control(&mut self) -> nix::Result<()> {
        let _ = &self.pgid;
        todo!(
            "stage 7: own process group, ignore job-control signals, \
             take the terminal"
        )
    }
    // ANCHOR_END: init_job_control

    /// Reads and runs lines from `input` until it ends or `exit` runs;
    /// returns the shell's exit status (the last command's, or `exit`'s).
    /// An interactive shell prompts `osh$ ` on standard error before each
    /// line and reports finished background jobs (`[1]  Done  sleep 1`).
    pub fn run<R: BufRead>(&mut self, mut input: R) -> i32 {
        let mut line = String::new();
        loop {
            self.report_jobs();
            if self.interactive {
                eprint!("osh$ ");
            }
            line.clear();
            match input.read_line(&mut line) {
                Ok(0) => break,
                Ok(_) => {}
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(err) if err.kind() == std::io::ErrorKind::InvalidData => {
                    eprintln!("osh: the line is not valid UTF-8");
                    self.last_status = 2;
                    continue;
                }
                Err(_) => break,
            }
            if let Flow::Exit(status) = self.run_line(&line) {
                return status;
            }
        }
        if self.interactive {
            eprintln!();
        }
        self.last_status
    }

    /// Reaps finished jobs; an interactive shell reports them. (Only
    /// once there are jobs: before stage 6, `reap` is still a `todo!()`.)
    fn report_jobs(&mut self) {
        if self.jobs.is_empty() {
            return;
        }
        for done in self.jobs.reap() {
            if self.interactive {
                eprintln!("[{}]  Done  {}", done.id, done.text);
            }
        }
    }

    /// Runs one line (blank lines and `#` comments do nothing) and stores
    /// its status in `last_status`. Finished jobs are reaped first. A syntax error prints `osh: <error>`
    /// and sets the status to 2; the shell goes on.
    pub fn run_line(&mut self, line: &str) -> Flow {
        // Jobs may have ended while the shell waited for this line.
        self.report_jobs();
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            return Flow::Continue(self.last_status);
        }
        let last_status = self.last_status;
        let lookup = move |name: &str| -> Option<String> {
            if name == "?" {
                Some(last_status.to_string())
            } else {
                std::env::var(name).ok()
            }
        };
        let job = match tokenize(trimmed, &lookup).and_then(|tokens| parse(tokens, trimmed)) {
            Ok(Some(job)) => job,
            Ok(None) => return Flow::Continue(self.last_status),
            Err(err) => {
                eprintln!("osh: {err}");
                self.last_status = 2;
                return Flow::Continue(2);
            }
        };
        let flow = self.run_job(&job);
        let (Flow::Continue(status) | Flow::Exit(status)) = flow;
        self.last_status = status;
        flow
    }

    /// Runs a parsed job: a lone builtin in the shell, anything else in
    /// child processes.
    pub fn run_job(&mut self, job: &Job) -> Flow {
        if let [command] = job.commands.as_slice()
            && !job.background
            && builtins::is_builtin(&command.argv[0])
        {
            return self.run_builtin(&command.argv, &command.redirects);
        }
        // Nothing the shell printed may sit in a buffer that the children
        // would inherit, or that would come out after their output.
        let _ = std::io::stdout().flush();
        let processes = match exec::start_job(job, self.interactive) {
            Ok(processes) => processes,
            Err(err) => {
                eprintln!("osh: cannot start {}: {}", job.text, err.desc());
                return Flow::Continue(1);
            }
        };
        let entry = JobEntry::new(processes, &job.text);
        let status = if job.background {
            self.start_background(entry)
        } else {
            self.wait_foreground(entry)
        };
        Flow::Continue(status)
    }

    // ANCHOR: run_builtin
    /// Runs a builtin in the shell's process with its redirections applied
    /// around it: the shell's descriptors 0, 1 and 2 are saved (as
    /// close-on-exec copies), the redirections applied with
    /// [`exec::apply_redirects`], the builtin run, standard output flushed,
    /// and the saved descriptors put back, so the shell's own output goes
    /// where it went before. A redirection that fails prints
    /// `osh: <error>`, skips the builtin and gives status 1.
    pub fn run_builtin(&mut self, argv: &[String], redirects: &[Redirect]) -> Flow {
        if redirects.is_empty() {
            return builtins::run(self, argv);
        }
        let saved: Vec<Option<OwnedFd>> = (0..3).map(save_fd).collect();
        let flow = match exec::apply_redirects(redirects) {
            Ok(()) => builtins::run(self, argv),
            Err(err) => {
                eprintln!("osh: {err}");
                Flow::Continue(1)
            }
        };
        let _ = std::io::stdout().flush();
        for (fd, copy) in saved.iter().enumerate() {
            match copy {
                Some(copy) => {
                    let _ = exec::dup2_raw(copy.as_raw_fd(), fd as i32);
                }
                None => {
                    let _ = nix::unistd::close(fd as i32);
                }
            }
        }
        flow
    }
    // ANCHOR_END: run_builtin

    // ANCHOR: start_background
    /// Stage 6: a job started with `&`. Adds it to the job table without
    /// waiting; an interactive shell prints `[N] PID` (the job's number
    /// and its last process's pid) on standard error. The status is 0.
    pub fn start_background(&mut self, entry: JobEntry) -> i32 {
        let _ = (&self.jobs, entry);
        todo!(
            "stage 6: add the job to the table; \
             interactive shells print [N] PID"
        )
    }
    // ANCHOR_END: start_background

    // ANCHOR: wait_foreground
    /// Waits for a foreground job with [`exec::wait_job`] and returns its
    /// status. Under job control the job gets the terminal while it runs,
    /// and the shell takes it back afterwards; a job that stops (Ctrl-Z)
    /// goes into the job table (`[N]  Stopped  TEXT` on standard error) and
    /// its status is 128 + the signal (148 for SIGTSTP).
    pub fn wait_foreground(&mut self, mut entry: JobEntry) -> i32 {
        if self.interactive {
            exec::give_terminal(entry.pgid);
        }
        let waited = exec::wait_job(&mut entry.processes);
        if self.interactive {
            exec::give_terminal(self.pgid);
        }
        if let Err(err) = waited {
            eprintln!("osh: wait: {}", err.desc());
            // The shell cannot wait for them: forget them.
            for process in &mut entry.processes {
                if process.state == ProcessState::Running {
                    process.state = ProcessState::Done(1);
                }
            }
        }
        match entry.state() {
            JobState::Done(code) => code,
            JobState::Stopped(signal) => {
                let id = self.jobs.add(entry.clone());
                eprintln!("\n[{id}]  Stopped  {}", entry.text);
                128 + signal as i32
            }
            JobState::Running => 0,
        }
    }
    // ANCHOR_END: wait_foreground
}

/// A close-on-exec copy of descriptor `fd` (above 9, out of the way), or
/// `None` if `fd` is not open.
fn save_fd(fd: i32) -> Option<OwnedFd> {
    use nix::fcntl::{FcntlArg, fcntl};
    use std::os::fd::FromRawFd;
    let copy = fcntl(fd, FcntlArg::F_DUPFD_CLOEXEC(10)).ok()?;
    // SAFETY: `copy` is a new descriptor that nothing else owns.
    Some(unsafe { OwnedFd::from_raw_fd(copy) })
}

// ANCHOR: main
/// The `osh` program: an interactive shell if standard input is a
/// terminal, a script reader otherwise. Returns the exit status.
pub fn main() -> i32 {
    let stdin = std::io::stdin();
    let interactive = nix::unistd::isatty(stdin.as_raw_fd()).unwrap_or(false);
    let mut shell = if interactive {
        Shell::interactive()
    } else {
        Shell::new()
    };
    shell.run(stdin.lock())
}
// ANCHOR_END: main
