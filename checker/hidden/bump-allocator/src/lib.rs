//! Helpers shared by the bump allocator's hidden tests: buffers that start at
//! a chosen misalignment, a shadow map of live blocks, byte patterns that
//! reveal overlapping writes, and a guard that turns a panic into a readable
//! failure.

pub mod cases;

use std::alloc::Layout;
use std::collections::BTreeMap;
use std::mem::MaybeUninit;
use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::NonNull;

/// An address that prints in hex (`0x7f3a2c000c40`) in an assertion's
/// `left`/`right`, as the messages write addresses.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Hex(pub usize);

impl std::fmt::Debug for Hex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

/// `.hex()`: an address, or an `Option`/`Result` of one, that prints in hex.
pub trait AsHex {
    /// The same value with the address wrapped in [`Hex`].
    type Hexed;
    /// Wraps the address in [`Hex`].
    fn hex(self) -> Self::Hexed;
}

impl AsHex for usize {
    type Hexed = Hex;
    fn hex(self) -> Hex {
        Hex(self)
    }
}

impl AsHex for Option<usize> {
    type Hexed = Option<Hex>;
    fn hex(self) -> Option<Hex> {
        self.map(Hex)
    }
}

impl<E> AsHex for Result<usize, E> {
    type Hexed = Result<Hex, E>;
    fn hex(self) -> Result<Hex, E> {
        self.map(Hex)
    }
}

/// Heap memory whose first byte sits exactly `skew` bytes past a multiple of
/// `align`, so a test can give an arena a base address that is deliberately
/// *not* aligned (e.g. an odd address).
#[derive(Debug)]
pub struct SkewedBuffer {
    alloc: NonNull<u8>,
    alloc_layout: Layout,
    skew: usize,
    len: usize,
}

impl SkewedBuffer {
    /// `len` zeroed bytes starting `skew` bytes after an `align`-aligned address.
    ///
    /// # Panics
    /// If `align` is not a power of two or `skew >= align`.
    pub fn new(len: usize, align: usize, skew: usize) -> Self {
        assert!(
            skew < align,
            "skew {skew} must be smaller than align {align}"
        );
        let alloc_layout =
            Layout::from_size_align((len + skew).max(1), align).expect("a valid test buffer");
        // SAFETY: the layout has a non-zero size.
        let raw = unsafe { std::alloc::alloc_zeroed(alloc_layout) };
        let Some(alloc) = NonNull::new(raw) else {
            std::alloc::handle_alloc_error(alloc_layout)
        };
        SkewedBuffer {
            alloc,
            alloc_layout,
            skew,
            len,
        }
    }

    /// Address of the first byte.
    pub fn start(&self) -> usize {
        self.alloc.as_ptr().addr() + self.skew
    }

    /// The bytes, ready to hand to `Arena::new`.
    pub fn as_uninit(&mut self) -> &mut [MaybeUninit<u8>] {
        // SAFETY: `[skew, skew + len)` lies inside the allocation, which this
        // value owns and which the returned borrow keeps alive and unshared.
        unsafe {
            std::slice::from_raw_parts_mut(
                self.alloc.as_ptr().add(self.skew).cast::<MaybeUninit<u8>>(),
                self.len,
            )
        }
    }
}

impl Drop for SkewedBuffer {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with exactly this layout.
        unsafe { std::alloc::dealloc(self.alloc.as_ptr(), self.alloc_layout) }
    }
}

/// Checks that a block handed out for `layout` at address `addr` is aligned
/// and lies inside `bounds`.
pub fn check_block(addr: usize, layout: Layout, bounds: Range<usize>) -> Result<(), String> {
    if addr % layout.align() != 0 {
        return Err(format!(
            "the block at {addr:#x} for {layout:?} is not aligned to {} \
             (address mod align = {})",
            layout.align(),
            addr % layout.align()
        ));
    }
    let end = addr.checked_add(layout.size()).ok_or_else(|| {
        format!("the block at {addr:#x} for {layout:?} would wrap around the address space")
    })?;
    if addr < bounds.start || end > bounds.end {
        return Err(format!(
            "the block [{addr:#x}, {end:#x}) for {layout:?} is not inside the memory \
             [{:#x}, {:#x}) it should come from",
            bounds.start, bounds.end
        ));
    }
    Ok(())
}

