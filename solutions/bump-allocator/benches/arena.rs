//! Benchmark: the reference `Arena` against `bumpalo::Bump` and the system
//! allocator on one workload (a burst of small mixed allocations, then
//! everything freed at once). Run it with `cargo bench -p bump-allocator-solution`.

use std::alloc::Layout;
use std::hint::black_box;
use std::mem::MaybeUninit;
use std::ptr::NonNull;

use bump_allocator_solution::Arena;
use bumpalo::Bump;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Allocations per burst.
const BURST: usize = 1000;
/// Room for one burst in the bump allocators, padding included.
const CAPACITY: usize = 128 << 10;

/// (size, align) pairs cycled through by the burst: what small objects look like.
const SHAPES: [(usize, usize); 10] = [
    (8, 8),
    (16, 8),
    (24, 8),
    (32, 16),
    (48, 8),
    (64, 8),
    (12, 4),
    (100, 4),
    (5, 1),
    (40, 8),
];

fn burst() -> Vec<Layout> {
    SHAPES
        .iter()
        .cycle()
        .take(BURST)
        .map(|&(size, align)| Layout::from_size_align(size, align).unwrap())
        .collect()
}

/// Writes the first byte of a fresh block, so every allocator's memory is used.
fn touch(ptr: NonNull<u8>) {
    // SAFETY: every caller passes a block it was just given, at least one byte long.
    unsafe { ptr.as_ptr().write(1) };
    black_box(ptr);
}

fn allocators(c: &mut Criterion) {
    let layouts = burst();
    let mut group = c.benchmark_group("1000 small mixed allocations, then free all");
    group.throughput(Throughput::Elements(BURST as u64));

    group.bench_function("oslings Arena", |b| {
        let mut buf = vec![MaybeUninit::<u8>::uninit(); CAPACITY];
        let mut arena = Arena::new(&mut buf);
        b.iter(|| {
            for &layout in &layouts {
                touch(
                    arena
                        .alloc(black_box(layout))
                        .expect("the buffer holds one burst"),
                );
            }
            arena.reset();
        });
    });

    group.bench_function("bumpalo::Bump", |b| {
        let mut bump = Bump::with_capacity(CAPACITY);
        b.iter(|| {
            for &layout in &layouts {
                touch(bump.alloc_layout(black_box(layout)));
            }
            bump.reset();
        });
    });

    group.bench_function("system allocator", |b| {
        let mut blocks = Vec::with_capacity(BURST);
        b.iter(|| {
            for &layout in &layouts {
                // SAFETY: every layout in the burst has a non-zero size.
                let ptr = unsafe { std::alloc::alloc(black_box(layout)) };
                touch(NonNull::new(ptr).expect("the system allocator ran out of memory"));
                blocks.push((ptr, layout));
            }
            for (ptr, layout) in blocks.drain(..) {
                // SAFETY: `ptr` came from `alloc` with this same layout and is freed once.
                unsafe { std::alloc::dealloc(ptr, layout) };
            }
        });
    });

    group.finish();
}

criterion_group!(benches, allocators);
criterion_main!(benches);
