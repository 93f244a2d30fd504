//! Stage 5: `AddressSpace::map`, `unmap`, `protect` and `destroy`, with
//! the frame allocator and the reference counts watched throughout.

use std::collections::BTreeMap;

use hidden_page_table_walker::{
    ADDR_BITS, Oracle, canonical, data_frame, oracle, random_page, raw_entry, table_frames,
};
use learner::{
    Access, AddressSpace, Fault, Flags, Level, Machine, MapError, PageSize, PhysAddr, UnmapError,
    VirtAddr, translate,
};

const RW: Flags = Flags::WRITABLE;

fn new_space(m: &mut Machine) -> AddressSpace {
    AddressSpace::new(m).expect("AddressSpace::new on a fresh machine")
}

fn map(space: &mut AddressSpace, m: &mut Machine, addr: u64, frame: PhysAddr, flags: Flags) {
    space
        .map(m, VirtAddr(addr), frame, flags)
        .unwrap_or_else(|e| panic!("map({addr:#x} -> {frame}, {flags:?}) failed: {e:?}"));
}

fn phys(m: &Machine, space: &AddressSpace, addr: u64) -> Result<PhysAddr, Fault> {
    translate(&m.mem, space.cr3(), VirtAddr(addr), Access::read()).map(|t| t.phys)
}

// Catches: map not creating the missing tables, or writing the leaf somewhere else than the x86_64 crate finds it (random pages in both halves).
#[test]
fn mapped_pages_translate_like_the_x86_64_crate_says() {
    let seed = 500;
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut m = Machine::new(2048);
    let mut space = new_space(&mut m);
    let mut pages = BTreeMap::new();
    for _ in 0..200 {
        // Clusters, so that tables are shared as well as created.
        let page = if pages.is_empty() || rng.bool() {
            random_page(&mut rng)
        } else {
            let (&near, _) = pages
                .iter()
                .nth(rng.usize(0..pages.len()))
                .expect("non-empty");
            canonical(near ^ (rng.u64(1..1 << 12) << 12))
        };
        if pages.contains_key(&page) {
            continue;
        }
        let frame = data_frame(&mut m);
        map(&mut space, &mut m, page, frame, RW | Flags::USER);
        pages.insert(page, frame);
    }
    for (&page, &frame) in &pages {
        let addr = page + 0x9a8;
        let expected = frame.0 + 0x9a8;
        let got = oracle(&mut m.mem, space.cr3(), addr);
        assert_eq!(
            got,
            Some(Oracle::Mapped {
                phys: expected,
                page_bytes: PageSize::Size4K.bytes()
            }),
            "after mapping {page:#x} -> {frame} (and 199 other random pages, seed {seed}), the \
             x86_64 crate's translation of {addr:#x} over the same memory disagrees"
        );
        assert_eq!(
            phys(&m, &space, addr),
            Ok(PhysAddr(expected)),
            "translate({addr:#x}) after map({page:#x} -> {frame}) (seed {seed})"
        );
    }
}

// Catches: creating new tables for every map instead of reusing the ones already there (or reusing the wrong one).
#[test]
fn map_creates_tables_only_when_missing() {
    let mut m = Machine::new(256);
    let mut space = new_space(&mut m);
    let frames: Vec<PhysAddr> = (0..4).map(|_| data_frame(&mut m)).collect();
    let cases = [
        (
            0x4000_0000_u64,
            3,
            "into an empty address space: a PDPT, a PD and a PT",
        ),
        (0x4000_1000, 0, "next to it, in the same PT"),
        (0x4020_0000, 1, "2 MiB further on: a new PT in the same PD"),
        (
            0xffff_8000_0000_0000,
            3,
            "in the kernel half: a new PDPT, PD and PT",
        ),
    ];
    for ((addr, new_tables, what), frame) in cases.into_iter().zip(frames) {
        let before = m.frames.used_count();
        map(&mut space, &mut m, addr, frame, RW);
        let used = m.frames.used_count() - before;
        assert_eq!(
            used, new_tables,
            "map({addr:#x}) {what}: expected {new_tables} new table frames, {used} frames were taken"
        );
    }
    for (addr, _, _) in cases {
        assert!(
            phys(&m, &space, addr).is_ok(),
            "translate({addr:#x}) after mapping the four pages: {:?}",
            phys(&m, &space, addr)
        );
    }
}

