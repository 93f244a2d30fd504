//! Stage 2: `repr_c_layout` against what the compiler does with `#[repr(C)]`.

use std::alloc::Layout;

use learner::{StructLayout, repr_c_layout};
use memoffset::offset_of;

fn l<T>() -> Layout {
    Layout::new::<T>()
}

/// Compares `repr_c_layout(fields)` with the compiler's layout of `T`.
fn assert_matches<T>(name: &str, fields: &[Layout], offsets: &[usize]) {
    let expected = StructLayout {
        layout: Layout::new::<T>(),
        offsets: offsets.to_vec(),
    };
    let got = repr_c_layout(fields);
    assert_eq!(
        got.as_ref(),
        Some(&expected),
        "repr_c_layout({fields:?}) for `{name}`: the compiler puts the fields at offsets \
         {offsets:?} and gives the struct size {} and align {}",
        expected.layout.size(),
        expected.layout.align()
    );
}

#[repr(C)]
struct U32ThenU8 {
    a: u32,
    b: u8,
}

// Catches: forgetting the trailing padding (size 5 instead of 8).
#[test]
fn trailing_padding_rounds_the_size_up() {
    assert_matches::<U32ThenU8>(
        "struct { a: u32, b: u8 }",
        &[l::<u32>(), l::<u8>()],
        &[offset_of!(U32ThenU8, a), offset_of!(U32ThenU8, b)],
    );
}

#[repr(C)]
struct BytesThenU16 {
    a: [u8; 8],
    b: u16,
}

// Catches: taking the largest field *size* as the struct's alignment instead of the largest alignment.
#[test]
fn struct_alignment_is_the_largest_field_alignment() {
    assert_matches::<BytesThenU16>(
        "struct { a: [u8; 8], b: u16 }",
        &[l::<[u8; 8]>(), l::<u16>()],
        &[offset_of!(BytesThenU16, a), offset_of!(BytesThenU16, b)],
    );
}

#[repr(C)]
struct U8ThenU64 {
    a: u8,
    b: u64,
    c: u8,
    d: u32,
}

// Catches: packing fields end to end without aligning each one (u64 at offset 1).
#[test]
fn each_field_starts_at_its_own_alignment() {
    assert_matches::<U8ThenU64>(
        "struct { a: u8, b: u64, c: u8, d: u32 }",
        &[l::<u8>(), l::<u64>(), l::<u8>(), l::<u32>()],
        &[
            offset_of!(U8ThenU64, a),
            offset_of!(U8ThenU64, b),
            offset_of!(U8ThenU64, c),
            offset_of!(U8ThenU64, d),
        ],
    );
}

#[repr(C)]
struct Empty {}

// Catches: a wrong result for a struct with no fields (None, size 1, or align 0).
#[test]
fn an_empty_struct_has_size_0_and_align_1() {
    assert_matches::<Empty>("struct {}", &[], &[]);
}

#[repr(C)]
struct WithZeroSized {
    a: u8,
    b: [u64; 0],
    c: u8,
}

// Catches: skipping zero-sized fields, whose alignment still moves later fields and the struct's align.
#[test]
fn zero_sized_fields_still_align() {
    assert_matches::<WithZeroSized>(
        "struct { a: u8, b: [u64; 0], c: u8 }",
        &[l::<u8>(), l::<[u64; 0]>(), l::<u8>()],
        &[
            offset_of!(WithZeroSized, a),
            offset_of!(WithZeroSized, b),
            offset_of!(WithZeroSized, c),
        ],
    );
}

#[repr(C, align(64))]
struct CacheLine {
    x: u8,
}

#[repr(C)]
struct Nested {
    a: u16,
    b: CacheLine,
    c: U32ThenU8,
    d: u128,
    e: [u16; 3],
}

// Catches: an algorithm that only works for primitive fields (over-aligned and nested struct fields).
#[test]
fn nested_and_over_aligned_fields_match_the_compiler() {
    let _ = CacheLine { x: 0 }.x;
    assert_matches::<Nested>(
        "struct { a: u16, b: CacheLine /* align 64 */, c: U32ThenU8, d: u128, e: [u16; 3] }",
        &[
            l::<u16>(),
            l::<CacheLine>(),
            l::<U32ThenU8>(),
            l::<u128>(),
            l::<[u16; 3]>(),
        ],
        &[
            offset_of!(Nested, a),
            offset_of!(Nested, b),
            offset_of!(Nested, c),
            offset_of!(Nested, d),
            offset_of!(Nested, e),
        ],
    );
}

// Catches: unchecked additions that panic (or wrap) on huge fields instead of returning None.
#[test]
fn a_size_past_isize_max_is_none() {
    let huge = Layout::from_size_align(isize::MAX as usize, 1).expect("a valid layout");
    let cases = [
        vec![huge, l::<u64>()],
        vec![huge, huge],
        vec![huge, huge, huge],
        vec![l::<u8>(), huge],
    ];
    for fields in cases {
        let got = std::panic::catch_unwind(|| repr_c_layout(&fields));
        assert_eq!(
            got.ok(),
            Some(None),
            "repr_c_layout({fields:?}) must return None (the struct would be larger than \
             isize::MAX bytes), without panicking"
        );
    }
}

// Catches: mistakes that show only for some field orders (padding after a field instead of before it, the previous field's alignment used).
#[test]
fn random_structs_match_layout_extend() {
    let seed = 0x1a_40u64;
    let mut rng = fastrand::Rng::with_seed(seed);
    for case in 0..2_000 {
        let n = rng.usize(0..8);
        let fields: Vec<Layout> = (0..n)
            .map(|_| {
                let align = 1 << rng.u32(0..7);
                let size = if rng.bool() {
                    align * rng.usize(0..4)
                } else {
                    rng.usize(0..100)
                };
                Layout::from_size_align(size, align).expect("a valid field layout")
            })
            .collect();
        // The standard library's description of a `#[repr(C)]` struct.
        let mut layout = Layout::from_size_align(0, 1).expect("the empty layout");
        let mut offsets = Vec::new();
        for field in &fields {
            let (grown, offset) = layout.extend(*field).expect("small fields cannot overflow");
            layout = grown;
            offsets.push(offset);
        }
        let expected = StructLayout {
            layout: layout.pad_to_align(),
            offsets,
        };
        assert_eq!(
            repr_c_layout(&fields),
            Some(expected),
            "repr_c_layout({fields:?}) (random case {case}, seed {seed:#x})"
        );
    }
}
