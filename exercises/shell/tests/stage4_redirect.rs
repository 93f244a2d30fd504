//! Stage 4 visible tests: redirections `<`, `>`, `>>`, `2>` and `2>&1`,
//! applied left to right in the child (and around a builtin), and a file
//! that cannot be opened reported without killing the shell.
//!
//! The tests run the `osh` binary on a script in a scratch directory.
//! Run only this stage with `cargo test -p shell --test stage4_redirect`.

use rstest::rstest;

mod common;

use common::{Scratch, run_in};

#[test]
fn output_goes_to_a_file_and_the_shell_keeps_its_own() {
    let scratch = Scratch::new();
    let out = run_in(
        &scratch,
        "echo into the file > out.txt\necho on the screen\n",
    );
    assert_eq!(
        scratch.read("out.txt"),
        "into the file\n",
        "`> out.txt` creates the file and sends the command's standard output there\n\
         stderr:\n{}",
        out.stderr
    );
    assert_eq!(
        out.stdout, "on the screen\n",
        "only the redirected command writes to the file: the redirection happens in the \
         child, after fork, so the shell's own descriptor 1 never moves\nstderr:\n{}",
        out.stderr
    );
}

#[test]
fn truncate_and_append() {
    let scratch = Scratch::new();
    scratch.write("log", "old contents that must disappear\n");
    let out = run_in(
        &scratch,
        "echo one > log\necho two >> log\necho three >>log\n",
    );
    assert_eq!(
        scratch.read("log"),
        "one\ntwo\nthree\n",
        "`>` truncates (O_TRUNC), `>>` appends (O_APPEND), both create the file \
         (O_CREAT)\nstderr:\n{}",
        out.stderr
    );
}

#[test]
fn input_comes_from_a_file() {
    let scratch = Scratch::new();
    scratch.write("in.txt", "banana\napple\ncherry\n");
    let out = run_in(&scratch, "sort < in.txt\nwc -l <in.txt\n");
    assert_eq!(
        out.lines(),
        ["apple", "banana", "cherry", "3"],
        "`< in.txt` opens the file read-only and makes it the command's standard input\n\
         stderr:\n{}",
        out.stderr
    );
}

#[test]
fn standard_error_on_its_own() {
    let scratch = Scratch::new();
    let out = run_in(
        &scratch,
        "sh -c 'echo to-out; echo to-err >&2' 2> err.txt\n",
    );
    assert_eq!(
        out.stdout, "to-out\n",
        "standard output stays on the terminal"
    );
    assert_eq!(
        scratch.read("err.txt"),
        "to-err\n",
        "`2> err.txt` sends descriptor 2 (only) to the file\nstderr:\n{}",
        out.stderr
    );
}

#[rstest]
#[case::file_then_copy("> both.txt 2>&1", "to-out\nto-err\n", "")]
#[case::copy_then_file("2>&1 > both.txt", "to-out\n", "to-err\n")]
fn redirections_apply_left_to_right(
    #[case] redirects: &str,
    #[case] in_file: &str,
    #[case] on_stdout: &str,
) {
    let scratch = Scratch::new();
    let out = run_in(
        &scratch,
        &format!("sh -c 'echo to-out; echo to-err >&2' {redirects}\n"),
    );
    assert_eq!(
        scratch.read("both.txt"),
        in_file,
        "with `{redirects}`: `2>&1` is dup2(1, 2), a copy of descriptor 1 as it is at that \
         point of the list, not a lasting link\nstderr:\n{}",
        out.stderr
    );
    assert_eq!(
        out.stdout, on_stdout,
        "with `{redirects}`, the shell's standard output should receive {on_stdout:?}"
    );
}

#[test]
fn a_file_that_cannot_be_opened_fails_only_its_command() {
    let scratch = Scratch::new();
    let out = run_in(
        &scratch,
        "cat < missing.txt\necho \"status $?\"\necho hi > no/such/dir/f\necho \"status $?\"\n\
         echo still here\n",
    );
    assert_eq!(
        out.lines(),
        ["status 1", "status 1", "still here"],
        "a redirection that fails skips its command with status 1; the shell goes on\n\
         stderr:\n{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("missing.txt") && out.stderr.contains("No such file"),
        "the error should name the file and the reason; stderr was:\n{}",
        out.stderr
    );
}

#[test]
fn a_builtins_output_can_be_redirected_too() {
    let scratch = Scratch::new();
    let out = run_in(&scratch, "pwd > where.txt\necho after\n");
    let here = std::fs::canonicalize(&scratch.path).unwrap();
    assert_eq!(
        scratch.read("where.txt"),
        format!("{}\n", here.display()),
        "`pwd > where.txt` runs the builtin with descriptor 1 on the file\nstderr:\n{}",
        out.stderr
    );
    assert_eq!(
        out.stdout, "after\n",
        "after the builtin, the shell's own descriptor 1 must be back where it was"
    );
}