// Catches: map overwriting an existing mapping (or taking frames or a reference before refusing), and mapping inside a huge page.
#[test]
fn map_refuses_to_overwrite() {
    let mut m = Machine::new(256);
    let mut space = new_space(&mut m);
    let (first, second) = (data_frame(&mut m), data_frame(&mut m));
    map(&mut space, &mut m, 0x7000, first, RW);
    let used = m.frames.used_count();
    assert_eq!(
        space.map(&mut m, VirtAddr(0x7000), second, RW),
        Err(MapError::AlreadyMapped(VirtAddr(0x7000))),
        "map(0x7000) a second time"
    );
    assert_eq!(
        phys(&m, &space, 0x7000),
        Ok(first),
        "0x7000 must still map to the first frame after the refused map"
    );
    assert_eq!(
        m.refs(second),
        0,
        "the refused frame must not gain a reference"
    );
    assert_eq!(
        m.refs(first),
        1,
        "map records one reference per mapping (Machine::share)"
    );
    assert_eq!(
        m.frames.used_count(),
        used,
        "a refused map must not take frames"
    );

    // A 2 MiB page written by hand at 0x4000_0000 (inside a fresh PD).
    map(&mut space, &mut m, 0x4000_0000, second, RW);
    let pd_entry = raw_entry(&m.mem, space.cr3(), 0x4000_0000, Level::Pd).expect("mapped");
    let pd_entry_addr = {
        let pdpt = raw_entry(&m.mem, space.cr3(), 0x4000_0000, Level::Pdpt).expect("mapped");
        PhysAddr((pdpt & 0x000f_ffff_ffff_f000) + 8)
    };
    m.mem.write_u64(
        pd_entry_addr,
        0x20_0000 | (pd_entry & 0xfff & !0x80) | Flags::HUGE_PAGE.bits() | 1,
    );
    let third = data_frame(&mut m);
    assert_eq!(
        space.map(&mut m, VirtAddr(0x4020_3000), third, RW),
        Err(MapError::AlreadyMapped(VirtAddr(0x4020_3000))),
        "map(0x4020_3000) inside a 2 MiB page mapped at 0x4020_0000"
    );
}

// Catches: table entries made with the leaf's flags (or none), so that the leaf alone cannot grant write or user access.
#[test]
fn tables_grant_everything_so_the_leaf_decides() {
    let mut m = Machine::new(256);
    let mut space = new_space(&mut m);
    let frame = data_frame(&mut m);
    // A read-only, supervisor, no-execute page first: its tables must not inherit that.
    map(&mut space, &mut m, 0x20_0000, frame, Flags::NO_EXECUTE);
    let other = data_frame(&mut m);
    map(&mut space, &mut m, 0x20_1000, other, RW | Flags::USER);
    for level in [Level::Pml4, Level::Pdpt, Level::Pd] {
        let entry = raw_entry(&m.mem, space.cr3(), 0x20_1000, level).expect("mapped");
        let flags = Flags::from_bits(entry);
        assert!(
            flags.contains(Flags::PRESENT | Flags::WRITABLE | Flags::USER)
                && !flags.contains(Flags::NO_EXECUTE),
            "the level-{} entry map created is {flags:?}: entries that point at tables get \
             PRESENT | WRITABLE | USER (and no NO_EXECUTE), so the leaf alone decides",
            level.number()
        );
    }
    let t = translate(
        &m.mem,
        space.cr3(),
        VirtAddr(0x20_1008),
        Access::write().user(),
    );
    assert_eq!(
        t.map(|t| t.phys),
        Ok(PhysAddr(other.0 + 8)),
        "a user write to the page mapped WRITABLE | USER"
    );
    let t = translate(&m.mem, space.cr3(), VirtAddr(0x20_0008), Access::write());
    assert!(
        t.is_err(),
        "a write to the page mapped read-only succeeded: the leaf must get the given flags"
    );
}

