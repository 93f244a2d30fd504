//! oslings exercise 2: a thread pool.
//!
//! Read the chapter "Concurrency" in the book, then fill in the `todo!()`s
//! stage by stage. `cargo test -p thread-pool --test stage1_execute` runs one
//! stage's visible tests; `cargo run -p checker -- thread-pool` grades your work.
//!
//! | stage | where | what you build |
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
