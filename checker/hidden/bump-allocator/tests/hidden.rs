//! Hidden tests of the bump allocator, one module per stage. The first path
//! segment of every test name is the id of the stage it belongs to.

#[path = "hidden/align.rs"]
mod align;
#[path = "hidden/arena.rs"]
mod arena;
#[path = "hidden/chunked.rs"]
mod chunked;
#[path = "hidden/edges.rs"]
mod edges;
#[path = "hidden/global.rs"]
mod global;
#[path = "hidden/layout.rs"]
mod layout;
