//! Stage 7: job control on a terminal: process groups, the terminal's
//! foreground group, Ctrl-C and Ctrl-Z, `fg` and `bg`; default signal
//! dispositions in every child.

use hidden_shell::{Compare, Pty, proc_info, same_as_dash, session_members, wait_state};

use crate::OSH;

/// Starts `sleep 100` in the foreground and returns its pid once it runs
/// in a process group of its own that owns the terminal.
fn foreground_sleep(pty: &mut Pty) -> i32 {
    pty.type_text("sleep 100\n");
    let sleep = pty.wait_for_process("sleep");
    let owns = hidden_shell::poll(hidden_shell::PATIENCE, || {
        proc_info(sleep.pid).filter(|p| p.pgrp == p.pid && p.tpgid == p.pid)
    });
    if owns.is_none() {
        let now = proc_info(sleep.pid);
        panic!(
            "the foreground job `sleep 100` should run in a process group of its own (setpgid: \
             its group id is its pid, {}) that owns the terminal (tcsetpgrp); its group is {:?}, \
             the terminal's foreground group is {:?}, the shell's group is {}",
            sleep.pid,
            now.as_ref().map(|p| p.pgrp),
            now.as_ref().map(|p| p.tpgid),
            pty.pid()
        );
    }
    sleep.pid
}

/// Types Ctrl-Z and asserts that the foreground `sleep` stops and the shell prompts again.
fn stop_with_ctrl_z(pty: &mut Pty, sleep: i32) {
    pty.type_text("\x1a");
    let state = wait_state(sleep, |s| s == Some('T'));
    assert_eq!(
        state,
        Some('T'),
        "Ctrl-Z should stop the foreground `sleep 100`"
    );
    pty.expect(
        "osh$ ",
        "a new prompt after Ctrl-Z (is the wait using WUNTRACED?)",
    );
}

// Catches: the shell dying on Ctrl-C (SIGINT not ignored), or a wrong status for a job killed by SIGINT.
#[test]
fn ctrl_c_kills_the_foreground_job_not_the_shell() {
    let mut pty = Pty::start(OSH);
    let sleep = foreground_sleep(&mut pty);
    pty.type_text("\x03");
    let state = wait_state(sleep, |s| matches!(s, None | Some('Z')));
    assert!(
        matches!(state, None | Some('Z')),
        "Ctrl-C should kill the foreground `sleep 100` (state now {state:?})"
    );
    pty.expect("osh$ ", "a new prompt after Ctrl-C");
    let out = pty.run("echo status $?");
    assert!(
        out.contains("status 130"),
        "after Ctrl-C killed the foreground job, `echo status $?` should print `status 130` \
         (128 + SIGINT); the terminal showed:\n{out}"
    );
}

// Catches: the shell not ignoring SIGINT: Ctrl-C typed at the prompt kills it.
#[test]
fn ctrl_c_at_the_prompt_is_harmless() {
    let mut pty = Pty::start(OSH);
    pty.type_text("\x03");
    std::thread::sleep(std::time::Duration::from_millis(50));
    let out = pty.run("echo alive");
    assert!(
        out.contains("alive"),
        "the shell should survive Ctrl-C at its prompt"
    );
}

// Catches: no setpgid (the job stays in the shell's group) or no tcsetpgrp (the terminal stays with the shell).
#[test]
fn foreground_job_has_its_own_group_and_the_terminal() {
    let mut pty = Pty::start(OSH);
    foreground_sleep(&mut pty);
    pty.type_text("\x03");
    pty.expect("osh$ ", "a new prompt after Ctrl-C");
    // The shell must take the terminal back, or it could not read from it.
    let back = hidden_shell::poll(hidden_shell::PATIENCE, || {
        (pty.foreground_group() == Some(pty.pid())).then_some(())
    });
    assert!(
        back.is_some(),
        "after the job ended, the terminal's foreground group should be the shell's again \
         ({}), it is {:?}",
        pty.pid(),
        pty.foreground_group()
    );
    let out = pty.run("echo still here");
    assert!(
        out.contains("still here"),
        "the shell reads from the terminal again"
    );
}

// Catches: background jobs in the shell's (or the foreground job's) process group, so Ctrl-C kills them too.
#[test]
fn ctrl_c_spares_background_jobs() {
    let mut pty = Pty::start(OSH);
    pty.run("sleep 100 &");
    let background = pty.wait_for_process("sleep").pid;
    pty.type_text("sleep 200\n");
    let foreground = hidden_shell::poll(hidden_shell::PATIENCE, || {
        session_members(pty.pid())
            .into_iter()
            .find(|p| p.comm == "sleep" && p.pid != background && p.pgrp == p.tpgid)
    })
    .expect("the foreground `sleep 200` did not start, or never got the terminal");
    pty.type_text("\x03");
    let state = wait_state(foreground.pid, |s| matches!(s, None | Some('Z')));
    assert!(
        matches!(state, None | Some('Z')),
        "Ctrl-C should kill the foreground `sleep 200` (its state is {state:?})"
    );
    pty.expect("osh$ ", "a new prompt after Ctrl-C");
    let state = proc_info(background).map(|p| p.state);
    assert!(
        matches!(state, Some('S' | 'R')),
        "Ctrl-C during a foreground job also killed the background job `sleep 100 &` (its \
         state is {state:?}): each job needs a process group of its own"
    );
}

