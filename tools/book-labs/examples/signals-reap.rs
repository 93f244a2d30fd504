//! Signals: reaping on SIGCHLD. Three children exit at once; a SIGCHLD
//! handler only sets a flag, and the main loop, seeing it, reaps in a loop
//! with WNOHANG, because one SIGCHLD may stand for several dead children.
// book-labs: run in tests

use nix::sys::signal::sigaction;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::unistd::{ForkResult, fork};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

// ANCHOR: reap_all
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

// Called from the main loop after the SIGCHLD flag (or self-pipe) fired.
// Returns how many children it reaped.
fn reap_all() -> usize {
    let mut reaped = 0;
    loop {
        let any_child = Pid::from_raw(-1);
        match waitpid(any_child, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => break, // children remain, none ended
            Ok(status) => {
                println!("reaped {status:?}");
                reaped += 1;
            }
            Err(_) => break, // ECHILD: no children at all
        }
    }
    reaped
}
// ANCHOR_END: reap_all

static CHILD_CHANGED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigchld(_signo: nix::libc::c_int) {
    CHILD_CHANGED.store(true, Ordering::SeqCst);
}

fn main() {
    let action = SigAction::new(
        SigHandler::Handler(on_sigchld),
        SaFlags::SA_RESTART | SaFlags::SA_NOCLDSTOP,
        SigSet::empty(),
    );
    // SAFETY: the handler only stores to an atomic: async-signal-safe.
    let old = unsafe { sigaction(Signal::SIGCHLD, &action) };
    old.expect("sigaction SIGCHLD");
    let children = 3;
    for i in 0..children {
        // SAFETY: single-threaded, and the child only calls exit.
        match unsafe { fork() }.expect("fork") {
            ForkResult::Child => std::process::exit(10 + i),
            ForkResult::Parent { .. } => {}
        }
    }
    let mut reaped = 0;
    let mut passes = 0;
    while reaped < children as usize {
        std::thread::sleep(Duration::from_millis(50)); // the "main loop"
        if CHILD_CHANGED.swap(false, Ordering::SeqCst) {
            passes += 1;
            reaped += reap_all();
        }
    }
    println!("{reaped} children reaped in {passes} pass(es) of reap_all");
}
