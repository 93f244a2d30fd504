//! oslings reference solution 2: the thread pool, complete.
//!
//! Same public API as the exercise crate `thread-pool`; the checker's hidden
//! tests and benchmark compile against either. Graded with
//! `cargo run -p checker -- --against solutions thread-pool`.
//!
//! | stage | where | what it holds |
//! |---|---|---|
//! | 1 | [`ThreadPool::new`], [`ThreadPool::execute`] | N workers taking jobs from one shared queue |
//! | 2 | [`ThreadPool::shutdown`] and `Drop` | finish every queued job, join every worker |
//! | 3 | [`ThreadPool::spawn`], [`JobHandle::join`] | results (and panics) handed back to the caller |
//! | 4 | the worker loop | a panicking job does not kill its worker |
//! | 5 | [`ThreadPool::with_capacity`], [`ThreadPool::try_execute`] | a bounded queue with back-pressure |

mod handle;
mod pool;

pub use handle::{JobHandle, JobPanicked, panic_message};
pub use pool::ThreadPool;