// Catches: waiting without WUNTRACED (Ctrl-Z hangs the shell), or a stopped job not kept in the table.
#[test]
fn ctrl_z_stops_the_job_and_returns_to_the_prompt() {
    let mut pty = Pty::start(OSH);
    let sleep = foreground_sleep(&mut pty);
    pty.type_text("\x1a");
    let state = wait_state(sleep, |s| s == Some('T'));
    assert_eq!(
        state,
        Some('T'),
        "Ctrl-Z should stop the foreground `sleep 100`"
    );
    pty.expect(
        "osh$ ",
        "a new prompt after Ctrl-Z (is the wait using WUNTRACED?)",
    );
    let out = pty.run("echo status $?");
    assert!(
        out.contains("status 148"),
        "after Ctrl-Z, `$?` should be 148 (128 + SIGTSTP); the terminal showed:\n{out}"
    );
    let jobs = pty.run("jobs");
    assert!(
        jobs.contains("Stopped") && jobs.contains("sleep 100"),
        "`jobs` should list the stopped `sleep 100`; the terminal showed:\n{jobs}"
    );
}

// Catches: `fg` not sending SIGCONT to the job's group, not handing it the terminal, or not waiting for it.
#[test]
fn fg_brings_a_stopped_job_back() {
    let mut pty = Pty::start(OSH);
    let sleep = foreground_sleep(&mut pty);
    stop_with_ctrl_z(&mut pty, sleep);
    pty.type_text("fg\n");
    let state = wait_state(sleep, |s| matches!(s, Some('S' | 'R')));
    assert!(
        matches!(state, Some('S' | 'R')),
        "`fg` should continue the stopped job (SIGCONT); its state is {state:?}"
    );
    let owner = hidden_shell::poll(hidden_shell::PATIENCE, || {
        (pty.foreground_group() == Some(sleep)).then_some(())
    });
    assert!(
        owner.is_some(),
        "after `fg` the job should own the terminal again (tcsetpgrp); the foreground group \
         is {:?}",
        pty.foreground_group()
    );
    pty.type_text("\x03");
    pty.expect(
        "osh$ ",
        "a new prompt once the job brought back by `fg` is killed",
    );
    let out = pty.run("echo status $?");
    assert!(
        out.contains("status 130"),
        "`fg` waits for the job and its status becomes `$?` (130 after Ctrl-C); the terminal \
         showed:\n{out}"
    );
}

// Catches: `bg` not continuing the stopped job, or waiting for it.
#[test]
fn bg_continues_a_stopped_job_in_the_background() {
    let mut pty = Pty::start(OSH);
    let sleep = foreground_sleep(&mut pty);
    stop_with_ctrl_z(&mut pty, sleep);
    pty.run("bg");
    let state = wait_state(sleep, |s| matches!(s, Some('S' | 'R')));
    assert!(
        matches!(state, Some('S' | 'R')),
        "`bg` should continue the stopped job; its state is {state:?}"
    );
    let jobs = pty.run("jobs");
    assert!(
        jobs.contains("Running") && jobs.contains("sleep 100"),
        "after `bg`, `jobs` should show `sleep 100` running; the terminal showed:\n{jobs}"
    );
    assert_eq!(
        pty.foreground_group(),
        Some(pty.pid()),
        "after `bg` the terminal stays with the shell"
    );
}

// Catches: signal dispositions the shell ignores (SIGINT, SIGTSTP, ..., and SIGPIPE from the Rust runtime) inherited across exec.
#[test]
fn children_start_with_default_signal_dispositions() {
    let mut pty = Pty::start(OSH);
    let out = pty.run("grep -E '^Sig(Ign|Blk)' /proc/self/status");
    let mask = |name: &str| {
        out.lines()
            .find_map(|l| l.trim().strip_prefix(name))
            .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
            .unwrap_or_else(|| panic!("no {name} line in:\n{out}"))
    };
    // SIGINT, SIGQUIT, SIGPIPE, SIGCHLD, SIGTSTP, SIGTTIN, SIGTTOU.
    let job_signals: u64 = [2, 3, 13, 17, 20, 21, 22]
        .iter()
        .map(|n| 1u64 << (n - 1))
        .sum();
    let (ignored, blocked) = (mask("SigIgn:"), mask("SigBlk:"));
    assert!(
        ignored & job_signals == 0 && blocked & job_signals == 0,
        "a program started by the interactive shell should neither ignore nor block SIGINT, \
         SIGQUIT, SIGPIPE, SIGCHLD, SIGTSTP, SIGTTIN or SIGTTOU (exec keeps ignored \
         dispositions and the mask: reset them in the child); it reported:\n{out}"
    );
    // Signals 1-32 only: above them are glibc's internal signals, which
    // `posix_spawn` (the C library's, and dash's vfork) may leave ignored.
    same_as_dash(
        OSH,
        "awk '/^Sig(Ign|Blk)/ { print $1, substr($2, 9) }' /proc/self/status\nyes | head -n 1\n",
        Compare::ALL,
        "a program started from a script ignores no signal the shell's parent did not: the Rust \
         runtime ignores SIGPIPE, and `yes | head -n 1` should end `yes` quietly with SIGPIPE",
    );
}
