//! Stage 6: `ChunkedArena`, which grows with `mmap` chunks and unmaps them on drop.

use std::alloc::Layout;
use std::ptr::NonNull;
use std::sync::{Mutex, MutexGuard};

use hidden_bump_allocator::{
    AsHex, Shadow, check_block, fill, first_mismatch, must_not_panic, random_align,
};
use learner::ChunkedArena;
use learner::chunked::{Chunk, page_size};
use oslings_harness::procfs;

fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).expect("a valid test layout")
}

fn addr(ptr: NonNull<u8>) -> usize {
    ptr.as_ptr().addr()
}

/// Tests that watch `/proc/self/maps` run one at a time when the whole file
/// runs in one process (under the checker every test has its own process).
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The chunk of `arena` that holds all of `[start, start + size)`, if any.
fn chunk_holding(arena: &ChunkedArena, start: usize, size: usize) -> Option<&Chunk> {
    arena.chunks().iter().find(|c| {
        let base = addr(c.ptr);
        start >= base && start + size <= base + c.len
    })
}

/// Allocates `request`, failing with a clear message when the arena returns
/// None or a block that is misaligned or not inside one of its chunks.
fn alloc_checked(arena: &mut ChunkedArena, request: Layout, ctx: &str) -> NonNull<u8> {
    let call = format!(
        "{ctx}ChunkedArena::alloc({request:?}) (chunk size {})",
        arena.chunk_size()
    );
    let block = arena.alloc(request).unwrap_or_else(|| {
        panic!("{call} returned None: a chunked arena maps a new chunk instead")
    });
    if request.size() == 0 {
        assert_eq!(
            addr(block) % request.align(),
            0,
            "{call} returned a misaligned pointer"
        );
        return block;
    }
    let Some(chunk) = chunk_holding(arena, addr(block), request.size()) else {
        panic!(
            "{call} returned the block [{:#x}, {:#x}), which is not inside any of the arena's \
             chunks {:?}",
            addr(block),
            addr(block) + request.size(),
            arena.chunks()
        );
    };
    let bounds = addr(chunk.ptr)..addr(chunk.ptr) + chunk.len;
    check_block(addr(block), request, bounds).unwrap_or_else(|e| panic!("{call}: {e}"));
    block
}

// Catches: rounding the chunk size to whole pages downwards (`chunk_size / page * page`) instead of upwards.
#[test]
fn the_chunk_size_is_rounded_up_to_whole_pages() {
    let _serial = one_at_a_time();
    let page = page_size();
    for (asked, expected) in [
        (1, page),
        (page - 1, page),
        (page, page),
        (page + 1, 2 * page),
        (3 * page - 1, 3 * page),
        ((64 << 10) + 1, (64usize << 10).div_ceil(page) * page + page),
    ] {
        let mut arena = ChunkedArena::new(asked);
        assert_eq!(
            arena.chunk_size(),
            expected,
            "ChunkedArena::new({asked}) with {page}-byte pages: the chunk size must be rounded \
             UP to whole pages ({expected}), so that a chunk holds at least what was asked for"
        );
        // A block of exactly the size asked for fits in one ordinary chunk.
        alloc_checked(
            &mut arena,
            layout(asked, 1),
            &format!("ChunkedArena::new({asked}): "),
        );
        assert_eq!(
            arena.chunks().iter().map(|c| c.len).collect::<Vec<_>>(),
            vec![expected],
            "ChunkedArena::new({asked}) then one {asked}-byte request: one ordinary chunk of \
             {expected} bytes (the chunk size rounded up to whole pages)"
        );
    }
}

// Catches: a zero-sized request mapping a chunk or using up space in one.
#[test]
fn zero_sized_requests_map_nothing() {
    let _serial = one_at_a_time();
    let mut arena = ChunkedArena::new(page_size());
    for align in [1, 8, 4096, 1 << 20] {
        alloc_checked(&mut arena, layout(0, align), "on a new arena, ");
        assert!(
            arena.chunks().is_empty(),
            "ChunkedArena::alloc(size 0, align {align}) on a new arena mapped a chunk: a \
             zero-sized request needs no memory"
        );
    }
    let first = alloc_checked(&mut arena, layout(1, 1), "");
    for align in [8, 4096, 1 << 20] {
        alloc_checked(&mut arena, layout(0, align), "after one byte, ");
    }
    let second = alloc_checked(&mut arena, layout(1, 1), "after zero-sized requests, ");
    assert_eq!(
        addr(second).hex(),
        (addr(first) + 1).hex(),
        "two 1-byte requests separated by zero-sized ones (aligned up to 1 MiB) should be \
         neighbours: a zero-sized request takes no space"
    );
}

