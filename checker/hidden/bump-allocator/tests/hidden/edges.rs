//! Stage 4: zero-sized and over-aligned requests, `reset`, `dealloc_last`.

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

const ZST_ALIGNS: [usize; 7] = [1, 2, 8, 64, 4096, 1 << 20, 1 << (usize::BITS - 1)];

// Catches: a zero-sized request moving `next` (to an aligned address, or at all).
#[test]
fn zero_sized_requests_use_no_space() {
    let mut buf = SkewedBuffer::new(256, 64, 1);
    let arena = Arena::new(buf.as_uninit());
    arena
        .alloc(layout(3, 1))
        .expect("Arena::alloc(size 3, align 1) on an empty arena");
    for align in ZST_ALIGNS {
        let call = format!("Arena::alloc(size 0, align {align})");
        let got = must_not_panic(&call, "a zero-sized request always succeeds", || {
            arena.alloc(layout(0, align))
        });
        assert!(
            got.is_some(),
            "{call} must succeed: a zero-sized request always does"
        );
        assert_eq!(
            arena.used(),
            3,
            "used() after {call}: a zero-sized block takes no space, not even alignment padding"
        );
    }
}

// Catches: a zero-sized request returning `next` unaligned, or a pointer aligned only to 1 (`NonNull::dangling()`).
#[test]
fn zero_sized_pointers_are_aligned() {
    let mut buf = SkewedBuffer::new(64, 64, 3);
    let arena = Arena::new(buf.as_uninit());
    arena
        .alloc(layout(1, 1))
        .expect("Arena::alloc(size 1, align 1) on an empty arena");
    for align in ZST_ALIGNS {
        let call = format!("Arena::alloc(size 0, align {align})");
        let got = must_not_panic(&call, "a zero-sized request always succeeds", || {
            arena.alloc(layout(0, align))
        });
        let ptr =
            got.unwrap_or_else(|| panic!("{call} must succeed: a zero-sized request always does"));
        assert_eq!(
            addr(ptr) % align,
            0,
            "{call} returned {:#x}, which is not a multiple of {align}",
            addr(ptr)
        );
    }
}

// Catches: treating a zero-sized request like any other, so it fails once the buffer is full (or is empty).
#[test]
fn zero_sized_requests_succeed_when_full() {
    let mut buf = SkewedBuffer::new(32, 64, 0);
    let arena = Arena::new(buf.as_uninit());
    arena
        .alloc(layout(32, 1))
        .expect("Arena::alloc(size 32, align 1) on an empty 32-byte arena");
    for align in ZST_ALIGNS {
        let call = format!("Arena::alloc(size 0, align {align}) on a full arena");
        let got = must_not_panic(&call, "a zero-sized request always succeeds", || {
            arena.alloc(layout(0, align))
        });
        assert!(
            got.is_some(),
            "{call} must succeed: a zero-sized request needs no room"
        );
    }
    let mut empty: [std::mem::MaybeUninit<u8>; 0] = [];
    let arena = Arena::new(&mut empty);
    for align in ZST_ALIGNS {
        let call = format!("Arena::alloc(size 0, align {align}) on a 0-byte arena");
        let got = must_not_panic(&call, "a zero-sized request always succeeds", || {
            arena.alloc(layout(0, align))
        });
        assert!(
            got.is_some(),
            "{call} must succeed: a zero-sized request needs no room"
        );
        assert!(
            arena.alloc(layout(1, 1)).is_none(),
            "Arena::alloc(size 1, align 1) on a 0-byte arena must return None"
        );
    }
}

