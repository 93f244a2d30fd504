//! What each command does, from the parsed command line ([`crate::cli`]) to
//! its exit status.

pub mod grade;
pub mod gradebook;
pub mod hints;
pub mod internal;
pub mod reset;
pub mod setup;
pub mod status;
pub mod watch;
