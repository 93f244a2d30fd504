//! The shell's benchmark, built inside the workspace: the candidate and
//! the reference are both the solution. The checker builds `bench.rs` with
//! its own entry point, where `candidate` is the learner's crate.

extern crate learner as candidate;
extern crate learner as reference;

mod bench;

fn main() {
    bench::main();
}
