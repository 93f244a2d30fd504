//! Stage 1 visible tests: `align_up` and `align_down` on plain addresses.
//!
//! Run only this stage with `cargo test -p bump-allocator --test stage1_align`.

use bump_allocator::{AlignError, align_down, align_up};
use rstest::rstest;

#[rstest]
#[case::zero_stays_zero(0, 8, 0)]
#[case::align_one_changes_nothing(13, 1, 13)]
#[case::thirteen_up_to_eight(13, 8, 16)]
#[case::one_past_a_multiple(17, 16, 32)]
#[case::first_byte_up_to_a_page(1, 4096, 4096)]
#[case::one_past_a_page(4097, 4096, 8192)]
fn align_up_rounds_up_to_the_next_multiple(
    #[case] addr: usize,
    #[case] align: usize,
    #[case] expected: usize,
) {
    assert_eq!(
        align_up(addr, align),
        Ok(expected),
        "align_up({addr}, {align}) should be Ok({expected})"
    );
}

#[rstest]
#[case::zero_stays_zero(0, 8, 0)]
#[case::thirteen_down_to_eight(13, 8, 8)]
#[case::just_below_a_multiple(31, 16, 16)]
#[case::inside_the_first_page(4095, 4096, 0)]
#[case::top_of_the_address_space(usize::MAX, 4096, usize::MAX - 4095)]
fn align_down_rounds_down_to_the_previous_multiple(
    #[case] addr: usize,
    #[case] align: usize,
    #[case] expected: usize,
) {
    assert_eq!(
        align_down(addr, align),
        Ok(expected),
        "align_down({addr:#x}, {align}) should be Ok({expected:#x})"
    );
}

#[rstest]
#[case::small(16, 8)]
#[case::page(8192, 4096)]
#[case::huge_page(6 << 21, 1 << 21)]
fn an_aligned_address_is_returned_unchanged(#[case] addr: usize, #[case] align: usize) {
    assert_eq!(
        align_up(addr, align),
        Ok(addr),
        "align_up({addr:#x}, {align}): the address is already a multiple, so nothing moves"
    );
    assert_eq!(
        align_down(addr, align),
        Ok(addr),
        "align_down({addr:#x}, {align}): the address is already a multiple, so nothing moves"
    );
}

#[rstest]
#[case::zero(0)]
#[case::three(3)]
#[case::twelve(12)]
#[case::all_ones(usize::MAX)]
fn an_alignment_that_is_not_a_power_of_two_is_an_error(#[case] align: usize) {
    let expected = Err(AlignError::NotPowerOfTwo { align });
    assert_eq!(
        align_up(100, align),
        expected,
        "align_up(100, {align}) must refuse the alignment, not compute with it"
    );
    assert_eq!(
        align_down(100, align),
        expected,
        "align_down(100, {align}) must refuse the alignment, not compute with it"
    );
}

#[test]
fn align_up_reports_overflow_instead_of_wrapping() {
    let addr = usize::MAX - 3;
    assert_eq!(
        align_up(addr, 8),
        Err(AlignError::Overflow { addr, align: 8 }),
        "align_up({addr:#x}, 8): the next multiple of 8 is past usize::MAX; \
         wrapping around to 0 would hand out the wrong memory"
    );
    let top = usize::MAX - 7;
    assert_eq!(
        align_up(top, 8),
        Ok(top),
        "align_up({top:#x}, 8): the highest multiple of 8 fits, so this is not an overflow"
    );
}
