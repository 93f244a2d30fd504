//! Stage 2 visible tests: `osh` runs programs (fork, execvp, waitpid), one
//! after the other, keeps each one's status in `$?`, reports a command that
//! does not exist with status 127, a child killed by signal N as 128 + N,
//! and goes on after a syntax error.
//!
//! The tests run the `osh` binary on a script fed to its standard input.
//! Run only this stage with `cargo test -p shell --test stage2_run`.

use rstest::rstest;

mod common;

use common::run;

#[test]
fn runs_a_program_with_its_arguments() {
    let out = run("echo hello world\nprintf '%s|' 'one arg' two\n");
    assert_eq!(
        out.stdout, "hello world\none arg|two|",
        "osh should run /bin/echo and /usr/bin/printf with the words of the line as \
         their arguments (argv[0] is the program's name)\nstderr:\n{}",
        out.stderr
    );
    assert_eq!(out.code(), 0);
}

#[test]
fn commands_run_one_after_the_other() {
    let out = run("sh -c 'sleep 0.2; echo first'\necho second\n");
    assert_eq!(
        out.lines(),
        ["first", "second"],
        "the shell must wait (waitpid) for each command before reading the next line\n\
         stderr:\n{}",
        out.stderr
    );
}

#[rstest]
#[case::success("true", 0)]
#[case::failure("false", 1)]
#[case::any_code("sh -c 'exit 7'", 7)]
#[case::killed_by_sigterm("sh -c 'kill -TERM $$'", 128 + 15)]
#[case::killed_by_sigkill("sh -c 'kill -KILL $$'", 128 + 9)]
fn dollar_question_is_the_last_status(#[case] command: &str, #[case] expected: i32) {
    let out = run(&format!("{command}\necho \"status $?\"\n"));
    assert_eq!(
        out.lines(),
        [format!("status {expected}")],
        "after `{command}`, $? should be {expected} (an exit code as it is; a death by \
         signal N as 128 + N)\nstderr:\n{}",
        out.stderr
    );
}

#[test]
fn a_missing_command_is_127_and_a_message() {
    let out = run("no-such-command-here arg\necho \"status $?\"\necho still running\n");
    assert_eq!(
        out.lines(),
        ["status 127", "still running"],
        "a command that cannot be found gives status 127, and the shell goes on\n\
         stderr:\n{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("no-such-command-here") && out.stderr.contains("not found"),
        "osh should say on standard error that `no-such-command-here` was not found; \
         stderr was:\n{}",
        out.stderr
    );
}

#[test]
fn the_shell_exits_with_the_last_status() {
    let out = run("true\nsh -c 'exit 3'\n");
    assert_eq!(
        out.code(),
        3,
        "at the end of its input, the shell exits with the status of the last command\n\
         stderr:\n{}",
        out.stderr
    );
}

#[test]
fn a_syntax_error_does_not_stop_the_shell() {
    let out = run("echo 'unterminated\necho \"status $?\"\necho after\n");
    assert_eq!(
        out.lines(),
        ["status 2", "after"],
        "a line with a syntax error runs nothing, sets $? to 2, and the shell reads the \
         next line\nstderr:\n{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("osh: syntax error"),
        "the error should be reported on standard error as `osh: syntax error...`; stderr \
         was:\n{}",
        out.stderr
    );
}
