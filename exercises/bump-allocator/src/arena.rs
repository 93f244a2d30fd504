//! Stages 3 and 4: an arena that bumps a pointer through a fixed buffer.

use std::alloc::Layout;
use std::cell::Cell;
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::ptr::NonNull;

#[allow(unused_imports)] // you will want these
use crate::align::{align_down, align_up};

// ANCHOR: arena_struct
/// A bump allocator over a buffer it borrows.
///
/// Every allocation is carved from the front of the free space: round `next`
/// up to the alignment, hand out `[aligned, aligned + size)`, move `next` to
/// the end. Nothing is freed one by one; [`Arena::reset`] frees everything.
///
/// Positions are kept as plain addresses (`usize`) so the arithmetic is
/// ordinary integer arithmetic; [`Arena::pointer_to`] turns an address inside
/// the buffer back into a pointer.
#[derive(Debug)]
pub struct Arena<'buf> {
    /// Address of the first byte of the buffer.
    start: usize,
    /// Address one past the last byte of the buffer.
    end: usize,
    /// Address of the first free byte: everything in `[start, next)` is
    /// handed out.
    next: Cell<usize>,
    /// The buffer itself, kept as a pointer so that handed-out memory can be
    /// written through while the arena is shared.
    base: NonNull<u8>,
    _buf: PhantomData<&'buf mut [MaybeUninit<u8>]>,
}
// ANCHOR_END: arena_struct

impl<'buf> Arena<'buf> {
    /// Creates an arena that hands out the bytes of `buf`.
    pub fn new(buf: &'buf mut [MaybeUninit<u8>]) -> Self {
        let base = NonNull::from(&mut *buf).cast::<u8>();
        let start = base.as_ptr() as usize;
        Arena {
            start,
            end: start + buf.len(),
            next: Cell::new(start),
            base,
            _buf: PhantomData,
        }
    }

    /// Creates an arena over an initialised byte buffer.
    pub fn from_bytes(buf: &'buf mut [u8]) -> Self {
        // SAFETY: `MaybeUninit<u8>` has the same layout as `u8`, and the arena
        // only ever writes initialised bytes or hands out memory for the
        // caller to initialise, so viewing the bytes as possibly-uninitialised
        // cannot break the `u8` invariant the caller relies on afterwards.
        let buf = unsafe { &mut *(buf as *mut [u8] as *mut [MaybeUninit<u8>]) };
        Arena::new(buf)
    }

    /// Total size of the buffer in bytes.
    pub fn capacity(&self) -> usize {
        self.end - self.start
    }

    /// Bytes consumed so far, alignment padding included.
    pub fn used(&self) -> usize {
        self.next.get() - self.start
    }

    /// Bytes still free at the end of the buffer.
    pub fn remaining(&self) -> usize {
        self.end - self.next.get()
    }

    /// Turns an address inside the buffer (or one past its end) into a pointer
    /// that carries the buffer's provenance.
    ///
    /// # Panics
    /// If `addr` is outside `[start, end]`: that would be a bug in the arena.
    pub fn pointer_to(&self, addr: usize) -> NonNull<u8> {
        assert!(
            (self.start..=self.end).contains(&addr),
            "address {addr:#x} is outside the arena [{:#x}, {:#x}]",
            self.start,
            self.end
        );
        // SAFETY: `addr - start` is at most the buffer's length, so the result
        // stays inside the buffer or one past its end, and is not null.
        unsafe { self.base.add(addr - self.start) }
    }

    // ANCHOR: alloc
    /// Hands out a block that fits `layout`, or `None` when the buffer cannot.
    ///
    /// The block starts at an address that is a multiple of `layout.align()`
    /// (the *address*, not the offset in the buffer), lies entirely inside the
    /// buffer, and overlaps nothing handed out since the last reset.
    ///
    /// Stage 4 adds two rules: a zero-sized request always succeeds, uses no
    /// space and returns a *dangling* pointer, non-null and aligned to
    /// `layout.align()` but pointing at no memory (the book's stage 4 shows
    /// how to make one); and an alignment larger than the whole buffer is
    /// simply a `None`, never a panic.
    pub fn alloc(&self, layout: Layout) -> Option<NonNull<u8>> {
        todo!("stage 3: bump `next` past a block of {layout:?}")
    }
    // ANCHOR_END: alloc

    /// Moves `value` into the arena and returns a reference to it.
    #[allow(clippy::mut_from_ref)] // each call hands out a fresh, disjoint block
    pub fn alloc_value<T>(&self, value: T) -> Option<&mut T> {
        let ptr = self.alloc(Layout::new::<T>())?.cast::<T>();
        // SAFETY: `alloc` returned a block that is valid for a `T`, aligned for
        // it, and not aliased by any other live reference; it lives as long as
        // the borrow of the arena, because `reset` needs `&mut self`.
        unsafe {
            ptr.as_ptr().write(value);
            Some(&mut *ptr.as_ptr())
        }
    }

    // ANCHOR: reset
    /// Frees every allocation at once: the whole buffer is free again.
    ///
    /// Taking `&mut self` is the point: the borrow checker guarantees that no
    /// reference returned by [`Arena::alloc_value`] is still alive.
    pub fn reset(&mut self) {
        todo!("stage 4: forget every allocation")
    }
    // ANCHOR_END: reset

    // ANCHOR: dealloc_last
    /// Gives back the block at `ptr` if it is the most recent allocation.
    ///
    /// A bump allocator can only undo its last step: if `ptr + layout.size()`
    /// is exactly `next`, move `next` back to `ptr` and return `true`. Any
    /// other block stays allocated until [`Arena::reset`], and the call
    /// returns `false`.
    pub fn dealloc_last(&self, ptr: NonNull<u8>, layout: Layout) -> bool {
        todo!("stage 4: undo the last allocation if {ptr:?} ({layout:?}) is it")
    }
    // ANCHOR_END: dealloc_last
}
