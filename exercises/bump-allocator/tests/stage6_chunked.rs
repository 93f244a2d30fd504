//! Stage 6 visible tests: `ChunkedArena` grows with `mmap` chunks, and the
//! kernel only spends physical memory on the pages that are touched.
//!
//! The tests read the kernel's own view of this process from `/proc/self`
//! (`smaps` for one mapping's resident size, `maps` for what is mapped).
//! Each test holds `MAPPING` while it maps or unmaps, so no other test's
//! mappings appear or disappear in the middle of a measurement.
//!
//! Run only this stage with `cargo test -p bump-allocator --test stage6_chunked`.

use std::alloc::Layout;
use std::ptr::NonNull;
use std::sync::{Mutex, MutexGuard, PoisonError};

use bump_allocator::ChunkedArena;
use bump_allocator::chunked::page_size;
use oslings_harness::procfs;

static MAPPING: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> MutexGuard<'static, ()> {
    MAPPING.lock().unwrap_or_else(PoisonError::into_inner)
}

fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).unwrap()
}

fn addr(ptr: NonNull<u8>) -> usize {
    ptr.as_ptr() as usize
}

const MIB: usize = 1 << 20;

#[test]
fn map_chunk_returns_page_aligned_zeroed_writable_memory() {
    let _guard = one_at_a_time();
    let page = page_size();
    let len = 4 * page;
    let chunk = ChunkedArena::map_chunk(len).expect("map_chunk(4 pages) returned None");
    assert_eq!(
        chunk.len, len,
        "map_chunk({len}) should report the length it mapped"
    );
    assert_eq!(
        addr(chunk.ptr) % page,
        0,
        "map_chunk returned {:p}, which is not on a page boundary ({page} bytes)",
        chunk.ptr
    );
    assert!(
        procfs::is_mapped(addr(chunk.ptr)).unwrap(),
        "the kernel does not list {:p} in /proc/self/maps: was mmap really called?",
        chunk.ptr
    );
    // SAFETY: the chunk is `len` bytes of fresh read-write memory that nothing else uses.
    let bytes = unsafe { std::slice::from_raw_parts_mut(chunk.ptr.as_ptr(), len) };
    assert!(
        bytes.iter().all(|&b| b == 0),
        "fresh anonymous memory from mmap must read as zeros"
    );
    bytes.fill(0xab);
    assert_eq!(
        bytes[len - 1],
        0xab,
        "the last byte of the chunk should be writable"
    );
    // SAFETY: the chunk came from mmap with exactly this length and `bytes` is not used again.
    let status = unsafe { libc::munmap(chunk.ptr.as_ptr().cast(), len) };
    assert_eq!(status, 0, "munmap of the chunk map_chunk returned failed");
}

#[test]
fn nothing_is_mapped_before_the_first_allocation() {
    let _guard = one_at_a_time();
    let mut arena = ChunkedArena::new(MIB);
    assert_eq!(
        arena.mapped_bytes(),
        0,
        "ChunkedArena::new must not map anything yet"
    );
    let ptr = arena
        .alloc(layout(64, 8))
        .expect("alloc(size 64) returned None");
    assert_eq!(
        arena.chunks().len(),
        1,
        "the first allocation should map exactly one chunk"
    );
    assert_eq!(
        arena.mapped_bytes(),
        MIB,
        "one chunk of 1 MiB should be mapped"
    );
    let chunk = &arena.chunks()[0];
    let (start, end) = (addr(chunk.ptr), addr(chunk.ptr) + chunk.len);
    assert!(
        (start..end).contains(&addr(ptr)),
        "alloc returned {ptr:p}, outside the only chunk [{start:#x}, {end:#x})"
    );
}

