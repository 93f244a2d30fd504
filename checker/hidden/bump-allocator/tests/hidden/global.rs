//! Stage 5: `BumpGlobal` used directly, from one thread and from many.
//! (The tests that install it as the program's heap are in `global_heap.rs`.)

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::time::Duration;

use hidden_bump_allocator::interrupts::{self, HookLog};
use hidden_bump_allocator::{check_block, find_overlap, must_not_panic};
use learner::BumpGlobal;
use oslings_harness::budget::{CpuBudget, CpuClock, Spent};

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
    // Where the loader puts a `static` heap decides how aligned it happens
    // to be. This heap is placed instead: one page past a 1 MiB boundary, so
    // its start is a multiple of 4096 (or 8192) but of no larger power of
    // two, and every alignment below is one its start does not have.
    const N: usize = 1 << 20;
    const BOUNDARY: usize = 1 << 20;
    let region_layout =
        Layout::from_size_align(BOUNDARY + size_of::<BumpGlobal<N>>(), BOUNDARY).expect("a layout");
    // SAFETY: the layout has a non-zero size.
    let region = unsafe { std::alloc::alloc_zeroed(region_layout) };
    assert!(
        !region.is_null(),
        "the test could not allocate room for its heap"
    );
    // SAFETY: one page into the region leaves room for a whole
    // `BumpGlobal<N>`, is aligned for it (4096), and all-zero bytes are an
    // empty `BumpGlobal` (zeroed heap, `next` 0). It is not moved or freed
    // before the end of the test.
    let heap: &BumpGlobal<N> = unsafe { &*region.add(4096).cast::<BumpGlobal<N>>() };
    let start = heap.heap_start();
    for align in [1 << 14, 1 << 15, 1 << 16, 1 << 17, 1 << 18] {
        assert!(
            !alloc(heap, layout(1, 1)).is_null(),
            "BumpGlobal::alloc(size 1, align 1) returned null"
        );
        let request = layout(8, align);
        let block = alloc(heap, request);
        assert!(
            !block.is_null(),
            "BumpGlobal::alloc({request:?}) on a 1 MiB heap with room returned null"
        );
        check_block(block.addr(), request, bounds(heap)).unwrap_or_else(|e| {
            panic!(
                "BumpGlobal::alloc({request:?}) on a heap starting at {start:#x} (a multiple of \
                 {} but not of {align}): {e} (align the address `heap_start() + next`, not the \
                 offset `next` into the heap)",
                1usize << start.trailing_zeros()
            )
        });
    }
    // SAFETY: allocated above with this layout; `heap` is not used any more.
    unsafe { std::alloc::dealloc(region, region_layout) };
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

/// How many times each worker thread is interrupted in the middle of its
/// allocations (see `hidden_bump_allocator::interrupts`).
const INTERRUPTS: usize = 40;

/// The heap of `many_threads_never_overlap`.
static SHARED_HEAP: BumpGlobal<{ 64 << 20 }> = BumpGlobal::new();
/// Blocks the signal hook took from `SHARED_HEAP`.
static SHARED_HOOK_BLOCKS: HookLog<8192> = HookLog::new();

/// Runs on a worker thread interrupted by a signal: takes a 16-byte block
/// from `SHARED_HEAP` right where the worker was stopped.
fn allocate_in_the_middle() {
    if !SHARED_HOOK_BLOCKS.has_room() {
        return;
    }
    let request = Layout::new::<[u64; 2]>();
    // SAFETY: the layout has a non-zero size.
    let block = unsafe { SHARED_HEAP.alloc(request) };
    let end = if block.is_null() {
        0
    } else {
        block.addr() + request.size()
    };
    SHARED_HOOK_BLOCKS.push(block.addr(), end);
}

