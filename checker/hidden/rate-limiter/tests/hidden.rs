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