// Catches: an alignment larger than the buffer panicking (`end - start` underflow, `pointer_to` before the bounds check).
#[test]
fn an_alignment_larger_than_the_buffer_is_none() {
    let mut buf = SkewedBuffer::new(64, 64, 1);
    let arena = Arena::new(buf.as_uninit());
    for request in [
        layout(1, 4096),
        layout(8, 1 << 20),
        layout(64, 1 << 30),
        layout(1, 1 << (usize::BITS - 2)),
    ] {
        let call = format!("Arena::alloc({request:?}) on a 64-byte arena at an odd address");
        let got = must_not_panic(&call, "it should return None", || arena.alloc(request));
        assert!(
            got.is_none(),
            "{call} must return None: no address in the buffer is aligned enough"
        );
        assert_eq!(arena.used(), 0, "used() after {call} returned None");
    }
    assert!(
        arena.alloc(layout(63, 1)).is_some(),
        "Arena::alloc(size 63, align 1) after some over-aligned requests failed: they must leave the arena untouched"
    );
}

// Catches: reset that forgets to move `next` back, or moves it somewhere other than the buffer's first byte.
#[test]
fn reset_restores_the_full_capacity() {
    let mut buf = SkewedBuffer::new(100, 64, 3);
    let start = buf.start();
    let mut arena = Arena::new(buf.as_uninit());
    arena
        .alloc(layout(10, 8))
        .expect("Arena::alloc(size 10, align 8)");
    arena
        .alloc(layout(40, 1))
        .expect("Arena::alloc(size 40, align 1)");
    arena.reset();
    assert_eq!(arena.used(), 0, "used() right after reset()");
    assert_eq!(
        arena.remaining(),
        100,
        "remaining() right after reset() on a 100-byte arena"
    );
    let whole = arena.alloc(layout(100, 1));
    assert_eq!(
        whole.map(addr).hex(),
        Some(start).hex(),
        "Arena::alloc(size 100, align 1) right after reset() must hand out the whole buffer, \
         starting at its first byte {start:#x}"
    );
}

// Catches: dealloc_last that never frees (always false), or returns true without moving `next` back.
#[test]
fn dealloc_last_frees_the_last_block() {
    let mut buf = SkewedBuffer::new(256, 64, 0);
    let arena = Arena::new(buf.as_uninit());
    let (la, lb) = (layout(16, 8), layout(24, 8));
    let _a = arena.alloc(la).expect("alloc a");
    let b = arena.alloc(lb).expect("alloc b");
    assert!(
        arena.dealloc_last(b, lb),
        "dealloc_last(b) must return true: b ({lb:?}) is the most recent allocation"
    );
    assert_eq!(
        arena.used(),
        16,
        "used() after dealloc_last(b): `next` should be back at b's start"
    );
    let again = arena.alloc(lb);
    assert_eq!(
        again,
        Some(b),
        "after dealloc_last(b), allocating {lb:?} again should reuse b's address"
    );
}

// Catches: dealloc_last freeing a block that is not the last (e.g. moving `next` back to any pointer), or trusting a wrong size.
#[test]
fn dealloc_last_refuses_other_blocks() {
    let mut buf = SkewedBuffer::new(256, 64, 0);
    let arena = Arena::new(buf.as_uninit());
    let (la, lb) = (layout(16, 8), layout(24, 8));
    let a = arena.alloc(la).expect("alloc a");
    let b = arena.alloc(lb).expect("alloc b");
    assert!(
        !arena.dealloc_last(a, la),
        "dealloc_last(a) must return false: b was allocated after a, and only the last block can be undone"
    );
    assert_eq!(
        arena.used(),
        40,
        "used() after a refused dealloc_last(a) must not change"
    );
    assert!(
        !arena.dealloc_last(b, layout(8, 8)),
        "dealloc_last(b, size 8) must return false: b is 24 bytes, so b + 8 is not `next`"
    );
    assert_eq!(
        arena.used(),
        40,
        "used() after a refused dealloc_last(b, wrong size) must not change"
    );
    let mut outside = 0u64;
    let foreign = NonNull::from(&mut outside).cast::<u8>();
    assert!(
        !arena.dealloc_last(foreign, layout(8, 8)),
        "dealloc_last of a pointer that the arena never handed out must return false"
    );
    assert_eq!(
        arena.used(),
        40,
        "used() after a refused dealloc_last of a foreign pointer must not change"
    );
    assert_eq!(
        arena.alloc(layout(8, 1)).map(addr).hex(),
        Some(addr(b) + 24).hex(),
        "the next block must follow b"
    );
}

