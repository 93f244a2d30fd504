//! The book's lab programs live in `examples/`, one file per lab, each
//! included into its chapter by anchor; `cargo test` compiles every one and
//! runs the quick ones (see `tests/`). Run a lab with
//! `cargo run -p book-labs --example <name>`.
