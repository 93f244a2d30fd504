//! Workloads of the page-table walker's benchmark. The learner's crate
//! (`candidate`), the reference solution (`reference`) and the `x86_64`
//! crate's `OffsetPageTable` translate the same addresses over identical
//! page tables (each subject has its own machine, built the same way).
//!
//! - `translate-locality`: a trace of addresses with locality (runs of
//!   nearby addresses, a working set of a few hundred 4 KiB pages and a few
//!   2 MiB pages, in both halves), translated through the address space's
//!   TLB (`AddressSpace::translate`). Baselines: the reference's free
//!   `translate` (a full walk every time, no TLB) and the `x86_64` crate.
//! - `walk-only`: random mapped addresses, no TLB: the free `translate` of
//!   the candidate and of the reference, and the `x86_64` crate.
//!
//! Beside the time, each workload reports memory reads per translation
//! (counted by `PhysMem`; the `x86_64` crate reads the tables in place,
//! uncounted), which is what a TLB saves.

use std::hint::black_box;
use std::time::Duration;

use oslings_harness::perf::{Workload, WorkloadResult, run_main};
use x86_64::structures::paging::Translate;

use crate::{candidate, reference};

/// Length of each address trace (a power of two), replayed in a loop.
const TRACE: usize = 1 << 14;

/// Where the 4 KiB pages go: (first page, pages).
const AREAS: [(u64, u64); 4] = [
    (0x0000_0000_0040_0000, 96),  // code
    (0x0000_5555_5555_0000, 200), // heap
    (0x0000_7fff_fffe_0000, 32),  // stack
    (0xffff_8000_0010_0000, 48),  // kernel
];
/// The 2 MiB pages: the first one's address, and how many.
const HUGE: (u64, u64) = (0x0000_6000_0000_0000, 4);

/// Every mapped page: (start, size in bytes), the 4 KiB pages first.
fn pages() -> Vec<(u64, u64)> {
    let mut pages: Vec<(u64, u64)> = AREAS
        .iter()
        .flat_map(|&(start, n)| (0..n).map(move |i| (start + i * 4096, 4096)))
        .collect();
    pages.extend((0..HUGE.1).map(|i| (HUGE.0 + (i << 21), 1 << 21)));
    pages
}

/// A random mapped page; one time in eight a 2 MiB one.
fn any_page(rng: &mut fastrand::Rng, pages: &[(u64, u64)]) -> (u64, u64) {
    let small = pages.len() - HUGE.1 as usize;
    if rng.u8(0..8) == 0 {
        pages[small + rng.usize(0..HUGE.1 as usize)]
    } else {
        pages[rng.usize(0..small)]
    }
}

/// A trace with locality: runs of 8-64 nearby accesses in one page, the
/// page mostly one of a small hot set, sometimes any mapped page.
fn locality_trace() -> Vec<u64> {
    let pages = pages();
    let mut rng = fastrand::Rng::with_seed(0x71b);
    let hot: Vec<(u64, u64)> = (0..24).map(|_| any_page(&mut rng, &pages)).collect();
    let mut trace = Vec::with_capacity(TRACE);
    while trace.len() < TRACE {
        let (start, size) = if rng.u8(0..10) < 8 {
            hot[rng.usize(0..hot.len())]
        } else {
            any_page(&mut rng, &pages)
        };
        let mut offset = rng.u64(0..size) & !7;
        for _ in 0..rng.usize(8..64) {
            trace.push(start + offset);
            offset = (offset + 8 * rng.u64(1..16)) % size;
        }
    }
    trace.truncate(TRACE);
    trace
}

/// Random addresses in mapped pages.
fn random_trace() -> Vec<u64> {
    let pages = pages();
    let mut rng = fastrand::Rng::with_seed(0x3a1);
    (0..TRACE)
        .map(|_| {
            let (start, size) = any_page(&mut rng, &pages);
            start + (rng.u64(0..size) & !7)
        })
        .collect()
}

