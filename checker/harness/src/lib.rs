//! Shared pieces of the oslings hidden suites and labs.
//!
//! - [`perf`]: side-by-side benchmarks that run the learner's code, the
//!   reference solution and well-known crates interleaved in one process and
//!   report nanoseconds per operation, so the checker can print ratios.
//! - [`procfs`]: small readers of `/proc/self` (resident memory of a mapping,
//!   whether an address is mapped) for tests that watch the kernel's view.
//! - [`procs`]: other processes as `/proc` shows them (state, group,
//!   session, terminal, open descriptors, the call each is blocked in), one
//!   reader for the checker, the hidden suites and the visible tests.
//! - [`pty`]: a pseudo-terminal (both ends close-on-exec) and a reader of
//!   what a program shows on it, for job-control tests.
//! - [`budget`]: CPU-time budgets for tests that repeat rounds until they
//!   have seen enough, whatever the machine's load.
//! - [`redis_server`]: a private `redis-server` for a test or a lab, in a
//!   temporary directory, always stopped.
//! - [`panic_reason`]: the message a caught panic carried.
//! - [`default_signal_dispositions`]: undo inherited ignored signals before
//!   `exec`.

pub mod budget;
pub mod perf;
pub mod procfs;
pub mod procs;
pub mod pty;
pub mod redis_server;

/// The message of a panic caught with `std::panic::catch_unwind`: the
/// payload's `String` or `&str`, or `(no message)` for any other payload.
pub fn panic_reason(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)")
}

/// Sets every catchable signal back to its default disposition, the
/// real-time ones included. Meant for a `pre_exec` closure (it only makes
/// `sigaction` system calls, which are async-signal-safe): ignored signals
/// survive `exec`, so a program started from a process that was itself
/// started in the background (`&`, `nohup`, a CI runner) would otherwise
/// begin with SIGINT, SIGQUIT or SIGHUP ignored, and /bin/sh may not
/// un-ignore them for its children.
pub fn default_signal_dispositions() {
    for signal in 1..=64 {
        if signal != libc::SIGKILL && signal != libc::SIGSTOP {
            set_default(signal);
        }
    }
}

/// The kernel's `struct sigaction` (not glibc's, which refuses the two
/// real-time signals glibc keeps for itself, 32 and 33).
#[repr(C)]
struct KernelSigaction {
    handler: libc::sighandler_t,
    flags: libc::c_ulong,
    restorer: usize,
    mask: u64,
}

fn set_default(signal: libc::c_int) {
    let action = KernelSigaction {
        handler: libc::SIG_DFL,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    // SAFETY: rt_sigaction reads one kernel sigaction of the size passed
    // (the 8-byte signal set) and writes nothing (no old action asked for).
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigaction,
            signal,
            &action as *const KernelSigaction,
            std::ptr::null_mut::<KernelSigaction>(),
            8_usize,
        );
    }
}
