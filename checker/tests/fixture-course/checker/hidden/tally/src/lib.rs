//! The tally's hidden suite has no shared helpers: its tests are in
//! `tests/hidden/<stage>.rs`.
