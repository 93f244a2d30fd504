//! Helpers shared by the visible tests of stages 3 and 4.

#![allow(dead_code, unreachable_pub)] // each test file uses its own subset

use std::alloc::Layout;
use std::ptr::NonNull;

/// A buffer whose first byte sits on a 64-byte boundary, so that the tests
/// know exactly how much padding each request needs.
#[repr(C, align(64))]
pub struct Buffer<const N: usize>(pub [u8; N]);

impl<const N: usize> Buffer<N> {
    /// A zeroed buffer.
    pub fn new() -> Self {
        Buffer([0; N])
    }
}

/// A layout, for sizes and alignments the tests know are valid.
pub fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).unwrap()
}

/// The address a pointer points at.
pub fn addr(ptr: NonNull<u8>) -> usize {
    ptr.as_ptr() as usize
}
