//! Stage 3: `Arena::alloc` over a fixed buffer.

use std::alloc::Layout;
use std::ptr::NonNull;

use hidden_bump_allocator::{
    AsHex, Shadow, SkewedBuffer, check_block, fill, first_mismatch, must_not_panic, random_align,
    round_up,
};
use learner::Arena;

fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).expect("a valid test layout")
}

fn addr(ptr: NonNull<u8>) -> usize {
    ptr.as_ptr().addr()
}

// Catches: returning the end of the new block (the bumped `next`) instead of its start.
#[test]
fn the_first_block_starts_at_the_buffer() {
    let mut buf = SkewedBuffer::new(256, 64, 0);
    let start = buf.start();
    let arena = Arena::new(buf.as_uninit());
    let block = arena
        .alloc(layout(16, 8))
        .expect("Arena::alloc(size 16, align 8) on an empty 256-byte arena returned None");
    assert_eq!(
        addr(block).hex(),
        start.hex(),
        "Arena::alloc(size 16, align 8) on an empty arena whose buffer starts at the \
         64-aligned address {start:#x}: the block should start at the buffer's first byte"
    );
}

// Catches: not moving `next` past the block, so every allocation returns the same address.
#[test]
fn next_moves_past_each_block() {
    let mut buf = SkewedBuffer::new(256, 64, 0);
    let start = buf.start();
    let arena = Arena::new(buf.as_uninit());
    for i in 0..5 {
        let block = arena
            .alloc(layout(10, 1))
            .unwrap_or_else(|| panic!("Arena::alloc(size 10, align 1) number {i} returned None"));
        assert_eq!(
            addr(block).hex(),
            (start + 10 * i).hex(),
            "allocation number {i} of 10 bytes (align 1) should start where the previous \
             one ended, at buffer start + {}",
            10 * i
        );
        assert_eq!(
            arena.used(),
            10 * (i + 1),
            "used() after {} allocations of 10 bytes: `next` must move to the end of each block",
            i + 1
        );
    }
}

// Catches: aligning the offset inside the buffer instead of the absolute address (the buffer here starts at an odd address).
#[test]
fn aligns_the_address_not_the_offset() {
    for skew in [1, 3, 7, 33] {
        let mut buf = SkewedBuffer::new(512, 64, skew);
        let start = buf.start();
        let arena = Arena::new(buf.as_uninit());
        for align in [2, 4, 8, 16, 64] {
            let block = arena.alloc(layout(1, align)).unwrap_or_else(|| {
                panic!("Arena::alloc(size 1, align {align}) returned None with plenty of room")
            });
            assert_ne!(
                addr(block).hex(),
                (start + arena.used()).hex(),
                "Arena::alloc(size 1, align {align}) returned {:#x}, which is where `next` \
                 moved to, the end of the block it handed out: return the block's start \
                 (the aligned `next`), then move `next` past it",
                addr(block)
            );
            assert_eq!(
                addr(block) % align,
                0,
                "Arena::alloc(size 1, align {align}) over a buffer starting at the misaligned \
                 address {start:#x} returned {:#x}, which is not a multiple of {align}: \
                 align the address, not the offset from the buffer's start",
                addr(block)
            );
        }
    }
}

// Catches: rejecting a request that exactly fills the rest of the buffer (`>=` instead of `>`).
#[test]
fn an_exact_fit_succeeds() {
    let mut buf = SkewedBuffer::new(64, 64, 0);
    let arena = Arena::new(buf.as_uninit());
    assert!(
        arena.alloc(layout(64, 1)).is_some(),
        "Arena::alloc(size 64, align 1) on an empty 64-byte arena must succeed: it fits exactly"
    );
    // After alignment padding: the buffer starts 4 bytes past a multiple of 8,
    // so an 8-aligned block starts 4 bytes in and 32 bytes end exactly at the end.
    let mut buf = SkewedBuffer::new(36, 64, 4);
    let start = buf.start();
    let arena = Arena::new(buf.as_uninit());
    let block = arena.alloc(layout(32, 8));
    assert_eq!(
        block.map(addr).hex(),
        Some(start + 4).hex(),
        "Arena::alloc(size 32, align 8) on a 36-byte buffer at {start:#x} (4 bytes past an \
         8-aligned address): the block fits exactly at start + 4, ending on the buffer's last byte"
    );
    assert_eq!(
        arena.remaining(),
        0,
        "remaining() after filling the buffer exactly"
    );
}

