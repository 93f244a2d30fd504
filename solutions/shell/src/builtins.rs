//! Stages 3, 6 and 7: the commands the shell runs itself.
//!
//! A builtin runs inside the shell's own process, because it changes the
//! shell: `cd` changes the shell's working directory (a child's `chdir`
//! would change only the child's, which then exits), `exit` ends the
//! shell, `jobs`, `wait`, `fg` and `bg` work on the shell's own children.
//! Their redirections are applied around them by the shell (see
//! [`crate::Shell::run_builtin`]), so they simply print to standard output
//! and standard error. Errors are printed as `osh: NAME: message`, status 1.

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
    let target: PathBuf = match args {
        [] => match std::env::var_os("HOME") {
            Some(home) => home.into(),
            None => {
                eprintln!("osh: cd: HOME not set");
                return 1;
            }
        },
        [dash] if dash == "-" => match &shell.previous_dir {
            Some(previous) => previous.clone(),
            None => {
                eprintln!("osh: cd: OLDPWD not set");
                return 1;
            }
        },
        [dir] => dir.into(),
        _ => {
            eprintln!("osh: cd: too many arguments");
            return 1;
        }
    };
    let here = std::env::current_dir().ok();
    if let Err(err) = nix::unistd::chdir(&target) {
        eprintln!("osh: cd: {}: {}", target.display(), err.desc());
        return 1;
    }
    if args.first().is_some_and(|a| a == "-") {
        println!("{}", target.display());
    }
    shell.previous_dir = here;
    0
}
// ANCHOR_END: cd

// ANCHOR: pwd
/// `pwd`: prints the shell's working directory.
pub fn pwd(shell: &mut Shell, args: &[String]) -> i32 {
    let _ = (shell, args);
    match std::env::current_dir() {
        Ok(dir) => {
            println!("{}", dir.display());
            0
        }
        Err(err) => {
            eprintln!("osh: pwd: {err}");
            1
        }
    }
}
// ANCHOR_END: pwd

// ANCHOR: exit
/// `exit [N]`: ends the shell with status N (modulo 256), or with the
/// last command's status (`$?`) without an argument. A non-numeric N is
/// an error: `osh: exit: X: numeric argument required`, and the shell
/// exits with status 2.
pub fn exit(shell: &mut Shell, args: &[String]) -> Flow {
    match args.first() {
        None => Flow::Exit(shell.last_status),
        Some(arg) => match arg.parse::<i64>() {
            Ok(n) => Flow::Exit(n.rem_euclid(256) as i32),
            Err(_) => {
                eprintln!("osh: exit: {arg}: numeric argument required");
                Flow::Exit(2)
            }
        },
    }
}
// ANCHOR_END: exit

// ANCHOR: jobs
/// `jobs`: lists the jobs in the table, one line each:
/// `[N]  Running  TEXT` or `[N]  Stopped  TEXT` (two spaces around the state).
/// The shell reaps the table before running each line, so finished jobs
/// are already gone.
pub fn jobs(shell: &mut Shell, args: &[String]) -> i32 {
    let _ = args;
    for entry in &shell.jobs.entries {
        let state = match entry.state() {
            crate::jobs::JobState::Stopped(_) => "Stopped",
            crate::jobs::JobState::Running => "Running",
            crate::jobs::JobState::Done(_) => "Done",
        };
        println!("[{}]  {}  {}", entry.id, state, entry.text);
    }
    0
}
// ANCHOR_END: jobs

// ANCHOR: wait
/// `wait [%N]...`: waits for the given jobs (all background jobs without
/// an argument) to end, removes them from the table, and returns the last
/// one's status (0 without arguments, as in `sh`; 127 with a message for
/// an unknown job). Jobs that are stopped are not waited for.
pub fn wait(shell: &mut Shell, args: &[String]) -> i32 {
    let ids: Vec<Result<usize, String>> = if args.is_empty() {
        shell.jobs.entries.iter().map(|e| Ok(e.id)).collect()
    } else {
        args.iter().map(|a| shell.jobs.resolve(Some(a))).collect()
    };
    let mut status = 0;
    for id in ids {
        let id = match id {
            Ok(id) => id,
            Err(message) => {
                eprintln!("osh: wait: {message}");
                status = 127;
                continue;
            }
        };
        let Some(entry) = shell.jobs.get_mut(id) else {
            continue;
        };
        if matches!(entry.state(), crate::jobs::JobState::Stopped(_)) {
            continue;
        }
        if let Err(err) = crate::exec::wait_job(&mut entry.processes) {
            eprintln!("osh: wait: {}", err.desc());
        }
        if let crate::jobs::JobState::Done(code) = entry.state() {
            shell.jobs.remove(id);
            if !args.is_empty() {
                status = code;
            }
        }
    }
    status
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
    if !shell.interactive {
        eprintln!("osh: fg: no job control");
        return 1;
    }
    let id = match shell.jobs.resolve(args.first().map(String::as_str)) {
        Ok(id) => id,
        Err(message) => {
            eprintln!("osh: fg: {message}");
            return 1;
        }
    };
    let Some(mut entry) = shell.jobs.remove(id) else {
        return 1;
    };
    println!("{}", entry.text);
    exec_give_terminal_and_continue(&mut entry);
    shell.wait_foreground(entry)
}
// ANCHOR_END: fg

/// Gives the terminal to `entry`'s group and continues it.
fn exec_give_terminal_and_continue(entry: &mut crate::jobs::JobEntry) {
    crate::exec::give_terminal(entry.pgid);
    let _ = nix::sys::signal::killpg(entry.pgid, nix::sys::signal::Signal::SIGCONT);
    entry.mark_continued();
}

// ANCHOR: bg
/// `bg [%N]`: continues a stopped job (the most recent without an
/// argument) in the background, with SIGCONT to its process group, and
/// prints `[N] TEXT &` on standard output. Errors as for [`fg`] (on
/// standard error, status 1).
pub fn bg(shell: &mut Shell, args: &[String]) -> i32 {
    if !shell.interactive {
        eprintln!("osh: bg: no job control");
        return 1;
    }
    let id = match shell.jobs.resolve(args.first().map(String::as_str)) {
        Ok(id) => id,
        Err(message) => {
            eprintln!("osh: bg: {message}");
            return 1;
        }
    };
    let Some(entry) = shell.jobs.get_mut(id) else {
        return 1;
    };
    let _ = nix::sys::signal::killpg(entry.pgid, nix::sys::signal::Signal::SIGCONT);
    entry.mark_continued();
    println!("[{}] {} &", entry.id, entry.text);
    0
}
// ANCHOR_END: bg
