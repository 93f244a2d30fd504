//! The kernel's view of processes and threads, from `/proc`: who is whose
//! child, which session and process group each belongs to, what state it
//! is in (said in words for messages), the descriptors it holds open and
//! the system call it is blocked in.
//!
//! One copy for the checker's supervisor (what a test left running), the
//! hidden suites (a shell's zombies, a pool's sleeping workers, a lock
//! someone holds) and the shell's visible tests. Every reader returns
//! `None` or an empty list for a process that is gone or a file that cannot
//! be read, and no parser panics, whatever text it is given: a learner's
//! shell can print anything where a test expects a `/proc/<pid>/stat` line.
//!
//! Readers of this process's own memory (`/proc/self/maps`, `smaps`,
//! `status`) are in [`crate::procfs`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io;

/// A process or thread id.
pub type Pid = libc::pid_t;

/// A process's scheduling state: the letter of `/proc/<pid>/stat`, named.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// `R`: running or ready to run.
    Running,
    /// `S`: asleep until something happens (input, a child, a lock, a timer).
    Sleeping,
    /// `D`: asleep in the kernel, not interruptible (disk I/O, mostly).
    DiskSleep,
    /// `T`: stopped by a signal (SIGTSTP, SIGTTIN, SIGTTOU, SIGSTOP).
    Stopped,
    /// `t`: stopped by a debugger.
    Traced,
    /// `Z`: exited, but its parent has not collected its status yet.
    Zombie,
    /// Any other letter (`I` idle, `X` dead, ...).
    Other(char),
}

impl State {
    /// The state the kernel writes as `letter`.
    pub fn from_letter(letter: char) -> State {
        match letter {
            'R' => State::Running,
            'S' => State::Sleeping,
            'D' => State::DiskSleep,
            'T' => State::Stopped,
            't' => State::Traced,
            'Z' => State::Zombie,
            other => State::Other(other),
        }
    }

    /// The kernel's letter for this state.
    pub fn letter(self) -> char {
        match self {
            State::Running => 'R',
            State::Sleeping => 'S',
            State::DiskSleep => 'D',
            State::Stopped => 'T',
            State::Traced => 't',
            State::Zombie => 'Z',
            State::Other(letter) => letter,
        }
    }

    /// Running or asleep: neither stopped nor a zombie.
    pub fn is_live(self) -> bool {
        matches!(self, State::Running | State::Sleeping | State::DiskSleep)
    }

    /// The state as the book says it, for messages.
    pub fn description(self) -> &'static str {
        match self {
            State::Zombie => "exited but not reaped (a zombie)",
            State::Stopped => "stopped (by a signal such as SIGTSTP, SIGTTIN or SIGTTOU)",
            State::Traced => "stopped by a debugger (traced)",
            State::Running => "running",
            State::Sleeping => "sleeping (waiting for something)",
            State::DiskSleep => "sleeping in the kernel (uninterruptible)",
            State::Other(_) => "in another state",
        }
    }
}

/// Shown as the kernel's letter in quotes (`'Z'`), as `/proc` writes it:
/// failure messages that print a [`Stat`] stay short and familiar.
impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.letter(), f)
    }
}

/// The kernel's letter (`Z`).
impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.letter(), f)
    }
}

/// The state of a process in words, `None` being a process that is gone:
/// "exited but not reaped (a zombie)", "gone (exited and reaped)", ...
pub fn described(state: Option<State>) -> &'static str {
    state.map_or("gone (exited and reaped)", State::description)
}

/// What `/proc/<pid>/stat` says about a process (or a thread).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    /// Its pid.
    pub pid: Pid,
    /// Its command name (at most 15 bytes).
    pub comm: String,
    /// Its state.
    pub state: State,
    /// Its parent's pid.
    pub ppid: Pid,
    /// Its process group.
    pub pgrp: Pid,
    /// Its session.
    pub session: Pid,
    /// The foreground process group of its controlling terminal (-1 if none).
    pub tpgid: Pid,
}

