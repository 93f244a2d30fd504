//! Signals, lab "a Rust program that shuts down cleanly": a "service" that
//! works in a loop, catches SIGTERM and SIGINT with a handler that only sets
//! an `AtomicBool`, finishes its current request and exits with status 0.
//! It runs until signalled, so the tests only compile it.

// ANCHOR: program
use nix::sys::signal::sigaction;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::unistd::getpid;
use std::sync::atomic::{AtomicBool, Ordering};
use std::{thread::sleep, time::Duration};

static STOP: AtomicBool = AtomicBool::new(false);

// Runs in the middle of whatever main was doing: async-signal-safe work only.
extern "C" fn on_signal(_signo: nix::libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn main() {
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    // SAFETY: the handler only stores to an atomic: async-signal-safe.
    unsafe {
        sigaction(Signal::SIGTERM, &action).expect("sigaction SIGTERM");
        sigaction(Signal::SIGINT, &action).expect("sigaction SIGINT");
    }
    let pid = getpid();
    println!("pid {pid}: working; send SIGTERM or press Ctrl-C to stop");

    let mut done = 0u64;
    while !STOP.load(Ordering::SeqCst) {
        sleep(Duration::from_millis(200)); // one "request"
        done += 1;
    }
    println!("stop requested after {done} requests: finishing up");
    sleep(Duration::from_secs(1)); // flush buffers, close connections...
    println!("clean exit");
}
// ANCHOR_END: program
