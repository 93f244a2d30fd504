//! The example pack's Rust tests for the bump allocator's stage `arena`:
//! a Rust test file is named after its stage, uses the graded crate as
//! `learner` and may use the hidden suite's helpers.

// ANCHOR: rust
use std::alloc::Layout;

use hidden_bump_allocator::{SkewedBuffer, check_block};
use learner::Arena;

#[test]
fn values_written_through_alloc_value_read_back() {
    let mut buffer = SkewedBuffer::new(256, 64, 3);
    let bounds = buffer.start()..buffer.start() + 256;
    let arena = Arena::new(buffer.as_uninit());
    let a = arena
        .alloc_value(0x1122_3344_5566_7788_u64)
        .expect("room for a u64");
    let b = arena.alloc_value([7_u16; 5]).expect("room for [u16; 5]");
    check_block(
        std::ptr::from_mut(a).addr(),
        Layout::new::<u64>(),
        bounds.clone(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    check_block(
        std::ptr::from_mut(b).addr(),
        Layout::new::<[u16; 5]>(),
        bounds,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(*a, 0x1122_3344_5566_7788, "the u64 was overwritten");
    assert_eq!(*b, [7; 5], "the array was overwritten");
}
// ANCHOR_END: rust
