//! Stage 5: a lock-free global allocator.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::UnsafeCell;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The heap's bytes, page-aligned so that any alignment up to a page costs
/// no more padding than it must.
#[repr(C, align(4096))]
struct Heap<const N: usize>(UnsafeCell<[u8; N]>);

// ANCHOR: bump_global
/// A bump allocator over a fixed heap of `N` bytes that is safe to share
/// between threads without a lock.
///
/// `next` is the offset of the first free byte. An allocation reads it,
/// computes where its block would start and end, and publishes the new end
/// with a single compare-and-swap; if another thread moved `next` in the
/// meantime, it tries again from the new value.
///
/// Installed as a program's heap (with `BumpGlobal` imported from this crate):
///
/// ```ignore
/// #[global_allocator]
/// static HEAP: BumpGlobal<{ 64 << 20 }> = BumpGlobal::new();
/// ```
pub struct BumpGlobal<const N: usize> {
    heap: Heap<N>,
    next: AtomicUsize,
}
// ANCHOR_END: bump_global

// SAFETY: the heap's bytes are only reached through blocks handed out by
// `alloc`, and the compare-and-swap on `next` hands each byte to at most one
// caller, so sharing the allocator between threads cannot create aliasing.
unsafe impl<const N: usize> Sync for BumpGlobal<N> {}

impl<const N: usize> BumpGlobal<N> {
    /// An empty heap. `const`, so it can initialise a `static`.
    pub const fn new() -> Self {
        BumpGlobal {
            heap: Heap(UnsafeCell::new([0; N])),
            next: AtomicUsize::new(0),
        }
    }

    /// Address of the heap's first byte.
    pub fn heap_start(&self) -> usize {
        self.heap.0.get() as usize
    }

    /// Size of the heap in bytes.
    pub const fn capacity(&self) -> usize {
        N
    }

    /// Bytes handed out so far, alignment padding included.
    pub fn used(&self) -> usize {
        self.next.load(Ordering::Relaxed)
    }

    /// A pointer to the heap byte at `offset`, carrying the heap's provenance.
    /// `offset` may be `N` (one past the end) but no more.
    #[inline]
    fn block_at(&self, offset: usize) -> *mut u8 {
        assert!(offset <= N, "offset {offset} is past the heap's end {N}");
        self.heap.0.get().cast::<u8>().wrapping_add(offset)
    }
}

impl<const N: usize> Default for BumpGlobal<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> std::fmt::Debug for BumpGlobal<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BumpGlobal")
            .field("capacity", &N)
            .field("used", &self.used())
            .finish()
    }
}

// SAFETY: `alloc` returns either null or a block of `layout.size()` bytes,
// aligned to `layout.align()`, inside the heap and disjoint from every other
// block it has returned; `dealloc` never touches memory.
unsafe impl<const N: usize> GlobalAlloc for BumpGlobal<N> {
    // ANCHOR: global_alloc
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // Careful: this function must not allocate (no `format!`, no `Vec`),
        // and must not panic: it *is* the allocator. Return null when full.
        let heap = self.heap_start();
        let mask = layout.align() - 1;
        let mut next = self.next.load(Ordering::Relaxed);
        loop {
            // Align the address, not the offset, so alignments above the
            // heap's own alignment are honoured too.
            let Some(bumped) = (heap + next).checked_add(mask) else {
                return ptr::null_mut();
            };
            let offset = (bumped & !mask) - heap;
            let end = match offset.checked_add(layout.size()) {
                Some(end) if end <= N => end,
                _ => return ptr::null_mut(),
            };
            // Relaxed is enough: the compare-and-swap alone decides which
            // thread owns which bytes, and no other data is published
            // through `next`.
            match self
                .next
                .compare_exchange_weak(next, end, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return self.block_at(offset),
                Err(current) => next = current,
            }
        }
    }
    // ANCHOR_END: global_alloc

    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {
        // A bump allocator frees nothing one by one.
    }
}
