//! Stage 3 visible tests: `Arena::alloc` bumps through a fixed buffer.
//!
//! Run only this stage with `cargo test -p bump-allocator --test stage3_arena`.

use bump_allocator::Arena;
use rstest::rstest;

mod common;

use common::{Buffer, addr, layout};

#[test]
fn the_first_allocation_starts_at_the_front_of_the_buffer() {
    let mut buf = Buffer::<256>::new();
    let start = buf.0.as_ptr() as usize;
    let arena = Arena::from_bytes(&mut buf.0);
    let ptr = arena
        .alloc(layout(16, 8))
        .expect("alloc(size 16, align 8) in an empty 256-byte arena returned None");
    assert_eq!(
        addr(ptr),
        start,
        "the buffer starts at {start:#x}, which is already 8-aligned, so the first \
         block should start right there"
    );
    assert_eq!(arena.used(), 16, "used() after one 16-byte allocation");
    assert_eq!(
        arena.remaining(),
        240,
        "remaining() after one 16-byte allocation"
    );
}

#[rstest]
#[case::two_bytes_align_2(2, 2, 2)]
#[case::eight_bytes_align_8(8, 8, 8)]
#[case::sixteen_bytes_align_16(16, 16, 16)]
#[case::odd_size_align_4(3, 4, 4)]
#[case::cache_line(64, 64, 64)]
fn a_request_after_one_byte_is_padded_to_its_alignment(
    #[case] size: usize,
    #[case] align: usize,
    #[case] expected_offset: usize,
) {
    let mut buf = Buffer::<256>::new();
    let start = buf.0.as_ptr() as usize;
    let arena = Arena::from_bytes(&mut buf.0);
    arena
        .alloc(layout(1, 1))
        .expect("alloc(size 1, align 1) in an empty arena returned None");
    let ptr = arena.alloc(layout(size, align)).unwrap_or_else(|| {
        panic!("alloc(size {size}, align {align}) after one byte returned None")
    });
    assert_eq!(
        addr(ptr) % align,
        0,
        "alloc(size {size}, align {align}) returned {ptr:p}, which is not a multiple of {align}"
    );
    assert_eq!(
        addr(ptr) - start,
        expected_offset,
        "after 1 byte, a block aligned to {align} should start {expected_offset} bytes \
         into the buffer: the first multiple of {align} at or after offset 1"
    );
    assert_eq!(
        arena.used(),
        expected_offset + size,
        "used() counts the padding too: 1 byte, padding up to {expected_offset}, then {size} bytes"
    );
}

/// A slice of a byte array need not start on any boundary: this arena's
/// buffer starts one byte past a multiple of 64, at an odd address.
#[rstest]
#[case::align_2(2)]
#[case::align_8(8)]
#[case::align_64(64)]
fn a_buffer_at_an_odd_address_still_gives_aligned_blocks(#[case] align: usize) {
    let mut buf = Buffer::<256>::new();
    let bytes = &mut buf.0[1..];
    let start = bytes.as_ptr() as usize;
    let arena = Arena::from_bytes(bytes);
    let ptr = arena.alloc(layout(8, align)).unwrap_or_else(|| {
        panic!("alloc(size 8, align {align}) in an empty 255-byte arena returned None")
    });
    assert_eq!(
        addr(ptr) % align,
        0,
        "this arena's buffer starts at the odd address {start:#x}, and \
         alloc(size 8, align {align}) returned {ptr:p}, which is not a multiple of \
         {align}: alignment is a property of the address, not of the offset from \
         the start of the buffer"
    );
    assert_eq!(
        addr(ptr) - start,
        align - 1,
        "the buffer starts 1 byte past a multiple of 64, so the first multiple of \
         {align} inside it is {} bytes in",
        align - 1
    );
    assert_eq!(
        arena.used(),
        align - 1 + 8,
        "used() counts the padding too: {} bytes of padding, then 8 bytes",
        align - 1
    );
}