#[test]
fn a_full_chunk_is_followed_by_a_fresh_one() {
    let _guard = one_at_a_time();
    let page = page_size();
    let mut arena = ChunkedArena::new(page);
    let half = layout(page / 2, 8);
    let blocks: Vec<_> = (0..3)
        .map(|i| {
            arena
                .alloc(half)
                .unwrap_or_else(|| panic!("alloc #{i} of half a page returned None"))
        })
        .collect();
    assert_eq!(
        arena.chunks().len(),
        2,
        "three half-page blocks in one-page chunks: the third must go into a second chunk"
    );
    let second = &arena.chunks()[1];
    assert_eq!(
        addr(blocks[2]),
        addr(second.ptr),
        "the third block should start at the front of the new chunk"
    );
    for (i, block) in blocks.iter().enumerate() {
        // SAFETY: each block is half a page of writable memory owned by this test.
        unsafe { block.as_ptr().write_bytes(i as u8 + 1, page / 2) };
    }
    for (i, block) in blocks.iter().enumerate() {
        // SAFETY: as above; the arena is still alive, so its chunks are still mapped.
        let first = unsafe { block.as_ptr().read() };
        assert_eq!(
            first,
            i as u8 + 1,
            "block #{i} was overwritten by a later block"
        );
    }
}

#[test]
fn a_request_bigger_than_a_chunk_gets_a_chunk_of_its_own() {
    let _guard = one_at_a_time();
    let page = page_size();
    let mut arena = ChunkedArena::new(page);
    let size = 3 * page + 1;
    let ptr = arena
        .alloc(layout(size, 16))
        .unwrap_or_else(|| panic!("alloc(size {size}) with one-page chunks returned None"));
    let chunk = arena
        .chunks()
        .iter()
        .find(|c| (addr(c.ptr)..addr(c.ptr) + c.len).contains(&addr(ptr)))
        .unwrap_or_else(|| panic!("alloc returned {ptr:p}, which is in none of the chunks"));
    assert!(
        addr(ptr) + size <= addr(chunk.ptr) + chunk.len,
        "a {size}-byte block at {ptr:p} runs past the end of its {}-byte chunk",
        chunk.len
    );
    assert_eq!(addr(ptr) % 16, 0, "alloc(align 16) returned {ptr:p}");
}

#[test]
fn dropping_the_arena_unmaps_every_chunk() {
    let _guard = one_at_a_time();
    let mut arena = ChunkedArena::new(MIB);
    for i in 0..3 {
        arena
            .alloc(layout(MIB, 8))
            .unwrap_or_else(|| panic!("alloc #{i} of 1 MiB returned None"));
    }
    let starts: Vec<usize> = arena.chunks().iter().map(|c| addr(c.ptr)).collect();
    drop(arena);
    for start in starts {
        assert!(
            !procfs::is_mapped(start).unwrap(),
            "the chunk at {start:#x} is still mapped after the arena was dropped: \
             Drop must munmap every chunk"
        );
    }
}

#[test]
fn resident_memory_grows_only_when_pages_are_touched() {
    let _guard = one_at_a_time();
    let page = page_size();
    let size = 64 * MIB;
    let mut arena = ChunkedArena::new(size);
    let ptr = arena
        .alloc(layout(size, page))
        .expect("alloc(64 MiB) returned None");
    let resident = || procfs::resident_bytes_of(addr(ptr)).unwrap();

    let untouched = resident();
    assert!(
        untouched < 8 * MIB,
        "a fresh 64 MiB chunk already has {} KiB resident: map it without \
         populating it (no MAP_POPULATE, no writing to it)",
        untouched >> 10
    );

    let quarter = size / 4;
    for offset in (0..quarter).step_by(page) {
        // SAFETY: `offset` is inside the 64 MiB block `alloc` handed out.
        unsafe { ptr.as_ptr().add(offset).write_volatile(1) };
    }
    let after_quarter = resident();
    assert!(
        after_quarter >= untouched + quarter - MIB,
        "after writing one byte in each page of the first 16 MiB, only {} KiB of the \
         chunk is resident (it was {} KiB before)",
        after_quarter >> 10,
        untouched >> 10
    );
    assert!(
        after_quarter < untouched + size / 2,
        "touching 16 MiB made {} KiB resident: pages nobody touched should not be",
        after_quarter >> 10
    );

    for offset in (quarter..size).step_by(page) {
        // SAFETY: as above, `offset` is inside the block.
        unsafe { ptr.as_ptr().add(offset).write_volatile(1) };
    }
    let all = resident();
    assert!(
        all >= size - MIB,
        "after touching every page of the 64 MiB block only {} KiB is resident",
        all >> 10
    );
}
