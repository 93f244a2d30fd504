//! Stage 3: builtins (`cd`, `pwd`, `exit`), which run inside the shell.

use hidden_shell::{Compare, run_script, same_as_dash};

use crate::OSH;

// Catches: `cd` run in a child process (the shell's own directory never changes).
#[test]
fn cd_changes_the_shells_directory() {
    same_as_dash(
        OSH,
        "mkdir -p sub/inner\ncd sub\nls\ncd inner\nls ..\ncd /usr\npwd\ncd share\npwd\n",
        Compare::ALL,
        "`cd` changes the directory of the shell itself, so the commands after it (and `pwd`) \
         run there",
    );
}

// Catches: `cd` without an argument failing or staying put instead of going to $HOME.
#[test]
fn cd_without_argument_goes_home() {
    same_as_dash(
        OSH,
        "cd /proc\ncd\npwd\necho $?\n",
        Compare::ALL,
        "`cd` alone goes to $HOME (here /usr)",
    );
}

// Catches: `cd -` not going back, not printing the directory, or forgetting which one it came from.
#[test]
fn cd_dash_goes_back_and_prints() {
    same_as_dash(
        OSH,
        "cd /usr\ncd /proc\ncd -\npwd\ncd -\npwd\n",
        Compare::ALL,
        "`cd -` goes to the previous directory and prints it; twice goes back and forth",
    );
}

// Catches: a failing `cd` killing the shell, reporting status 0, printing nothing, or changing the directory.
#[test]
fn cd_to_a_missing_directory_is_an_error() {
    let osh = run_script(
        OSH,
        "cd /usr\ncd /no/such/directory\necho $?\npwd\ncd -\necho $?\n",
    );
    let lines: Vec<&str> = osh.stdout.lines().collect();
    assert!(
        lines.len() == 4
            && lines[0] != "0"
            && lines[1] == "/usr"
            && lines[3] == "0"
            && !osh.stderr.trim().is_empty(),
        "after `cd /usr`, `cd /no/such/directory` should fail with a message on standard \
         error and a non-zero status, leave the shell in /usr, and leave /usr's previous \
         directory for `cd -`. The shell printed:\n{}\nand on standard error:\n{}",
        hidden_shell::indent(&osh.stdout),
        hidden_shell::indent(&osh.stderr)
    );
    same_as_dash(
        OSH,
        "cd /usr\ncd /proc\ncd /no/such/directory\ncd -\npwd\n",
        Compare::ALL,
        "a `cd` that fails changes nothing, not even where `cd -` goes back to: after `cd \
         /usr`, `cd /proc` and a failed `cd /no/such/directory`, `cd -` goes to /usr. Store \
         the directory you leave in `previous_dir` only after chdir succeeded",
    );
}

// Catches: `exit N` ignoring N, or the lines after `exit` still running.
#[test]
fn exit_with_a_status() {
    same_as_dash(
        OSH,
        "echo before\nexit 42\necho after\n",
        Compare::ALL,
        "`exit 42` ends the shell at once with status 42",
    );
    same_as_dash(
        OSH,
        "exit 300\n",
        Compare::ALL,
        "`exit 300` is status 300 mod 256 = 44",
    );
}

// Catches: `exit` without an argument exiting with 0 instead of the last command's status.
#[test]
fn exit_without_argument_keeps_the_last_status() {
    same_as_dash(
        OSH,
        "sh -c 'exit 5'\nexit\necho not reached\n",
        Compare::ALL,
        "`exit` alone exits with `$?`, the last command's status",
    );
    same_as_dash(
        OSH,
        "false\nexit\n",
        Compare::ALL,
        "`exit` alone after `false`",
    );
}

// Catches: `pwd` printing something other than the directory the shell is in.
#[test]
fn pwd_prints_the_working_directory() {
    same_as_dash(
        OSH,
        "cd /usr/share\npwd\ncd ..\npwd\ncd /\npwd\n",
        Compare::ALL,
        "`pwd` prints the shell's working directory",
    );
}

// Catches: builtins looked up as programs (`exit` through PATH fails with 127) or run in a child.
#[test]
fn exit_is_not_a_program() {
    let osh = run_script(OSH, "exit 9\n");
    assert_eq!(
        (osh.status, osh.stderr.trim()),
        (9, ""),
        "the script `exit 9` should end the shell with status 9 and no message"
    );
}
