//! Shared pieces of the oslings hidden suites and labs.
//!
//! - [`perf`]: side-by-side benchmarks that run the learner's code, the
//!   reference solution and well-known crates interleaved in one process and
//!   report nanoseconds per operation, so the checker can print ratios.
//! - [`procfs`]: small readers of `/proc/self` (resident memory of a mapping,
//!   whether an address is mapped) for tests that watch the kernel's view.
//! - [`panic_reason`]: the message a caught panic carried.
//! - [`default_signal_dispositions`]: undo inherited ignored signals before
//!   `exec`.

pub mod perf;
pub mod procfs;

/// The message of a panic caught with `std::panic::catch_unwind`: the
/// payload's `String` or `&str`, or `(no message)` for any other payload.
pub fn panic_reason(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)")
}

/// Sets every catchable signal back to its default disposition. Meant for a
/// `pre_exec` closure (it only calls `signal`, which is async-signal-safe):
/// ignored signals survive `exec`, so a program started from a process that
/// was itself started in the background (`&`, `nohup`, a CI runner) would
/// otherwise begin with SIGINT, SIGQUIT or SIGHUP ignored, and /bin/sh may
/// not un-ignore them for its children.
pub fn default_signal_dispositions() {
    for signal in 1..32 {
        if signal != libc::SIGKILL && signal != libc::SIGSTOP {
            // SAFETY: SIG_DFL installs no handler of ours; `signal` only
            // changes this process's disposition of a valid signal number.
            unsafe { libc::signal(signal, libc::SIG_DFL) };
        }
    }
}
