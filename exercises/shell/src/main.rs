//! `osh`: the shell as a program. It reads commands from standard input
//! (interactively, with a prompt and job control, when that is a terminal)
//! and exits with the status of the last command.

fn main() {
    std::process::exit(shell::main());
}
