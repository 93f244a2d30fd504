//! Stage 7 visible tests: job control on a terminal. Every job runs in its
//! own process group; a foreground job gets the terminal (`tcsetpgrp`), so
//! Ctrl-C and Ctrl-Z reach it and nothing else; the shell survives both,
//! takes the terminal back, and `fg` and `bg` continue a stopped job. The
//! shell's children start with default signal dispositions.
//!
//! Each test starts `osh` on a pseudo-terminal as the leader of a new
//! session (so it is interactive: prompt `osh$ `, job control on), types
//! into it, and reads what the terminal shows, with a deadline on every
//! read. Run only this stage with
//! `cargo test -p shell --test stage7_job_control`.

mod common;

use common::{Stat, State, Terminal, eventually};

/// Runs `command`, which must print `ready PID` first, and waits until that
/// process is running in the foreground: in a process group of its own that
/// the terminal has as its foreground group. Returns the pid.
fn start_in_foreground(t: &mut Terminal, command: &str) -> i32 {
    t.line(command);
    t.expect(
        "ready ",
        &format!("`{command}` should start and print `ready PID`"),
    );
    let pid_text = t.expect("\n", "the pid after `ready`");
    let pid: i32 = pid_text
        .trim()
        .parse()
        .unwrap_or_else(|_| t.fail(&format!("expected a pid after `ready`, got {pid_text:?}")));
    let shell = t.pid();
    let mut last = None;
    let foreground = eventually(|| {
        last = Stat::of(pid);
        last.as_ref()
            .is_some_and(|s| s.pgrp == pid && s.tpgid == pid && s.pgrp != shell)
    });
    if !foreground {
        t.fail(&format!(
            "`{command}` (pid {pid}) should be the leader of its own process group \
             (setpgid in the child and in the shell) and the terminal's foreground group \
             (tcsetpgrp), but /proc/{pid}/stat says {last:?} (the shell is pid {shell})"
        ));
    }
    pid
}

#[test]
fn a_foreground_job_gets_its_own_group_and_the_terminal() {
    let mut t = Terminal::start();
    let shell = t.pid();
    let shown = t.run("cat /proc/self/stat");
    let stat = Stat::parse(shown.trim()).unwrap_or_else(|| {
        t.fail(&format!(
            "expected one line of /proc/self/stat, got {shown:?}"
        ))
    });
    assert_eq!(
        stat.pgrp, stat.pid,
        "a job's first process leads a new process group (setpgid(pid, pid)), so its pgid \
         is its own pid: {stat:?}"
    );
    assert_ne!(stat.pgrp, shell, "the job must not be in the shell's group");
    assert_eq!(
        stat.tpgid, stat.pgrp,
        "while a foreground job runs, the terminal's foreground process group is the \
         job's (tcsetpgrp before waiting): {stat:?}"
    );
    assert_eq!(stat.session, shell, "the job stays in the shell's session");
    let after = t.run("cat /proc/self/stat");
    let after = Stat::parse(after.trim()).expect("a line of /proc/self/stat");
    assert_ne!(after.pgrp, stat.pgrp, "every job gets a group of its own");
    assert!(
        Stat::of(shell).is_some_and(|s| s.tpgid == shell),
        "between jobs the shell must take the terminal back (tcsetpgrp with its own group)"
    );
}

#[test]
fn a_background_job_has_its_own_group_but_not_the_terminal() {
    let mut t = Terminal::start();
    let shell = t.pid();
    t.line("cat /proc/self/stat > stat.txt &");
    t.expect(
        "[1] ",
        "an interactive shell announces a background job as `[1] PID`",
    );
    t.expect_prompt("the prompt right after a background job starts");
    t.run("wait");
    let text = std::fs::read_to_string(t.scratch.join("stat.txt")).unwrap_or_default();
    let stat = Stat::parse(text.trim()).unwrap_or_else(|| {
        t.fail(&format!(
            "stat.txt should hold /proc/self/stat, got {text:?}"
        ))
    });
    assert_eq!(
        stat.pgrp, stat.pid,
        "a background job also gets its own group: {stat:?}"
    );
    assert_eq!(
        stat.tpgid, shell,
        "a background job never gets the terminal: the shell keeps it: {stat:?}"
    );
}

#[test]
fn children_start_with_default_signal_dispositions() {
    // The signals a job-control shell ignores (and SIGPIPE, which the Rust
    // runtime ignores): none may still be ignored, or blocked, in a child.
    const SIGNALS: [(i32, &str); 6] = [
        (libc::SIGINT, "SIGINT"),
        (libc::SIGQUIT, "SIGQUIT"),
        (libc::SIGPIPE, "SIGPIPE"),
        (libc::SIGTSTP, "SIGTSTP"),
        (libc::SIGTTIN, "SIGTTIN"),
        (libc::SIGTTOU, "SIGTTOU"),
    ];
    let mut t = Terminal::start();
    let shown = t.run("grep -E '^Sig(Blk|Ign)' /proc/self/status");
    let mut checked = 0;
    for line in shown.lines().filter(|l| l.starts_with("Sig")) {
        let (field, mask) = line.split_once(':').unwrap_or((line, ""));
        let mask = u64::from_str_radix(mask.trim(), 16)
            .unwrap_or_else(|_| panic!("cannot read the mask in {line:?}"));
        let wrong: Vec<&str> = SIGNALS
            .iter()
            .filter(|(number, _)| mask & (1 << (number - 1)) != 0)
            .map(|(_, name)| *name)
            .collect();
        let what = if field == "SigIgn" {
            "ignores"
        } else {
            "blocks"
        };
        assert!(
            wrong.is_empty(),
            "a program the shell started {what} {wrong:?} ({line}): an ignored disposition \
             and the blocked mask survive exec. In the child, before exec, set these back \
             to SIG_DFL and unblock every signal (otherwise Ctrl-C cannot stop the program, \
             and `yes | head -n 1` makes `yes` fail with EPIPE instead of dying of SIGPIPE)"
        );
        checked += 1;
    }
    assert_eq!(
        checked, 2,
        "expected the SigBlk and SigIgn lines, got {shown:?}"
    );
}

