//! Workloads of the bump allocator's benchmark: the learner's crate
//! (`candidate`), the reference solution (`reference`), bumpalo and the
//! system allocator serve the same stream of small, mixed-size requests.

use std::alloc::{GlobalAlloc, Layout};
use std::hint::black_box;
use std::mem::MaybeUninit;
use std::ptr::NonNull;
use std::time::Duration;

use oslings_harness::perf::{Workload, WorkloadResult, run_main};

use crate::{candidate, reference};

/// Bytes each arena (and each round of the system allocator) hands out
/// before everything is freed at once.
const ARENA_BYTES: usize = 1 << 20;
/// Size of each `BumpGlobal` heap; a fresh one replaces it when full.
const GLOBAL_BYTES: usize = 1 << 20;
/// Length of the request stream (a power of two), replayed in a loop.
const STREAM: usize = 4096;

/// Small requests as a typical program makes them: mostly tiny, sometimes
/// a few hundred bytes, aligned to 1 to 16 bytes.
fn request_stream() -> Vec<Layout> {
    let mut rng = fastrand::Rng::with_seed(0xb0b);
    (0..STREAM)
        .map(|_| {
            let size = match rng.u8(0..10) {
                0..=5 => rng.usize(1..=16),
                6..=8 => rng.usize(17..=64),
                _ => rng.usize(65..=256),
            };
            let align = 1 << rng.u32(0..=4);
            Layout::from_size_align(size, align).expect("a valid request")
        })
        .collect()
}

/// The `i`-th request of the replayed stream.
#[inline(always)]
fn nth(requests: &[Layout], i: u64) -> Layout {
    requests[i as usize & (STREAM - 1)]
}

/// bumpalo over one 1 MiB chunk, reset when it is full.
fn bumpalo_routine(requests: &[Layout]) -> impl FnMut(u64) + '_ {
    let mut bump = bumpalo::Bump::with_capacity(ARENA_BYTES);
    // With a limit, a full chunk is an error instead of a bigger chunk.
    bump.set_allocation_limit(Some(ARENA_BYTES));
    move |iters| {
        for i in 0..iters {
            let request = nth(requests, i);
            let block = match bump.try_alloc_layout(request) {
                Ok(block) => block,
                Err(_) => {
                    bump.reset();
                    bump.alloc_layout(request)
                }
            };
            black_box(block);
        }
    }
}

/// The system allocator: the same requests, all freed after every 1 MiB.
fn system_routine(requests: &[Layout]) -> impl FnMut(u64) + '_ {
    let mut live: Vec<(NonNull<u8>, Layout)> = Vec::with_capacity(ARENA_BYTES / 8);
    let mut live_bytes = 0;
    move |iters| {
        for i in 0..iters {
            let request = nth(requests, i);
            // SAFETY: every request has a non-zero size.
            let raw = unsafe { std::alloc::alloc(request) };
            let Some(block) = NonNull::new(black_box(raw)) else {
                std::alloc::handle_alloc_error(request)
            };
            live.push((block, request));
            live_bytes += request.size();
            if live_bytes >= ARENA_BYTES {
                for (block, layout) in live.drain(..) {
                    // SAFETY: allocated above with this layout, freed once.
                    unsafe { std::alloc::dealloc(block.as_ptr(), layout) };
                }
                live_bytes = 0;
            }
        }
    }
}

/// `Arena::alloc` of many small mixed-size blocks in a 1 MiB buffer, reset
/// when it is full.
fn arena_workload(budget: Duration) -> WorkloadResult {
    let requests = request_stream();
    let requests = requests.as_slice();
    let mut candidate_buf = vec![MaybeUninit::<u8>::uninit(); ARENA_BYTES];
    let mut reference_buf = vec![MaybeUninit::<u8>::uninit(); ARENA_BYTES];
    let mut candidate_arena = candidate::Arena::new(&mut candidate_buf);
    let mut reference_arena = reference::Arena::new(&mut reference_buf);
    Workload::new("arena-small-allocations", "allocation")
        .candidate(move |iters| {
            for i in 0..iters {
                let request = nth(requests, i);
                let block = match candidate_arena.alloc(request) {
                    Some(block) => block,
                    None => {
                        candidate_arena.reset();
                        candidate_arena
                            .alloc(request)
                            .expect("a small block fits in an empty 1 MiB arena")
                    }
                };
                black_box(block);
            }
        })
        .reference(move |iters| {
            for i in 0..iters {
                let request = nth(requests, i);
                let block = match reference_arena.alloc(request) {
                    Some(block) => block,
                    None => {
                        reference_arena.reset();
                        reference_arena
                            .alloc(request)
                            .expect("a small block fits in an empty 1 MiB arena")
                    }
                };
                black_box(block);
            }
        })
        .baseline("bumpalo", bumpalo_routine(requests))
        .baseline("system", system_routine(requests))
        .run(budget)
}

/// `BumpGlobal::alloc` (the compare-and-swap path, on one thread) of the same
/// requests; a heap that is full is replaced by a fresh one.
fn global_workload(budget: Duration) -> WorkloadResult {
    let requests = request_stream();
    let requests = requests.as_slice();
    let mut candidate_heap = Box::new(candidate::BumpGlobal::<GLOBAL_BYTES>::new());
    let mut reference_heap = Box::new(reference::BumpGlobal::<GLOBAL_BYTES>::new());
    Workload::new("global-alloc-one-thread", "allocation")
        .candidate(move |iters| {
            for i in 0..iters {
                let request = nth(requests, i);
                // SAFETY: every request has a non-zero size.
                let mut block = unsafe { candidate_heap.alloc(request) };
                if block.is_null() {
                    *candidate_heap = candidate::BumpGlobal::new();
                    // SAFETY: as above.
                    block = unsafe { candidate_heap.alloc(request) };
                }
                black_box(block);
            }
        })
        .reference(move |iters| {
            for i in 0..iters {
                let request = nth(requests, i);
                // SAFETY: every request has a non-zero size.
                let mut block = unsafe { reference_heap.alloc(request) };
                if block.is_null() {
                    *reference_heap = reference::BumpGlobal::new();
                    // SAFETY: as above.
                    block = unsafe { reference_heap.alloc(request) };
                }
                black_box(block);
            }
        })
        .baseline("bumpalo", bumpalo_routine(requests))
        .baseline("system", system_routine(requests))
        .run(budget)
}

pub(crate) fn main() {
    run_main(vec![Box::new(arena_workload), Box::new(global_workload)]);
}
