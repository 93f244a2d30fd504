//! Stages 3, 6 and 7: the commands the shell runs itself.
//!
//! A builtin runs inside the shell's own process, because it changes the
//! shell: `cd` changes the shell's working directory (a child's `chdir`
//! would change only the child's, which then exits), `exit` ends the
//! shell, `jobs`, `wait`, `fg` and `bg` work on the shell's own children.
//! Their redirections are applied around them by the shell (see
//! [`crate::Shell::run_builtin`]), so they simply print to standard output
//! and standard error. Errors are printed as `osh: NAME: message`, status 1.

#[allow(unused_imports)] // you will want it
use std::path::PathBuf;

use crate::shell::{Flow, Shell};

/// The names of the builtins.
pub const BUILTINS: [&str; 7] = ["cd", "pwd", "exit", "jobs", "wait", "fg", "bg"];

/// Whether `name` is a builtin.
pub fn is_builtin(name: &str) -> bool {
    BUILTINS.contains(&name)
}

/// Runs the builtin `argv[0]` with arguments `argv[1..]`, in the shell.
///
/// # Panics
/// If `argv[0]` is not a builtin.
pub fn run(shell: &mut Shell, argv: &[String]) -> Flow {
    let args = &argv[1..];
    let status = match argv[0].as_str() {
        "cd" => cd(shell, args),
        "pwd" => pwd(shell, args),
        "exit" => return exit(shell, args),
        "jobs" => jobs(shell, args),
        "wait" => wait(shell, args),
        "fg" => fg(shell, args),
        "bg" => bg(shell, args),
        other => panic!("{other} is not a builtin"),
    };
    Flow::Continue(status)
}

// ANCHOR: cd
/// `cd [DIR]`: changes the shell's working directory to `DIR`, to `$HOME`
/// without an argument, or to the previous directory for `cd -` (which
/// also prints the directory it goes to, like `sh`). Remembers the
/// directory it left in `shell.previous_dir`.
///
/// Errors (status 1, message on standard error, directory unchanged):
/// `osh: cd: DIR: No such file or directory` (or the system's reason),
/// `osh: cd: HOME not set`, `osh: cd: OLDPWD not set` for `cd -` with no
/// previous directory, `osh: cd: too many arguments`.
pub fn cd(shell: &mut Shell, args: &[String]) -> i32 {
    let _ = (shell, args);
    todo!(
        "stage 3: change the shell's directory \
         (no argument: $HOME; `-`: the previous one)"
    )
}
// ANCHOR_END: cd

// ANCHOR: pwd
/// `pwd`: prints the shell's working directory.
pub fn pwd(shell: &mut Shell, args: &[String]) -> i32 {
    let _ = (shell, args);
    todo!("stage 3: print the shell's working directory")
}
// ANCHOR_END: pwd

// ANCHOR: exit
/// `exit [N]`: ends the shell with status N (modulo 256), or with the
/// last command's status (`$?`) without an argument. A non-numeric N is
/// an error: `osh: exit: X: numeric argument required`, and the shell
/// exits with status 2.
pub fn exit(shell: &mut Shell, args: &[String]) -> Flow {
    let _ = (shell, args);
    todo!("stage 3: end the shell with the given status, or with $?")
}
// ANCHOR_END: exit

// ANCHOR: jobs
/// `jobs`: lists the jobs in the table, one line each:
/// `[N]  Running  TEXT` or `[N]  Stopped  TEXT` (two spaces around the state).
/// The shell reaps the table before running each line, so finished jobs
/// are already gone.
pub fn jobs(shell: &mut Shell, args: &[String]) -> i32 {
    let _ = (shell, args);
    todo!("stage 6: list the jobs in shell.jobs")
}
// ANCHOR_END: jobs

// ANCHOR: wait
/// `wait [%N]...`: waits for the given jobs (all background jobs without
/// an argument) to end, removes them from the table, and returns the last
/// one's status (0 without arguments, as in `sh`; 127 with a message for
/// an unknown job). Jobs that are stopped are not waited for.
pub fn wait(shell: &mut Shell, args: &[String]) -> i32 {
    let _ = (shell, args);
    todo!("stage 6: wait for the given jobs (all without arguments)")
}
// ANCHOR_END: wait

// ANCHOR: fg
/// `fg [%N]`: brings a job (the most recent without an argument) to the
/// foreground: prints its text on standard output, continues it with
/// SIGCONT sent to its whole process group, and waits for it as for any
/// foreground job ([`Shell::wait_foreground`], which also hands it the
/// terminal). Returns its status. Errors, on standard error with status 1:
/// `osh: fg: no job control` when the shell is not interactive,
/// `osh: fg: %N: no such job`.
pub fn fg(shell: &mut Shell, args: &[String]) -> i32 {
    let _ = (shell, args);
    todo!("stage 7: continue a job in the foreground and wait for it")
}
// ANCHOR_END: fg

// ANCHOR: bg
/// `bg [%N]`: continues a stopped job (the most recent without an
/// argument) in the background, with SIGCONT to its process group, and
/// prints `[N] TEXT &` on standard output. Errors as for [`fg`] (on
/// standard error, status 1).
pub fn bg(shell: &mut Shell, args: &[String]) -> i32 {
    let _ = (shell, args);
    todo!("stage 7: continue a stopped job in the background")
}
// ANCHOR_END: bg
