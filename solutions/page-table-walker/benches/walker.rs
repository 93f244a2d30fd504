//! Benchmark: the reference page-table walker. A translation of a random
//! mapped address by the free `translate` (a full four-level walk) next to
//! the `x86_64` crate's `OffsetPageTable::translate` over the very same
//! tables in the same `PhysMem`; `AddressSpace::translate` with a hot TLB;
//! mapping and unmapping 512 pages; forking a 1,000-page address space.
//! Run it with `cargo bench -p page-table-walker-solution`.

use std::collections::HashSet;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use page_table_walker_solution::{
    Access, AddressSpace, Flags, Machine, PAGE_SIZE, PhysMem, VirtAddr, translate,
};
use x86_64::structures::paging::{OffsetPageTable, Translate};

/// Frames of simulated memory: 64 MiB, room for a parent and a child with
/// a thousand scattered pages each.
const FRAMES: usize = 16_384;

/// Pages mapped at random addresses for the translation benchmarks.
const RANDOM_PAGES: usize = 1_000;

const RW_USER: Flags =
    Flags::from_bits(Flags::PRESENT.bits() | Flags::WRITABLE.bits() | Flags::USER.bits());

/// A small xorshift generator: the same "random" addresses on every run.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// A machine with one address space in which `pages` distinct random
/// user-half pages are mapped; returns the addresses (with a random offset
/// in their page).
fn random_space(pages: usize) -> (Machine, AddressSpace, Vec<VirtAddr>) {
    let mut m = Machine::new(FRAMES);
    let mut space = AddressSpace::new(&mut m).expect("a PML4");
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut seen = HashSet::new();
    let mut addrs = Vec::with_capacity(pages);
    while addrs.len() < pages {
        let page = rng.next() & 0x0000_7fff_ffff_f000;
        if !seen.insert(page) {
            continue;
        }
        let frame = m.frames.allocate().expect("a data frame");
        space
            .map(&mut m, VirtAddr(page), frame, RW_USER)
            .expect("map a random page");
        addrs.push(VirtAddr(page | (rng.next() & 0xff8)));
    }
    (m, space, addrs)
}

/// The `x86_64` crate's page table over the tables at `cr3` in `mem`.
///
/// # Safety
/// `cr3` must be a frame of `mem` holding a PML4 whose tables all lie in
/// `mem`, and nothing may write to `mem` while the result is alive.
unsafe fn offset_page_table(mem: &mut PhysMem, cr3: u64) -> OffsetPageTable<'_> {
    let size = mem.size() as usize;
    // SAFETY: `PhysMem` keeps its `size()` bytes of frames, initialised, in
    // one block at `base_ptr_mut()`, borrowed mutably (through `mem`) for as
    // long as the slice lives.
    let memory = unsafe { std::slice::from_raw_parts_mut(mem.base_ptr_mut(), size) };
    // SAFETY: the caller promises that every table lies in `mem`.
    unsafe { oslings_cases::oracle::offset_page_table(memory, cr3) }
}

fn random_translations(c: &mut Criterion) {
    let (mut m, space, addrs) = random_space(RANDOM_PAGES);
    let cr3 = space.cr3();
    let mut group = c.benchmark_group(format!(
        "translate {RANDOM_PAGES} random mapped addresses (4 KiB pages, no TLB)"
    ));
    group.throughput(Throughput::Elements(addrs.len() as u64));

    group.bench_function("oslings translate", |b| {
        b.iter(|| {
            for &addr in &addrs {
                let t =
                    translate(&m.mem, cr3, black_box(addr), Access::read()).expect("a mapped page");
                black_box(t.phys);
            }
        });
    });

    group.bench_function("x86_64 OffsetPageTable::translate_addr", |b| {
        let ours: Vec<u64> = addrs
            .iter()
            .map(|&addr| {
                translate(&m.mem, cr3, addr, Access::read())
                    .expect("mapped")
                    .phys
                    .0
            })
            .collect();
        // SAFETY: `cr3` is the address space's PML4, all of whose tables
        // lie in `m.mem`, and nothing writes `m.mem` during this benchmark.
        let table = unsafe { offset_page_table(&mut m.mem, cr3.0) };
        // The two agree before anything is timed.
        for (&addr, &ours) in addrs.iter().zip(&ours) {
            let theirs = table
                .translate_addr(x86_64::VirtAddr::new(addr.0))
                .expect("mapped for x86_64 too");
            assert_eq!(ours, theirs.as_u64(), "translations of {addr} differ");
        }
        b.iter(|| {
            for &addr in &addrs {
                let phys = table
                    .translate_addr(x86_64::VirtAddr::new(black_box(addr.0)))
                    .expect("a mapped page");
                black_box(phys);
            }
        });
    });
    group.finish();
}

