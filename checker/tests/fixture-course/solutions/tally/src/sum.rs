//! Stage 3: summing a slice.

/// The sum of `xs` (wrapping: the benchmark sums long slices).
pub fn sum(xs: &[u64]) -> u64 {
    xs.iter().fold(0, |total, x| total.wrapping_add(*x))
}
