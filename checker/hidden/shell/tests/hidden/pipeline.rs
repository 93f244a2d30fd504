//! Stage 5: pipelines of any length.

use hidden_shell::{Compare, Driver, lingering_children, open_fds, same_as_dash};

use crate::OSH;

// Catches: a pipe not connecting the first command's output to the second's input.
#[test]
fn two_commands() {
    same_as_dash(
        OSH,
        "printf 'b\\na\\nc\\n' | sort\necho hello | tr a-z A-Z\n",
        Compare::ALL,
        "`a | b`: b reads what a writes",
    );
}

// Catches: pipelines limited to two commands, or the middle commands wired to the wrong pipes.
#[test]
fn long_pipelines() {
    same_as_dash(
        OSH,
        "seq 1 2000 | cat | cat | cat | cat | cat | cat | cat | cat | wc -l\n\
         seq 1 5 | tac | tr 1 x | sort | head -n 3\n",
        Compare::ALL,
        "a pipeline of ten commands",
    );
}

// Catches: a pipe's write end left open in the shell (or in a child), so the reader never sees end-of-file.
#[test]
fn pipelines_finish() {
    same_as_dash(
        OSH,
        "echo x | cat | cat\necho done\n",
        Compare::ALL,
        "`cat` ends when every copy of its pipe's write end is closed: in the shell, in the \
         writer (when it exits) and in every other child",
    );
}

// Catches: a pipe's read end left open in the shell, so a writer never gets SIGPIPE/EPIPE and runs forever.
#[test]
fn writer_stops_when_the_reader_is_gone() {
    same_as_dash(
        OSH,
        "yes | head -n 3\nseq 1 10000000 | head -n 2\n",
        Compare::OUTPUT_AND_STATUS,
        "when `head` exits, the pipe has no reader left: `yes` is stopped by SIGPIPE (or \
         EPIPE) only if no other copy of the read end is open",
    );
}

// Catches: `$?` taken from the first command of the pipeline instead of the last.
#[test]
fn status_is_the_last_commands() {
    same_as_dash(
        OSH,
        "false | true\necho $?\ntrue | false\necho $?\nsh -c 'exit 3' | sh -c 'exit 5'\necho $?\n\
         sh -c 'exit 3' | cat | sh -c 'exit 6'\n",
        Compare::ALL,
        "the status of a pipeline is its last command's",
    );
}

// Catches: waiting only for the first command of the pipeline (the next line starts before the last command ends).
#[test]
fn waits_for_every_command() {
    same_as_dash(
        OSH,
        "true | sh -c 'sleep 0.3; echo last'\necho next\n",
        Compare::ALL,
        "the shell waits for every command of a pipeline, the last one included",
    );
    let mut shell = Driver::start(OSH);
    shell.run("sh -c 'sleep 0.2' | true | sh -c 'sleep 0.3'");
    let children = lingering_children(shell.pid());
    assert!(
        children.is_empty(),
        "after the pipeline has finished, the shell still has children (a command it did not \
         wait for): {children:?}"
    );
}

// Catches: starting each command only after the previous one has finished (a pipeline must run all at once).
#[test]
fn commands_run_at_the_same_time() {
    // The first command waits for a file the last one creates: the pipeline
    // can only end if both run at once, however fast or slow the machine.
    let script = "sh -c 'until [ -e started ]; do sleep 0.01; done; echo both ran' | \
                  sh -c ': > started; cat'\n";
    let dir = hidden_shell::scratch_dir();
    let osh =
        hidden_shell::try_run_script_in(OSH, script, dir.path(), hidden_shell::PATIENCE, None)
            .unwrap_or_else(|message| {
                panic!(
                    "the first command of this pipeline waits until the last one has started; all \
                 the commands of a pipeline should be started before the shell waits for any \
                 of them: {message}"
                )
            });
    assert_eq!(osh.stdout, "both ran\n", "the pipeline's output");
}

// Catches: pipe descriptors leaking into children (a command sees other commands' pipe ends).
#[test]
fn children_get_no_extra_descriptors() {
    same_as_dash(
        OSH,
        "ls /proc/self/fd | cat\ntrue | ls /proc/self/fd | cat\ntrue | true | true | ls /proc/self/fd\n\
         ls /proc/self/fd | cat | cat | cat\n",
        Compare::ALL,
        "every command of a pipeline has only descriptors 0, 1 and 2 (and 3, which `ls` opens \
         to read /proc/self/fd)",
    );
}

// Catches: the shell closing the write ends but keeping its read ends (or the reverse): its descriptor table grows with every pipeline.
#[test]
fn the_shell_keeps_no_pipe_ends() {
    let mut shell = Driver::start(OSH);
    shell.run("true");
    let before = open_fds(shell.pid());
    for _ in 0..10 {
        shell.run("echo a | cat | cat > /dev/null");
        shell.run("true | true");
    }
    let after = open_fds(shell.pid());
    assert_eq!(
        after, before,
        "the shell's own open descriptors changed after 20 pipelines: every pipe end must be \
         closed in the shell once the children that use it are started"
    );
}

// Catches: a command's own redirections applied before (and so overridden by) the pipe's dup2.
#[test]
fn redirections_inside_pipelines() {
    same_as_dash(
        OSH,
        "echo inside > f\ncat < f | tr a-z A-Z\necho x | cat > g\ncat g\nls /no/such 2>&1 | wc -l\n",
        Compare::ALL,
        "a command's redirections apply after its pipe connections: `cat < f | ...` reads f, \
         `... | cat > g` writes g, `2>&1 |` sends errors down the pipe",
    );
}