// Catches: bad arguments not refused (misaligned address or frame, non-canonical address), or refused with the wrong error.
#[test]
fn map_checks_its_arguments() {
    let mut m = Machine::new(64);
    let mut space = new_space(&mut m);
    let frame = data_frame(&mut m);
    let cases = [
        (
            0x0000_8000_0000_0000_u64,
            frame,
            MapError::NonCanonical(VirtAddr(0x0000_8000_0000_0000)),
        ),
        (0x1008, frame, MapError::Misaligned(VirtAddr(0x1008), frame)),
        (
            0x1000,
            PhysAddr(frame.0 + 0x10),
            MapError::Misaligned(VirtAddr(0x1000), PhysAddr(frame.0 + 0x10)),
        ),
    ];
    let used = m.frames.used_count();
    for (addr, frame, error) in cases {
        assert_eq!(
            space.map(&mut m, VirtAddr(addr), frame, RW),
            Err(error),
            "map({addr:#x} -> {frame})"
        );
    }
    assert_eq!(
        m.frames.used_count(),
        used,
        "refused maps must not take frames"
    );
}

// Catches: unmap leaving empty tables allocated, or not clearing the entry that pointed at a freed table.
#[test]
fn unmap_frees_tables_left_empty() {
    let mut m = Machine::new(64);
    let mut space = new_space(&mut m);
    let free_at_start = m.frames.free_count();
    let frame = data_frame(&mut m);
    map(&mut space, &mut m, 0x7f00_1234_5000, frame, RW);
    let got = space.unmap(&mut m, VirtAddr(0x7f00_1234_5000));
    assert_eq!(got, Ok(frame), "unmap returns the frame the page mapped");
    assert_eq!(
        m.frames.free_count(),
        free_at_start,
        "after mapping one page and unmapping it, the PT, PD and PDPT are empty and must be \
         freed, and the data frame too (its only reference is gone)"
    );
    assert_eq!(
        table_frames(&m.mem, space.cr3()),
        1,
        "after unmapping the only page, only the PML4 is left, with no entry present"
    );
    assert_eq!(
        phys(&m, &space, 0x7f00_1234_5000),
        Err(Fault::NotPresent {
            addr: VirtAddr(0x7f00_1234_5000),
            level: Level::Pml4
        }),
        "after unmapping the only page, the PML4 entry that led to the freed PDPT is cleared"
    );
}

// Catches: unmap freeing tables that still hold other mappings (or clearing the wrong entry).
#[test]
fn unmap_keeps_tables_that_are_still_used() {
    let mut m = Machine::new(64);
    let mut space = new_space(&mut m);
    let addrs = [0x4000_0000_u64, 0x4000_1000, 0x4020_0000, 0x8000_0000];
    for addr in addrs {
        let frame = data_frame(&mut m);
        map(&mut space, &mut m, addr, frame, RW);
    }
    let tables = table_frames(&m.mem, space.cr3());
    space
        .unmap(&mut m, VirtAddr(0x4000_0000))
        .expect("unmap(0x4000_0000)");
    assert_eq!(
        table_frames(&m.mem, space.cr3()),
        tables,
        "unmap(0x4000_0000): its PT still maps 0x4000_1000, no table may go"
    );
    space
        .unmap(&mut m, VirtAddr(0x4000_1000))
        .expect("unmap(0x4000_1000)");
    assert_eq!(
        table_frames(&m.mem, space.cr3()),
        tables - 1,
        "unmap(0x4000_1000): its PT is now empty and goes; its PD still holds 0x4020_0000"
    );
    for addr in [0x4020_0000_u64, 0x8000_0000] {
        assert!(
            phys(&m, &space, addr).is_ok(),
            "{addr:#x} must still be mapped after unmapping its neighbours: {:?}",
            phys(&m, &space, addr)
        );
    }
    assert_eq!(
        space.unmap(&mut m, VirtAddr(0x4000_1000)),
        Err(UnmapError::NotMapped(VirtAddr(0x4000_1000))),
        "unmap of a page that is not mapped any more"
    );
    assert_eq!(
        space.unmap(&mut m, VirtAddr(0x0000_8000_0000_0000)),
        Err(UnmapError::NonCanonical(VirtAddr(0x0000_8000_0000_0000))),
        "unmap of a non-canonical address"
    );
}