// Catches: a dealloc_last that only checks `ptr + size == next` and not that `ptr` is inside the buffer, so a pointer from before the buffer moves `next` out of it.
#[test]
fn dealloc_last_refuses_pointers_outside_the_buffer() {
    let mut buf = SkewedBuffer::new(256, 64, 0);
    let start = buf.start();
    let arena = Arena::new(buf.as_uninit());
    arena
        .alloc(layout(40, 8))
        .expect("Arena::alloc(size 40, align 8) on an empty 256-byte arena");
    // A block that "ends at `next`" but starts before the buffer: 64 bytes
    // before it, with a size that reaches exactly the arena's `next`.
    let before = start - 64;
    let foreign =
        NonNull::new(std::ptr::without_provenance_mut::<u8>(before)).expect("a non-null address");
    let request = layout(64 + 40, 8);
    let call = format!(
        "dealloc_last({before:#x}, {request:?}) on an arena whose buffer starts at {start:#x} \
         with 40 bytes used"
    );
    let freed = must_not_panic(&call, "it returns false", || {
        arena.dealloc_last(foreign, request)
    });
    assert!(
        !freed,
        "{call} returned true: {before:#x} + {} is `next`, but {before:#x} is before the \
         buffer, so the arena never handed it out. Check that `ptr` is inside the buffer too",
        request.size()
    );
    assert_eq!(
        arena.used(),
        40,
        "used() after a refused dealloc_last of a pointer from before the buffer must not change"
    );
}

// Catches: a dealloc_last that does not check that the block ends exactly at `next` (e.g. `ptr <= next` then `next -= size`, or a remembered last pointer), so a second call frees memory again.
#[test]
fn dealloc_last_twice_or_after_reset_is_refused() {
    let mut buf = SkewedBuffer::new(256, 64, 0);
    let start = buf.start();
    let mut arena = Arena::new(buf.as_uninit());
    let l = layout(16, 8);
    let _a = arena.alloc(l).expect("alloc a");
    let b = arena.alloc(l).expect("alloc b");
    assert!(
        arena.dealloc_last(b, l),
        "dealloc_last(b) of the most recent block must return true"
    );
    assert!(
        !arena.dealloc_last(b, l),
        "a second dealloc_last(b) must return false: b is already free, and `next` is at its start, not its end"
    );
    assert_eq!(
        arena.used(),
        16,
        "used() after a refused second dealloc_last(b)"
    );
    let again = arena.alloc(l);
    assert_eq!(
        again,
        Some(b),
        "the space freed by dealloc_last(b) must be reused by the next allocation"
    );
    arena.reset();
    assert!(
        !arena.dealloc_last(b, l),
        "dealloc_last(b) after reset() must return false: nothing is allocated any more"
    );
    assert_eq!(
        arena.used(),
        0,
        "used() after a refused dealloc_last following reset()"
    );
    assert_eq!(
        arena.alloc(l).map(addr).hex(),
        Some(start).hex(),
        "after reset(), the first block starts at the buffer"
    );
}

// Catches: remembering only one "last" block, so undoing twice in a row (stack order) fails.
#[test]
fn dealloc_last_undoes_in_reverse_order() {
    let mut buf = SkewedBuffer::new(256, 64, 0);
    let arena = Arena::new(buf.as_uninit());
    // No padding between these blocks, so each undo leaves the previous block last.
    let layouts = [layout(8, 8), layout(4, 1), layout(16, 4), layout(1, 1)];
    let blocks: Vec<_> = layouts
        .iter()
        .map(|&l| arena.alloc(l).expect("alloc"))
        .collect();
    for (i, (&block, &l)) in blocks.iter().zip(&layouts).enumerate().rev() {
        assert!(
            arena.dealloc_last(block, l),
            "dealloc_last of block {i} ({l:?}) after undoing every later block must return true"
        );
        assert_eq!(
            arena.used(),
            addr(block) - addr(blocks[0]),
            "used() after undoing block {i} should be where block {i} started"
        );
    }
}