#[test]
fn ctrl_c_kills_the_foreground_job_and_the_shell_survives() {
    let mut t = Terminal::start();
    let pid = start_in_foreground(&mut t, "sh -c 'echo ready $$; exec sleep 30'");
    t.ctrl_c();
    t.expect_prompt("after Ctrl-C the job dies and the shell prompts again");
    let status = t.run("echo \"status $?\"");
    assert!(
        status.contains("status 130"),
        "a job killed by SIGINT has status 128 + 2 = 130, got {status:?}"
    );
    assert!(
        eventually(|| Stat::of(pid).is_none()),
        "the job (pid {pid}) should be dead and reaped after Ctrl-C"
    );
    assert!(
        t.run("echo alive").contains("alive"),
        "the shell must survive Ctrl-C"
    );
}

#[test]
fn ctrl_c_does_not_reach_a_background_job() {
    let mut t = Terminal::start();
    t.line("sleep 30 &");
    t.expect("[1] ", "the `[1] PID` line of a background job");
    let pid_text = t.expect("\n", "the pid of the background job");
    let background: i32 = pid_text
        .trim()
        .parse()
        .unwrap_or_else(|_| t.fail(&format!("expected `[1] PID`, got `[1] {pid_text}`")));
    t.expect_prompt("the prompt after starting a background job");
    start_in_foreground(&mut t, "sh -c 'echo ready $$; exec sleep 30'");
    t.ctrl_c();
    t.expect_prompt("the prompt after Ctrl-C");
    let alive = Stat::of(background).is_some_and(|s| s.state != State::Zombie);
    assert!(
        alive,
        "Ctrl-C killed the background job too: it goes to the terminal's foreground group \
         only, so every job needs a group of its own"
    );
    let jobs = t.run("jobs");
    assert!(
        jobs.contains("[1]  Running  sleep 30 &"),
        "`jobs` should still list the background job, got {jobs:?}"
    );
}

#[test]
fn ctrl_z_stops_the_job_and_fg_brings_it_back() {
    let mut t = Terminal::start();
    let command = "sh -c 'echo ready $$; read line; echo got $line'";
    let pid = start_in_foreground(&mut t, command);
    t.ctrl_z();
    t.expect(
        "Stopped",
        "Ctrl-Z stops the job and the shell reports `[1]  Stopped  TEXT`",
    );
    t.expect_prompt("the shell prompts again once the job has stopped");
    assert!(
        Stat::of(pid).is_some_and(|s| s.state == State::Stopped),
        "the job should be stopped (state T)"
    );
    let status = t.run("echo \"status $?\"");
    assert!(
        status.contains("status 148"),
        "a job stopped by SIGTSTP has status 128 + 20 = 148, got {status:?}"
    );
    t.line("fg");
    let mut last = None;
    if !eventually(|| {
        last = Stat::of(pid);
        last.as_ref()
            .is_some_and(|s| s.state != State::Stopped && s.tpgid == pid)
    }) {
        t.fail(&format!(
            "after `fg`, the job should run again (SIGCONT to its group) with the terminal \
             (tcsetpgrp); /proc says {last:?}"
        ));
    }
    t.line("hello");
    t.expect(
        "got hello",
        "the job, back in the foreground, reads from the terminal",
    );
    t.expect_prompt("the prompt after the job ends");
    assert!(t.run("echo \"status $?\"").contains("status 0"));
}

#[test]
fn bg_continues_a_stopped_job_in_the_background() {
    let mut t = Terminal::start();
    // `exec`: the job is one process from `ready` on (a shell that forked
    // `sleep` could be stopped halfway through its fork).
    let pid = start_in_foreground(&mut t, "sh -c 'echo ready $$; exec sleep 2'");
    t.ctrl_z();
    t.expect("Stopped", "Ctrl-Z stops the job");
    t.expect_prompt("the prompt after the job stopped");
    t.line("bg");
    t.expect("&", "`bg` prints `[1] TEXT &`");
    t.expect_prompt("the prompt right after `bg`: the shell does not wait");
    let mut last = None;
    if !eventually(|| {
        last = Stat::of(pid);
        last.as_ref().is_some_and(|s| s.state != State::Stopped)
    }) {
        t.fail(&format!(
            "after `bg` the job should run again (SIGCONT to its process group); /proc \
             says {last:?}"
        ));
    }
    assert!(
        last.is_some_and(|s| s.tpgid != pid),
        "after `bg` the shell keeps the terminal"
    );
    t.run("wait");
    assert!(
        Stat::of(pid).is_none(),
        "`wait` should return only once the continued job has ended and been reaped"
    );
}
