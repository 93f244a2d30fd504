//! The shell under test, as a program: the learner's `main` (the reference
//! solution's inside the workspace).

fn main() {
    std::process::exit(learner::main());
}
