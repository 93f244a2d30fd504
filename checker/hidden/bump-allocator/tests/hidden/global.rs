//! Stage 5: `BumpGlobal` used directly, from one thread and from many.
//! (The tests that install it as the program's heap are in `global_heap.rs`.)

use std::alloc::{GlobalAlloc, Layout};
use std::sync::Barrier;

use hidden_bump_allocator::{check_block, find_overlap, must_not_panic};
use learner::BumpGlobal;

fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).expect("a valid test layout")
}

/// Calls `heap.alloc(request)`, failing the test with a clear message if it panics.
fn alloc<const N: usize>(heap: &BumpGlobal<N>, request: Layout) -> *mut u8 {
    let call = format!(
        "BumpGlobal<{N}>::alloc({request:?}) with used() = {}",
        heap.used()
    );
    must_not_panic(
        &call,
        "an allocator returns null when it cannot allocate",
        || {
            // SAFETY: every layout these tests pass has a non-zero size.
            unsafe { heap.alloc(request) }
        },
    )
}

fn bounds<const N: usize>(heap: &BumpGlobal<N>) -> std::ops::Range<usize> {
    heap.heap_start()..heap.heap_start() + N
}

// Catches: ignoring `layout.align()` (blocks simply follow each other).
#[test]
fn blocks_are_aligned() {
    static HEAP: BumpGlobal<{ 64 << 10 }> = BumpGlobal::new();
    for (i, align) in [1, 2, 4, 8, 16, 64, 256, 4096]
        .into_iter()
        .cycle()
        .take(40)
        .enumerate()
    {
        let before = alloc(&HEAP, layout(1, 1));
        assert!(
            !before.is_null(),
            "BumpGlobal::alloc(size 1, align 1) returned null on a heap with room"
        );
        let request = layout(3, align);
        let block = alloc(&HEAP, request);
        assert!(
            !block.is_null(),
            "BumpGlobal::alloc({request:?}) returned null on a heap with room"
        );
        check_block(block.addr(), request, bounds(&HEAP)).unwrap_or_else(|e| {
            panic!("request {i}, BumpGlobal::alloc({request:?}) after a 1-byte block: {e}")
        });
        assert!(
            block.addr() > before.addr(),
            "BumpGlobal::alloc({request:?}) returned {block:?}, not past the previous block at {before:?}"
        );
    }
}

// Catches: aligning the offset in the heap rather than the address (the heap itself is only 4096-aligned).
#[test]
fn alignments_above_a_page_align_the_address() {
    static HEAP: BumpGlobal<{ 1 << 20 }> = BumpGlobal::new();
    for align in [1 << 13, 1 << 14, 1 << 15, 1 << 16, 1 << 17] {
        assert!(
            !alloc(&HEAP, layout(1, 1)).is_null(),
            "BumpGlobal::alloc(size 1, align 1) returned null"
        );
        let request = layout(8, align);
        let block = alloc(&HEAP, request);
        assert!(
            !block.is_null(),
            "BumpGlobal::alloc({request:?}) on a 1 MiB heap with room returned null"
        );
        check_block(block.addr(), request, bounds(&HEAP)).unwrap_or_else(|e| {
            panic!(
                "BumpGlobal::alloc({request:?}) on a heap starting at {:#x}: {e} \
                 (align the address, not the offset into the heap)",
                HEAP.heap_start()
            )
        });
    }
}

// Catches: off-by-one at the end of the heap (an exact fit refused, or one byte past the end handed out).
#[test]
fn an_exact_fit_succeeds_then_null() {
    static HEAP: BumpGlobal<4096> = BumpGlobal::new();
    let first = alloc(&HEAP, layout(4000, 8));
    assert!(
        !first.is_null(),
        "BumpGlobal<4096>::alloc(size 4000, align 8) on an empty heap returned null"
    );
    let rest = alloc(&HEAP, layout(96, 1));
    assert!(
        !rest.is_null(),
        "BumpGlobal<4096>::alloc(size 96, align 1) with exactly 96 bytes left returned null: an exact fit must succeed"
    );
    let more = alloc(&HEAP, layout(1, 1));
    assert!(
        more.is_null(),
        "BumpGlobal<4096>::alloc(size 1, align 1) on a full heap returned {more:?}: it must return null"
    );
}

