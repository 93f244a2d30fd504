//! Stage 1: `align_up` and `align_down`.

use hidden_bump_allocator::AsHex;
use learner::{AlignError, align_down, align_up};

const NOT_POWERS_OF_TWO: [usize; 8] = [3, 6, 12, 24, 100, 4095, (1 << 40) + 1, usize::MAX];

// Catches: rounding with `addr + align` (or `addr / align + 1`), which skips a multiple.
#[test]
fn rounds_up_to_the_next_multiple() {
    for (addr, align, expected) in [
        (1, 2, 2),
        (13, 8, 16),
        (17, 8, 24),
        (1, 4096, 4096),
        (4097, 4096, 8192),
        (0x7fff_0001, 1 << 16, 0x7fff_0000 + (1 << 16)),
        (5, 1, 5),
    ] {
        assert_eq!(
            align_up(addr, align).hex(),
            Ok(expected).hex(),
            "align_up({addr:#x}, {align}) should be the smallest multiple of {align} \
             at or above {addr:#x}"
        );
    }
}

// Catches: always adding a step, so an address that is already aligned moves up.
#[test]
fn aligned_addresses_stay_put() {
    for (addr, align) in [
        (0, 1),
        (0, 8),
        (0, 4096),
        (16, 8),
        (16, 16),
        (8192, 4096),
        (7, 1),
    ] {
        assert_eq!(
            align_up(addr, align).hex(),
            Ok(addr).hex(),
            "align_up({addr:#x}, {align}): {addr:#x} is already a multiple of {align}, \
             so it must come back unchanged"
        );
        assert_eq!(
            align_down(addr, align).hex(),
            Ok(addr).hex(),
            "align_down({addr:#x}, {align}): {addr:#x} is already a multiple of {align}, \
             so it must come back unchanged"
        );
    }
}

// Catches: `(addr + align - 1) & !(align - 1)` with wrapping arithmetic (or an unchecked add that panics).
#[test]
fn overflow_is_an_error_not_a_wrap() {
    for (addr, align) in [
        (usize::MAX - 2, 8),
        (usize::MAX, 2),
        (usize::MAX - 4094, 4096),
        (usize::MAX / 2 + 2, 1 << (usize::BITS - 1)),
    ] {
        let got = std::panic::catch_unwind(|| align_up(addr, align));
        assert_eq!(
            got.ok(),
            Some(Err(AlignError::Overflow { addr, align })),
            "align_up({addr:#x}, {align}) must return Err(AlignError::Overflow {{ addr, align }}): \
             the next multiple of {align} is past usize::MAX, and wrapping to a small address \
             (or panicking) is wrong"
        );
    }
}

// Catches: an overflow check that is one too strict (e.g. testing `addr + align` instead of `addr + align - 1`).
#[test]
fn the_highest_aligned_addresses_do_not_overflow() {
    for (addr, align, expected) in [
        (usize::MAX, 1, usize::MAX),
        (usize::MAX - 7, 8, usize::MAX - 7),
        (usize::MAX - 14, 8, usize::MAX - 7),
        (usize::MAX - 4095, 4096, usize::MAX - 4095),
        (1, 1 << (usize::BITS - 1), 1 << (usize::BITS - 1)),
    ] {
        assert_eq!(
            align_up(addr, align).hex(),
            Ok(expected).hex(),
            "align_up({addr:#x}, {align}) fits in a usize and must succeed \
             (only a result past usize::MAX is an overflow)"
        );
    }
}

// Catches: accepting align 0 (e.g. `align - 1` wrapping to an all-ones mask, or a panic on it).
#[test]
fn zero_alignment_is_rejected() {
    let up = std::panic::catch_unwind(|| align_up(16, 0));
    assert_eq!(
        up.ok(),
        Some(Err(AlignError::NotPowerOfTwo { align: 0 })),
        "align_up(16, 0) must return Err(AlignError::NotPowerOfTwo {{ align: 0 }}) \
         (zero is not a power of two), without panicking"
    );
    let down = std::panic::catch_unwind(|| align_down(16, 0));
    assert_eq!(
        down.ok(),
        Some(Err(AlignError::NotPowerOfTwo { align: 0 })),
        "align_down(16, 0) must return Err(AlignError::NotPowerOfTwo {{ align: 0 }}) \
         (zero is not a power of two), without panicking"
    );
}

// Catches: checking only for zero, so 3, 6, 12, ... are accepted and produce garbage masks.
#[test]
fn non_power_of_two_alignment_is_rejected() {
    for align in NOT_POWERS_OF_TWO {
        assert_eq!(
            align_up(100, align),
            Err(AlignError::NotPowerOfTwo { align }),
            "align_up(100, {align}) must return Err(AlignError::NotPowerOfTwo {{ align: {align} }})"
        );
        assert_eq!(
            align_down(100, align),
            Err(AlignError::NotPowerOfTwo { align }),
            "align_down(100, {align}) must return Err(AlignError::NotPowerOfTwo {{ align: {align} }})"
        );
    }
}

// Catches: align_down off by one (e.g. `(addr - 1) & !mask` or `align_up(addr) - align`).
#[test]
fn align_down_rounds_down() {
    for (addr, align, expected) in [
        (13, 8, 8),
        (15, 16, 0),
        (4095, 4096, 0),
        (4097, 4096, 4096),
        (1, 1, 1),
        (usize::MAX, 4096, usize::MAX - 4095),
        (usize::MAX, 1 << (usize::BITS - 1), 1 << (usize::BITS - 1)),
    ] {
        // The two functions bracket the address: an aligned address is its
        // own answer to both, any other lies strictly between them.
        let up = if expected == addr {
            Ok(addr)
        } else {
            expected
                .checked_add(align)
                .ok_or(AlignError::Overflow { addr, align })
        };
        assert_eq!(
            align_up(addr, align).hex(),
            up.hex(),
            "align_up({addr:#x}, {align}), the upper neighbour of align_down's answer"
        );
        assert_eq!(
            align_down(addr, align).hex(),
            Ok(expected).hex(),
            "align_down({addr:#x}, {align}) should be the largest multiple of {align} \
             at or below {addr:#x}"
        );
    }
}

// Catches: arithmetic that is only right for small addresses or alignments (truncation, masks built from the wrong bits).
#[test]
fn random_addresses_match_exact_arithmetic() {
    let seed = 0xa119e;
    let mut rng = fastrand::Rng::with_seed(seed);
    for _ in 0..20_000 {
        let align = 1usize << rng.u32(0..usize::BITS);
        let addr = match rng.u8(0..4) {
            0 => rng.usize(..4096),
            1 => usize::MAX - rng.usize(..=2 * align.min(1 << 20)),
            _ => rng.usize(..),
        };
        // Exact answers in 128-bit arithmetic, where nothing can overflow.
        let up = (addr as u128).div_ceil(align as u128) * align as u128;
        let expected_up = if up > usize::MAX as u128 {
            Err(AlignError::Overflow { addr, align })
        } else {
            Ok(up as usize)
        };
        let expected_down = Ok(addr / align * align);
        assert_eq!(
            align_up(addr, align).hex(),
            expected_up.hex(),
            "align_up({addr:#x}, {align}) (random case, seed {seed:#x})"
        );
        assert_eq!(
            align_down(addr, align).hex(),
            expected_down.hex(),
            "align_down({addr:#x}, {align}) (random case, seed {seed:#x})"
        );
    }
}