/// One random sequence of allocations, resets and undos, checked against a
/// model of the bump pointer and a shadow map of live blocks.
fn random_sequence(seed: u64) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let len = rng.usize(0..4096);
    let skew = rng.usize(0..64);
    let mut buf = SkewedBuffer::new(len, 64, skew);
    let (start, end) = (buf.start(), buf.start() + len);
    let mut arena = Arena::new(buf.as_uninit());
    let mut model_next = start;
    let mut shadow = Shadow::new();
    // Live non-empty blocks in allocation order: (block, layout, tag).
    let mut live: Vec<(NonNull<u8>, Layout, usize)> = Vec::new();
    for step in 0..400 {
        let ctx = format!("step {step} (seed {seed}, {len}-byte buffer at {start:#x})");
        match rng.u8(0..20) {
            0 => {
                arena.reset();
                model_next = start;
                shadow.clear();
                live.clear();
                assert_eq!(arena.used(), 0, "{ctx}: used() after reset()");
            }
            1..=3 if !live.is_empty() => {
                let last = rng.bool();
                let i = if last {
                    live.len() - 1
                } else {
                    rng.usize(..live.len())
                };
                let (block, l, _) = live[i];
                // Only a block that ends exactly at `next` can be undone; after
                // an undo, padding can leave the previous block short of it.
                let expected = addr(block) + l.size() == model_next;
                let got = arena.dealloc_last(block, l);
                assert_eq!(
                    got,
                    expected,
                    "{ctx}: dealloc_last({:#x}, {l:?}) for live block {i} of {}",
                    addr(block),
                    live.len()
                );
                if expected {
                    assert_eq!(i, live.len() - 1, "seed {seed}: model error");
                    live.pop();
                    shadow.remove(addr(block));
                    model_next = addr(block);
                }
            }
            _ => {
                let size = if rng.u8(0..8) == 0 {
                    0
                } else {
                    rng.usize(1..200)
                };
                let max_align = if rng.u8(0..10) == 0 { 1 << 16 } else { 64 };
                let request = layout(size, random_align(&mut rng, max_align));
                let call = format!(
                    "{ctx}: Arena::alloc({request:?}) with used() = {}",
                    model_next - start
                );
                let got = must_not_panic(&call, "it returns Some or None", || arena.alloc(request));
                if size == 0 {
                    let ptr =
                        got.unwrap_or_else(|| panic!("{call} must succeed: it is zero-sized"));
                    assert_eq!(
                        addr(ptr) % request.align(),
                        0,
                        "{call} returned a misaligned pointer"
                    );
                    assert_eq!(
                        arena.used(),
                        model_next - start,
                        "{call}: a zero-sized request must not move `next`"
                    );
                    continue;
                }
                let aligned = round_up(model_next, request.align());
                let expected = (aligned + size <= end).then_some(aligned);
                assert_eq!(got.map(addr).hex(), expected.hex(), "{call}");
                let Some(block) = got else { continue };
                check_block(addr(block), request, start..end)
                    .unwrap_or_else(|e| panic!("{call}: {e}"));
                shadow
                    .insert(addr(block), size)
                    .unwrap_or_else(|e| panic!("{call}: {e}"));
                // SAFETY: the block was checked to lie inside the buffer.
                unsafe { fill(block, size, step) };
                live.push((block, request, step));
                model_next = aligned + size;
            }
        }
    }
    for (block, l, tag) in live {
        // SAFETY: every live block lies inside the buffer and was filled.
        if let Some(i) = unsafe { first_mismatch(block, l.size(), tag) } {
            panic!(
                "seed {seed}: byte {i} of the block from step {tag} was overwritten: blocks overlap"
            );
        }
    }
}

// Catches: edge-case handling that breaks the ordinary path (ZSTs, huge alignments, resets and undos interleaved with allocations).
#[test]
fn random_sequences_with_reset_and_undo() {
    for seed in 100..140 {
        random_sequence(seed);
    }
}