// Catches: a load + store bump instead of compare-and-swap (two allocations that overlap in time get the same block), or giving up when the compare-and-swap fails.
#[test]
fn many_threads_never_overlap() {
    let seed = 5;
    let threads = 8;
    // Each worker is interrupted INTERRUPTS times wherever it happens to be;
    // the signal handler allocates from the same heap. A bump that is not a
    // single compare-and-swap hands the handler and the interrupted
    // allocation the same block whenever the signal lands between reading
    // `next` and writing it back, on one CPU or many, busy or not.
    let per_thread_blocks = interrupts::storm(
        threads,
        allocate_in_the_middle,
        Duration::from_secs(15),
        |t| {
            let mut rng = fastrand::Rng::with_seed(seed + t as u64);
            let mut blocks = Vec::with_capacity(1 << 16);
            while interrupts::until(INTERRUPTS) {
                // Leave room: the heap must never be full in this test.
                if SHARED_HEAP.used() > SHARED_HEAP.capacity() / 2 {
                    std::thread::yield_now();
                    continue;
                }
                let request = layout(rng.usize(1..=32), 1 << rng.u32(0..4));
                // SAFETY: the layout has a non-zero size.
                let block = unsafe { SHARED_HEAP.alloc(request) };
                blocks.push((block.addr(), request));
            }
            blocks
        },
    );
    let hook_blocks = SHARED_HOOK_BLOCKS.take();
    let nulls = per_thread_blocks
        .iter()
        .flatten()
        .filter(|b| b.0 == 0)
        .count()
        + hook_blocks.iter().filter(|b| b.0 == 0).count();
    let total = per_thread_blocks.iter().map(Vec::len).sum::<usize>() + hook_blocks.len();
    assert_eq!(
        nulls, 0,
        "{threads} threads allocating small blocks from a 64 MiB heap that never got half \
         full, each interrupted {INTERRUPTS} times by a signal whose handler allocates from the \
         same heap: {nulls} of {total} allocations returned null (seed {seed}). A \
         compare_exchange that fails only means another allocation won: retry from the value \
         it returned, do not give up"
    );
    let mut all: Vec<(usize, usize)> = hook_blocks;
    for (t, blocks) in per_thread_blocks.iter().enumerate() {
        for &(start, request) in blocks {
            if let Err(e) = check_block(start, request, bounds(&SHARED_HEAP)) {
                panic!("thread {t} (seed {seed}): {e}");
            }
            all.push((start, start + request.size()));
        }
    }
    let handed_out: usize = all.iter().map(|(s, e)| e - s).sum();
    if let Some((a, b)) = find_overlap(&mut all) {
        panic!(
            "two allocations that overlapped in time got overlapping blocks [{:#x}, {:#x}) and \
             [{:#x}, {:#x}) ({threads} threads, each interrupted by a signal handler that \
             allocates too; seed {seed}): between reading `next` and publishing the new end, \
             another allocation took the same bytes. Claim the block with one \
             compare_exchange on `next`, not with a separate load and store",
            a.0, a.1, b.0, b.1
        );
    }
    assert!(
        SHARED_HEAP.used() >= handed_out,
        "used() is {} but {handed_out} bytes were handed out: `next` fell behind the blocks",
        SHARED_HEAP.used()
    );
}

/// The size of each small heap of `threads_racing_for_the_last_bytes_stay_inside`.
const SIZE: usize = 512;
/// How many small heaps the threads fill in one round.
const POOL: usize = 256;
/// How many of its heap fills each thread must have had interrupted.
const INTERRUPTED_FILLS: usize = 10;
/// A block a worker got: (heap number in the pool, start, end).
type FilledBlock = (usize, usize, usize);
/// Blocks the signal hook took from the small heaps.
static LAST_BYTES_HOOK_BLOCKS: HookLog<8192> = HookLog::new();

thread_local! {
    /// Address of the small heap the current thread is filling (0: none).
    static FILLING: Cell<usize> = const { Cell::new(0) };
}

/// Runs on a worker thread interrupted by a signal: takes every byte still
/// free in the heap the worker is filling, right where the worker was
/// stopped (perhaps after its bounds check, before its compare-and-swap).
fn take_the_rest() {
    let filling = FILLING.with(Cell::get);
    if filling == 0 || !LAST_BYTES_HOOK_BLOCKS.has_room() {
        return;
    }
    // SAFETY: a worker sets FILLING to a heap of the current pool, which
    // outlives the worker, and back to 0 before it returns.
    let heap = unsafe { &*(filling as *const BumpGlobal<SIZE>) };
    let rest = SIZE.saturating_sub(heap.used());
    let Ok(request) = Layout::from_size_align(rest, 1) else {
        return;
    };
    if rest == 0 {
        return;
    }
    // SAFETY: the layout has a non-zero size.
    let block = unsafe { heap.alloc(request) };
    if !block.is_null() {
        LAST_BYTES_HOOK_BLOCKS.push(block.addr(), block.addr() + rest);
    }
}

/// `POOL` fresh, empty small heaps. All-zero bytes are an empty
/// `BumpGlobal` (zeroed heap, `next` 0), and zeroed memory from the system
/// costs nothing until a heap is used.
fn fresh_pool() -> Box<[BumpGlobal<SIZE>]> {
    let layout = Layout::array::<BumpGlobal<SIZE>>(POOL).expect("the pool's layout");
    // SAFETY: the layout has a non-zero size; the zeroed memory is POOL
    // valid empty heaps, owned by the box from here on.
    unsafe {
        let raw = std::alloc::alloc_zeroed(layout).cast::<BumpGlobal<SIZE>>();
        assert!(
            !raw.is_null(),
            "the test could not allocate its small heaps"
        );
        Box::from_raw(std::ptr::slice_from_raw_parts_mut(raw, POOL))
    }
}

