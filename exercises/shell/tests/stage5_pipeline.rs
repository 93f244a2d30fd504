//! Stage 5 visible tests: pipelines of any length. Every command runs at
//! the same time as the others, the shell waits for all of them, the
//! pipeline's status is the last command's, and no pipe descriptor leaks
//! into a child or stays open in the shell.
//!
//! The tests run the `osh` binary on a script; every run has a 5 s deadline,
//! so a pipeline that never sees end of file fails instead of hanging.
//! Run only this stage with `cargo test -p shell --test stage5_pipeline`.

use rstest::rstest;

mod common;

use common::{Scratch, run, run_in};

#[rstest]
#[case::two("echo hello | tr a-z A-Z\n", "HELLO")]
#[case::three("printf 'b\\na\\nb\\n' | sort | uniq\n", "a\nb")]
#[case::with_redirections_at_both_ends(
    "sort < in.txt | head -n 1 > out.txt\ncat out.txt\n",
    "apple"
)]
fn output_flows_down_the_pipeline(#[case] script: &str, #[case] expected: &str) {
    let scratch = Scratch::new();
    scratch.write("in.txt", "pear\napple\n");
    let out = run_in(&scratch, script);
    assert_eq!(
        out.stdout.trim_end(),
        expected,
        "each command's standard output should be the next one's standard input (and a \
         command's own redirections apply after the pipe's)\nscript:\n{script}stderr:\n{}",
        out.stderr
    );
}

#[test]
fn a_long_pipeline_ends() {
    let cats = vec!["cat"; 20].join(" | ");
    let out = run(&format!("echo through twenty cats | {cats}\necho done\n"));
    assert_eq!(
        out.lines(),
        ["through twenty cats", "done"],
        "a pipeline of 21 commands should end: every command sees end of file once the \
         one before it exits, which needs every other copy of each write end closed\n\
         stderr:\n{}",
        out.stderr
    );
}

#[test]
fn the_commands_run_at_the_same_time() {
    // 200,000 lines is far more than a pipe holds (64 KiB): if the shell
    // waited for `seq` to finish before starting `wc`, `seq` would block on
    // a full pipe forever.
    let out = run("seq 1 200000 | cat | wc -l\n");
    assert_eq!(
        out.stdout.trim(),
        "200000",
        "start every command of the pipeline before waiting for any of them\n\
         stderr:\n{}",
        out.stderr
    );
}

#[rstest]
#[case::last_fails("true | false", 1)]
#[case::first_fails("false | true", 0)]
#[case::last_code("echo x | sh -c 'cat >/dev/null; exit 9'", 9)]
fn the_status_is_the_last_commands(#[case] line: &str, #[case] expected: i32) {
    let out = run(&format!("{line}\necho \"status $?\"\n"));
    assert_eq!(
        out.lines(),
        [format!("status {expected}")],
        "the status of `{line}` is the status of its last command\nstderr:\n{}",
        out.stderr
    );
}

#[test]
fn the_shell_waits_for_every_command_not_only_one() {
    let scratch = Scratch::new();
    let out = run_in(
        &scratch,
        "sh -c 'sleep 0.3; echo first > first.txt' | true\n\
         cat first.txt\n\
         true | sh -c 'sleep 0.3; echo last > last.txt'\n\
         cat last.txt\n",
    );
    assert_eq!(
        out.lines(),
        ["first", "last"],
        "the shell must wait for every process of a pipeline before the next line: the \
         file written by a slow first (or last) command should exist when the next line \
         runs\nstderr:\n{}",
        out.stderr
    );
}

#[test]
fn no_pipe_descriptor_leaks_into_the_commands() {
    // `ls /proc/self/fd` lists the descriptors of `ls` itself: 0, 1, 2 and
    // the directory it opened to list them (3). The shell was started with
    // nothing else open, so anything more is a pipe end the shell leaked.
    let out = run("echo a | ls /proc/self/fd | cat\n\
         ls /proc/self/fd | cat | cat\n\
         echo done | cat\n\
         ls /proc/self/fd\n");
    let lines = out.lines();
    assert_eq!(
        lines,
        [
            "0", "1", "2", "3", "0", "1", "2", "3", "done", "0", "1", "2", "3"
        ],
        "a command in a pipeline should have exactly descriptors 0, 1 and 2 (`ls` adds 3): \
         close both ends of every pipe in each child after dup2, and in the shell after \
         the fork; and after a pipeline the shell itself must hold no pipe end (the last \
         `ls` inherits what the shell has)\nstderr:\n{}",
        out.stderr
    );
}