// Catches: accepting a block that ends one byte past the buffer, or a bounds check that forgets the alignment padding.
#[test]
fn one_byte_too_many_fails() {
    let mut buf = SkewedBuffer::new(64, 64, 0);
    let arena = Arena::new(buf.as_uninit());
    assert!(
        arena.alloc(layout(65, 1)).is_none(),
        "Arena::alloc(size 65, align 1) on a 64-byte arena must return None"
    );
    assert!(
        arena.alloc(layout(60, 1)).is_some(),
        "Arena::alloc(size 60, align 1) on an empty 64-byte arena"
    );
    assert!(
        arena.alloc(layout(5, 1)).is_none(),
        "Arena::alloc(size 5, align 1) with 4 bytes left must return None"
    );
    assert!(
        arena.alloc(layout(4, 1)).is_some(),
        "Arena::alloc(size 4, align 1) with exactly 4 bytes left must succeed"
    );
    // 10 bytes fit in the 16 that are left, but not after the 7 bytes of
    // padding that an 8-aligned block needs here.
    let mut buf = SkewedBuffer::new(16, 64, 1);
    let arena = Arena::new(buf.as_uninit());
    assert!(
        arena.alloc(layout(10, 8)).is_none(),
        "Arena::alloc(size 10, align 8) on a 16-byte buffer that starts 1 byte past an \
         8-aligned address must return None: the block would start 7 bytes in and end 1 byte \
         past the buffer (count the padding in the bounds check)"
    );
}

// Catches: moving `next` before the bounds check, so a failed request eats the rest of the buffer.
#[test]
fn a_failed_request_changes_nothing() {
    let mut buf = SkewedBuffer::new(128, 64, 0);
    let arena = Arena::new(buf.as_uninit());
    arena
        .alloc(layout(100, 1))
        .expect("Arena::alloc(size 100, align 1) on a 128-byte arena");
    assert!(
        arena.alloc(layout(64, 1)).is_none(),
        "Arena::alloc(size 64, align 1) with 28 bytes left must return None"
    );
    assert_eq!(
        arena.used(),
        100,
        "used() after a request that returned None: a failed request must not move `next`"
    );
    assert!(
        arena.alloc(layout(28, 1)).is_some(),
        "Arena::alloc(size 28, align 1) with 28 bytes left, after a failed bigger request, must succeed"
    );
}

// Catches: arithmetic that panics on huge sizes (`end - start - size` underflowing, unchecked adds) instead of returning None.
#[test]
fn huge_requests_are_none_not_a_panic() {
    let mut buf = SkewedBuffer::new(256, 64, 3);
    let arena = Arena::new(buf.as_uninit());
    arena
        .alloc(layout(1, 1))
        .expect("Arena::alloc(size 1, align 1) on an empty arena");
    for request in [
        layout(257, 1),
        layout(isize::MAX as usize, 1),
        layout(isize::MAX as usize - 7, 8),
        layout(1 << 40, 4096),
        layout(usize::MAX / 4, 1 << 20),
    ] {
        let call = format!("Arena::alloc({request:?}) on a 256-byte arena");
        let got = must_not_panic(&call, "it should return None", || arena.alloc(request));
        assert!(got.is_none(), "{call} must return None, got {got:?}");
        assert_eq!(arena.used(), 1, "used() after {call} returned None");
    }
}