// Catches: handing out memory past the heap's end, or panicking (e.g. in `block_at`) instead of returning null.
#[test]
fn requests_that_do_not_fit_are_null() {
    static HEAP: BumpGlobal<4096> = BumpGlobal::new();
    for request in [
        layout(4097, 1),
        layout(1 << 20, 8),
        layout(isize::MAX as usize, 1),
        layout(usize::MAX / 4, 1 << 20),
    ] {
        let block = alloc(&HEAP, request);
        assert!(
            block.is_null(),
            "BumpGlobal<4096>::alloc({request:?}) returned {block:?}: a block that cannot fit in the heap must be null"
        );
    }
    assert_eq!(
        HEAP.used(),
        0,
        "used() after requests that all returned null"
    );

    // A 1 MiB-aligned byte fits in a 4096-byte heap only when a 1 MiB boundary
    // falls inside it (about one run in 256, as the loader places the heap):
    // the expected answer is worked out from where the heap is.
    static SMALL: BumpGlobal<4096> = BumpGlobal::new();
    let start = SMALL.heap_start();
    let request = layout(1, 1 << 20);
    let boundary = start.checked_next_multiple_of(1 << 20);
    let block = alloc(&SMALL, request);
    match boundary.filter(|b| *b < start + 4096) {
        Some(boundary) => assert_eq!(
            block.addr(),
            boundary,
            "BumpGlobal<4096>::alloc({request:?}) with the heap at {start:#x}: the 1 MiB boundary \
             {boundary:#x} lies inside the heap, so that is the block"
        ),
        None => assert!(
            block.is_null(),
            "BumpGlobal<4096>::alloc({request:?}) with the heap at {start:#x} returned {block:?}: no \
             1 MiB-aligned address lies inside the heap, so it must return null"
        ),
    }
}

// Catches: a `fetch_add` bump (or moving `next` before the check), so a failed request still uses up the heap.
#[test]
fn a_failed_request_leaves_the_heap_alone() {
    static HEAP: BumpGlobal<4096> = BumpGlobal::new();
    assert!(
        !alloc(&HEAP, layout(96, 8)).is_null(),
        "BumpGlobal<4096>::alloc(size 96, align 8) returned null"
    );
    assert!(
        alloc(&HEAP, layout(8192, 8)).is_null(),
        "BumpGlobal<4096>::alloc(size 8192, align 8) must be null"
    );
    assert_eq!(
        HEAP.used(),
        96,
        "used() after a request that returned null must not change"
    );
    assert!(
        !alloc(&HEAP, layout(4000, 8)).is_null(),
        "BumpGlobal<4096>::alloc(size 4000, align 8) with 4000 bytes left, after a failed request, returned null"
    );
}

