//! Hidden tests that run a whole program on the learner's `BumpGlobal`:
//! once a test switches it on, every allocation of this process (the test
//! harness's included, from every thread) comes from it.
//!
//! The switch exists because the test harness allocates before any test runs,
//! even just to list the tests: with an unfinished allocator (a `todo!()`),
//! listing would crash and the checker could not grade the earlier stages.
//! Until the switch is on, allocations go to the system allocator; blocks are
//! always freed by the allocator they came from.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, Ordering};

use learner::BumpGlobal;

/// The program's heap: 512 MiB of zero bytes that cost nothing until touched.
static HEAP: BumpGlobal<{ 512 << 20 }> = BumpGlobal::new();

/// Whether new allocations come from [`HEAP`].
static BUMP_ON: AtomicBool = AtomicBool::new(false);

/// The global allocator: the system's until [`use_bump_heap`], then [`HEAP`].
struct Switched;

// SAFETY: every block comes from `System` or from `HEAP`, both of which
// uphold `GlobalAlloc`'s contract, and each block is given back to the one it
// came from (told apart by address).
unsafe impl GlobalAlloc for Switched {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if BUMP_ON.load(Ordering::Acquire) {
            // SAFETY: the caller's layout is passed on unchanged.
            unsafe { HEAP.alloc(layout) }
        } else {
            // SAFETY: as above.
            unsafe { System.alloc(layout) }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if BUMP_ON.load(Ordering::Acquire) {
            // SAFETY: the caller's layout is passed on unchanged.
            unsafe { HEAP.alloc_zeroed(layout) }
        } else {
            // SAFETY: as above.
            unsafe { System.alloc_zeroed(layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if on_heap(ptr.addr()) {
            // SAFETY: the block came from `HEAP` with this layout; the
            // caller's promises about `new_size` carry over.
            unsafe { HEAP.realloc(ptr, layout, new_size) }
        } else if BUMP_ON.load(Ordering::Acquire) {
            // A block from before the switch moves to the bump heap.
            // SAFETY: `new_size` with the old alignment is a valid layout
            // (the caller promises it), and both blocks are valid for the
            // smaller of the two sizes.
            unsafe {
                let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
                let new = HEAP.alloc(new_layout);
                if !new.is_null() {
                    std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                    System.dealloc(ptr, layout);
                }
                new
            }
        } else {
            // SAFETY: the block came from `System` with this layout.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if on_heap(ptr.addr()) {
            // SAFETY: the block came from `HEAP`, with this layout.
            unsafe { HEAP.dealloc(ptr, layout) }
        } else {
            // SAFETY: the block came from `System`, with this layout.
            unsafe { System.dealloc(ptr, layout) }
        }
    }
}

#[global_allocator]
static GLOBAL: Switched = Switched;

/// Whether `addr` lies inside the bump heap.
fn on_heap(addr: usize) -> bool {
    (HEAP.heap_start()..HEAP.heap_start() + HEAP.capacity()).contains(&addr)
}

/// From now on, every allocation of the process comes from the bump heap.
fn use_bump_heap() {
    BUMP_ON.store(true, Ordering::Release);
}

mod global {
    use std::alloc::{GlobalAlloc, Layout};
    use std::collections::{BTreeMap, HashMap};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use hidden_bump_allocator::interrupts::{self, HookLog};

    use super::{HEAP, on_heap, use_bump_heap};

    // Catches: an allocator that hands out overlapping or undersized blocks, which corrupts ordinary collections.
    #[test]
    fn collections_work_on_the_bump_heap() {
        use_bump_heap();
        let used_before = HEAP.used();
        let mut numbers: Vec<u64> = Vec::new();
        for i in 0..50_000u64 {
            numbers.push(i * 3);
        }
        let mut text = String::new();
        for i in 0..2_000 {
            text.push_str(&format!("{i},"));
        }
        let mut map: HashMap<String, usize> = HashMap::new();
        for i in 0..5_000 {
            map.insert(format!("key-{i}"), i);
        }
        let tree: BTreeMap<usize, Vec<u8>> =
            (0..1_000).map(|i| (i, vec![i as u8; i % 50])).collect();
        assert!(
            on_heap(numbers.as_ptr().addr()),
            "a Vec's buffer is not inside the BumpGlobal heap: is it really the global allocator?"
        );
        assert!(
            HEAP.used() > used_before,
            "used() did not grow while a program allocated through the BumpGlobal heap"
        );
        assert!(
            numbers.iter().enumerate().all(|(i, &n)| n == i as u64 * 3),
            "a Vec<u64> of 50 000 elements built with push() lost its contents on the bump heap"
        );
        let expected: String = (0..2_000).map(|i| format!("{i},")).collect();
        assert_eq!(
            text, expected,
            "a String built piece by piece on the bump heap was corrupted"
        );
        for i in 0..5_000 {
            assert_eq!(
                map.get(&format!("key-{i}")),
                Some(&i),
                "a HashMap<String, usize> on the bump heap lost key-{i}"
            );
        }
        for (i, bytes) in &tree {
            assert!(
                bytes.len() == i % 50 && bytes.iter().all(|&b| b == *i as u8),
                "a BTreeMap<usize, Vec<u8>> on the bump heap has a corrupted value at key {i}"
            );
        }
    }

    // Catches: ignoring alignment on the real heap (over-aligned types, u128, page-aligned boxes).
    #[test]
    fn over_aligned_types_are_aligned() {
        use_bump_heap();
        #[repr(align(64))]
        struct Line([u8; 64]);
        #[repr(align(4096))]
        struct Page([u8; 16]);
        for i in 0..100 {
            let small = Box::new(i as u8);
            let line = Box::new(Line([i as u8; 64]));
            let page = Box::new(Page([i as u8; 16]));
            let wide: Vec<u128> = Vec::from([i as u128; 3]);
            assert!(
                on_heap((&raw const *page).addr()),
                "a Box is not inside the BumpGlobal heap"
            );
            assert_eq!(
                (&raw const *line).addr() % 64,
                0,
                "Box<align(64) type> is misaligned on the bump heap"
            );
            assert_eq!(
                (&raw const *page).addr() % 4096,
                0,
                "Box<align(4096) type> is misaligned on the bump heap"
            );
            assert_eq!(
                wide.as_ptr().addr() % align_of::<u128>(),
                0,
                "Vec<u128> is misaligned on the bump heap"
            );
            assert!(
                *small == i as u8 && line.0[63] == i as u8 && page.0[15] == i as u8,
                "boxes on the bump heap lost their contents: blocks overlap"
            );
        }
    }

    /// How many times each worker is interrupted while it allocates.
    const INTERRUPTS: usize = 30;
    /// The byte the signal hook writes into its blocks.
    const HOOK_BYTE: u8 = 0xa5;
    /// Blocks the signal hook took from the bump heap.
    static HOOK_BLOCKS: HookLog<4096> = HookLog::new();

    /// Runs on a worker interrupted by a signal, at whatever instruction it
    /// was stopped at (perhaps inside the allocator): takes a 24-byte block
    /// from the bump heap and fills it with `HOOK_BYTE`.
    fn allocate_in_the_middle() {
        if !HOOK_BLOCKS.has_room() {
            return;
        }
        let request = Layout::new::<[u8; 24]>();
        // SAFETY: the layout has a non-zero size.
        let block = unsafe { HEAP.alloc(request) };
        if block.is_null() {
            return;
        }
        // SAFETY: a fresh block of `request.size()` bytes.
        unsafe { block.write_bytes(HOOK_BYTE, request.size()) };
        HOOK_BLOCKS.push(block.addr(), block.addr() + request.size());
    }

    // Catches: a bump that is not atomic (load + store), or one that gives up when the compare-and-swap fails: threads building collections at once (and interrupted by a signal handler that allocates too) corrupt each other's data or die on a null.
    #[test]
    fn threads_share_the_bump_heap() {
        use_bump_heap();
        let threads = 8;
        let shared = Arc::new(Mutex::new(Vec::new()));
        // Each worker is interrupted INTERRUPTS times wherever it is, and
        // the signal handler takes a block of its own: a bump that is not
        // one compare-and-swap hands it memory the interrupted allocation
        // also returns, every time, whatever the load on the machine.
        let counts = interrupts::storm(
            threads,
            allocate_in_the_middle,
            Duration::from_secs(15),
            |t| {
                let t = t as u64;
                let mut words: Vec<String> = Vec::new();
                words.push(String::new());
                assert!(
                    on_heap(words.as_ptr().addr()),
                    "thread {t}: a Vec is not inside the BumpGlobal heap"
                );
                words.clear();
                let mut map = HashMap::new();
                let mut i = 0u64;
                while i < 3_000 || interrupts::until(INTERRUPTS) {
                    words.push(format!("t{t}-{i}"));
                    map.insert(i, vec![t; (i % 16) as usize]);
                    if i % 100 == 0 {
                        shared.lock().expect("no poisoning").push((t, i));
                    }
                    i += 1;
                }
                for (i, w) in words.iter().enumerate() {
                    assert_eq!(
                        *w,
                        format!("t{t}-{i}"),
                        "thread {t}: a String on the bump heap was overwritten by another allocation"
                    );
                }
                for (i, v) in &map {
                    assert!(
                        v.len() == (*i % 16) as usize && v.iter().all(|&x| x == t),
                        "thread {t}: a Vec in a HashMap on the bump heap was overwritten by another allocation"
                    );
                }
                i
            },
        );
        for (start, end) in HOOK_BLOCKS.take() {
            // SAFETY: the hook's blocks lie in the bump heap, which is never freed.
            let bytes = unsafe { std::slice::from_raw_parts(start as *const u8, end - start) };
            assert!(
                bytes.iter().all(|&b| b == HOOK_BYTE),
                "a block a signal handler allocated while a thread was inside alloc was \
                 overwritten by the interrupted allocation: between reading `next` and \
                 publishing the new end, another allocation took the same bytes. Claim the \
                 block with one compare_exchange on `next`"
            );
        }
        let mut seen = shared.lock().expect("no poisoning").clone();
        seen.sort_unstable();
        let expected: Vec<(u64, u64)> = counts
            .iter()
            .enumerate()
            .flat_map(|(t, &n)| (0..n).step_by(100).map(move |i| (t as u64, i)))
            .collect();
        assert_eq!(
            seen, expected,
            "a Vec shared through Arc<Mutex<..>> on the bump heap lost entries"
        );
    }
}
