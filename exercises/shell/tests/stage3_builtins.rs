//! Stage 3 visible tests: the builtins `cd` (a directory, `$HOME` without
//! an argument, `-` for the previous one), `pwd` and `exit [N]`, run in the
//! shell's own process so that they change the shell itself.
//!
//! The tests run the `osh` binary on a script, in a scratch directory that
//! is also `$HOME`. Run only this stage with
//! `cargo test -p shell --test stage3_builtins`.

use std::fs;

use rstest::rstest;

mod common;

use common::{Scratch, run_in};

/// The canonical path of a scratch directory (`/tmp` may be a symlink).
fn real(path: &std::path::Path) -> String {
    fs::canonicalize(path)
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn cd_changes_the_shells_own_directory() {
    let scratch = Scratch::new();
    fs::create_dir(scratch.join("sub")).unwrap();
    let out = run_in(&scratch, "cd sub\npwd\n/bin/pwd\n");
    let sub = real(&scratch.join("sub"));
    assert_eq!(
        out.lines(),
        [sub.as_str(), sub.as_str()],
        "after `cd sub`, both the builtin `pwd` and the program /bin/pwd (a child, which \
         inherits the shell's directory) should print the new directory. If they print \
         the old one, `cd` ran in a child process, whose chdir dies with it\nstderr:\n{}",
        out.stderr
    );
}

#[test]
fn cd_without_an_argument_goes_home() {
    let scratch = Scratch::new();
    let out = run_in(&scratch, "cd /\ncd\npwd\n");
    assert_eq!(
        out.lines(),
        [real(&scratch.path)],
        "`cd` with no argument goes to $HOME (here the test's scratch directory)\n\
         stderr:\n{}",
        out.stderr
    );
}

#[test]
fn cd_dash_goes_back_and_prints_where() {
    let scratch = Scratch::new();
    fs::create_dir(scratch.join("a")).unwrap();
    let out = run_in(&scratch, "cd a\ncd /\ncd -\npwd\n");
    let a = real(&scratch.join("a"));
    assert_eq!(
        out.lines(),
        [a.as_str(), a.as_str()],
        "`cd -` goes back to the directory `cd` left last, and prints it (as sh does)\n\
         stderr:\n{}",
        out.stderr
    );
}

#[test]
fn a_failing_cd_reports_and_changes_nothing() {
    let scratch = Scratch::new();
    let out = run_in(&scratch, "cd /no/such/dir\necho \"status $?\"\npwd\n");
    assert_eq!(
        out.lines(),
        ["status 1".to_string(), real(&scratch.path)],
        "`cd` into a missing directory fails with status 1 and leaves the directory \
         unchanged; the shell goes on\nstderr:\n{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("cd") && out.stderr.contains("/no/such/dir"),
        "the error message should name `cd` and the directory; stderr was:\n{}",
        out.stderr
    );
}

#[rstest]
#[case::a_number("exit 3", 3)]
#[case::zero("false\nexit 0", 0)]
#[case::modulo_256("exit 300", 300 % 256)]
#[case::no_argument_keeps_the_last_status("sh -c 'exit 5'\nexit", 5)]
fn exit_ends_the_shell_at_once(#[case] script: &str, #[case] expected: i32) {
    let scratch = Scratch::new();
    let out = run_in(&scratch, &format!("{script}\necho not reached\n"));
    assert_eq!(
        out.stdout, "",
        "nothing after `exit` may run\nstderr:\n{}",
        out.stderr
    );
    assert_eq!(
        out.code(),
        expected,
        "the shell's exit status after:\n{script}\nstderr:\n{}",
        out.stderr
    );
}

#[test]
fn builtins_work_from_a_script_and_keep_their_state() {
    let scratch = Scratch::new();
    fs::create_dir_all(scratch.join("x/y")).unwrap();
    let out = run_in(&scratch, "cd x\ncd y\ncd ..\npwd\nexit 4\n");
    assert_eq!(
        out.lines(),
        [real(&scratch.join("x"))],
        "relative `cd`s build on each other\nstderr:\n{}",
        out.stderr
    );
    assert_eq!(out.code(), 4);
}
