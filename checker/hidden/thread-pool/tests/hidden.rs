//! Hidden tests of the thread pool, one module per stage. The first path
//! segment of every test name is the id of the stage it belongs to.

#[path = "hidden/bounded.rs"]
mod bounded;
#[path = "hidden/execute.rs"]
mod execute;
#[path = "hidden/handles.rs"]
mod handles;
#[path = "hidden/panics.rs"]
mod panics;
#[path = "hidden/shutdown.rs"]
mod shutdown;
