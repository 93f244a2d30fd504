//! oslings exercise 5 (the capstone): `osh`, a small Unix shell.
//!
//! Read the chapters "Processes", "Signals", "File descriptors" and
//! "Capstone: a shell" (which has the stages) in the book, then fill in the
//! `todo!()`s stage by stage. `cargo test -p shell` runs the visible tests;
//! `cargo run -p shell` (binary `osh`) starts the shell;
//! `cargo run -p checker -- shell` grades your work.
//!
//! | stage | where | what you build |
//! |---|---|---|
//! | 1 | [`lexer::tokenize`] | words, quotes, escapes, `$NAME` and `$?`, operators |
//! | 2 | [`exec::start_job`], [`exec::exec_program`], [`exec::wait_job`], [`exec::exit_code`] | fork, execvp, waitpid; `$?`, 127, 128+N |
//! | 3 | [`builtins::cd`], [`builtins::pwd`], [`builtins::exit`] | commands the shell runs itself |
//! | 4 | [`exec::apply_redirects`] | `<`, `>`, `>>`, `2>`, `2>&1` with `open` and `dup2` |
//! | 5 | [`exec::start_job`] again | pipelines of any length, no leaked descriptor |
//! | 6 | [`Shell::start_background`], [`jobs::JobTable::reap`], [`builtins::jobs`], [`builtins::wait`] | `cmd &` without zombies |
//! | 7 | [`Shell::init_job_control`], [`exec::reset_signals`], [`exec::give_terminal`], [`builtins::fg`], [`builtins::bg`] | process groups, the terminal, Ctrl-C and Ctrl-Z |
//!
//! The parser ([`parser`]) and the shell's main loop ([`shell`]) are given.
//!
//! A line goes through the shell like this:
//!
//! ```text
//! "ls -l | wc -l > n &"  --tokenize-->  [Word(ls) Word(-l) Pipe Word(wc) Word(-l) RedirectOut Word(n) Background]
//!                        --parse----->  Job { commands: [ls -l] [wc -l >n], background: true }
//!                        --run------->  builtin in the shell, or start_job (fork, exec) + wait_job
//! ```

pub mod builtins;
pub mod exec;
pub mod jobs;
pub mod lexer;
pub mod parser;
pub mod shell;

pub use lexer::{SyntaxError, Token, tokenize};
pub use parser::{Command, Job, Redirect, parse};
pub use shell::{Flow, Shell, main};
