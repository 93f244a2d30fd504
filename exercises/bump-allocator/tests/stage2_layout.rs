//! Stage 2 visible tests: `repr_c_layout` must agree with the compiler.
//!
//! Each case declares a real `#[repr(C)]` struct and asks the compiler (through
//! `size_of`, `align_of` and `memoffset::offset_of!`) where its fields went; your
//! function gets only the fields' layouts and must reach the same answer.
//!
//! Run only this stage with `cargo test -p bump-allocator --test stage2_layout`.

#![allow(dead_code)] // the structs exist to be measured, never built

use std::alloc::Layout;
use std::mem::{align_of, size_of};

use bump_allocator::{StructLayout, repr_c_layout};
use memoffset::offset_of;
use rstest::rstest;

#[repr(C)]
struct SmallFirst {
    tag: u8,
    value: u64,
    count: u16,
}

#[repr(C)]
struct LargestFirst {
    value: u64,
    count: u16,
    tag: u8,
}

#[repr(C)]
struct Mixed {
    kind: u16,
    flag: u8,
    id: u32,
    rgb: [u8; 3],
    ratio: f64,
}

#[repr(C, align(32))]
struct CacheSlot([u8; 32]);

#[repr(C)]
struct OverAligned {
    len: u8,
    slot: CacheSlot,
    pair: [u16; 3],
}

#[repr(C)]
struct Empty {}

/// The field layouts of a struct, in declaration order, and what the compiler did with them.
struct Case {
    fields: Vec<Layout>,
    expected: StructLayout,
}

fn real<T>(fields: Vec<Layout>, offsets: Vec<usize>) -> Case {
    let layout = Layout::from_size_align(size_of::<T>(), align_of::<T>()).unwrap();
    Case {
        fields,
        expected: StructLayout { layout, offsets },
    }
}

fn small_first() -> Case {
    real::<SmallFirst>(
        vec![
            Layout::new::<u8>(),
            Layout::new::<u64>(),
            Layout::new::<u16>(),
        ],
        vec![
            offset_of!(SmallFirst, tag),
            offset_of!(SmallFirst, value),
            offset_of!(SmallFirst, count),
        ],
    )
}

fn largest_first() -> Case {
    real::<LargestFirst>(
        vec![
            Layout::new::<u64>(),
            Layout::new::<u16>(),
            Layout::new::<u8>(),
        ],
        vec![
            offset_of!(LargestFirst, value),
            offset_of!(LargestFirst, count),
            offset_of!(LargestFirst, tag),
        ],
    )
}

fn mixed() -> Case {
    real::<Mixed>(
        vec![
            Layout::new::<u16>(),
            Layout::new::<u8>(),
            Layout::new::<u32>(),
            Layout::new::<[u8; 3]>(),
            Layout::new::<f64>(),
        ],
        vec![
            offset_of!(Mixed, kind),
            offset_of!(Mixed, flag),
            offset_of!(Mixed, id),
            offset_of!(Mixed, rgb),
            offset_of!(Mixed, ratio),
        ],
    )
}

fn over_aligned() -> Case {
    real::<OverAligned>(
        vec![
            Layout::new::<u8>(),
            Layout::new::<CacheSlot>(),
            Layout::new::<[u16; 3]>(),
        ],
        vec![
            offset_of!(OverAligned, len),
            offset_of!(OverAligned, slot),
            offset_of!(OverAligned, pair),
        ],
    )
}

fn empty() -> Case {
    real::<Empty>(vec![], vec![])
}

#[rstest]
#[case::u8_u64_u16(small_first())]
#[case::u64_u16_u8(largest_first())]
#[case::u16_u8_u32_bytes_f64(mixed())]
#[case::u8_then_32_byte_aligned_field(over_aligned())]
#[case::no_fields(empty())]
fn matches_the_compiler_on_a_real_repr_c_struct(#[case] case: Case) {
    let actual = repr_c_layout(&case.fields);
    assert_eq!(
        actual,
        Some(case.expected.clone()),
        "repr_c_layout(fields with (size, align) = {:?})\n\
         the compiler says: size {}, align {}, field offsets {:?}",
        case.fields
            .iter()
            .map(|f| (f.size(), f.align()))
            .collect::<Vec<_>>(),
        case.expected.layout.size(),
        case.expected.layout.align(),
        case.expected.offsets,
    );
}

#[test]
fn field_order_changes_only_the_padding() {
    let small_first = repr_c_layout(&small_first().fields).expect("u8, u64, u16 fits in a Layout");
    let largest_first =
        repr_c_layout(&largest_first().fields).expect("u64, u16, u8 fits in a Layout");
    assert_eq!(
        (small_first.layout.size(), largest_first.layout.size()),
        (24, 16),
        "the same three fields (u8, u64, u16: 11 bytes of data) take 24 bytes in \
         that order, 13 of them padding (7 before the u64, 6 at the end), and 16 \
         when the largest comes first, only 5 of them padding (at the end)"
    );
}

#[test]
fn a_size_too_big_for_a_layout_is_none() {
    let half = Layout::from_size_align(isize::MAX as usize / 2 + 1, 1).unwrap();
    assert_eq!(
        repr_c_layout(&[half, half]),
        None,
        "two fields of {} bytes each add up to more than isize::MAX, the largest \
         size a Layout can describe; return None instead of overflowing",
        half.size()
    );
}
