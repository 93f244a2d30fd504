//! Stage 2: running a program (fork, execvp, waitpid) and its exit status.

use std::time::Duration;

use hidden_shell::{Compare, Driver, State, lingering_children, run_script, same_as_dash};

use crate::OSH;

// Catches: arguments passed with their quotes, or split at quoted blanks, or the program name missing from argv.
#[test]
fn runs_a_program_with_its_arguments() {
    same_as_dash(
        OSH,
        "echo hello   world\n\
         printf '[%s]\\n' 'a  b' \"c  d\" e\\ f '' \"$OSH_TEST_VAR\"\n\
         /bin/echo an absolute path\n",
        Compare::ALL,
        "programs found through $PATH (and by absolute path) get their arguments with the \
         quotes removed and the quoted blanks kept",
    );
}

// Catches: `$?` not updated after each command, or the shell's own exit status ignoring the last command.
#[test]
fn exit_status_goes_to_dollar_question_mark() {
    same_as_dash(
        OSH,
        "false\necho $?\ntrue\necho $?\nsh -c 'exit 7'\necho \"status $?\"\necho $?\nsh -c 'exit 3'\n",
        Compare::ALL,
        "`$?` is the exit status of the last command, and the shell exits with it",
    );
}

// Catches: a missing program reported with the wrong status (not 127), or killing the shell.
#[test]
fn command_not_found_is_127() {
    same_as_dash(
        OSH,
        "no-such-command-osh-test\necho $?\nno-such-command-osh-test with args\necho $?\n./missing\necho $?\n",
        Compare::ALL,
        "a command that is not found prints a message and has status 127",
    );
    let osh = run_script(OSH, "no-such-command-osh-test\n");
    assert!(
        osh.stderr.contains("no-such-command-osh-test"),
        "the message should name the command that was not found; the shell printed:\n{}",
        hidden_shell::indent(&osh.stderr)
    );
}

// Catches: a file that exists but cannot be executed reported as 127 (or a crash) instead of 126.
#[test]
fn permission_denied_is_126() {
    same_as_dash(
        OSH,
        "/etc/passwd\necho $?\n/etc\necho $?\n",
        Compare::ALL,
        "a file without execute permission (or a directory) cannot be run: status 126",
    );
}

// Catches: a child killed by a signal reported as 0 or 1 instead of 128 + the signal number.
#[test]
fn killed_by_a_signal_is_128_plus_n() {
    same_as_dash(
        OSH,
        "sh -c 'kill -9 $$'\necho $?\nsh -c 'kill -TERM $$'\necho $?\nsh -c 'kill -INT $$'\necho $?\nsh -c 'kill -USR1 $$'\n",
        Compare::OUTPUT_AND_STATUS,
        "a child killed by signal N has status 128 + N (SIGKILL 137, SIGTERM 143, SIGINT 130, \
         SIGUSR1 138), also as the shell's own exit status",
    );
}

// Catches: the shell reading the next line before the command has finished (not waiting, or waiting with WNOHANG).
#[test]
fn waits_for_each_command_before_the_next() {
    same_as_dash(
        OSH,
        "sh -c 'sleep 0.2; echo first'\necho second\nsh -c 'sleep 0.1; exit 4'\necho $?\n",
        Compare::ALL,
        "each command runs to its end before the shell reads the next line",
    );
}

// Catches: children never reaped (each command left as a zombie).
#[test]
fn no_zombies_after_commands() {
    let mut shell = Driver::start(OSH);
    for _ in 0..5 {
        shell.run("true");
        shell.run("sh -c 'exit 1'");
    }
    let children = lingering_children(shell.pid());
    assert!(
        children.is_empty(),
        "after ten commands have finished, the shell still has children (Z = zombie: its exit \
         status was never collected with waitpid): {:?}",
        children
            .iter()
            .map(|c| format!("{} {} ({})", c.pid, c.comm, c.state))
            .collect::<Vec<_>>()
    );
}

// Catches: the environment not passed to the program (execve with an empty environment).
#[test]
fn programs_inherit_the_environment() {
    same_as_dash(
        OSH,
        "printenv OSH_TEST_VAR\nsh -c 'echo \"$HOME\"'\n",
        Compare::ALL,
        "a program started by the shell sees the shell's environment",
    );
}

// Catches: a shell that forks in a way that costs far more than fork + exec (or spins while waiting).
#[test]
fn two_hundred_commands_run_promptly() {
    let script = "true\n".repeat(200) + "echo done\n";
    let osh = run_script(OSH, &script);
    assert_eq!(
        osh.stdout, "done\n",
        "the script of 200 `true` then `echo done`"
    );
    assert!(
        osh.elapsed < Duration::from_millis(2500),
        "200 `true` commands took {:?}: each should cost about one fork, one exec and one wait \
         (well under 5 ms)",
        osh.elapsed
    );
}

// Catches: the shell buffering, capturing or truncating a program's output instead of letting it write to the shell's own standard output.
#[test]
fn a_flood_of_output_passes_through() {
    let osh = same_as_dash(
        OSH,
        "seq 1 200000\necho end\n",
        Compare::ALL,
        "a program writes 1.3 MB straight to the shell's standard output",
    );
    assert_eq!(
        osh.stdout.lines().count(),
        200_001,
        "`seq 1 200000` then `echo end` should print 200,001 lines on the shell's standard \
         output"
    );
}

// Catches: a shell that does not block in waitpid while its command runs (it reads and runs the next line at once).
#[test]
fn a_command_that_never_exits_holds_the_shell() {
    let mut shell = Driver::start(OSH);
    shell.run("true");
    shell.send("sleep 1000");
    shell.send("echo too early");
    // An event, not a delay: the shell blocked in a system call other than
    // `read` while its one live child is the `sleep`. A shell that does not
    // wait runs the `echo` and ends up blocked reading its next line.
    let pid = shell.pid();
    let waiting = hidden_shell::poll(hidden_shell::PATIENCE, || {
        let live: Vec<_> = hidden_shell::children_of(pid)
            .into_iter()
            .filter(|c| c.state != State::Zombie)
            .collect();
        let call = hidden_shell::blocked_in_syscall(pid)?;
        (live.len() == 1 && live[0].comm == "sleep" && call != libc::SYS_read).then_some(call)
    });
    let early = shell.output_within(Duration::from_millis(50));
    assert!(
        waiting.is_some() && early.is_empty(),
        "while `sleep 1000` runs in the foreground the shell must wait for it (blocked in \
         waitpid), not read and run `echo too early`; after {:?} its children are {:?}, it is \
         blocked in system call {:?} (0 = read), and it printed:\n{}",
        hidden_shell::PATIENCE,
        hidden_shell::children_of(pid),
        hidden_shell::blocked_in_syscall(pid),
        hidden_shell::indent(&early)
    );
    // The test ends here: the suite kills the shell and its `sleep` (a
    // bounded wait, never the command's own end).
}
