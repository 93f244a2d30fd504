//! Stage 6: an arena that grows by asking the OS for memory with `mmap`.

use std::alloc::Layout;
use std::ptr::NonNull;

#[allow(unused_imports)] // you will want these
use crate::align::{align_down, align_up};

/// One anonymous mapping obtained from `mmap`.
#[derive(Debug)]
pub struct Chunk {
    /// First byte of the mapping (page-aligned).
    pub ptr: NonNull<u8>,
    /// Length of the mapping in bytes (a multiple of the page size).
    pub len: usize,
}

// ANCHOR: chunked_struct
/// A bump allocator that never runs out while the OS has memory: when the
/// current chunk is full, it maps a fresh one and bumps through that.
///
/// Chunks come straight from `mmap` (anonymous, private, read-write), so the
/// kernel only reserves address space: a page becomes resident memory the
/// first time it is touched. Every chunk is unmapped when the arena drops.
#[derive(Debug)]
pub struct ChunkedArena {
    /// Size of an ordinary chunk, a multiple of the page size.
    chunk_size: usize,
    /// Every mapping so far, oldest first. The last one is the current
    /// chunk, the one `next` and `end` point into: every new mapping becomes
    /// the current chunk, even one made for a single oversized request.
    chunks: Vec<Chunk>,
    /// Address of the first free byte in the current chunk (0 before the
    /// first chunk).
    #[allow(dead_code)] // until your `alloc` reads it
    next: usize,
    /// Address one past the end of the current chunk (0 before the first).
    #[allow(dead_code)] // until your `alloc` reads it
    end: usize,
}
// ANCHOR_END: chunked_struct

/// The size of a page on this machine, from `sysconf(_SC_PAGESIZE)`.
pub fn page_size() -> usize {
    // SAFETY: sysconf only reads a configuration value.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).unwrap_or(4096)
}

impl ChunkedArena {
    /// An arena that maps chunks of `chunk_size` bytes (rounded up to whole
    /// pages, at least one page). Nothing is mapped until the first allocation.
    pub fn new(chunk_size: usize) -> Self {
        let page = page_size();
        let chunk_size = chunk_size.max(1).div_ceil(page) * page;
        ChunkedArena {
            chunk_size,
            chunks: Vec::new(),
            next: 0,
            end: 0,
        }
    }

    /// Size of an ordinary chunk in bytes.
    pub fn chunk_size(&self) -> usize {
        self.chunk_size
    }

    /// The mappings made so far, oldest first: the last one is the current
    /// chunk.
    pub fn chunks(&self) -> &[Chunk] {
        &self.chunks
    }

    /// Total bytes of address space mapped so far.
    pub fn mapped_bytes(&self) -> usize {
        self.chunks.iter().map(|c| c.len).sum()
    }

    // ANCHOR: map_chunk
    /// Maps `len` bytes (a multiple of the page size) of fresh, zeroed,
    /// read-write memory. `None` if the OS refuses.
    ///
    /// Do not ask the kernel to populate the pages up front: the point of
    /// this stage is that untouched pages cost no physical memory.
    pub fn map_chunk(len: usize) -> Option<Chunk> {
        todo!("stage 6: mmap {len} bytes of anonymous memory")
    }
    // ANCHOR_END: map_chunk

    // ANCHOR: chunked_alloc
    /// Hands out a block that fits `layout`, mapping a new chunk when the
    /// current one cannot hold it.
    ///
    /// A request too big for an ordinary chunk gets a chunk of its own, sized
    /// (in whole pages) to fit it. A new chunk, ordinary or not, becomes the
    /// current one: what was left of the previous chunk is abandoned (it costs
    /// address space, but pages that are never written cost no memory).
    /// Zero-sized requests follow the same rule as [`crate::Arena::alloc`].
    /// `None` only if `mmap` fails.
    pub fn alloc(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        todo!("stage 6: bump, or map a new chunk when full ({layout:?})")
    }
    // ANCHOR_END: chunked_alloc
}

// ANCHOR: chunked_drop
impl Drop for ChunkedArena {
    /// Returns every chunk to the OS with `munmap`.
    fn drop(&mut self) {
        // Stage 6: munmap every chunk in `self.chunks`. Until you do, they
        // leak. (No `todo!()` here: a panic inside `drop` during another
        // panic aborts.)
    }
}
// ANCHOR_END: chunked_drop