/// The live blocks handed out by an allocator under test, keyed by start
/// address; it refuses a block that overlaps one already live.
#[derive(Debug, Default)]
pub struct Shadow {
    blocks: BTreeMap<usize, usize>,
}

impl Shadow {
    /// An empty shadow map.
    pub fn new() -> Self {
        Shadow::default()
    }

    /// Records the block `[start, start + size)`; an error names the live
    /// block it overlaps. Zero-sized blocks occupy nothing and are not recorded.
    pub fn insert(&mut self, start: usize, size: usize) -> Result<(), String> {
        if size == 0 {
            return Ok(());
        }
        let end = start + size;
        if let Some((&s, &e)) = self.blocks.range(..end).next_back() {
            if e > start {
                return Err(format!(
                    "the new block [{start:#x}, {end:#x}) overlaps the live block \
                     [{s:#x}, {e:#x}) handed out earlier"
                ));
            }
        }
        self.blocks.insert(start, end);
        Ok(())
    }

    /// Forgets the block starting at `start` (after it was given back).
    pub fn remove(&mut self, start: usize) {
        self.blocks.remove(&start);
    }

    /// Forgets every block (after a reset).
    pub fn clear(&mut self) {
        self.blocks.clear();
    }

    /// Number of live (non-empty) blocks.
    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    /// Whether no block is live.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }
}

/// Sorts `ranges` (half-open `(start, end)` pairs) and returns the first two
/// that overlap, if any.
pub fn find_overlap(ranges: &mut [(usize, usize)]) -> Option<((usize, usize), (usize, usize))> {
    ranges.sort_unstable();
    ranges
        .windows(2)
        .find(|w| w[1].0 < w[0].1)
        .map(|w| (w[0], w[1]))
}

/// The byte a test writes into every position of the block numbered `tag`,
/// so that a block overwritten by another one is noticed.
pub fn pattern_byte(tag: usize) -> u8 {
    (tag % 251) as u8 + 1
}

/// Fills `size` bytes at `ptr` with the pattern of block `tag`.
///
/// # Safety
/// `ptr` must be valid for writes of `size` bytes.
pub unsafe fn fill(ptr: NonNull<u8>, size: usize, tag: usize) {
    // SAFETY: the caller guarantees `size` writable bytes at `ptr`.
    unsafe { ptr.as_ptr().write_bytes(pattern_byte(tag), size) };
}

/// The first position where the `size` bytes at `ptr` differ from block
/// `tag`'s pattern, if any.
///
/// # Safety
/// `ptr` must be valid for reads of `size` bytes, all written by [`fill`].
pub unsafe fn first_mismatch(ptr: NonNull<u8>, size: usize, tag: usize) -> Option<usize> {
    // SAFETY: the caller guarantees `size` readable bytes at `ptr`.
    let bytes = unsafe { std::slice::from_raw_parts(ptr.as_ptr(), size) };
    let expected = vec![pattern_byte(tag); size];
    if bytes == expected.as_slice() {
        return None;
    }
    bytes.iter().zip(&expected).position(|(a, b)| a != b)
}

/// Runs `f`; if it panics, fails the test with a message saying that `call`
/// must not panic and what it should have done instead (`expected`).
pub fn must_not_panic<R>(call: &str, expected: &str, f: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(value) => value,
        Err(payload) => {
            let reason = oslings_harness::panic_reason(&*payload);
            if reason.starts_with("not yet implemented") {
                panic!("{call} reached a todo!() ({reason}): fill in that blank first");
            }
            panic!("{call} panicked ({reason}); it must not panic: {expected}");
        }
    }
}

