//! Shared pieces of the oslings hidden suites and labs.
//!
//! - [`perf`]: side-by-side benchmarks that run the learner's code, the
//!   reference solution and well-known crates interleaved in one process and
//!   report nanoseconds per operation, so the checker can print ratios.
//! - [`procfs`]: small readers of `/proc/self` (resident memory of a mapping,
//!   whether an address is mapped) for tests that watch the kernel's view.
//! - [`panic_reason`]: the message a caught panic carried.

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
