//! Stage 6: an arena that grows by asking the OS for memory with `mmap`.

use std::alloc::Layout;
use std::num::NonZeroUsize;
use std::ptr::NonNull;

use nix::sys::mman::{MapFlags, ProtFlags, mmap_anonymous, munmap};

use crate::align::align_up;
use crate::arena::dangling;

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
    next: usize,
    /// Address one past the end of the current chunk (0 before the first).
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
        let length = NonZeroUsize::new(len)?;
        // SAFETY: an anonymous private mapping at an address of the kernel's
        // choosing cannot overlap or alias any memory Rust already owns.
        let ptr = unsafe {
            mmap_anonymous(
                None,
                length,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_PRIVATE,
            )
        }
        .ok()?;
        Some(Chunk {
            ptr: ptr.cast(),
            len,
        })
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
    #[inline]
    pub fn alloc(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        if layout.size() == 0 {
            return dangling(layout);
        }
        match self.bump(layout) {
            Some(block) => Some(block),
            None => self.alloc_in_new_chunk(layout),
        }
    }

    /// Carves `layout` out of the current chunk, if there is one and it has room.
    #[inline]
    fn bump(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        let mask = layout.align() - 1;
        let start = self.next.checked_add(mask)? & !mask;
        let new_next = start.checked_add(layout.size())?;
        if new_next > self.end {
            return None;
        }
        // Before the first chunk `end` is 0, so a non-empty request never
        // gets here without a chunk.
        let chunk = self.chunks.last()?;
        self.next = new_next;
        let offset = start - chunk.ptr.as_ptr().addr();
        // SAFETY: `[start, new_next)` lies inside the current chunk, so the
        // offset stays inside its mapping.
        Some(unsafe { chunk.ptr.add(offset) })
    }

    /// Maps a chunk big enough for `layout` (an ordinary one, or one of its
    /// own for an oversized request), makes it current and allocates from it.
    #[cold]
    fn alloc_in_new_chunk(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        let page = page_size();
        // A fresh chunk starts on a page boundary, so only an alignment above
        // a page can need padding before the block.
        let padding = layout.align().saturating_sub(page);
        let needed = layout.size().checked_add(padding)?;
        let len = if needed <= self.chunk_size {
            self.chunk_size
        } else {
            align_up(needed, page).ok()?
        };
        let chunk = Self::map_chunk(len)?;
        // The new chunk becomes the current one, even for an oversized
        // request. The rest of the old chunk is abandoned, but it costs only
        // address space: pages that are never written never become resident.
        self.next = chunk.ptr.as_ptr().addr();
        self.end = self.next + chunk.len;
        self.chunks.push(chunk);
        self.bump(layout)
    }
    // ANCHOR_END: chunked_alloc
}

// ANCHOR: chunked_drop
impl Drop for ChunkedArena {
    /// Returns every chunk to the OS with `munmap`.
    fn drop(&mut self) {
        for chunk in self.chunks.drain(..) {
            // SAFETY: the chunk was mapped by `map_chunk` with exactly this
            // address and length, and is unmapped once. Blocks handed out from
            // it live only as long as the arena, which is going away.
            let result = unsafe { munmap(chunk.ptr.cast(), chunk.len) };
            debug_assert!(result.is_ok(), "munmap of {chunk:?} failed: {result:?}");
        }
    }
}
// ANCHOR_END: chunked_drop
