//! Stage 6: background jobs, `jobs` and `wait`, and no zombies.

use std::time::Duration;

use hidden_shell::{
    Compare, Driver, PATIENCE, State, children_of, lingering_children, poll, proc_info,
    same_as_dash, session_members,
};

use crate::OSH;

/// The pid of the shell's child named `comm`, waiting for it to appear.
fn child_named(shell: &Driver, comm: &str) -> i32 {
    poll(PATIENCE, || {
        children_of(shell.pid())
            .into_iter()
            .find(|c| c.comm == comm)
            .map(|c| c.pid)
    })
    .unwrap_or_else(|| panic!("the shell has no child named `{comm}`"))
}

/// Waits until process `pid` has exited (is a zombie or gone).
fn wait_until_exited(pid: i32) {
    poll(PATIENCE, || {
        matches!(proc_info(pid).map(|p| p.state), None | Some(State::Zombie)).then_some(())
    })
    .unwrap_or_else(|| panic!("process {pid} did not exit"));
}

// Catches: the shell waiting for a job started with `&`.
#[test]
fn background_jobs_do_not_block_the_shell() {
    let mut shell = Driver::start(OSH);
    // A job that never ends by itself: a shell that waits for it never
    // reads the next line, whatever the machine's speed.
    shell.send("sleep 1000 &");
    if let Err(message) = shell.try_run("echo meanwhile") {
        panic!(
            "after `sleep 1000 &` the shell should read and run the next line at once (a job \
             started with `&` is not waited for), but: {message}"
        );
    }
}

// Catches: finished background jobs left as zombies (never reaped with waitpid).
#[test]
fn finished_jobs_are_reaped() {
    let mut shell = Driver::start(OSH);
    shell.run("sleep 0.1 &");
    let pid = child_named(&shell, "sleep");
    wait_until_exited(pid);
    shell.run("true");
    shell.run("true");
    let zombies: Vec<_> = lingering_children(shell.pid())
        .into_iter()
        .filter(|c| c.state == State::Zombie)
        .collect();
    assert!(
        zombies.is_empty(),
        "`sleep 0.1 &` has ended and the shell has read two more lines, but it still has \
         zombie children (their status was never collected): {zombies:?}"
    );
}

// Catches: reaping at most one finished job per call (one waitpid(-1, WNOHANG) instead of a loop over every job), and removing finished jobs from the table by index so that the next one is skipped.
#[test]
fn many_jobs_are_all_reaped() {
    let mut shell = Driver::start(OSH);
    // The jobs cannot end before the test creates `go`: when they do, the
    // shell is waiting for its next line, and only the lines after that can
    // reap them, whatever the machine's load.
    for _ in 0..15 {
        shell.send("sh -c 'until [ -e go ]; do sleep 0.01; done' &");
    }
    shell.run("true");
    std::fs::write(shell.dir.path().join("go"), "").expect("cannot create the file `go`");
    let ended = poll(PATIENCE, || {
        let children = children_of(shell.pid());
        children
            .iter()
            .all(|c| c.state == State::Zombie)
            .then_some(children.len())
    });
    assert!(
        ended.is_some(),
        "15 background jobs were told to end, but after {PATIENCE:?} the shell still has \
         children that are not zombies: {:?}",
        children_of(shell.pid())
    );
    // One line (`jobs`): the shell reaps before it, and must reap all 15.
    let jobs = shell.run("jobs");
    let listed = jobs.lines().count();
    assert!(
        listed == 0,
        "all 15 background jobs had ended before the shell read `jobs`, but `jobs` still \
         listed {listed} of them:\n{}\nBefore each line, `reap` must collect every finished \
         process (loop over every job and every process, not one waitpid per call), and remove \
         every finished job from the table (removing entries while walking it by index skips \
         the one that slides into the removed one's place).",
        hidden_shell::indent(&jobs)
    );
    let left = lingering_children(shell.pid());
    assert!(
        left.is_empty(),
        "15 background jobs had ended before the shell read its last two lines, but {} of its \
         children are still zombies: {left:?}. `reap` must collect every finished child each \
         time it is called, not one.",
        left.len()
    );
}

// Catches: `reap` collecting only the first process of each job: a background pipeline leaves the others as zombies and `jobs` shows it Running forever.
#[test]
fn a_background_pipeline_is_reaped_whole() {
    let mut shell = Driver::start(OSH);
    shell.run("true | sh -c 'exit 3' | true &");
    let ended = poll(PATIENCE, || {
        let children = children_of(shell.pid());
        children
            .iter()
            .all(|c| c.state == State::Zombie)
            .then_some(())
    });
    assert!(
        ended.is_some(),
        "the background pipeline `true | sh -c 'exit 3' | true` did not end within \
         {PATIENCE:?}: {:?}",
        children_of(shell.pid())
    );
    shell.run("true");
    let jobs = shell.run("jobs");
    let left = lingering_children(shell.pid());
    assert!(
        jobs.is_empty() && left.is_empty(),
        "every process of the background pipeline `true | sh -c 'exit 3' | true &` has ended, \
         but `jobs` printed:\n{}\nand the shell's children still there are: {left:?}. A job \
         is done when all its processes are: `reap` must waitpid every process of every job, \
         not only the first (the group leader).",
        hidden_shell::indent(&jobs)
    );
}

