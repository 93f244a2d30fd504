//! Stage 7: job control on a terminal: process groups, the terminal's
//! foreground group, Ctrl-C and Ctrl-Z, `fg` and `bg`; default signal
//! dispositions in every child.

use std::time::{Duration, Instant};

use hidden_shell::{
    Compare, PATIENCE, PROMPT, Pty, State, described, indent, poll, proc_info, same_as_dash,
    session_members, wait_state,
};

use crate::OSH;

/// `ptrace(request, pid, 0, data)`.
fn ptrace(request: libc::c_uint, pid: i32, data: usize) -> libc::c_long {
    // SAFETY: the requests used here (SEIZE, CONT, DETACH) take an integer in
    // `data` and no address; GETEVENTMSG goes through `fork_event_child`.
    unsafe {
        libc::ptrace(
            request,
            pid,
            std::ptr::null_mut::<libc::c_void>(),
            data as *mut libc::c_void,
        )
    }
}

/// Waits (with a deadline) for the traced process `pid` to report a stop;
/// its raw wait status.
fn traced_stop(pid: i32, what: &str) -> i32 {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes the status into a local variable.
        let got = unsafe { libc::waitpid(pid, &mut status, libc::__WALL | libc::WNOHANG) };
        if got == pid {
            return status;
        }
        assert!(
            got == 0 && Instant::now() < deadline,
            "{what} did not happen within {PATIENCE:?} (waitpid on {pid} returned {got})"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Lets the traced shell run until it creates a process (fork, vfork or
/// clone); the new process's pid and whether it was a vfork (whose parent
/// cannot go on before the child execs). The shell is left stopped.
fn next_child_of_traced(shell: i32) -> (i32, bool) {
    loop {
        let status = traced_stop(shell, "the shell starting the next process of the pipeline");
        assert!(
            libc::WIFSTOPPED(status),
            "the shell ended while starting the pipeline (wait status {status:#x})"
        );
        let event = (status >> 16) & 0xff;
        match event {
            libc::PTRACE_EVENT_FORK | libc::PTRACE_EVENT_VFORK | libc::PTRACE_EVENT_CLONE => {
                let mut child: libc::c_ulong = 0;
                // SAFETY: GETEVENTMSG writes one c_ulong where `data` points.
                unsafe {
                    libc::ptrace(
                        libc::PTRACE_GETEVENTMSG,
                        shell,
                        std::ptr::null_mut::<libc::c_void>(),
                        &mut child as *mut libc::c_ulong as *mut libc::c_void,
                    )
                };
                return (child as i32, event == libc::PTRACE_EVENT_VFORK);
            }
            // A signal on its way to the shell: deliver it.
            0 => ptrace(libc::PTRACE_CONT, shell, libc::WSTOPSIG(status) as usize),
            // A group stop or another event: go on.
            _ => ptrace(libc::PTRACE_CONT, shell, 0),
        };
    }
}

/// Types `line` (a two-command pipeline of `sleep`s) and starts it so that
/// the `setpgid` race is always lost by a shell that calls `setpgid` only in
/// the child: the shell is traced (ptrace) while it forks, and its first
/// child is held before it runs a single instruction until the second child
/// has exec'd. The group the second child must join then exists only if the
/// shell itself put the first child in it. Returns (first, second) once both
/// run `sleep` in the first one's group and that group owns the terminal.
fn start_pipeline_in_one_group(pty: &mut Pty, line: &str) -> (i32, i32) {
    let shell = pty.pid();
    let options = libc::PTRACE_O_TRACEFORK | libc::PTRACE_O_TRACEVFORK | libc::PTRACE_O_TRACECLONE;
    assert_eq!(
        ptrace(libc::PTRACE_SEIZE, shell, options as usize),
        0,
        "the test cannot trace the shell: {}",
        std::io::Error::last_os_error()
    );
    pty.type_text(&format!("{line}\n"));
    let (first, vfork) = next_child_of_traced(shell);
    traced_stop(first, "the first child's start");
    if vfork {
        // A vfork parent waits for its child's exec: nothing can be held.
        ptrace(libc::PTRACE_DETACH, first, 0);
        ptrace(libc::PTRACE_CONT, shell, 0);
    } else {
        ptrace(libc::PTRACE_CONT, shell, 0);
    }
    let (second, _) = next_child_of_traced(shell);
    traced_stop(second, "the second child's start");
    ptrace(libc::PTRACE_DETACH, second, 0);
    ptrace(libc::PTRACE_DETACH, shell, 0);
    // The second child runs alone until it has become `sleep`.
    let exec = poll(PATIENCE, || {
        proc_info(second).filter(|p| p.comm == "sleep" || p.state == State::Zombie)
    });
    if !vfork {
        ptrace(libc::PTRACE_DETACH, first, 0);
    }
    let second_info = exec.unwrap_or_else(|| {
        panic!(
            "the second process of `{line}` did not start `sleep` within {PATIENCE:?}; the \
             terminal showed:\n{}",
            indent(&pty.seen())
        )
    });
    let group = second_info.pgrp;
    assert!(
        group != shell,
        "the second process of `{line}` stayed in the shell's process group ({shell}) instead \
         of joining the job's group ({first}, the first process's pid). This is the setpgid \
         race: the second child ran before the first had called setpgid, so the group it \
         asked to join did not exist yet. Call setpgid(pid, pgid) in the shell as well, right \
         after each fork, not only setpgid(0, pgid) in the child: whichever runs first makes \
         the group."
    );
    assert!(
        group == first,
        "the second process of `{line}` ({second}) is in process group {group}, not in the \
         job's group {first} (the first process's pid): every process of a pipeline must join \
         the same group, or Ctrl-C and Ctrl-Z reach only part of the job. Is each child put in \
         a group of its own (setpgid(0, 0)) instead of the first child's?"
    );
    let together = poll(PATIENCE, || {
        let (a, b) = (proc_info(first)?, proc_info(second)?);
        (a.comm == "sleep"
            && a.pgrp == first
            && b.pgrp == first
            && a.tpgid == first
            && matches!(a.state, State::Sleeping | State::Running)
            && matches!(b.state, State::Sleeping | State::Running))
        .then_some(())
    });
    assert!(
        together.is_some(),
        "both processes of `{line}` should run `sleep` in the job's group {first}, which owns \
         the terminal; the first is {:?}, the second {:?}",
        proc_info(first),
        proc_info(second)
    );
    (first, second)
}

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
    let state = wait_state(sleep, |s| s == Some(State::Stopped));
    let shell = proc_info(pty.pid()).map(|p| p.state);
    let why = match shell {
        Some(State::Stopped | State::Zombie) | None => {
            ": a shell taking the terminal back (tcsetpgrp) from a background group is \
             sent SIGTTOU, which stops it (or fails the call, and the shell gives up) \
             unless it ignores SIGTTOU"
        }
        _ => "",
    };
    assert_eq!(
        described(state),
        described(Some(State::Stopped)),
        "Ctrl-Z should stop the foreground `sleep 100`; the shell itself is {}{why}",
        described(shell)
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
    let state = wait_state(sleep, |s| matches!(s, None | Some(State::Zombie)));
    let shown = described(state);
    assert!(
        matches!(state, None | Some(State::Zombie)),
        "Ctrl-C should kill the foreground `sleep 100` (state now {shown})"
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
    let state = wait_state(foreground.pid, |s| matches!(s, None | Some(State::Zombie)));
    let shown = described(state);
    assert!(
        matches!(state, None | Some(State::Zombie)),
        "Ctrl-C should kill the foreground `sleep 200` (its state is {shown})"
    );
    pty.expect("osh$ ", "a new prompt after Ctrl-C");
    let state = proc_info(background).map(|p| p.state);
    let shown = described(state);
    assert!(
        matches!(state, Some(State::Sleeping | State::Running)),
        "Ctrl-C during a foreground job also killed the background job `sleep 100 &` (its \
         state is {shown}): each job needs a process group of its own"
    );
}

// Catches: waiting without WUNTRACED (Ctrl-Z hangs the shell), or a stopped job not kept in the table.
#[test]
fn ctrl_z_stops_the_job_and_returns_to_the_prompt() {
    let mut pty = Pty::start(OSH);
    let sleep = foreground_sleep(&mut pty);
    stop_with_ctrl_z(&mut pty, sleep);
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
    let state = wait_state(sleep, |s| {
        matches!(s, Some(State::Sleeping | State::Running))
    });
    let shown = described(state);
    assert!(
        matches!(state, Some(State::Sleeping | State::Running)),
        "`fg` should continue the stopped job (SIGCONT); its state is {shown}"
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
    let state = wait_state(sleep, |s| {
        matches!(s, Some(State::Sleeping | State::Running))
    });
    let shown = described(state);
    assert!(
        matches!(state, Some(State::Sleeping | State::Running)),
        "`bg` should continue the stopped job; its state is {shown}"
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
    // Signals 1-28 only (the last 7 hex digits): 32 and 33 are glibc's
    // internal signals, which glibc's `posix_spawn` starts ignored (dash's
    // vfork does not), so the window must end below 32. Every signal the
    // shell touches (2, 3, 13, 17, 20, 21, 22) is inside it.
    same_as_dash(
        OSH,
        "awk '/^Sig(Ign|Blk)/ { print $1, substr($2, 10) }' /proc/self/status\nyes | head -n 1\n",
        Compare::ALL,
        "a program started from a script ignores no signal the shell's parent did not: the Rust \
         runtime ignores SIGPIPE, and `yes | head -n 1` should end `yes` quietly with SIGPIPE",
    );
}

// Catches: each process of a pipeline put in a group of its own, and the setpgid race (setpgid called only in the child), made certain by holding the first child until the second has exec'd.
#[test]
fn every_process_of_a_pipeline_joins_the_jobs_group() {
    let mut pty = Pty::start(OSH);
    let (first, second) = start_pipeline_in_one_group(&mut pty, "sleep 100 | sleep 200");
    pty.type_text("\x03");
    for (pid, which) in [(first, "first"), (second, "second")] {
        let state = wait_state(pid, |s| matches!(s, None | Some(State::Zombie)));
        let shown = described(state);
        assert!(
            matches!(state, None | Some(State::Zombie)),
            "Ctrl-C should kill both processes of the foreground pipeline `sleep 100 | sleep \
             200`; the {which} one is still there (state {shown})"
        );
    }
    pty.expect(PROMPT, "a new prompt after Ctrl-C killed the pipeline");
    let out = pty.run("echo status $?");
    assert!(
        out.contains("status 130"),
        "after Ctrl-C killed the pipeline, `$?` should be 130; the terminal showed:\n{out}"
    );
}

// Catches: `fg` continuing a stopped pipeline with kill(pgid, SIGCONT), which reaches only the first process, instead of killpg: the shell then waits forever for the rest.
#[test]
fn fg_continues_every_process_of_a_pipeline() {
    let mut pty = Pty::start(OSH);
    let (first, second) = start_pipeline_in_one_group(&mut pty, "sleep 100 | sleep 200");
    stop_pipeline_with_ctrl_z(&mut pty, first, second);
    pty.type_text("fg\n");
    assert_continued_by("fg", first, second);
    pty.type_text("\x03");
    pty.expect(
        PROMPT,
        "a new prompt once Ctrl-C killed the pipeline brought back by `fg`",
    );
    let out = pty.run("echo status $?");
    assert!(
        out.contains("status 130"),
        "`fg` waits for the whole pipeline and its status becomes `$?` (130 after Ctrl-C); \
         the terminal showed:\n{out}"
    );
}

// Catches: `bg` continuing a stopped pipeline with kill(pgid, SIGCONT), which reaches only the first process, instead of killpg.
#[test]
fn bg_continues_every_process_of_a_pipeline() {
    let mut pty = Pty::start(OSH);
    let (first, second) = start_pipeline_in_one_group(&mut pty, "sleep 100 | sleep 200");
    stop_pipeline_with_ctrl_z(&mut pty, first, second);
    pty.run("bg");
    assert_continued_by("bg", first, second);
    let jobs = pty.run("jobs");
    assert!(
        jobs.contains("Running") && jobs.contains("sleep 100 | sleep 200"),
        "after `bg`, `jobs` should show the pipeline running; the terminal showed:\n{jobs}"
    );
}

/// Types Ctrl-Z at the running pipeline `sleep 100 | sleep 200` (pids
/// `first` and `second`) and waits until both are stopped and the prompt is
/// back.
#[track_caller]
fn stop_pipeline_with_ctrl_z(pty: &mut Pty, first: i32, second: i32) {
    pty.type_text("\x1a");
    for (pid, which) in [(first, "first"), (second, "second")] {
        let state = wait_state(pid, |s| s == Some(State::Stopped));
        let shown = described(state);
        assert_eq!(
            described(state),
            described(Some(State::Stopped)),
            "Ctrl-Z should stop both processes of `sleep 100 | sleep 200`; the {which} one's \
             state is {shown}"
        );
    }
    pty.expect(PROMPT, "a new prompt after Ctrl-Z stopped the pipeline");
}

/// Requires that `command` (`fg` or `bg`) continued both processes of the
/// stopped pipeline `sleep 100 | sleep 200`.
#[track_caller]
fn assert_continued_by(command: &str, first: i32, second: i32) {
    for (pid, which) in [(first, "first"), (second, "second")] {
        let state = wait_state(pid, |s| matches!(s, Some(State::Sleeping | State::Running)));
        let shown = described(state);
        assert!(
            matches!(state, Some(State::Sleeping | State::Running)),
            "`{command}` should continue every process of the stopped pipeline `sleep 100 | sleep \
             200`, but the {which} one is still stopped (state {shown}): send SIGCONT to the \
             whole process group with killpg(pgid, SIGCONT); kill(pgid, SIGCONT) reaches only \
             the process whose pid is pgid"
        );
    }
}