impl Stat {
    /// Reads `/proc/<pid>/stat`; `None` once the process is gone (reaped).
    pub fn of(pid: Pid) -> Option<Stat> {
        Stat::parse(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
    }

    /// Parses a line in the format of `/proc/<pid>/stat`; `None` if it is
    /// not one. The command name is in parentheses and may itself hold
    /// spaces and parentheses: it ends at the last `)`.
    pub fn parse(line: &str) -> Option<Stat> {
        let fields = StatFields::parse(line)?;
        let number = |i: usize| fields.rest.get(i)?.parse().ok();
        Some(Stat {
            pid: fields.pid,
            comm: fields.comm.to_string(),
            state: State::from_letter(fields.rest.first()?.chars().next()?),
            ppid: number(1)?,
            pgrp: number(2)?,
            session: number(3)?,
            tpgid: number(5)?,
        })
    }
}

/// A stat line split: the pid, the command name, and the fields after it
/// (`rest[0]` is the state, field 3 of proc(5)).
struct StatFields<'a> {
    pid: Pid,
    comm: &'a str,
    rest: Vec<&'a str>,
}

impl StatFields<'_> {
    fn parse(line: &str) -> Option<StatFields<'_>> {
        let (pid, after_pid) = line.trim().split_once(" (")?;
        let (comm, rest) = after_pid.rsplit_once(')')?;
        Some(StatFields {
            pid: pid.trim().parse().ok()?,
            comm,
            rest: rest.split_whitespace().collect(),
        })
    }
}

/// The pids of every process on the machine, as listed in `/proc`.
pub fn all_pids() -> Vec<Pid> {
    numbered_entries("/proc")
}

/// Every process on the machine whose stat could be read (zombies included).
pub fn all_processes() -> Vec<Stat> {
    all_pids().into_iter().filter_map(Stat::of).collect()
}

/// Every process of session `sid` (zombies included).
pub fn session_members(sid: Pid) -> Vec<Stat> {
    all_processes()
        .into_iter()
        .filter(|p| p.session == sid)
        .collect()
}

/// The children of `pid` (zombies included).
pub fn children_of(pid: Pid) -> Vec<Stat> {
    all_processes()
        .into_iter()
        .filter(|p| p.ppid == pid)
        .collect()
}

/// The children, grandchildren, ... of `pid`, from one look at every
/// process (parents before their children).
pub fn descendants_of(pid: Pid) -> Vec<Pid> {
    let mut children: BTreeMap<Pid, Vec<Pid>> = BTreeMap::new();
    for process in all_processes() {
        children.entry(process.ppid).or_default().push(process.pid);
    }
    let mut found = Vec::new();
    let mut seen = BTreeSet::from([pid]);
    let mut next = vec![pid];
    while let Some(parent) = next.pop() {
        for &child in children.get(&parent).into_iter().flatten() {
            if seen.insert(child) {
                found.push(child);
                next.push(child);
            }
        }
    }
    found
}

/// The parent of process `pid`.
pub fn parent_of(pid: Pid) -> Option<Pid> {
    Stat::of(pid).map(|s| s.ppid)
}

/// Who runs process `pid` and how many threads it has, from
/// `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// Its real user id.
    pub uid: u32,
    /// Its threads (1 for a process that never started one).
    pub threads: u64,
}

impl Status {
    /// Reads `/proc/<pid>/status`; `None` if the process is gone.
    pub fn of(pid: Pid) -> Option<Status> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let field = |name: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
                .and_then(|value| value.split_whitespace().next())
        };
        Some(Status {
            uid: field("Uid")?.parse().ok()?,
            threads: field("Threads").and_then(|n| n.parse().ok()).unwrap_or(1),
        })
    }
}

/// The system call process `pid` is blocked in, from `/proc/<pid>/syscall`
/// (`None` if it is running, gone, or the file cannot be read; -1 if it is
/// blocked, but not in a system call).
pub fn blocked_in(pid: Pid) -> Option<i64> {
    first_number(&format!("/proc/{pid}/syscall"))
}

