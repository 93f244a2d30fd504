//! What the course is made of: its exercises and stages, instructors' test
//! packs, and where the repository is.

pub mod access;
pub mod manifest;
pub mod pack;
pub mod paths;
