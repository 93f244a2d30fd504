//! Stage 4 visible tests: zero-sized and over-aligned requests, `reset`, `dealloc_last`.
//!
//! Run only this stage with `cargo test -p bump-allocator --test stage4_edges`.

use bump_allocator::Arena;
use rstest::rstest;

mod common;

use common::{Buffer, addr, layout};

#[rstest]
#[case::align_1(1)]
#[case::align_8(8)]
#[case::align_a_page(4096)]
#[case::align_a_megabyte(1 << 20)]
fn a_zero_sized_request_succeeds_even_when_the_arena_is_full(#[case] align: usize) {
    let mut buf = Buffer::<64>::new();
    let arena = Arena::from_bytes(&mut buf.0);
    arena
        .alloc(layout(63, 1))
        .expect("alloc(size 63) in an empty 64-byte arena returned None");
    let ptr = arena.alloc(layout(0, align)).unwrap_or_else(|| {
        panic!(
            "alloc(size 0, align {align}) returned None; a zero-sized block needs no \
             space, so it must always succeed"
        )
    });
    assert_eq!(
        addr(ptr) % align,
        0,
        "alloc(size 0, align {align}) returned {ptr:p}, which is not a multiple of {align}"
    );
    assert_eq!(
        arena.used(),
        63,
        "alloc(size 0, align {align}) must not use any space (not even padding)"
    );
}

#[rstest]
#[case::align_2_to_the_40(1 << 40)]
#[case::align_2_to_the_62(1 << 62)]
fn an_alignment_larger_than_the_buffer_is_none_not_a_panic(#[case] align: usize) {
    let mut buf = Buffer::<256>::new();
    let arena = Arena::from_bytes(&mut buf.0);
    arena
        .alloc(layout(1, 1))
        .expect("alloc(size 1) in an empty arena returned None");
    assert_eq!(
        arena.alloc(layout(8, align)),
        None,
        "alloc(size 8, align {align:#x}): no address in a 256-byte buffer is a multiple \
         of that, so the answer is None (check your arithmetic does not overflow)"
    );
    assert_eq!(
        arena.used(),
        1,
        "a failed alloc must leave used() unchanged"
    );
}

#[test]
fn reset_makes_the_whole_buffer_free_again() {
    let mut buf = Buffer::<128>::new();
    let mut arena = Arena::from_bytes(&mut buf.0);
    let first = arena
        .alloc(layout(100, 4))
        .expect("alloc(size 100) in an empty arena returned None");
    let first = addr(first);
    assert_eq!(
        arena.alloc(layout(64, 8)),
        None,
        "alloc(size 64) with 28 bytes left"
    );
    arena.reset();
    assert_eq!(arena.used(), 0, "used() right after reset()");
    assert_eq!(arena.remaining(), 128, "remaining() right after reset()");
    let again = arena
        .alloc(layout(100, 4))
        .expect("alloc(size 100) right after reset() returned None");
    assert_eq!(
        addr(again),
        first,
        "after reset() the next block should start where the very first one did"
    );
}

#[test]
fn dealloc_last_gives_back_only_the_most_recent_block() {
    let mut buf = Buffer::<128>::new();
    let arena = Arena::from_bytes(&mut buf.0);
    let a = arena
        .alloc(layout(16, 8))
        .expect("first alloc(size 16) returned None");
    let b = arena
        .alloc(layout(24, 8))
        .expect("second alloc(size 24) returned None");
    assert!(
        !arena.dealloc_last(a, layout(16, 8)),
        "dealloc_last(first block) must return false: the second block comes after it"
    );
    assert_eq!(
        arena.used(),
        40,
        "a refused dealloc_last must not change used()"
    );
    assert!(
        arena.dealloc_last(b, layout(24, 8)),
        "dealloc_last(second block) must return true: it is the most recent allocation"
    );
    assert_eq!(
        arena.used(),
        16,
        "used() after giving back the 24-byte block"
    );
    let c = arena
        .alloc(layout(24, 8))
        .expect("alloc(size 24) after dealloc_last returned None");
    assert_eq!(
        addr(c),
        addr(b),
        "the space given back by dealloc_last should be handed out again"
    );
}

#[test]
fn dealloc_last_in_reverse_order_empties_the_arena() {
    let mut buf = Buffer::<128>::new();
    let arena = Arena::from_bytes(&mut buf.0);
    let blocks: Vec<_> = (0..4)
        .map(|i| {
            arena
                .alloc(layout(8, 8))
                .unwrap_or_else(|| panic!("alloc #{i} (size 8, align 8) returned None"))
        })
        .collect();
    for (i, &ptr) in blocks.iter().enumerate().rev() {
        assert!(
            arena.dealloc_last(ptr, layout(8, 8)),
            "dealloc_last(block #{i}) must return true: every later block was already given back"
        );
    }
    assert_eq!(
        arena.used(),
        0,
        "used() after giving back every block, newest first"
    );
}