/// The descriptors open in process `pid`, each with what it points to as
/// the kernel names it (`pipe:[1234]`, `/dev/pts/3`; `?` if it cannot be
/// read): a pipe end kept open is the usual reason a pipeline never ends.
pub fn open_fds(pid: Pid) -> BTreeMap<i32, String> {
    numbered_entries(&format!("/proc/{pid}/fd"))
        .into_iter()
        .map(|fd| {
            let target = std::fs::read_link(format!("/proc/{pid}/fd/{fd}"))
                .map_or_else(|_| "?".to_string(), |t| t.display().to_string());
            (fd, target)
        })
        .collect()
}

/// The threads of process `pid` (their ids), from `/proc/<pid>/task`.
pub fn threads_of(pid: Pid) -> BTreeSet<Pid> {
    numbered_entries(&format!("/proc/{pid}/task"))
        .into_iter()
        .collect()
}

/// The threads of this process.
pub fn own_threads() -> BTreeSet<Pid> {
    threads_of(own_pid())
}

/// One thread, `/proc/<pid>/task/<tid>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thread {
    /// The process it belongs to.
    pub pid: Pid,
    /// Its thread id (as `gettid` returns it).
    pub tid: Pid,
}

impl Thread {
    /// Thread `tid` of this process.
    pub fn own(tid: Pid) -> Thread {
        Thread {
            pid: own_pid(),
            tid,
        }
    }

    fn path(&self, file: &str) -> String {
        format!("/proc/{}/task/{}/{file}", self.pid, self.tid)
    }

    /// Its stat; `None` once it is gone.
    pub fn stat(&self) -> Option<Stat> {
        Stat::parse(&std::fs::read_to_string(self.path("stat")).ok()?)
    }

    /// Its state; `None` once it is gone.
    pub fn state(&self) -> Option<State> {
        self.stat().map(|s| s.state)
    }

    /// The system call it is blocked in (see [`blocked_in`]).
    pub fn blocked_in(&self) -> Option<i64> {
        first_number(&self.path("syscall"))
    }

    /// The CPU time it has used, user and system, in clock ticks (fields
    /// 14 and 15 of its stat). An error once it is gone.
    pub fn cpu_ticks(&self) -> io::Result<u64> {
        let text = std::fs::read_to_string(self.path("stat"))?;
        let fields = StatFields::parse(&text);
        let ticks = |i: usize| fields.as_ref()?.rest.get(i)?.parse::<u64>().ok();
        match (ticks(11), ticks(12)) {
            (Some(user), Some(system)) => Ok(user + system),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("no CPU times in {text:?}"),
            )),
        }
    }

    /// How many times it has been switched out, voluntarily (it waited)
    /// or not (its time was up). An error once it is gone.
    pub fn context_switches(&self) -> io::Result<u64> {
        let status = std::fs::read_to_string(self.path("status"))?;
        Ok(status
            .lines()
            .filter(|line| line.contains("ctxt_switches:"))
            .filter_map(|line| line.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum())
    }
}

fn own_pid() -> Pid {
    std::process::id() as Pid
}

