//! Small helpers that know nothing of the course.

pub mod fingerprint;
pub mod fs;
pub mod snippet;
pub mod timing;