// Catches: frames leaked (tables or data) or freed twice over random map/unmap sequences; free_count must come back to where it started.
#[test]
fn random_map_unmap_leaks_nothing() {
    for seed in 510..516 {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut m = Machine::new(1024);
        let free_at_start = m.frames.free_count();
        let mut space = new_space(&mut m);
        let mut mapped: BTreeMap<u64, PhysAddr> = BTreeMap::new();
        let bases: Vec<u64> = (0..3).map(|_| random_page(&mut rng) & !0x3f_ffff).collect();
        for step in 0..600 {
            let page = canonical(bases[rng.usize(0..3)].wrapping_add(rng.u64(0..1024) << 12));
            if let Some(frame) = mapped.remove(&page) {
                let got = space.unmap(&mut m, VirtAddr(page));
                assert_eq!(
                    got,
                    Ok(frame),
                    "step {step}: unmap({page:#x}) (seed {seed})"
                );
            } else {
                let frame = data_frame(&mut m);
                map(&mut space, &mut m, page, frame, RW);
                mapped.insert(page, frame);
            }
        }
        for (&page, &frame) in &mapped {
            assert_eq!(
                phys(&m, &space, page),
                Ok(frame),
                "translate({page:#x}) after random maps and unmaps (seed {seed})"
            );
        }
        for (&page, &frame) in &mapped {
            let got = space.unmap(&mut m, VirtAddr(page));
            assert_eq!(got, Ok(frame), "final unmap({page:#x}) (seed {seed})");
        }
        assert_eq!(
            m.frames.free_count(),
            free_at_start - 1,
            "after unmapping every page, only the PML4 may still be in use (seed {seed}): \
             {} frames leaked",
            free_at_start - 1 - m.frames.free_count()
        );
        space.destroy(&mut m);
        assert_eq!(
            m.frames.free_count(),
            free_at_start,
            "destroy of an empty address space must free the PML4"
        );
    }
}

// Catches: unmap not releasing the frame's reference (Machine::release), or releasing a shared frame outright.
#[test]
fn unmap_drops_one_reference() {
    let mut m = Machine::new(64);
    let mut space = new_space(&mut m);
    let frame = data_frame(&mut m);
    map(&mut space, &mut m, 0x1000, frame, RW);
    map(&mut space, &mut m, 0x2000, frame, RW);
    assert_eq!(m.refs(frame), 2, "a frame mapped twice has two references");
    space
        .unmap(&mut m, VirtAddr(0x1000))
        .expect("unmap(0x1000)");
    assert_eq!(
        m.refs(frame),
        1,
        "unmap(0x1000) of a frame also mapped at 0x2000: unmap drops exactly one reference \
         (Machine::release), it does not free the frame outright (frames.deallocate)"
    );
    assert!(
        m.frames.is_allocated(frame),
        "the frame is still mapped at 0x2000 and must stay allocated"
    );
    space
        .unmap(&mut m, VirtAddr(0x2000))
        .expect("unmap(0x2000)");
    assert!(
        !m.frames.is_allocated(frame),
        "the last mapping is gone: Machine::release gives the frame back"
    );
}

// Catches: protect changing the frame, not replacing the flags (or only adding to them), or touching pages it was not asked about.
#[test]
fn protect_replaces_the_flags() {
    let mut m = Machine::new(64);
    let mut space = new_space(&mut m);
    let frame = data_frame(&mut m);
    map(&mut space, &mut m, 0x5000, frame, RW | Flags::USER);
    space
        .protect(&mut m, VirtAddr(0x5000), Flags::NO_EXECUTE)
        .expect("protect(0x5000)");
    let cr3 = space.cr3();
    let t = translate(&m.mem, cr3, VirtAddr(0x5010), Access::read());
    assert_eq!(
        t,
        Ok(learner::Translation {
            phys: PhysAddr(frame.0 + 0x10),
            frame,
            size: PageSize::Size4K,
            flags: Flags::PRESENT | Flags::NO_EXECUTE,
        }),
        "after protect(0x5000, NO_EXECUTE) of a page mapped WRITABLE | USER: same frame, and \
         the flags are replaced (plus PRESENT)"
    );
    assert_eq!(
        space.protect(&mut m, VirtAddr(0x6000), RW),
        Err(UnmapError::NotMapped(VirtAddr(0x6000))),
        "protect of a page that is not mapped"
    );
}

