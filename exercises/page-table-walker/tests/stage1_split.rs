//! Stage 1 visible tests: `VirtAddr::split` takes a virtual address apart
//! into four 9-bit table indices and a 12-bit page offset,
//! `VirtAddr::from_indices` puts it back together (sign-extending bit 47),
//! and `VirtAddr::is_canonical` tells the usable addresses from the hole in
//! the middle of the 64-bit space.
//!
//! Run only this stage with `cargo test -p page-table-walker --test stage1_split`.

use page_table_walker::{Fault, Indices, VirtAddr};
use rstest::rstest;

const fn ix(pml4: u16, pdpt: u16, pd: u16, pt: u16, offset: u16) -> Indices {
    Indices {
        pml4,
        pdpt,
        pd,
        pt,
        offset,
    }
}

/// A hint for a wrong split: what the mistake usually is.
fn diagnose(got: Indices, want: Indices) -> &'static str {
    let got_fields = [got.pml4, got.pdpt, got.pd, got.pt];
    let want_fields = [want.pml4, want.pdpt, want.pd, want.pt];
    let mut reversed = want_fields;
    reversed.reverse();
    if got.offset != want.offset {
        "the offset is wrong: it is the low 12 bits (addr & 0xfff)"
    } else if got_fields[..3] == want_fields[1..] || got_fields[1..] == want_fields[..3] {
        "the indices are shifted by one level: level 1 (PT) starts at bit 12, and each \
         level above starts 9 bits higher (12, 21, 30, 39)"
    } else if got_fields == reversed {
        "the indices are in reverse order: pml4 is the highest field (bits 39-47), pt the lowest \
         (bits 12-20)"
    } else if got_fields
        .iter()
        .zip(want_fields)
        .any(|(&g, w)| g > 511 || (g & 511 == w && g != w))
    {
        "an index is above 511: mask each one to 9 bits (& 0x1ff) after shifting"
    } else {
        "each index is (addr >> shift) & 0x1ff, with shift 39, 30, 21, 12 for levels 4 to 1"
    }
}

#[rstest]
#[case::zero(0x0, ix(0, 0, 0, 0, 0))]
#[case::a_typical_program_start(0x0040_1234, ix(0, 0, 2, 1, 0x234))]
#[case::every_field_different(0x0080_8060_4005, ix(1, 2, 3, 4, 5))]
#[case::a_pie_binary(0x5555_5555_4abc, ix(170, 341, 170, 340, 0xabc))]
#[case::top_page_of_user_space(0x0000_7fff_ffff_f000, ix(255, 511, 511, 511, 0))]
#[case::last_byte_of_user_space(0x0000_7fff_ffff_ffff, ix(255, 511, 511, 511, 4095))]
#[case::first_kernel_address(0xffff_8000_0000_0000, ix(256, 0, 0, 0, 0))]
#[case::kernel_text(0xffff_ffff_8000_0000, ix(511, 510, 0, 0, 0))]
#[case::last_address(0xffff_ffff_ffff_ffff, ix(511, 511, 511, 511, 4095))]
fn split_well_known_addresses(#[case] addr: u64, #[case] want: Indices) {
    let got = VirtAddr(addr).split();
    match got {
        Ok(got) => assert_eq!(
            got,
            want,
            "VirtAddr({addr:#x}).split(): left is what split returned, right the expected indices ({})",
            diagnose(got, want)
        ),
        Err(fault) => panic!(
            "VirtAddr({addr:#x}).split() returned {fault:?}, but {addr:#x} is canonical \
             (bits 48-63 all equal bit 47)"
        ),
    }
}

#[rstest]
#[case::just_above_user_space(0x0000_8000_0000_0000)]
#[case::just_below_kernel_space(0xffff_7fff_ffff_ffff)]
#[case::bit_48_alone(0x0001_0000_0000_0000)]
#[case::top_bit_alone(0x8000_0000_0000_0000)]
#[case::flags_in_the_top_bits(0x8000_0000_0040_1000)]
fn split_refuses_non_canonical_addresses(#[case] addr: u64) {
    assert!(
        !VirtAddr(addr).is_canonical(),
        "is_canonical() said yes to {addr:#x}, whose bits 48-63 ({:#06x}) are not all copies \
         of bit 47 ({})",
        addr >> 48,
        (addr >> 47) & 1
    );
    assert_eq!(
        VirtAddr(addr).split(),
        Err(Fault::NonCanonical {
            addr: VirtAddr(addr)
        }),
        "split() of the non-canonical {addr:#x} should be Fault::NonCanonical with that address"
    );
}

#[rstest]
#[case::zero(0x0)]
#[case::user(0x0000_7fff_ffff_ffff)]
#[case::kernel(0xffff_8000_0000_0000)]
#[case::all_ones(0xffff_ffff_ffff_ffff)]
#[case::bit_47_set_and_extended(0xffff_c015_7cde_f000)]
fn canonical_addresses_are_canonical(#[case] addr: u64) {
    assert!(
        VirtAddr(addr).is_canonical(),
        "is_canonical() said no to {addr:#x}, whose bits 48-63 ({:#06x}) all equal bit 47 ({}): \
         compare the top 17 bits (47-63), which must be all zeros or all ones",
        addr >> 48,
        (addr >> 47) & 1
    );
}

#[rstest]
#[case::every_field_different(ix(1, 2, 3, 4, 5), 0x0080_8060_4005)]
#[case::top_of_user_space(ix(255, 511, 511, 511, 4095), 0x0000_7fff_ffff_ffff)]
#[case::bit_47_is_copied_up(ix(256, 0, 0, 0, 0), 0xffff_8000_0000_0000)]
#[case::kernel_text(ix(511, 510, 0, 0, 0), 0xffff_ffff_8000_0000)]
fn from_indices_builds_the_canonical_address(#[case] indices: Indices, #[case] want: u64) {
    let got = VirtAddr::from_indices(indices).0;
    let hint = if got == want & 0x0000_ffff_ffff_ffff {
        "bits 48-63 are missing: when bit 47 is set, copy it into every bit above \
         (sign-extend, e.g. ((addr << 16) as i64 >> 16) as u64)"
    } else {
        "each field goes back to its place: pml4 << 39 | pdpt << 30 | pd << 21 | pt << 12 | offset"
    };
    assert_eq!(
        got, want,
        "VirtAddr::from_indices({indices:?}) = {got:#x}, expected {want:#x} ({hint})"
    );
}

#[test]
fn from_indices_keeps_only_the_low_bits_of_each_field() {
    let got = VirtAddr::from_indices(ix(512 + 1, 1024 + 2, 3, 4, 4096 + 5)).0;
    assert_eq!(
        got, 0x0080_8060_4005,
        "indices above 511 keep only their low 9 bits, an offset above 4095 its low 12 \
         (got {got:#x}): mask each field before shifting it into place, or it spills into \
         the field above"
    );
}

#[test]
fn split_and_from_indices_undo_each_other() {
    let mut addr: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..1000 {
        // A xorshift walk through the address space, made canonical.
        addr ^= addr << 13;
        addr ^= addr >> 7;
        addr ^= addr << 17;
        let canonical = ((addr << 16) as i64 >> 16) as u64;
        let indices = VirtAddr(canonical)
            .split()
            .unwrap_or_else(|f| panic!("split({canonical:#x}) failed with {f:?}"));
        assert_eq!(
            VirtAddr::from_indices(indices),
            VirtAddr(canonical),
            "from_indices(split(a)) should give a back; a = {canonical:#x}, split = {indices:?}"
        );
    }
}