// Catches: mapping without PROT_WRITE, a shared mapping, or a Chunk whose len does not match the mapping.
#[test]
fn map_chunk_gives_private_writable_zeroed_pages() {
    let _serial = one_at_a_time();
    let page = page_size();
    let len = 3 * page;
    let chunk =
        ChunkedArena::map_chunk(len).expect("ChunkedArena::map_chunk(3 pages) returned None");
    let start = addr(chunk.ptr);
    assert_eq!(
        chunk.len, len,
        "ChunkedArena::map_chunk({len}) returned a Chunk with the wrong len"
    );
    assert_eq!(
        start % page,
        0,
        "ChunkedArena::map_chunk returned {start:#x}, which is not page-aligned"
    );
    let mapping = procfs::mapping_of(start)
        .expect("read /proc/self/smaps")
        .unwrap_or_else(|| {
            panic!("ChunkedArena::map_chunk returned {start:#x}, which is not mapped")
        });
    assert!(
        mapping.perms.starts_with("rw") && mapping.perms.ends_with('p'),
        "the chunk at {start:#x} is mapped with permissions `{}`; it should be `rw-p` \
         (PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)",
        mapping.perms
    );
    assert!(
        mapping.end >= start + len,
        "the mapping holding the chunk ends at {:#x}, before the chunk's end {:#x}",
        mapping.end,
        start + len
    );
    // SAFETY: the mapping is readable and writable for `len` bytes (checked above),
    // and nothing else uses it.
    unsafe {
        let bytes = std::slice::from_raw_parts_mut(chunk.ptr.as_ptr(), len);
        assert!(
            bytes.iter().all(|&b| b == 0),
            "fresh anonymous memory should read as zeros"
        );
        bytes.fill(0xa5);
        assert!(
            libc::munmap(chunk.ptr.as_ptr().cast(), len) == 0,
            "munmap of the test's chunk"
        );
    }
}

// Catches: MAP_POPULATE, or zeroing/touching a chunk's pages when it is mapped (untouched pages must stay non-resident).
#[test]
fn untouched_pages_are_not_resident() {
    let _serial = one_at_a_time();
    const CHUNK: usize = 64 << 20;
    const BLOCK: usize = 32 << 20;
    let mut arena = ChunkedArena::new(CHUNK);
    let block = alloc_checked(&mut arena, layout(BLOCK, 4096), "");
    let chunk_start = addr(arena.chunks()[0].ptr);
    let before = procfs::resident_bytes_of(chunk_start).expect("read /proc/self/smaps");
    assert!(
        before < CHUNK / 8,
        "right after mapping a 64 MiB chunk and handing out 32 MiB of it, {} KiB of the \
         mapping are resident: nothing has been written yet, so almost none should be \
         (no MAP_POPULATE, do not zero or touch the chunk: mmap's pages are already zero)",
        before >> 10
    );
    let page = page_size();
    for offset in (0..BLOCK).step_by(page) {
        // SAFETY: `offset < BLOCK`, inside the block the arena handed out.
        unsafe { block.as_ptr().add(offset).write(1) };
    }
    let after = procfs::resident_bytes_of(chunk_start).expect("read /proc/self/smaps");
    assert!(
        after >= before + BLOCK - BLOCK / 8,
        "after writing one byte in each page of a 32 MiB block, the mapping's resident size \
         only grew from {} KiB to {} KiB: the block is not backed by that mapping",
        before >> 10,
        after >> 10
    );
}

// Catches: returning None (or bumping past the chunk's end) when the current chunk is full instead of mapping a new one.
#[test]
fn a_full_chunk_is_followed_by_a_new_one() {
    let _serial = one_at_a_time();
    let page = page_size();
    let mut arena = ChunkedArena::new(page);
    let mut blocks = Vec::new();
    for i in 0..page / 64 {
        blocks.push(alloc_checked(
            &mut arena,
            layout(64, 64),
            &format!("block {i}: "),
        ));
    }
    assert_eq!(
        arena.chunks().len(),
        1,
        "{} blocks of 64 bytes fill exactly one {page}-byte chunk",
        page / 64
    );
    let next = alloc_checked(&mut arena, layout(64, 64), "with the only chunk full: ");
    assert_eq!(
        arena.chunks().len(),
        2,
        "a request that does not fit in the full chunk must map a second chunk"
    );
    assert!(
        chunk_holding(&arena, addr(next), 64).map(|c| c.ptr) == Some(arena.chunks()[1].ptr),
        "the block after the first chunk filled up should come from the new chunk"
    );
    blocks.push(next);
    for (i, &b) in blocks.iter().enumerate() {
        // SAFETY: each block was checked to be 64 bytes inside a chunk.
        unsafe { fill(b, 64, i) };
    }
    for (i, &b) in blocks.iter().enumerate() {
        // SAFETY: as above; every block was filled.
        let bad = unsafe { first_mismatch(b, 64, i) };
        assert_eq!(
            bad, None,
            "block {i} was overwritten by another block: blocks overlap"
        );
    }
}

