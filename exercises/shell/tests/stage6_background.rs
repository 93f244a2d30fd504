//! Stage 6 visible tests: `cmd &` starts a job without waiting for it;
//! `jobs` lists the jobs still running; `wait` waits for them; and every
//! finished background process is reaped, so that none stays a zombie.
//!
//! The tests run the `osh` binary on a script (not on a terminal, so there
//! is no job control and no `[N] PID` line); the zombie test feeds the shell
//! line by line and looks at its children in `/proc` between two lines.
//! Run only this stage with `cargo test -p shell --test stage6_background`.

mod common;

use common::{Scratch, Session, Stat, State, children_of, run, run_in};

#[test]
fn a_background_job_does_not_block_the_shell() {
    let out = run("sh -c 'sleep 0.5; echo background' &\necho foreground\nwait\necho after\n");
    assert_eq!(
        out.lines(),
        ["foreground", "background", "after"],
        "`&` starts the job and goes straight on to the next line (`foreground` comes \
         first); `wait` then waits for the job (`background` comes before `after`)\n\
         stderr:\n{}",
        out.stderr
    );
}

#[test]
fn jobs_lists_what_still_runs() {
    let out = run("sleep 0.5 &\njobs\nwait\njobs\necho end\n");
    assert_eq!(
        out.lines(),
        ["[1]  Running  sleep 0.5 &", "end"],
        "`jobs` prints `[N]  Running  TEXT` for each job still running (two spaces around \
         the state); after `wait` the table is empty\nstderr:\n{}",
        out.stderr
    );
}

#[test]
fn wait_waits_for_every_background_job() {
    let scratch = Scratch::new();
    let out = run_in(
        &scratch,
        "sh -c 'sleep 0.3; echo one > one.txt' &\n\
         sh -c 'sleep 0.2; echo two > two.txt' &\n\
         wait\n\
         echo \"status $?\"\n\
         cat one.txt two.txt\n",
    );
    assert_eq!(
        out.lines(),
        ["status 0", "one", "two"],
        "`wait` without arguments returns (with status 0) only once every background job \
         has ended\nstderr:\n{}",
        out.stderr
    );
}

#[test]
fn wait_for_one_job_returns_its_status() {
    let out = run(
        "sh -c 'sleep 0.2; exit 4' &\nsleep 1 >/dev/null 2>&1 &\nwait %1\necho \"status $?\"\n",
    );
    assert_eq!(
        out.lines(),
        ["status 4"],
        "`wait %1` waits for job 1 only and returns its status\nstderr:\n{}",
        out.stderr
    );
}

#[test]
fn finished_jobs_leave_the_table() {
    let out = run("true &\nsh -c 'exit 3' &\nsleep 0.3\njobs\necho \"status $?\"\n");
    assert_eq!(
        out.lines(),
        ["status 0"],
        "jobs that have ended are reaped before the next line is read and removed from \
         the table, so `jobs` lists nothing\nstderr:\n{}",
        out.stderr
    );
}

#[test]
fn no_background_job_stays_a_zombie() {
    let scratch = Scratch::new();
    let mut shell = Session::start(&scratch);
    shell.send("true &\ntrue &\nsh -c 'exit 3' &\nls /nonexistent 2>/dev/null &\n");
    // By the end of this foreground sleep every background job has ended;
    // the shell reaps before reading the next line.
    shell.send("sleep 0.3\necho checkpoint\n");
    shell.expect_line("checkpoint", "the shell should run `echo checkpoint`");
    // The shell now waits for its next line. None of its children may be a
    // zombie (state Z): ended, but its status never collected by waitpid.
    let zombies: Vec<Stat> = children_of(shell.pid())
        .into_iter()
        .filter(|s| s.state == State::Zombie)
        .collect();
    if !zombies.is_empty() {
        shell.fail(&format!(
            "the shell has {} zombie children: {zombies:?}. Before each line, reap every \
             child that has ended with waitpid(-1 or the job's pids, WNOHANG), in a loop",
            zombies.len()
        ));
    }
    let out = shell.finish();
    assert_eq!(out.code(), 0, "stderr:\n{}", out.stderr);
}
