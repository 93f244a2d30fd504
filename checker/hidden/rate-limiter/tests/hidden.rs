//! Hidden tests of the rate limiters, one module per stage. The first path
//! segment of every test name is the id of the stage it belongs to.

#[path = "hidden/blocking.rs"]
mod blocking;
#[path = "hidden/distributed.rs"]
mod distributed;
#[path = "hidden/gcra.rs"]
mod gcra;
#[path = "hidden/keyed.rs"]
mod keyed;
#[path = "hidden/shared.rs"]
mod shared;
#[path = "hidden/token_bucket.rs"]
mod token_bucket;
#[path = "hidden/windows.rs"]
mod windows;

/// The message of a refused request for everything a limiter holds: `what`
/// is what the test set up, e.g. `TokenBucket::new(5, 1 per second), new (so
/// full)`, and `n` how many tokens it holds and were asked for.
fn all_it_holds_refused(what: &str, n: u64) -> String {
    format!(
        "{what}: a request for {n} token(s), all it holds, was refused; exactly n tokens \
         are enough for a request of n"
    )
}