/// A machine of crate `$k` with the benchmark's address space mapped in
/// it: `(Machine, AddressSpace)`. The 2 MiB pages are written by hand into
/// a page directory that `map` created.
macro_rules! build {
    ($k:ident) => {{
        use $k::{AddressSpace, Entry, Flags, Machine, PhysAddr, VirtAddr};
        let mut m = Machine::new(1024);
        let mut space = AddressSpace::new(&mut m).expect("room for a PML4");
        let flags = Flags::WRITABLE | Flags::USER;
        for &(start, n) in &AREAS {
            for i in 0..n {
                let frame = m.frames.allocate().expect("room for the data");
                space
                    .map(&mut m, VirtAddr(start + i * 4096), frame, flags)
                    .expect("the benchmark's pages map");
            }
        }
        // A 4 KiB page right after the huge ones creates their PD.
        let after = HUGE.0 + (HUGE.1 << 21);
        let frame = m.frames.allocate().expect("room for the data");
        space
            .map(&mut m, VirtAddr(after), frame, flags)
            .expect("the benchmark's pages map");
        let pd_entry = $k::walk(&m.mem, space.cr3(), VirtAddr(after))
            .expect("just mapped")
            .steps()[2]
            .entry_addr;
        let pd = pd_entry.0 & !4095;
        for i in 0..HUGE.1 {
            let index = ((HUGE.0 >> 21) & 511) + i;
            let entry = Entry::new(
                PhysAddr(0x40_0000_0000 + (i << 21)),
                flags | Flags::PRESENT | Flags::HUGE_PAGE,
            );
            m.mem.write_u64(PhysAddr(pd + index * 8), entry.0);
        }
        (m, space)
    }};
}

/// Translates every address of `trace` once with `translate` and returns
/// the memory reads per translation that `reads` counted.
fn reads_per(trace: &[u64], mut translate: impl FnMut(u64), reads: impl Fn() -> u64) -> f64 {
    let before = reads();
    for &addr in trace {
        translate(addr);
    }
    (reads() - before) as f64 / trace.len() as f64
}

/// A routine of `x86_64`'s `OffsetPageTable::translate` over `mem`, whose
/// PML4 is at physical `cr3`. The memory is leaked to live as long as the
/// routine.
fn x86_64_routine<'a>(
    mem: &'static mut reference::PhysMem,
    cr3: u64,
    trace: &'a [u64],
) -> impl FnMut(u64) + 'a {
    let size = mem.size() as usize;
    // SAFETY: `PhysMem` keeps its `size()` bytes of frames, initialised, in
    // one block at `base_ptr_mut()`; it is leaked, so the slice may live as
    // long as the routine, and nothing else uses it from now on.
    let memory = unsafe { std::slice::from_raw_parts_mut(mem.base_ptr_mut(), size) };
    // SAFETY: the tables are the reference's `AddressSpace`: every table
    // pointer stays inside the memory, and no PML4 entry has the page-size
    // bit.
    let table = unsafe { oslings_cases::oracle::offset_page_table(memory, cr3) };
    move |iters| {
        for i in 0..iters {
            let addr = trace[i as usize & (TRACE - 1)];
            black_box(table.translate(x86_64::VirtAddr::new(black_box(addr))));
        }
    }
}