// Catches: destroy leaking tables or data frames, or releasing frames that other mappings still share.
#[test]
fn destroy_frees_everything() {
    let mut m = Machine::new(1024);
    let free_at_start = m.frames.free_count();
    let mut rng = fastrand::Rng::with_seed(520);
    let mut space = new_space(&mut m);
    let mut other = new_space(&mut m);
    let shared = data_frame(&mut m);
    map(&mut other, &mut m, 0x1000, shared, RW);
    map(&mut space, &mut m, 0x1000, shared, RW);
    let mut pages = std::collections::BTreeSet::new();
    while pages.len() < 100 {
        pages.insert(random_page(&mut rng));
    }
    pages.remove(&0x1000);
    for &page in &pages {
        let frame = data_frame(&mut m);
        map(&mut space, &mut m, page, frame, RW);
    }
    space.destroy(&mut m);
    assert_eq!(
        m.refs(shared),
        1,
        "the frame at 0x1000 is mapped in another address space too: destroy drops only its own reference"
    );
    assert_eq!(
        phys(&m, &other, 0x1008),
        Ok(PhysAddr(shared.0 + 8)),
        "the other address space must be untouched by destroy"
    );
    other.destroy(&mut m);
    assert_eq!(
        m.frames.free_count(),
        free_at_start,
        "after destroying both address spaces every frame must be free again ({} leaked)",
        free_at_start - m.frames.free_count()
    );
}

// Catches: map panicking (unwrap on the allocator) or mapping anyway when no frame is left for a table.
#[test]
fn map_reports_out_of_frames() {
    // Frame 0 is never handed out: 3 free frames, one for the PML4 and one
    // for data, so the PDPT, PD and PT cannot all fit.
    let mut m = Machine::new(4);
    let mut space = new_space(&mut m);
    let frame = data_frame(&mut m);
    let got = space.map(&mut m, VirtAddr(0x1000), frame, RW);
    assert_eq!(
        got,
        Err(MapError::OutOfFrames),
        "map(0x1000) into an empty address space with a single free frame: it needs three \
         tables"
    );
    assert_eq!(
        m.refs(frame),
        0,
        "a map that failed must not take a reference on the frame"
    );
    assert!(
        phys(&m, &space, 0x1000).is_err(),
        "0x1000 translates after a map that reported OutOfFrames"
    );
}

// Catches: the check that every missing table fits done with the wrong count or comparison (refusing a map that fits exactly, or building half a path before running out).
#[test]
fn map_needs_exactly_one_frame_per_missing_table() {
    for (free, fits) in [(3, true), (2, false), (1, false)] {
        // Frame 0 is never handed out; one frame for the PML4, one for data.
        let mut m = Machine::new(3 + free);
        let mut space = new_space(&mut m);
        let frame = data_frame(&mut m);
        assert_eq!(
            m.frames.free_count(),
            free,
            "test bug: wrong number of free frames"
        );
        let got = space.map(&mut m, VirtAddr(0x1000), frame, RW);
        if fits {
            assert_eq!(
                got,
                Ok(()),
                "map(0x1000) into an empty address space with {free} free frames: it needs \
                 three tables (PDPT, PD, PT), which fit exactly"
            );
            assert_eq!(
                m.frames.free_count(),
                0,
                "map(0x1000) built the PDPT, PD and PT"
            );
        } else {
            assert_eq!(
                got,
                Err(MapError::OutOfFrames),
                "map(0x1000) into an empty address space with {free} free frames: it needs \
                 three tables (PDPT, PD, PT)"
            );
            assert_eq!(
                m.frames.free_count(),
                free,
                "map(0x1000) with {free} free frames reported OutOfFrames but used {} of them: \
                 check that all the missing tables fit before building any, so a failed map \
                 leaves no half-built path",
                free - m.frames.free_count()
            );
        }
    }
}

/// An address space with a 4 KiB page at 0x1000 and, in the same PD, a 2 MiB
/// page at 0x20_0000 (mapping physical 0), written straight into the tables
/// as a kernel would: `map` only makes 4 KiB pages.
fn space_with_a_huge_page(m: &mut Machine) -> AddressSpace {
    let mut space = new_space(m);
    let frame = data_frame(m);
    map(&mut space, m, 0x1000, frame, RW);
    let pd = raw_entry(&m.mem, space.cr3(), 0x1000, Level::Pdpt).expect("mapped") & ADDR_BITS;
    let huge = (Flags::PRESENT | Flags::WRITABLE | Flags::HUGE_PAGE).bits();
    m.mem.write_u64(PhysAddr(pd + 8), huge);
    space
}