// Catches: `wait` returning before the background jobs end.
#[test]
fn wait_waits_for_background_jobs() {
    // Job one ends after job two by an event, not by sleeping longer: on a
    // loaded machine a 0.1 s head start can vanish and swap their lines.
    same_as_dash(
        OSH,
        "sh -c 'until [ -e two.done ]; do sleep 0.02; done; sleep 0.1; echo job one' &\n\
         sh -c 'sleep 0.2; echo job two; : > two.done' &\n\
         wait\n\
         echo after wait\n",
        Compare::ALL,
        "`wait` returns once every background job has ended",
    );
}

// Catches: `wait %N` not returning the job's exit status, or waiting for every job.
#[test]
fn wait_for_one_job_gives_its_status() {
    // Job 2 never ends by itself: a `wait %1` that waits for it never returns.
    let script = "sh -c 'sleep 0.1; exit 3' &\nsleep 1000 &\nwait %1\necho $?\n";
    let dir = hidden_shell::scratch_dir();
    let osh = hidden_shell::try_run_script_in(OSH, script, dir.path(), PATIENCE, None)
        .unwrap_or_else(|message| {
            panic!("`wait %1` should wait for job 1 only, not for job 2 (`sleep 1000`): {message}")
        });
    assert_eq!(
        osh.stdout,
        "3\n",
        "`wait %1` waits for job 1 only and its status is that job's exit status (3). \
         Standard error:\n{}",
        hidden_shell::indent(&osh.stderr)
    );
}

// Catches: `jobs` missing a running job, or still listing jobs that have finished.
#[test]
fn jobs_lists_running_jobs() {
    let mut shell = Driver::start(OSH);
    shell.run("sleep 5 &");
    shell.run("sleep 0.1 &");
    // Wait for the short job to end: until the long sleep is the shell's one
    // live child. (On a loaded machine the short one can start and end
    // before this test looks, so waiting to see it run would be a race.)
    poll(PATIENCE, || {
        let live: Vec<_> = children_of(shell.pid())
            .into_iter()
            .filter(|c| c.state != State::Zombie)
            .collect();
        (live.len() == 1 && live[0].comm == "sleep").then_some(())
    })
    .unwrap_or_else(|| {
        panic!(
            "after `sleep 5 &` and `sleep 0.1 &`, the shell should have one child left \
             running, the `sleep 5`; it has: {:?}",
            children_of(shell.pid())
                .iter()
                .map(|c| (c.pid, c.comm.clone(), c.state))
                .collect::<Vec<_>>()
        )
    });
    let jobs = shell.run("jobs");
    let lines: Vec<&str> = jobs.lines().collect();
    assert!(
        lines.len() == 1
            && lines[0].contains("[1]")
            && lines[0].contains("Running")
            && lines[0].contains("sleep 5"),
        "with `sleep 5 &` running and `sleep 0.1 &` finished, `jobs` should print one line, \
         like `[1]  Running  sleep 5 &`; it printed:\n{}",
        hidden_shell::indent(&jobs)
    );
}

// Catches: a background job's output lost, or `$?` after `cmd &` not 0.
#[test]
fn background_job_output_and_status() {
    same_as_dash(
        OSH,
        "sh -c 'sleep 0.3; echo from the job; exit 4' &\necho $?\nwait\n",
        Compare::ALL,
        "a background job writes to the shell's output; starting it has status 0",
    );
}

// Catches: a suite that leaks processes: proves that a shell that leaves `sleep 1000 &` running leaves nothing behind once the test ends (the checker would report `leaked`).
#[test]
fn a_job_left_running_is_cleaned_up() {
    let mut shell = Driver::start(OSH);
    shell.run("sleep 1000 &");
    let sleeper = child_named(&shell, "sleep");
    let status = shell.finish();
    assert_eq!(
        status, 0,
        "the shell's status after `sleep 1000 &` and the end of its input"
    );
    let session = shell.pid();
    drop(shell);
    let left = session_members(session);
    assert!(
        left.is_empty() && proc_info(sleeper).is_none_or(|p| p.state == State::Zombie),
        "processes of the shell's session survived the end of the test: {left:?}"
    );
}

// Catches: a shell that panics or exits when `fork` fails (an `unwrap()` on
// the fork's result) instead of reporting the error and reading on. Under
// the checker every test is capped at a few hundred processes, so the later
// `sleep 100 &` lines fail with EAGAIN; without a cap they all start, and
// the test's session is killed at its end either way. `exit 42` is a builtin,
// so it needs no fork to prove the shell is still reading.
#[test]
fn a_failed_fork_is_reported_and_the_shell_reads_on() {
    let mut script = "sleep 100 &\n".repeat(600);
    script.push_str("exit 42\n");
    // Some 500 forks and execs: seconds on a loaded machine, hence a generous
    // bound (the checker gives this test 30 s, see exercise.toml).
    let dir = hidden_shell::scratch_dir();
    let shell = hidden_shell::run_script_in(OSH, &script, dir.path(), Duration::from_secs(25));
    assert_eq!(
        shell.status,
        42,
        "after starting 600 background jobs (under the checker, fork fails with EAGAIN \
         once its process cap is reached), the shell should still run `exit 42`; it ended \
         with status {} instead. Standard error (last lines):\n{}",
        shell.status,
        hidden_shell::indent(&{
            let lines: Vec<&str> = shell.stderr.lines().collect();
            lines[lines.len().saturating_sub(5)..].join("\n")
        })
    );
}
