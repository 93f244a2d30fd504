//! Stage 1: adding.

/// `a + b`.
pub fn add(a: u64, b: u64) -> u64 {
    todo!("stage 1: add {a} and {b}")
}
