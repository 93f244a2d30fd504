//! Shared pieces of the oslings hidden suites and labs.
//!
//! - [`perf`]: side-by-side benchmarks that run the learner's code, the
//!   reference solution and well-known crates interleaved in one process and
//!   report nanoseconds per operation, so the checker can print ratios.
//! - [`procfs`]: small readers of `/proc/self` (resident memory of a mapping,
//!   whether an address is mapped) for tests that watch the kernel's view.

pub mod perf;
pub mod procfs;