#[test]
fn blocks_do_not_overlap_and_keep_what_is_written() {
    let mut buf = Buffer::<1024>::new();
    let (start, end) = (buf.0.as_ptr() as usize, buf.0.as_ptr() as usize + 1024);
    let arena = Arena::from_bytes(&mut buf.0);
    let requests = [
        (1, 1),
        (8, 8),
        (3, 1),
        (16, 16),
        (2, 2),
        (24, 8),
        (5, 4),
        (32, 32),
    ];
    let mut blocks = Vec::new();
    for (i, &(size, align)) in requests.iter().enumerate() {
        let ptr = arena.alloc(layout(size, align)).unwrap_or_else(|| {
            panic!("request #{i} alloc(size {size}, align {align}) returned None")
        });
        let a = addr(ptr);
        assert!(
            start <= a && a + size <= end,
            "request #{i} alloc(size {size}, align {align}) returned [{a:#x}, {:#x}), \
             which is not inside the buffer [{start:#x}, {end:#x})",
            a + size
        );
        assert_eq!(
            a % align,
            0,
            "request #{i} alloc(size {size}, align {align}) returned {ptr:p}, not a multiple of {align}"
        );
        blocks.push((ptr, size));
    }
    for (i, &(ptr, size)) in blocks.iter().enumerate() {
        let a = addr(ptr);
        for (j, &(other_ptr, other)) in blocks.iter().enumerate().skip(i + 1) {
            let b = addr(other_ptr);
            assert!(
                a + size <= b || b + other <= a,
                "block #{i} [{a:#x}, {:#x}) overlaps block #{j} [{b:#x}, {:#x})",
                a + size,
                b + other
            );
        }
    }
    for (i, &(ptr, size)) in blocks.iter().enumerate() {
        // SAFETY: the block lies inside the buffer and overlaps no other block.
        unsafe { ptr.as_ptr().write_bytes(i as u8 + 1, size) };
    }
    for (i, &(ptr, size)) in blocks.iter().enumerate() {
        // SAFETY: as above; every byte of the block was just written.
        let bytes = unsafe { std::slice::from_raw_parts(ptr.as_ptr(), size) };
        assert!(
            bytes.iter().all(|&byte| byte == i as u8 + 1),
            "block #{i} was filled with {} but now holds {bytes:?}",
            i + 1
        );
    }
}

#[test]
fn a_full_arena_returns_none_and_stays_usable() {
    let mut buf = Buffer::<64>::new();
    let arena = Arena::from_bytes(&mut buf.0);
    arena
        .alloc(layout(48, 8))
        .expect("alloc(size 48) in an empty 64-byte arena returned None");
    assert_eq!(
        arena.alloc(layout(32, 8)),
        None,
        "alloc(size 32) with only 16 bytes left must return None"
    );
    assert_eq!(
        arena.used(),
        48,
        "a failed alloc must not move the bump pointer: used() should still be 48"
    );
    assert!(
        arena.alloc(layout(16, 8)).is_some(),
        "alloc(size 16) with exactly 16 bytes left should succeed and fill the arena"
    );
    assert_eq!(
        arena.remaining(),
        0,
        "remaining() once the arena is exactly full"
    );
    assert_eq!(
        arena.alloc(layout(1, 1)),
        None,
        "alloc(size 1) in a full arena must return None"
    );
}

#[test]
fn alloc_value_places_values_side_by_side() {
    let mut buf = Buffer::<128>::new();
    let arena = Arena::from_bytes(&mut buf.0);
    let byte = arena
        .alloc_value(7u8)
        .expect("alloc_value(7u8) returned None");
    let word = arena
        .alloc_value(0xdead_beef_u64)
        .expect("alloc_value(u64) returned None");
    let pair = arena
        .alloc_value((1u16, 2u32))
        .expect("alloc_value((u16, u32)) returned None");
    *byte += 1;
    *word += 1;
    pair.1 += 1;
    assert_eq!(
        (*byte, *word, *pair),
        (8, 0xdead_bef0, (1, 3)),
        "three values stored in the arena and then updated should read back unchanged \
         by each other"
    );
    assert_eq!(
        arena.used(),
        24,
        "a u8 (1 byte), a u64 (padding to 8, then 8 bytes) and a (u16, u32) (8 bytes) use 24 bytes"
    );
}
