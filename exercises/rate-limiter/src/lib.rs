//! oslings exercise 3: rate limiters.
//!
//! Read the chapter "Interrupts and time" in the book, then fill in the
//! `todo!()`s stage by stage. `cargo test -p rate-limiter --test stage1_token_bucket`
//! runs one stage's visible tests; `cargo run -p checker -- rate-limiter`
//! grades your work.
//!
//! Every limiter reads time from a [`Clock`]: [`MonotonicClock`] in real
//! programs, [`ManualClock`] in tests, so that no test ever sleeps to check
//! rate arithmetic.
//!
//! | stage | where | what you build |
//! |---|---|---|
//! | 1 | [`TokenBucket`] | refill in exact integer arithmetic, never above capacity |
//! | 2 | [`SharedTokenBucket::try_acquire`] | one bucket shared by many threads |
//! | 3 | [`Gcra`] | the same limit from one atomic word and a compare-and-swap loop |
//! | 4 | [`SharedTokenBucket::acquire`] | wait exactly as long as needed, refuse the impossible |
//! | 5 | [`SlidingWindowLog`], [`SlidingWindowCounter`] | windows without the fixed-window burst |
//! | 6 | [`KeyedLimiter`] | one limit per key, with idle keys evicted |
//! | 7 | [`RedisGcra`] | one limit shared by many processes, decided in Redis |

mod clock;
mod distributed;
mod gcra;
mod keyed;
mod rate;
mod shared;
mod token_bucket;
mod window;

pub use clock::{Clock, ManualClock, MonotonicClock};
pub use distributed::{Decision, Failure, OnError, Policy, RedisGcra, SCRIPT};
pub use gcra::Gcra;
pub use keyed::{KeyedLimiter, MIN_SWEEP};
pub use rate::Rate;
pub use shared::{AcquireError, SharedTokenBucket};
pub use token_bucket::TokenBucket;
pub use window::{FixedWindow, SlidingWindowCounter, SlidingWindowLog};

/// The Redis client the distributed limiter is built on, re-exported so
/// that its users name the same version ([`RedisGcra::new`] takes its
/// [`redis::Client`]).
pub use redis;