// Catches: checking the bounds once before the compare-and-swap loop, so a retry after a lost race can claim a block past the end.
#[test]
fn threads_racing_for_the_last_bytes_stay_inside() {
    // Every thread fills the same small heaps one after another, and is
    // interrupted by signals whose handler takes all the bytes left in the
    // heap that thread is filling: an allocation stopped after its bounds
    // check and before its compare-and-swap then loses the last bytes, and
    // its retry must check the bounds again. Rounds of fresh heaps go on
    // until every thread had INTERRUPTED_FILLS of its heap fills interrupted,
    // however busy the machine is: the budget is the process's CPU time,
    // so a test starved by busy neighbours runs as many rounds as on a
    // quiet machine, and only the wall-clock cap (inside the test's 60 s
    // limit) stops it.
    let threads = 4;
    let seed = 9;
    let budget = CpuBudget::new(
        CpuClock::Process,
        Duration::from_secs(20),
        Duration::from_secs(50),
    );
    let mut interrupted_fills = vec![0; threads];
    let mut round = 0u64;
    while interrupted_fills.iter().any(|&n| n < INTERRUPTED_FILLS) {
        match budget.spent() {
            Spent::No => {}
            Spent::Cpu => panic!(
                "after {:.1} s of CPU time and {round} rounds, the test's threads were \
                 interrupted while filling a heap only {interrupted_fills:?} times (each needs \
                 {INTERRUPTED_FILLS}): BumpGlobal::alloc is very slow, or it blocks signals",
                budget.cpu_used().as_secs_f64()
            ),
            Spent::Wall => panic!(
                "after {:.0} s and {round} rounds the machine had given the test only {:.1} s \
                 of CPU time: it is too busy to grade this test; grade again when it is quieter",
                budget.wall_used().as_secs_f64(),
                budget.cpu_used().as_secs_f64()
            ),
        }
        let pool = fresh_pool();
        let per_thread: Vec<(Vec<FilledBlock>, usize)> =
            interrupts::storm(threads, take_the_rest, Duration::from_secs(15), |t| {
                let mut rng = fastrand::Rng::with_seed(seed + round * 64 + t as u64);
                let mut blocks = Vec::with_capacity(POOL * 8);
                let mut fills_interrupted = 0;
                for (h, heap) in pool.iter().enumerate() {
                    let before = interrupts::interrupted();
                    FILLING.with(|f| f.set((&raw const *heap).addr()));
                    loop {
                        let request = layout(rng.usize(1..=24), 1 << rng.u32(0..4));
                        // SAFETY: the layout has a non-zero size.
                        let block = unsafe { heap.alloc(request) };
                        if block.is_null() {
                            break;
                        }
                        if let Err(e) = check_block(block.addr(), request, bounds(heap)) {
                            FILLING.with(|f| f.set(0));
                            panic!(
                                "thread {t}, filling a {SIZE}-byte heap while a signal handler \
                                 took its last bytes (seed {seed}, round {round}): {e}. The \
                                 compare-and-swap failed because another allocation moved \
                                 `next`: check the bounds again on every retry of the loop, \
                                 not once before it"
                            );
                        }
                        blocks.push((h, block.addr(), block.addr() + request.size()));
                    }
                    FILLING.with(|f| f.set(0));
                    if interrupts::interrupted() > before {
                        fills_interrupted += 1;
                    }
                }
                (blocks, fills_interrupted)
            });
        let mut all: Vec<(usize, usize)> = LAST_BYTES_HOOK_BLOCKS.take();
        let mut by_heap: Vec<usize> = vec![0; POOL];
        for (t, (blocks, fills)) in per_thread.into_iter().enumerate() {
            interrupted_fills[t] += fills;
            for (h, start, end) in blocks {
                by_heap[h] += 1;
                all.push((start, end));
            }
        }
        if let Some((a, b)) = find_overlap(&mut all) {
            panic!(
                "threads racing to fill {SIZE}-byte heaps (and a signal handler taking their \
                 last bytes) got overlapping blocks [{:#x}, {:#x}) and [{:#x}, {:#x}) (seed \
                 {seed}, round {round}): claim a block with one compare_exchange on `next`",
                a.0, a.1, b.0, b.1
            );
        }
        for (h, heap) in pool.iter().enumerate() {
            let used = heap.used();
            assert!(
                used <= SIZE,
                "used() = {used} is past the capacity {SIZE} after threads raced to fill heap \
                 {h} ({} blocks, seed {seed}, round {round})",
                by_heap[h]
            );
        }
        round += 1;
    }
}
