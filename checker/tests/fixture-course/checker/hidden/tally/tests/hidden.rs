//! Hidden tests of the tally, one module per stage. The first path segment
//! of every test name is the id of the stage it belongs to.

#[path = "hidden/add.rs"]
mod add;
#[path = "hidden/scale.rs"]
mod scale;
#[path = "hidden/sum.rs"]
mod sum;