// Catches: blocks written through alloc_value clobbering each other (overlapping or misaligned blocks).
#[test]
fn values_keep_what_was_written() {
    #[derive(Debug, Clone, Copy, PartialEq)]
    #[repr(align(32))]
    struct Wide(u64, u8);
    let mut buf = SkewedBuffer::new(8192, 64, 5);
    let arena = Arena::new(buf.as_uninit());
    let mut bytes = Vec::new();
    let mut words = Vec::new();
    let mut wides = Vec::new();
    for i in 0..40u64 {
        bytes.push(arena.alloc_value(i as u8).expect("alloc_value(u8)"));
        words.push(
            arena
                .alloc_value(i * 0x0101_0101_0101)
                .expect("alloc_value(u64)"),
        );
        wides.push(
            arena
                .alloc_value(Wide(!i, i as u8))
                .expect("alloc_value(Wide)"),
        );
    }
    for (i, ((b, w), x)) in bytes.iter().zip(&words).zip(&wides).enumerate() {
        let i = i as u64;
        assert_eq!(
            **b, i as u8,
            "the u8 from alloc_value number {i} was overwritten"
        );
        assert_eq!(
            **w,
            i * 0x0101_0101_0101,
            "the u64 from alloc_value number {i} was overwritten"
        );
        assert_eq!(
            **x,
            Wide(!i, i as u8),
            "the 32-aligned value from alloc_value number {i} was overwritten"
        );
        assert_eq!(
            (&raw const **x).addr() % 32,
            0,
            "alloc_value of a 32-aligned type returned a misaligned address"
        );
    }
}

/// Runs one random sequence of allocations and checks every block against a
/// model of the bump pointer and a shadow map of live blocks.
fn random_sequence(seed: u64) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let len = rng.usize(1..8192);
    let skew = rng.usize(0..64);
    let mut buf = SkewedBuffer::new(len, 64, skew);
    let (start, end) = (buf.start(), buf.start() + len);
    let arena = Arena::new(buf.as_uninit());
    let mut model_next = start;
    let mut shadow = Shadow::new();
    let mut live = Vec::new();
    for step in 0..400 {
        let max_size = [8, 64, 512][rng.usize(..3)];
        let size = rng.usize(1..=max_size);
        let request = layout(size, random_align(&mut rng, 256));
        let what = format!(
            "step {step} (seed {seed}): Arena::alloc({request:?}) on a {len}-byte buffer at \
             {start:#x} with used() = {}",
            model_next - start
        );
        let got = arena.alloc(request);
        let aligned = round_up(model_next, request.align());
        let expected = (aligned + size <= end).then_some(aligned);
        assert_eq!(
            got.map(addr).hex(),
            expected.hex(),
            "{what}: expected {}",
            match expected {
                Some(a) => format!("a block at {a:#x} (`next` rounded up to the alignment)"),
                None => "None (the block would end past the buffer)".to_string(),
            }
        );
        let Some(block) = got else { continue };
        check_block(addr(block), request, start..end).unwrap_or_else(|e| panic!("{what}: {e}"));
        shadow
            .insert(addr(block), size)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        // SAFETY: the block was just checked to be `size` bytes inside the buffer.
        unsafe { fill(block, size, step) };
        live.push((block, size, step));
        model_next = aligned + size;
    }
    for (block, size, step) in live {
        // SAFETY: every recorded block lies inside the buffer and was filled.
        if let Some(i) = unsafe { first_mismatch(block, size, step) } {
            panic!(
                "seed {seed}: byte {i} of the block allocated at step {step} ({size} bytes at \
                 {:#x}) was overwritten by a later allocation: blocks overlap",
                addr(block)
            );
        }
    }
}

// Catches: any bump that drifts from "round next up, hand out, move next" (gaps, overlaps, early None, misaligned or out-of-bounds blocks).
#[test]
fn random_sequences_match_a_model_of_the_bump_pointer() {
    for seed in 1..=40 {
        random_sequence(seed);
    }
}