fn hot_tlb(c: &mut Criterion) {
    // As many consecutive pages as the TLB has slots: each its own slot.
    let pages = AddressSpace::TLB_SLOTS as u64;
    let mut m = Machine::new(FRAMES);
    let mut space = AddressSpace::new(&mut m).expect("a PML4");
    let addrs: Vec<VirtAddr> = (0..pages)
        .map(|i| VirtAddr(0x0040_0000 + i * PAGE_SIZE + 0x123))
        .collect();
    for addr in &addrs {
        let frame = m.frames.allocate().expect("a data frame");
        space
            .map(&mut m, VirtAddr(addr.0 & !0xfff), frame, RW_USER)
            .expect("map");
    }
    let cr3 = space.cr3();

    let mut group = c.benchmark_group(format!("translate {pages} pages that fit the TLB"));
    group.throughput(Throughput::Elements(pages));
    group.bench_function("oslings AddressSpace::translate (TLB hits)", |b| {
        for &addr in &addrs {
            space.translate(&m, addr, Access::read()).expect("warm");
        }
        let misses = space.tlb().misses();
        b.iter(|| {
            for &addr in &addrs {
                let t = space
                    .translate(&m, black_box(addr), Access::read())
                    .expect("a mapped page");
                black_box(t.phys);
            }
        });
        assert_eq!(space.tlb().misses(), misses, "the TLB stayed hot");
    });
    group.bench_function("oslings translate (a walk each time)", |b| {
        b.iter(|| {
            for &addr in &addrs {
                let t =
                    translate(&m.mem, cr3, black_box(addr), Access::read()).expect("a mapped page");
                black_box(t.phys);
            }
        });
    });
    group.finish();
}

fn map_unmap(c: &mut Criterion) {
    const PAGES: u64 = 512;
    let mut group = c.benchmark_group("map then unmap 512 pages");
    group.throughput(Throughput::Elements(PAGES));
    group.bench_function("oslings AddressSpace", |b| {
        let mut m = Machine::new(FRAMES);
        let mut space = AddressSpace::new(&mut m).expect("a PML4");
        b.iter(|| {
            for i in 0..PAGES {
                let frame = m.frames.allocate().expect("a data frame");
                space
                    .map(
                        &mut m,
                        VirtAddr(0x0040_0000 + i * PAGE_SIZE),
                        frame,
                        RW_USER,
                    )
                    .expect("map");
            }
            // Unmapping the last page frees the frames and the three tables.
            for i in 0..PAGES {
                let frame = space
                    .unmap(&mut m, VirtAddr(0x0040_0000 + i * PAGE_SIZE))
                    .expect("unmap");
                black_box(frame);
            }
        });
        assert_eq!(m.frames.used_count(), 1, "only the PML4 is left");
    });
    group.finish();
}

fn fork(c: &mut Criterion) {
    const PAGES: u64 = 1_000;
    let mut m = Machine::new(FRAMES);
    let mut parent = AddressSpace::new(&mut m).expect("a PML4");
    for i in 0..PAGES {
        let frame = m.alloc_zeroed().expect("a data frame");
        parent
            .map(
                &mut m,
                VirtAddr(0x0040_0000 + i * PAGE_SIZE),
                frame,
                RW_USER,
            )
            .expect("map");
    }
    let mut group = c.benchmark_group("fork a 1,000-page address space");
    group.throughput(Throughput::Elements(PAGES));
    group.bench_function("oslings AddressSpace::fork", |b| {
        // Only the fork is timed; the child is destroyed outside the clock.
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                let child = parent.fork(&mut m).expect("fork");
                total += start.elapsed();
                child.destroy(&mut m);
            }
            total
        });
    });
    group.bench_function("oslings AddressSpace::fork + destroy", |b| {
        b.iter(|| parent.fork(&mut m).expect("fork").destroy(&mut m));
    });
    group.finish();
}

criterion_group!(benches, random_translations, hot_tlb, map_unmap, fork);
criterion_main!(benches);