/// A random power of two between 1 and `max` (a power of two), smaller ones
/// more likely.
pub fn random_align(rng: &mut fastrand::Rng, max: usize) -> usize {
    let top = max.trailing_zeros();
    let shift = rng.u32(0..=top).min(rng.u32(0..=top));
    1 << shift
}

/// Rounds `addr` up to a multiple of the power of two `align`, for models in
/// the tests (never called near `usize::MAX`).
pub fn round_up(addr: usize, align: usize) -> usize {
    (addr + align - 1) & !(align - 1)
}

/// Interrupting threads in the middle of an allocation, so that a bump which
/// is not one atomic step shows its race every time, on any number of CPUs
/// and under any load, instead of only when two threads happen to collide.
///
/// [`interrupts::storm`] runs worker threads while the calling thread sends
/// each of them `SIGUSR1` over and over. The signal handler runs a hook *on
/// the interrupted thread*, at whatever instruction it was stopped at: when
/// that is between reading `next` and publishing the new end, the hook's own
/// allocation lands in the window a racing thread would need luck to hit.
pub mod interrupts {
    use std::cell::Cell;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Barrier, Mutex, MutexGuard, Once};
    use std::time::{Duration, Instant};

    /// The hook the handler calls (a `fn()` as an address; 0 for none).
    static HOOK: AtomicUsize = AtomicUsize::new(0);
    /// One storm at a time in a process (the hook is process-wide).
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    /// Set when a storm passed its deadline: workers stop waiting for interrupts.
    static GIVE_UP: AtomicBool = AtomicBool::new(false);

    thread_local! {
        /// How many times this thread's hook has run.
        static INTERRUPTED: Cell<usize> = const { Cell::new(0) };
    }

    extern "C" fn on_signal(_: libc::c_int) {
        let hook = HOOK.load(Ordering::Acquire);
        if hook != 0 {
            // SAFETY: only `storm` stores a value, and it stores a `fn()`.
            let hook: fn() = unsafe { std::mem::transmute::<usize, fn()>(hook) };
            hook();
        }
        INTERRUPTED.with(|n| n.set(n.get() + 1));
    }

    fn install_handler() {
        static INSTALL: Once = Once::new();
        INSTALL.call_once(|| {
            // SAFETY: a zeroed `sigaction` is a valid starting point; the
            // handler only touches atomics, a const thread-local and the hook.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
                action.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut action.sa_mask);
                assert_eq!(
                    libc::sigaction(libc::SIGUSR1, &action, std::ptr::null_mut()),
                    0,
                    "the test could not install its SIGUSR1 handler"
                );
            }
        });
    }

    /// How many times the current thread has been interrupted (its hook run)
    /// during the current storm.
    pub fn interrupted() -> usize {
        INTERRUPTED.with(Cell::get)
    }

    /// Whether a worker should go on: it has been interrupted fewer than
    /// `times` times and the storm has not passed its deadline.
    pub fn until(times: usize) -> bool {
        interrupted() < times && !GIVE_UP.load(Ordering::Relaxed)
    }

    /// Runs `worker(t)` on `threads` threads, all started together, while the
    /// calling thread interrupts every worker that has not returned yet with
    /// `SIGUSR1`; each interrupt runs `hook` on the interrupted thread. A
    /// worker decides itself how long to run (typically while
    /// [`until`] says so). Fails the test if the workers are
    /// not all done within `deadline`.
    pub fn storm<R: Send>(
        threads: usize,
        hook: fn(),
        deadline: Duration,
        worker: impl Fn(usize) -> R + Sync,
    ) -> Vec<R> {
        let _serial: MutexGuard<'_, ()> = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        // A dry run on this thread first: a hook that panics (say, on a
        // todo!() in the allocator) fails the test here with its message,
        // instead of aborting the process from inside a signal handler.
        hook();
        install_handler();
        GIVE_UP.store(false, Ordering::Relaxed);
        HOOK.store(hook as usize, Ordering::Release);
        let ids: Vec<AtomicUsize> = (0..threads).map(|_| AtomicUsize::new(0)).collect();
        let done: Vec<AtomicBool> = (0..threads).map(|_| AtomicBool::new(false)).collect();
        let ready = Barrier::new(threads + 1);
        let results = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let (ids, done, ready, worker) = (&ids, &done, &ready, &worker);
                    s.spawn(move || {
                        INTERRUPTED.with(|n| n.set(0));
                        // SAFETY: pthread_self has no preconditions.
                        ids[t].store(unsafe { libc::pthread_self() } as usize, Ordering::Release);
                        // Marks the worker done however it ends, a panic included.
                        struct Done<'a>(&'a AtomicBool);
                        impl Drop for Done<'_> {
                            fn drop(&mut self) {
                                self.0.store(true, Ordering::Release);
                            }
                        }
                        let _done = Done(&done[t]);
                        ready.wait();
                        worker(t)
                    })
                })
                .collect();
            ready.wait();
            let started = Instant::now();
            let mut late = false;
            while done.iter().any(|d| !d.load(Ordering::Acquire)) {
                for (id, d) in ids.iter().zip(&done) {
                    if !d.load(Ordering::Acquire) {
                        // SAFETY: the thread has not been joined yet (joins
                        // happen below, after this loop), so its id is valid.
                        unsafe {
                            libc::pthread_kill(
                                id.load(Ordering::Acquire) as libc::pthread_t,
                                libc::SIGUSR1,
                            )
                        };
                    }
                }
                std::thread::yield_now();
                if !late && started.elapsed() > deadline {
                    late = true;
                    GIVE_UP.store(true, Ordering::Relaxed);
                }
            }
            let results: Vec<R> = handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect();
            (results, late)
        });
        HOOK.store(0, Ordering::Release);
        let (results, late) = results;
        assert!(
            !late,
            "the test's worker threads were still running {deadline:?} after it started \
             interrupting them: the machine is too busy, or the allocator is stuck in a loop"
        );
        results
    }

    /// A log of blocks the hook handed out, written from a signal handler
    /// (fixed capacity, atomics only).
    #[derive(Debug)]
    pub struct HookLog<const CAP: usize> {
        starts: [AtomicUsize; CAP],
        ends: [AtomicUsize; CAP],
        len: AtomicUsize,
    }

    impl<const CAP: usize> HookLog<CAP> {
        /// An empty log, for a `static`.
        #[allow(clippy::declare_interior_mutable_const)]
        pub const fn new() -> Self {
            const ZERO: AtomicUsize = AtomicUsize::new(0);
            HookLog {
                starts: [ZERO; CAP],
                ends: [ZERO; CAP],
                len: AtomicUsize::new(0),
            }
        }

        /// Whether there is room for another block.
        pub fn has_room(&self) -> bool {
            self.len.load(Ordering::Relaxed) < CAP
        }

        /// Records `[start, end)`; dropped when the log is full.
        pub fn push(&self, start: usize, end: usize) {
            let i = self.len.fetch_add(1, Ordering::Relaxed);
            if i < CAP {
                self.starts[i].store(start, Ordering::Relaxed);
                self.ends[i].store(end, Ordering::Relaxed);
            }
        }

        /// Every block recorded, and empties the log.
        pub fn take(&self) -> Vec<(usize, usize)> {
            let n = self.len.swap(0, Ordering::Relaxed).min(CAP);
            (0..n)
                .map(|i| {
                    (
                        self.starts[i].load(Ordering::Relaxed),
                        self.ends[i].load(Ordering::Relaxed),
                    )
                })
                .collect()
        }
    }

    impl<const CAP: usize> Default for HookLog<CAP> {
        fn default() -> Self {
            Self::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_in_assertions_print_in_hex() {
        assert_eq!(
            format!("{:?}", 0x7f3a_2c00_0c40_usize.hex()),
            "0x7f3a2c000c40"
        );
        assert_eq!(format!("{:?}", Some(4096_usize).hex()), "Some(0x1000)");
        assert_eq!(format!("{:?}", Ok::<usize, ()>(16).hex()), "Ok(0x10)");
    }
}