// Catches: unmap or protect taking a 2 MiB page for a 4 KiB mapping (checking only that the walk succeeded, not that it ended in a PT).
#[test]
fn unmap_and_protect_leave_huge_pages_alone() {
    let mut m = Machine::new(64);
    let mut space = space_with_a_huge_page(&mut m);
    let before = raw_entry(&m.mem, space.cr3(), 0x20_0000, Level::Pd);
    let got = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        space.unmap(&mut m, VirtAddr(0x20_0000))
    }));
    assert_eq!(
        got.ok(),
        Some(Err(UnmapError::NotMapped(VirtAddr(0x20_0000)))),
        "unmap(0x200000), which is inside a 2 MiB page (a PD entry with HUGE_PAGE): no 4 KiB \
         page is mapped there, so NotMapped (without a panic). Check the walk ended at a PT \
         entry"
    );
    let got = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        space.protect(&mut m, VirtAddr(0x20_0000), Flags::EMPTY)
    }));
    assert_eq!(
        got.ok(),
        Some(Err(UnmapError::NotMapped(VirtAddr(0x20_0000)))),
        "protect(0x200000), inside a 2 MiB page: no 4 KiB page is mapped there, so NotMapped"
    );
    assert_eq!(
        raw_entry(&m.mem, space.cr3(), 0x20_0000, Level::Pd),
        before,
        "unmap and protect of 0x200000 failed, so the 2 MiB page's PD entry must be unchanged"
    );
}

// Catches: destroy treating a huge-page entry as a pointer to a table (freeing the page's frame as a table, releasing whatever it holds).
#[test]
fn destroy_skips_huge_pages() {
    let mut m = Machine::new(64);
    let free_at_start = m.frames.free_count();
    let space = space_with_a_huge_page(&mut m);
    let got = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| space.destroy(&mut m)));
    assert!(
        got.is_ok(),
        "destroy panicked on an address space with a 2 MiB page at 0x200000 (a PD entry with \
         HUGE_PAGE, mapping physical 0): that entry maps a page, it is not a table to free"
    );
    assert_eq!(
        m.frames.free_count(),
        free_at_start,
        "after destroy of an address space with a 4 KiB page and a 2 MiB page, the PML4, PDPT, \
         PD, PT and the 4 KiB page's frame must be free (and nothing else)"
    );
}

// Catches: map taking new tables from the allocator without zeroing them (`m.frames.allocate()` instead of `m.alloc_zeroed()`): a recycled frame full of old bytes is a table full of present entries.
#[test]
fn new_tables_are_zeroed() {
    let mut m = Machine::new(64);
    let mut space = new_space(&mut m);
    let frame = data_frame(&mut m);
    // Every free frame holds old data, as frames given back by unmap do.
    hidden_page_table_walker::dirty_free_frames(&mut m, 0xff);
    let addr = 0x4000_1000_u64;
    if let Err(e) = space.map(&mut m, VirtAddr(addr), frame, RW) {
        panic!(
            "map({addr:#x}) into an empty address space, with every free frame full of 0xff \
             bytes, returned Err({e:?}): a new table must be zeroed (Machine::alloc_zeroed), or \
             the old bytes read as present entries"
        );
    }
    let mut table = space.cr3().0;
    for level in Level::WALK {
        let entry = raw_entry(&m.mem, space.cr3(), addr, level).expect("mapped");
        if level != Level::Pml4 {
            let present = (0..512)
                .filter(|i| m.mem.read_u64(PhysAddr(table + i * 8)) & 1 != 0)
                .count();
            assert_eq!(
                present,
                1,
                "after map({addr:#x}) into an empty address space (every free frame full of \
                 0xff bytes), the new level-{} table has {present} present entries, expected 1: \
                 new tables must be zeroed (Machine::alloc_zeroed)",
                level.number()
            );
        }
        table = entry & ADDR_BITS;
    }
    assert_eq!(
        phys(&m, &space, addr),
        Ok(frame),
        "translate({addr:#x}) after map"
    );
}