// Catches: mapping a fresh chunk for every request (or never moving `next`/`end` to the new chunk).
#[test]
fn small_blocks_share_a_chunk() {
    let _serial = one_at_a_time();
    let mut arena = ChunkedArena::new(64 << 10);
    for i in 0..500 {
        alloc_checked(&mut arena, layout(64, 8), &format!("block {i}: "));
    }
    assert_eq!(
        arena.chunks().len(),
        1,
        "500 blocks of 64 bytes (32 000 bytes) fit in one 64 KiB chunk, but the arena mapped {} chunks",
        arena.chunks().len()
    );
}

// Catches: an oversized request getting an ordinary chunk (the block runs past the mapping) or None.
#[test]
fn oversized_requests_get_a_chunk_of_their_own() {
    let _serial = one_at_a_time();
    let page = page_size();
    let mut arena = ChunkedArena::new(4 * page);
    alloc_checked(&mut arena, layout(100, 8), "");
    let size = (1 << 20) + 1;
    let request = layout(size, 8);
    let big = alloc_checked(&mut arena, request, "with a 4-page chunk size, ");
    let chunk = chunk_holding(&arena, addr(big), size).expect("checked by alloc_checked");
    let fitted = (size + 8).div_ceil(page) * page;
    assert!(
        chunk.len % page == 0 && chunk.len <= fitted,
        "the chunk for a {size}-byte request is {} bytes; it should be sized to fit the request \
         in whole pages ({} bytes)",
        chunk.len,
        size.div_ceil(page) * page
    );
    // SAFETY: the block lies inside a mapped chunk (checked by `alloc_checked`).
    unsafe { std::ptr::write_bytes(big.as_ptr(), 0x5a, size) };
    let after = alloc_checked(&mut arena, layout(64, 8), "after an oversized request, ");
    // SAFETY: a fresh 64-byte block inside a chunk.
    unsafe { std::ptr::write_bytes(after.as_ptr(), 0, 64) };
    // SAFETY: the big block is still `size` readable bytes.
    let intact = unsafe { std::slice::from_raw_parts(big.as_ptr(), size) }
        .iter()
        .all(|&b| b == 0x5a);
    assert!(
        intact,
        "the oversized block was overwritten by a later allocation"
    );
}

// Catches: treating libc::mmap's MAP_FAILED (-1, not null) as success, or panicking when the kernel refuses a mapping.
#[test]
fn a_request_the_kernel_cannot_map_is_none() {
    let _serial = one_at_a_time();
    let mut arena = ChunkedArena::new(page_size());
    alloc_checked(&mut arena, layout(16, 8), "");
    for request in [layout(1 << 62, 8), layout(isize::MAX as usize - 4095, 4096)] {
        let call = format!("ChunkedArena::alloc({request:?})");
        let got = must_not_panic(&call, "it should return None when mmap fails", || {
            arena.alloc(request)
        });
        assert!(
            got.is_none(),
            "{call} returned {got:?}, but no kernel can map that much: when mmap fails \
             (libc::mmap returns MAP_FAILED, which is not null), alloc must return None"
        );
        assert_eq!(
            arena.chunks().len(),
            1,
            "{call} returned None but the arena now lists the chunks {:?}: a mapping the kernel \
             refused (MAP_FAILED, address {:#x}) is not a chunk",
            arena.chunks(),
            usize::MAX
        );
    }
    alloc_checked(&mut arena, layout(16, 8), "after a request mmap refused, ");
}