/// The entries of `dir` whose names are numbers (pids, tids, descriptors).
fn numbered_entries<T: std::str::FromStr>(dir: &str) -> Vec<T> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// The first whitespace-separated field of the file at `path`, if a number.
fn first_number(path: &str) -> Option<i64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_is_parsed_around_a_name_with_parentheses() {
        let line = "42 (a (b) c) T 1 42 7 34816 42 4194560 0 0 0 0 3 4 0 0 20 0 1 0";
        let stat = Stat::parse(line).unwrap();
        assert_eq!(stat.pid, 42);
        assert_eq!(stat.comm, "a (b) c");
        assert_eq!(stat.state, State::Stopped);
        assert_eq!(
            (stat.ppid, stat.pgrp, stat.session, stat.tpgid),
            (1, 42, 7, 42)
        );
    }

    #[test]
    fn anything_else_is_not_a_stat_line() {
        for text in [
            "",
            "hello",
            "osh: cat: (x)",
            "(x) R 1 2 3 4 5",
            "12 (sh)",
            "12 (sh) R 1 2",
            "x (sh) R 1 2 3 4 5",
        ] {
            assert_eq!(Stat::parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn this_process_is_seen_with_its_parent_and_its_descriptors() {
        let me = own_pid();
        let stat = Stat::of(me).unwrap();
        // The main thread waits for the test threads; this one runs.
        assert!(stat.state.is_live(), "{stat:?}");
        let this_thread = Thread::own(nix::unistd::gettid().as_raw());
        assert_eq!(this_thread.state(), Some(State::Running));
        assert_eq!(Some(stat.ppid), parent_of(me));
        assert!(all_pids().contains(&me));
        assert!(children_of(stat.ppid).iter().any(|p| p.pid == me));
        assert!(descendants_of(stat.ppid).contains(&me));
        assert!(session_members(stat.session).iter().any(|p| p.pid == me));
        let (read, _write) = nix::unistd::pipe().unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&read);
        assert!(
            open_fds(me)[&fd].starts_with("pipe:["),
            "{:?}",
            open_fds(me)
        );
        let status = Status::of(me).unwrap();
        assert_eq!(status.uid, nix::unistd::getuid().as_raw());
        assert!(status.threads >= 1);
    }

    #[test]
    fn a_child_is_seen_asleep_then_a_zombie() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id() as Pid;
        let asleep = poll(|| (Stat::of(pid)?.state == State::Sleeping).then_some(()));
        assert!(asleep.is_some(), "{:?}", Stat::of(pid));
        assert!(children_of(own_pid()).iter().any(|p| p.pid == pid));
        // Blocked in clock_nanosleep (or nanosleep on older systems).
        assert!(
            blocked_in(pid).is_some_and(|n| n > 0),
            "{:?}",
            blocked_in(pid)
        );
        child.kill().unwrap();
        let zombie = poll(|| (Stat::of(pid)?.state == State::Zombie).then_some(()));
        assert!(zombie.is_some(), "{:?}", Stat::of(pid));
        assert_eq!(
            described(Stat::of(pid).map(|s| s.state)),
            "exited but not reaped (a zombie)"
        );
        child.wait().unwrap();
        assert_eq!(Stat::of(pid), None);
        assert_eq!(described(None), "gone (exited and reaped)");
    }

    #[test]
    fn threads_are_listed_with_their_state_and_time() {
        let (sender, receiver) = std::sync::mpsc::channel();
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let helper = std::thread::spawn(move || {
            sender.send(nix::unistd::gettid().as_raw()).unwrap();
            let _ = stopped.recv();
        });
        let tid = receiver.recv().unwrap();
        assert!(own_threads().contains(&tid));
        let thread = Thread::own(tid);
        let asleep = poll(|| (thread.state()? == State::Sleeping).then_some(()));
        assert!(asleep.is_some(), "{:?}", thread.stat());
        assert_eq!(thread.blocked_in(), Some(libc::SYS_futex));
        assert!(thread.cpu_ticks().is_ok());
        assert!(thread.context_switches().unwrap() >= 1);
        drop(stop);
        helper.join().unwrap();
        assert!(thread.cpu_ticks().is_err(), "gone");
    }

    #[test]
    fn states_are_said_in_words_and_shown_as_letters() {
        assert_eq!(State::from_letter('Z'), State::Zombie);
        assert_eq!(format!("{:?}", Some(State::Zombie)), "Some('Z')");
        assert_eq!(State::Other('I').to_string(), "I");
        assert!(State::Stopped.description().starts_with("stopped"));
        assert!(State::Sleeping.is_live() && !State::Zombie.is_live());
    }

    fn poll<T>(mut f: impl FnMut() -> Option<T>) -> Option<T> {
        for _ in 0..1000 {
            if let Some(value) = f() {
                return Some(value);
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        None
    }
}
