//! Hidden tests of the page-table walker, one module per stage. The first
//! path segment of every test name is the id of the stage it belongs to.

#[path = "hidden/cow.rs"]
mod cow;
#[path = "hidden/demand.rs"]
mod demand;
#[path = "hidden/huge.rs"]
mod huge;
#[path = "hidden/map.rs"]
mod map;
#[path = "hidden/permissions.rs"]
mod permissions;
#[path = "hidden/split.rs"]
mod split;
#[path = "hidden/tlb.rs"]
mod tlb;
#[path = "hidden/walk.rs"]
mod walk;