// Catches: sizing a new chunk without room for alignment padding (mmap only promises page alignment), giving None, a block past the end, or a loop.
#[test]
fn large_alignments_fit_in_a_fresh_chunk() {
    let _serial = one_at_a_time();
    let page = page_size();
    // Where the kernel puts a mapping decides whether it happens to be
    // aligned to more than a page. Spacer mappings of 1, 2, 3, ... pages,
    // kept until the end, move the next mapping by a page each time, so
    // most of the trials get a chunk that is *not* 64 KiB- or 1 MiB-aligned,
    // wherever the address space layout put the first one.
    let mut spacers = Vec::new();
    let mut arenas = Vec::new();
    for trial in 0..16 {
        let spacer = ChunkedArena::map_chunk((trial + 1) * page)
            .expect("ChunkedArena::map_chunk of a few pages returned None");
        spacers.push(spacer);
        let mut arena = ChunkedArena::new(64 << 10);
        let ctx = format!("trial {trial}, with a 64 KiB chunk size: ");
        alloc_checked(&mut arena, layout((64 << 10) - 16, 64 << 10), &ctx);
        alloc_checked(&mut arena, layout(16, 1 << 20), &ctx);
        alloc_checked(&mut arena, layout(3 << 10, 8 << 10), &ctx);
        arenas.push(arena);
    }
    drop(arenas);
    for spacer in spacers {
        // SAFETY: mapped above by map_chunk with exactly this length, unmapped once.
        unsafe { libc::munmap(spacer.ptr.as_ptr().cast(), spacer.len) };
    }
}

// Catches: a Drop that does not munmap every chunk in full (leaked chunks, or only `chunk_size` bytes of an oversized one).
#[test]
fn drop_unmaps_every_chunk() {
    let _serial = one_at_a_time();
    let page = page_size();
    let mut arena = ChunkedArena::new(2 * page);
    for i in 0..5 {
        alloc_checked(&mut arena, layout(page + 1, 8), &format!("request {i}: "));
    }
    alloc_checked(&mut arena, layout(1 << 20, 8), "");
    // A marker in the first and last page of each chunk tells a chunk that
    // survived the drop apart from fresh memory mapped at the same place later.
    let mut rng = fastrand::Rng::with_seed(77);
    let mut marked = Vec::new();
    for chunk in arena.chunks() {
        let marker = rng.u64(1..);
        for offset in [0, chunk.len - page] {
            let spot = chunk.ptr.as_ptr().wrapping_add(offset).cast::<u64>();
            // SAFETY: the chunk is mapped read-write for `len` bytes; `spot` is page-aligned.
            unsafe { spot.write_volatile(marker) };
            marked.push((spot, marker, chunk.len));
        }
    }
    let chunks = arena.chunks().len();
    drop(arena);
    for (spot, marker, len) in marked {
        if procfs::is_mapped(spot.addr()).expect("read /proc/self/maps") {
            // SAFETY: the address is mapped (just checked), so reading it cannot fault.
            let value = unsafe { spot.read_volatile() };
            assert_ne!(
                value, marker,
                "after dropping a ChunkedArena with {chunks} chunks, the {len}-byte chunk holding \
                 {spot:?} is still mapped: Drop must munmap every chunk with its own length"
            );
        }
    }
}

/// One random sequence of allocations, checked against a shadow map of live
/// blocks and the arena's own list of chunks.
fn random_sequence(seed: u64) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let page = page_size();
    let mut arena = ChunkedArena::new(rng.usize(1..=4) * page);
    let chunk_size = arena.chunk_size();
    let mut shadow = Shadow::new();
    let mut live = Vec::new();
    for step in 0..300 {
        let size = match rng.u8(0..20) {
            0 => 0,
            1 => rng.usize(chunk_size / 2..3 * chunk_size),
            _ => rng.usize(1..300),
        };
        let max_align = if rng.u8(0..10) == 0 { 1 << 16 } else { 64 };
        let request = layout(size, random_align(&mut rng, max_align));
        let ctx = format!("step {step} (seed {seed}): ");
        let block = alloc_checked(&mut arena, request, &ctx);
        shadow
            .insert(addr(block), size)
            .unwrap_or_else(|e| panic!("{ctx}ChunkedArena::alloc({request:?}): {e}"));
        if size > 0 {
            // SAFETY: the block was checked to lie inside a mapped chunk.
            unsafe { fill(block, size, step) };
            live.push((block, size, step));
        }
    }
    for (block, size, step) in live {
        // SAFETY: every live block lies inside a chunk the arena still maps.
        if let Some(i) = unsafe { first_mismatch(block, size, step) } {
            panic!(
                "seed {seed}: byte {i} of the {size}-byte block from step {step} was overwritten \
                 by a later allocation: blocks overlap"
            );
        }
    }
}

// Catches: blocks that straddle or overlap across chunks (stale `next`/`end` after mapping), misalignment, lost memory.
#[test]
fn random_sequences_stay_aligned_inside_chunks_and_disjoint() {
    let _serial = one_at_a_time();
    for seed in 200..230 {
        random_sequence(seed);
    }
}
