//! Stage 6 (and 7): the job table, the shell's memory of the jobs it
//! started and has not finished waiting for.
//!
//! A background job (`sleep 10 &`) goes into the table when it starts; a
//! foreground job only when it is stopped (Ctrl-Z). Before reading each
//! line the shell calls [`JobTable::reap`], which collects the exit status
//! of every process that has ended (without blocking), so that no finished
//! child stays a zombie, and removes the jobs that are done.

use nix::sys::signal::Signal;
use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;

use crate::exec;

// ANCHOR: process
/// What the shell last learnt about one process of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessState {
    /// Started (or continued) and not yet reported as stopped or ended.
    Running,
    /// Stopped by this signal (SIGTSTP for Ctrl-Z, SIGSTOP, SIGTTIN, SIGTTOU).
    Stopped(Signal),
    /// Ended, with this exit status as `$?` shows it (see [`exec::exit_code`]).
    /// Its exit status has been collected: it is no zombie.
    Done(i32),
}

/// One process the shell started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Process {
    /// Its process id.
    pub pid: Pid,
    /// What the shell last learnt about it.
    pub state: ProcessState,
}

impl Process {
    /// A process just started.
    pub fn running(pid: Pid) -> Process {
        Process {
            pid,
            state: ProcessState::Running,
        }
    }
}

/// Records what `waitpid` reported in the matching process of `processes`.
/// Returns `false` if the status is about none of them (or says nothing,
/// like `StillAlive`).
pub fn record(processes: &mut [Process], status: WaitStatus) -> bool {
    let Some(pid) = status.pid() else {
        return false;
    };
    let Some(process) = processes.iter_mut().find(|p| p.pid == pid) else {
        return false;
    };
    process.state = match status {
        WaitStatus::Exited(..) | WaitStatus::Signaled(..) => {
            ProcessState::Done(exec::exit_code(status))
        }
        WaitStatus::Stopped(_, signal) => ProcessState::Stopped(signal),
        WaitStatus::Continued(_) => ProcessState::Running,
        _ => return false,
    };
    true
}

/// The state of a whole job, from the states of its processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Some process still runs and none is stopped.
    Running,
    /// Some process is stopped (by this signal).
    Stopped(Signal),
    /// Every process has ended; the job's status is its last command's.
    Done(i32),
}

/// One job the shell started: its processes, in pipeline order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobEntry {
    /// Its number in the table (`%1`, `[1]`); 0 until it is added.
    pub id: usize,
    /// Its process group: the pid of its first process (under job control).
    pub pgid: Pid,
    /// Its processes, left to right.
    pub processes: Vec<Process>,
    /// The command line, as typed.
    pub text: String,
}
// ANCHOR_END: process

impl JobEntry {
    /// A job not yet in the table, made of the processes `start_job` started.
    ///
    /// # Panics
    /// If `processes` is empty.
    pub fn new(processes: Vec<Process>, text: &str) -> JobEntry {
        JobEntry {
            id: 0,
            pgid: processes[0].pid,
            processes,
            text: text.to_string(),
        }
    }

    /// The state of the job as a whole.
    pub fn state(&self) -> JobState {
        if let Some(signal) = self.processes.iter().find_map(|p| match p.state {
            ProcessState::Stopped(signal) => Some(signal),
            _ => None,
        }) {
            return JobState::Stopped(signal);
        }
        if self
            .processes
            .iter()
            .any(|p| p.state == ProcessState::Running)
        {
            return JobState::Running;
        }
        match self.processes.last().map(|p| p.state) {
            Some(ProcessState::Done(code)) => JobState::Done(code),
            _ => JobState::Done(0),
        }
    }

    /// The last process's pid (what `[1] 1234` shows when a job starts in the background).
    pub fn last_pid(&self) -> Pid {
        self.processes.last().map_or(self.pgid, |p| p.pid)
    }

    /// Marks every stopped process as running again (after a SIGCONT).
    pub fn mark_continued(&mut self) {
        for process in &mut self.processes {
            if matches!(process.state, ProcessState::Stopped(_)) {
                process.state = ProcessState::Running;
            }
        }
    }
}

/// The jobs the shell knows about, in the order of their numbers.
#[derive(Debug, Default)]
pub struct JobTable {
    /// The jobs, by increasing `id`.
    pub entries: Vec<JobEntry>,
}

impl JobTable {
    /// An empty table.
    pub fn new() -> JobTable {
        JobTable::default()
    }

    /// Adds `entry`, giving it the smallest free number above every job in
    /// the table if it has none yet (a job that comes back keeps its
    /// number). Returns its number.
    pub fn add(&mut self, mut entry: JobEntry) -> usize {
        if entry.id == 0 {
            entry.id = self.entries.iter().map(|e| e.id).max().unwrap_or(0) + 1;
        }
        let id = entry.id;
        let at = self.entries.partition_point(|e| e.id < id);
        self.entries.insert(at, entry);
        id
    }

    /// The job numbered `id`.
    pub fn get_mut(&mut self, id: usize) -> Option<&mut JobEntry> {
        self.entries.iter_mut().find(|e| e.id == id)
    }

    /// Takes the job numbered `id` out of the table.
    pub fn remove(&mut self, id: usize) -> Option<JobEntry> {
        let at = self.entries.iter().position(|e| e.id == id)?;
        Some(self.entries.remove(at))
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Which job an argument of `fg`, `bg` or `wait` names: `%N` or `N` is
    /// job N; no argument is the most recent job (the highest number).
    /// The error is a message for the user, e.g. `%3: no such job`.
    pub fn resolve(&self, arg: Option<&str>) -> Result<usize, String> {
        match arg {
            None => self
                .entries
                .last()
                .map(|e| e.id)
                .ok_or_else(|| "no current job".to_string()),
            Some(arg) => {
                let number = arg.strip_prefix('%').unwrap_or(arg);
                match number.parse::<usize>() {
                    Ok(id) if self.entries.iter().any(|e| e.id == id) => Ok(id),
                    _ => Err(format!("{arg}: no such job")),
                }
            }
        }
    }

    // ANCHOR: reap
    /// Collects, without blocking, the status of every process of every job
    /// that has changed state (ended, and under job control stopped or
    /// continued); removes the jobs that are now done and returns them.
    /// Always pass `WNOHANG | WUNTRACED | WCONTINUED` to `waitpid`: `reap`
    /// is not told whether the shell does job control, and does not need to
    /// be.
    ///
    /// Called before every line, this is what keeps finished background
    /// jobs from staying zombies.
    pub fn reap(&mut self) -> Vec<JobEntry> {
        use nix::sys::wait::{WaitPidFlag, waitpid};
        let flags = WaitPidFlag::WNOHANG | WaitPidFlag::WUNTRACED | WaitPidFlag::WCONTINUED;
        for entry in &mut self.entries {
            for i in 0..entry.processes.len() {
                if matches!(entry.processes[i].state, ProcessState::Done(_)) {
                    continue;
                }
                // Several changes may be pending for one process (stopped,
                // then continued): take them all.
                while let Ok(status) = waitpid(entry.processes[i].pid, Some(flags)) {
                    if !record(&mut entry.processes, status)
                        || matches!(entry.processes[i].state, ProcessState::Done(_))
                    {
                        break;
                    }
                }
            }
        }
        let mut done = Vec::new();
        let mut i = 0;
        while i < self.entries.len() {
            if matches!(self.entries[i].state(), JobState::Done(_)) {
                done.push(self.entries.remove(i));
            } else {
                i += 1;
            }
        }
        done
    }
    // ANCHOR_END: reap
}