fn translate_locality(budget: Duration) -> WorkloadResult {
    let trace = locality_trace();
    let trace = &trace[..];

    // Memory reads per translation, measured on fresh copies before timing.
    let (cm, mut cs) = build!(candidate);
    let candidate_reads = reads_per(
        trace,
        |a| {
            let _ = black_box(cs.translate(&cm, candidate::VirtAddr(a), candidate::Access::read()));
        },
        || cm.mem.reads(),
    );
    let (rm, mut rs) = build!(reference);
    let reference_reads = reads_per(
        trace,
        |a| {
            let _ = black_box(rs.translate(&rm, reference::VirtAddr(a), reference::Access::read()));
        },
        || rm.mem.reads(),
    );
    let walk_reads = reads_per(
        trace,
        |a| {
            let _ = black_box(reference::translate(
                &rm.mem,
                rs.cr3(),
                reference::VirtAddr(a),
                reference::Access::read(),
            ));
        },
        || rm.mem.reads(),
    );

    let (cm, mut cs) = build!(candidate);
    let (rm, mut rs) = build!(reference);
    let (wm, ws) = build!(reference);
    let (xm, xs) = build!(reference);
    let xcr3 = xs.cr3().0;
    let xmem: &'static mut reference::PhysMem = Box::leak(Box::new(xm.mem));
    Workload::new("translate-locality", "translation")
        .candidate(move |iters| {
            for i in 0..iters {
                let addr = candidate::VirtAddr(trace[i as usize & (TRACE - 1)]);
                let _ = black_box(cs.translate(&cm, black_box(addr), candidate::Access::read()));
            }
        })
        .reference(move |iters| {
            for i in 0..iters {
                let addr = reference::VirtAddr(trace[i as usize & (TRACE - 1)]);
                let _ = black_box(rs.translate(&rm, black_box(addr), reference::Access::read()));
            }
        })
        .baseline("reference-walk", move |iters| {
            for i in 0..iters {
                let addr = reference::VirtAddr(trace[i as usize & (TRACE - 1)]);
                let _ = black_box(reference::translate(
                    &wm.mem,
                    ws.cr3(),
                    black_box(addr),
                    reference::Access::read(),
                ));
            }
        })
        .baseline("x86_64", x86_64_routine(xmem, xcr3, trace))
        .run(budget)
        .with_metric("candidate", "reads per translation", candidate_reads)
        .with_metric("reference", "reads per translation", reference_reads)
        .with_metric("reference-walk", "reads per translation", walk_reads)
}

fn walk_only(budget: Duration) -> WorkloadResult {
    let trace = random_trace();
    let trace = &trace[..];

    let (cm, cs) = build!(candidate);
    let (rm, rs) = build!(reference);
    let candidate_reads = reads_per(
        trace,
        |a| {
            let _ = black_box(candidate::translate(
                &cm.mem,
                cs.cr3(),
                candidate::VirtAddr(a),
                candidate::Access::read(),
            ));
        },
        || cm.mem.reads(),
    );
    let reference_reads = reads_per(
        trace,
        |a| {
            let _ = black_box(reference::translate(
                &rm.mem,
                rs.cr3(),
                reference::VirtAddr(a),
                reference::Access::read(),
            ));
        },
        || rm.mem.reads(),
    );

    let (xm, xs) = build!(reference);
    let xcr3 = xs.cr3().0;
    let xmem: &'static mut reference::PhysMem = Box::leak(Box::new(xm.mem));
    Workload::new("walk-only", "translation")
        .candidate(move |iters| {
            for i in 0..iters {
                let addr = candidate::VirtAddr(trace[i as usize & (TRACE - 1)]);
                let _ = black_box(candidate::translate(
                    &cm.mem,
                    cs.cr3(),
                    black_box(addr),
                    candidate::Access::read(),
                ));
            }
        })
        .reference(move |iters| {
            for i in 0..iters {
                let addr = reference::VirtAddr(trace[i as usize & (TRACE - 1)]);
                let _ = black_box(reference::translate(
                    &rm.mem,
                    rs.cr3(),
                    black_box(addr),
                    reference::Access::read(),
                ));
            }
        })
        .baseline("x86_64", x86_64_routine(xmem, xcr3, trace))
        .run(budget)
        .with_metric("candidate", "reads per translation", candidate_reads)
        .with_metric("reference", "reads per translation", reference_reads)
}

pub(crate) fn main() {
    run_main(vec![Box::new(translate_locality), Box::new(walk_only)]);
}
