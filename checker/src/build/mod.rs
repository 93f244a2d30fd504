//! Turning sources into binaries: the scratch project that compiles a hidden
//! suite against the graded crate, another tree's crate sealed, cargo run and
//! its errors explained, and the benchmark built ahead of need.

pub mod cargo_toml;
pub mod compile;
pub mod prebuild;
pub mod scratch;
pub mod seal;
pub mod toolchain;
