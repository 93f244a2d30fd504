//! Processes: `fork` is called once and returns twice, in the parent with
//! the child's PID and in the child with 0.
// book-labs: run in tests

// ANCHOR: program
use nix::unistd::{ForkResult, fork};

fn main() -> nix::Result<()> {
    // SAFETY: see the note on threads below (this program has only one).
    match unsafe { fork() }? {
        ForkResult::Parent { child } => println!("I am the parent of {child}"),
        ForkResult::Child => println!("I am the child"),
    }
    // Both processes carry on from here. The parent reaps its child; in the
    // child, which has no children, `wait` just fails with ECHILD.
    let _ = nix::sys::wait::wait();
    Ok(())
}
// ANCHOR_END: program