/// Allocates from `threads` threads at once (after a barrier), `per_thread`
/// requests each, and returns every block as `(start, end)`; null blocks are
/// returned as `(0, 0)`.
fn race<const N: usize>(
    heap: &'static BumpGlobal<N>,
    threads: usize,
    per_thread: usize,
    seed: u64,
) -> Vec<Vec<(usize, usize)>> {
    let barrier = Barrier::new(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let barrier = &barrier;
                s.spawn(move || {
                    let mut rng = fastrand::Rng::with_seed(seed + t as u64);
                    let requests: Vec<Layout> = (0..per_thread)
                        .map(|_| layout(rng.usize(1..=32), 1 << rng.u32(0..4)))
                        .collect();
                    let mut blocks = Vec::with_capacity(per_thread);
                    barrier.wait();
                    for &request in &requests {
                        // SAFETY: the layouts have non-zero sizes.
                        let block = unsafe { heap.alloc(request) };
                        blocks.push((block.addr(), request));
                    }
                    blocks
                        .into_iter()
                        .map(|(start, request)| {
                            if start == 0 {
                                return (0, 0);
                            }
                            if let Err(e) = check_block(start, request, bounds(heap)) {
                                panic!("thread {t} (seed {seed}): {e}");
                            }
                            (start, start + request.size())
                        })
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

// Catches: a load + store bump instead of compare-and-swap (two threads read the same `next` and get the same block), or giving up on contention.
#[test]
fn many_threads_never_overlap() {
    static HEAP: BumpGlobal<{ 8 << 20 }> = BumpGlobal::new();
    let seed = 5;
    let (threads, per_thread) = (8, 10_000);
    let per_thread_blocks = race(&HEAP, threads, per_thread, seed);
    let nulls = per_thread_blocks
        .iter()
        .flatten()
        .filter(|b| b.0 == 0)
        .count();
    assert_eq!(
        nulls, 0,
        "{threads} threads × {per_thread} small allocations on an 8 MiB heap (room for all of them): \
         {nulls} returned null (seed {seed}). A compare-and-swap that fails must retry with the \
         value it read, not give up"
    );
    let mut all: Vec<(usize, usize)> = per_thread_blocks.into_iter().flatten().collect();
    if let Some((a, b)) = find_overlap(&mut all) {
        panic!(
            "{threads} threads allocating at once got overlapping blocks [{:#x}, {:#x}) and \
             [{:#x}, {:#x}) (seed {seed}): claim a block with compare_exchange on `next`, \
             not with a separate load and store",
            a.0, a.1, b.0, b.1
        );
    }
    let handed_out: usize = all.iter().map(|(s, e)| e - s).sum();
    assert!(
        HEAP.used() >= handed_out,
        "used() is {} but {handed_out} bytes were handed out: `next` fell behind the blocks",
        HEAP.used()
    );
}

// Catches: checking the bounds once before the compare-and-swap loop, so a retry after a lost race can claim a block past the end.
#[test]
fn threads_racing_for_the_last_bytes_stay_inside() {
    // Many small heaps, filled one after another by every thread at once:
    // each heap's last bytes are a fresh race.
    const HEAPS: usize = 2_000;
    const SIZE: usize = 512;
    static SMALL_HEAPS: [BumpGlobal<SIZE>; HEAPS] = [const { BumpGlobal::new() }; HEAPS];
    let threads = 8;
    let seed = 9;
    let barrier = Barrier::new(threads);
    let per_thread: Vec<Vec<(usize, usize, usize)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let barrier = &barrier;
                s.spawn(move || {
                    let mut rng = fastrand::Rng::with_seed(seed + t as u64);
                    let mut blocks = Vec::with_capacity(HEAPS * 8);
                    barrier.wait();
                    for (h, heap) in SMALL_HEAPS.iter().enumerate() {
                        loop {
                            let request = layout(rng.usize(1..=24), 1 << rng.u32(0..4));
                            // SAFETY: the layout has a non-zero size.
                            let block = unsafe { heap.alloc(request) };
                            if block.is_null() {
                                break;
                            }
                            if let Err(e) = check_block(block.addr(), request, bounds(heap)) {
                                panic!(
                                    "thread {t} racing other threads for the last bytes of a \
                                     {SIZE}-byte heap (seed {seed}): {e}. Check the bounds \
                                     again on every retry of the compare-and-swap loop"
                                );
                            }
                            blocks.push((h, block.addr(), block.addr() + request.size()));
                        }
                    }
                    blocks
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    let mut by_heap: Vec<Vec<(usize, usize)>> = vec![Vec::new(); HEAPS];
    for (h, start, end) in per_thread.into_iter().flatten() {
        by_heap[h].push((start, end));
    }
    for (h, blocks) in by_heap.iter_mut().enumerate() {
        if let Some((a, b)) = find_overlap(blocks) {
            panic!(
                "threads racing to fill a {SIZE}-byte heap got overlapping blocks [{:#x}, {:#x}) \
                 and [{:#x}, {:#x}) (heap {h}, seed {seed})",
                a.0, a.1, b.0, b.1
            );
        }
        let used = SMALL_HEAPS[h].used();
        assert!(
            used <= SIZE,
            "used() = {used} is past the capacity {SIZE} after threads raced to fill heap {h} (seed {seed})"
        );
    }
}
