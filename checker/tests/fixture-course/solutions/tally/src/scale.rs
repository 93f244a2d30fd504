//! Stage 2: scaling, without overflow.

/// `x * k`, or `None` when it does not fit in a `u64`.
pub fn scale(x: u64, k: u64) -> Option<u64> {
    x.checked_mul(k)
}
