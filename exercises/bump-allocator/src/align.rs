//! Stage 1: alignment arithmetic on addresses.

use std::fmt;

/// Why an address cannot be aligned as asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlignError {
    /// `align` is zero or not a power of two.
    NotPowerOfTwo {
        /// The alignment that was asked for.
        align: usize,
    },
    /// Rounding `addr` up to `align` would go past `usize::MAX`.
    Overflow {
        /// The address that was being rounded up.
        addr: usize,
        /// The alignment that was asked for.
        align: usize,
    },
}

impl fmt::Display for AlignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AlignError::NotPowerOfTwo { align } => {
                write!(f, "alignment {align} is not a power of two")
            }
            AlignError::Overflow { addr, align } => {
                write!(f, "aligning {addr:#x} up to {align} overflows usize")
            }
        }
    }
}

impl std::error::Error for AlignError {}

// ANCHOR: align_up
/// Rounds `addr` up to the next multiple of `align`.
///
/// `align` must be a power of two. An address that is already aligned is
/// returned unchanged. If the rounded address would not fit in a `usize`,
/// return [`AlignError::Overflow`] instead of wrapping around to a small
/// number.
///
/// For example `align_up(13, 8)` is `Ok(16)`, `align_up(16, 8)` is `Ok(16)`,
/// and `align_up(usize::MAX - 2, 8)` is an [`AlignError::Overflow`].
pub fn align_up(addr: usize, align: usize) -> Result<usize, AlignError> {
    todo!("stage 1: round {addr} up to a multiple of {align}")
}
// ANCHOR_END: align_up

// ANCHOR: align_down
/// Rounds `addr` down to the previous multiple of `align`.
///
/// `align` must be a power of two; rounding down can never overflow.
///
/// For example `align_down(13, 8)` is `Ok(8)` and `align_down(16, 8)` is
/// `Ok(16)`.
pub fn align_down(addr: usize, align: usize) -> Result<usize, AlignError> {
    todo!("stage 1: round {addr} down to a multiple of {align}")
}
// ANCHOR_END: align_down
