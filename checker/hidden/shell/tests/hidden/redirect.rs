//! Stage 4: redirections (`<`, `>`, `>>`, `2>`, `2>&1`).

use hidden_shell::{Compare, run_script, same_as_dash};

use crate::OSH;

// Catches: `>` opened without O_TRUNC (old contents survive) or with O_APPEND.
#[test]
fn output_redirect_truncates() {
    same_as_dash(
        OSH,
        "echo a rather long first line > f\necho short > f\ncat f\n",
        Compare::ALL,
        "`> f` empties the file first",
    );
}

// Catches: `>>` truncating the file, or not creating it.
#[test]
fn append_redirect_appends() {
    same_as_dash(
        OSH,
        "echo one >> f\necho two >> f\necho three >> f\ncat f\necho four > f\ncat f\n",
        Compare::ALL,
        "`>> f` creates the file if needed and writes at its end",
    );
}

// Catches: `<` not connected to standard input.
#[test]
fn input_redirect() {
    same_as_dash(
        OSH,
        "echo banana > f\necho apple >> f\nsort < f\nwc -l < f\n",
        Compare::ALL,
        "`< f` makes the file the command's standard input",
    );
}

// Catches: `2>` redirecting standard output (or nothing) instead of standard error.
#[test]
fn stderr_redirect() {
    same_as_dash(
        OSH,
        "ls /no/such/file 2> err\necho $?\nwc -l < err\nls /no/such/file 2> err > out\nwc -l < out\n",
        Compare::ALL,
        "`2> f` sends standard error (and only it) into the file",
    );
}

// Catches: `2>&1` applied before the other redirections instead of in the order written.
#[test]
fn stderr_to_stdout_in_order() {
    same_as_dash(
        OSH,
        "ls /no/such/file > both 2>&1\nwc -l < both\nls /no/such/file 2>&1 > only-out\nwc -c < only-out\n",
        Compare::OUTPUT_AND_STATUS,
        "`> f 2>&1` sends both outputs to f; `2>&1 > f` sends standard error to where standard \
         output was before (here, the shell's output), and only standard output to f",
    );
}

// Catches: a failed redirection killing the shell, running the command anyway, or a message without the file name.
#[test]
fn missing_input_file_is_reported() {
    let osh = run_script(OSH, "cat < no-such-file\necho $?\necho after\n");
    assert!(
        osh.stdout == "1\nafter\n"
            && osh
                .stderr
                .contains("no-such-file: No such file or directory"),
        "`cat < no-such-file` should print `osh: no-such-file: No such file or directory` on \
         standard error, not run cat, give status 1, and the shell reads on. It printed:\n{}\n\
         and on standard error:\n{}",
        hidden_shell::indent(&osh.stdout),
        hidden_shell::indent(&osh.stderr)
    );
}

// Catches: the descriptor returned by open left open after dup2 (the program inherits an extra descriptor).
#[test]
fn redirections_leave_no_extra_descriptor() {
    same_as_dash(
        OSH,
        "echo x > f\nls /proc/self/fd > out\ncat out\nls /proc/self/fd < f\nls /proc/self/fd 2> err\n",
        Compare::ALL,
        "a redirected program has descriptors 0, 1 and 2 (and 3, the one `ls` opens to read \
         /proc/self/fd) and no other",
    );
}

// Catches: a builtin's redirection not undone afterwards (later output lost in the file) or not applied.
#[test]
fn builtin_redirections_are_undone() {
    same_as_dash(
        OSH,
        "pwd > f\nwc -l < f\necho visible\ncd /no/such/dir 2> err\necho still visible\nwc -l < err\n",
        Compare::ALL,
        "a builtin's output goes to the file, and the shell's own output comes back after it",
    );
}

// Catches: files created with a wrong mode (0o644, 0 or 0o777) instead of 0o666 minus the umask: the shells run under umask 0, where 0o644 and 0o666 differ.
#[test]
fn created_files_have_the_usual_mode() {
    let script = "echo x > out\necho y >> app\nls 2> err\nstat -c %a out app err\n";
    let run = |program: &str| {
        let dir = hidden_shell::scratch_dir();
        hidden_shell::try_run_script_in(
            program,
            script,
            dir.path(),
            hidden_shell::PATIENCE,
            Some(0),
        )
        .unwrap_or_else(|message| panic!("{message}"))
    };
    let (dash, osh) = (run(hidden_shell::DASH), run(OSH));
    assert!(
        dash.stdout.ends_with("666\n666\n666\n"),
        "/bin/sh under umask 0 printed:\n{}",
        hidden_shell::indent(&dash.stdout)
    );
    assert_eq!(
        osh.stdout,
        dash.stdout,
        "under umask 0, the files that `> out`, `>> app` and `2> err` create should have \
         mode 666 (rw-rw-rw-, what /bin/sh gives them): open them with mode 0o666 and let the \
         umask take bits away; a mode like 0o644 only looks right under the usual umask 022. \
         The script:\n{}\nthe shell's standard error:\n{}",
        hidden_shell::indent(script),
        hidden_shell::indent(&osh.stderr)
    );
    same_as_dash(
        OSH,
        script,
        Compare::ALL,
        "files created by redirections have mode 0666 minus the umask",
    );
}
