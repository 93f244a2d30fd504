//! Stage 5 visible tests: `BumpGlobal`, a lock-free `GlobalAlloc`.
//!
//! This test program runs on your allocator: `HEAP` below is its global
//! allocator, so every `Vec`, `String` and thread the test harness creates is
//! carved out of `HEAP`. If your `alloc` panics or hands out bad memory, the
//! whole program stops before printing any test result (often with
//! "memory allocation failed" or SIGABRT/SIGSEGV). The other tests call
//! `alloc` directly on small heaps of their own, where a mistake shows up as
//! an ordinary assertion message.
//!
//! Run only this stage with `cargo test -p bump-allocator --test stage5_global`.

use std::alloc::{GlobalAlloc, Layout};
use std::collections::HashSet;
use std::thread;

use bump_allocator::BumpGlobal;
use rstest::rstest;

#[global_allocator]
static HEAP: BumpGlobal<{ 256 << 20 }> = BumpGlobal::new();

fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).unwrap()
}

/// Calls `GlobalAlloc::alloc` on `heap` and returns the block's offset from the heap's start.
fn alloc_offset<const N: usize>(heap: &BumpGlobal<N>, layout: Layout) -> Option<usize> {
    // SAFETY: every layout used in these tests has a non-zero size.
    let ptr = unsafe { heap.alloc(layout) };
    (!ptr.is_null()).then(|| ptr as usize - heap.heap_start())
}

#[test]
fn this_program_runs_on_the_bump_heap() {
    let before = HEAP.used();
    let words: Vec<String> = (0..1000).map(|i| format!("word number {i}")).collect();
    let start = HEAP.heap_start();
    let end = start + HEAP.capacity();
    let addr = words.as_ptr() as usize;
    assert!(
        (start..end).contains(&addr),
        "a Vec created in this test lives at {addr:#x}, outside HEAP [{start:#x}, {end:#x}): \
         is HEAP really the global allocator?"
    );
    assert!(
        HEAP.used() >= before + 1000 * "word number 999".len(),
        "1000 strings were allocated, yet HEAP.used() only went from {before} to {}",
        HEAP.used()
    );
    assert_eq!(
        words[999], "word number 999",
        "the last string should read back intact"
    );
}

#[rstest]
#[case::one_byte(1, 1, 1)]
#[case::eight_bytes_align_8(8, 8, 8)]
#[case::sixteen_bytes_align_16(16, 16, 16)]
#[case::a_page_aligned_page(4096, 4096, 4096)]
fn after_one_byte_a_block_is_padded_to_its_alignment(
    #[case] size: usize,
    #[case] align: usize,
    #[case] expected_offset: usize,
) {
    let heap = Box::new(BumpGlobal::<{ 16 << 10 }>::new());
    alloc_offset(&heap, layout(1, 1)).expect("alloc(size 1) on an empty heap returned null");
    let offset = alloc_offset(&heap, layout(size, align))
        .unwrap_or_else(|| panic!("alloc(size {size}, align {align}) returned null"));
    assert_eq!(
        offset, expected_offset,
        "alloc(size {size}, align {align}) should start {expected_offset} bytes into the heap \
         (the heap itself starts on a page boundary)"
    );
    assert_eq!(
        heap.used(),
        expected_offset + size,
        "used() counts padding and the block"
    );
}

#[test]
fn a_full_heap_returns_null() {
    let heap = Box::new(BumpGlobal::<4096>::new());
    assert_eq!(
        alloc_offset(&heap, layout(4000, 8)),
        Some(0),
        "alloc(size 4000) on an empty 4096-byte heap should start at offset 0"
    );
    assert_eq!(
        alloc_offset(&heap, layout(200, 8)),
        None,
        "alloc(size 200) with 96 bytes left must return null (a global allocator \
         reports failure with null, never a panic)"
    );
    assert_eq!(heap.used(), 4000, "a failed alloc must not move `next`");
    assert_eq!(
        alloc_offset(&heap, layout(96, 8)),
        Some(4000),
        "alloc(size 96) with exactly 96 bytes left should succeed"
    );
}

#[test]
fn racing_threads_never_get_the_same_block() {
    const THREADS: usize = 8;
    const PER_THREAD: usize = 2000;
    const BLOCK: usize = 16;
    static SHARED: BumpGlobal<{ THREADS * PER_THREAD * BLOCK }> = BumpGlobal::new();
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            thread::spawn(|| {
                (0..PER_THREAD)
                    .map(|_| alloc_offset(&SHARED, layout(BLOCK, BLOCK)))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut seen = HashSet::new();
    for handle in handles {
        for offset in handle.join().expect("an allocating thread panicked") {
            let offset = offset
                .expect("alloc returned null although the heap has room for exactly every request");
            assert!(
                seen.insert(offset),
                "two threads were both handed the block at offset {offset}: the update of \
                 `next` must be one compare-and-swap, retried when another thread got there first"
            );
        }
    }
    assert_eq!(
        SHARED.used(),
        THREADS * PER_THREAD * BLOCK,
        "{THREADS} threads x {PER_THREAD} blocks of {BLOCK} bytes should fill the heap exactly"
    );
}
