//! Stage 6: the TLB, and `AddressSpace::translate` through it. A TLB is
//! graded by what it saves: memory reads, counted by `PhysMem`.

use hidden_page_table_walker::{ADDR_BITS, data_frame, fault_name, raw_entry, shift};
use learner::{
    Access, AddressSpace, Fault, Flags, Level, Machine, PageSize, PhysAddr, Tlb, TlbEntry,
    Translation, Violation, VirtAddr,
};

const RW: Flags = Flags::WRITABLE;

fn setup(pages: &[u64]) -> (Machine, AddressSpace, Vec<PhysAddr>) {
    let mut m = Machine::new(512);
    let mut space = AddressSpace::new(&mut m).expect("AddressSpace::new");
    let mut frames = Vec::new();
    for &page in pages {
        let frame = data_frame(&mut m);
        space
            .map(&mut m, VirtAddr(page), frame, RW | Flags::USER)
            .unwrap_or_else(|e| panic!("map({page:#x}): {e:?}"));
        frames.push(frame);
    }
    (m, space, frames)
}

fn entry(page: u64, size: PageSize, frame: u64) -> TlbEntry {
    let t = Translation {
        phys: PhysAddr(frame),
        frame: PhysAddr(frame),
        size,
        flags: Flags::PRESENT | Flags::WRITABLE,
    };
    TlbEntry::new(VirtAddr(page), &t, false)
}

// Catches: a TLB that never hits (lookup in the wrong slot, or insert not storing), or hit/miss counters not kept.
#[test]
fn lookup_finds_what_insert_stored() {
    let mut tlb = Tlb::new(16);
    assert!(
        tlb.lookup(VirtAddr(0x5000)).is_none(),
        "an empty TLB found an entry"
    );
    let e = entry(0x5000, PageSize::Size4K, 0x9000);
    tlb.insert(VirtAddr(0x5123), e);
    assert_eq!(
        tlb.lookup(VirtAddr(0x5ff8)),
        Some(e),
        "lookup(0x5ff8) after inserting the entry of the page 0x5000 (looked up for 0x5123)"
    );
    assert_eq!(
        (tlb.hits(), tlb.misses()),
        (1, 1),
        "(hits, misses) after one miss and one hit"
    );
    assert!(
        tlb.lookup(VirtAddr(0x6000)).is_none(),
        "lookup(0x6000) found an entry, but only the page 0x5000 is cached"
    );
    assert_eq!(tlb.len(), 1, "Tlb::len after one insert");
}

// Catches: a slot that is not the 4 KiB page number modulo the slots (e.g. the raw address, or the page number of the huge page), so entries land where lookup does not look.
#[test]
fn the_slot_is_the_4k_page_number_modulo_the_slots() {
    let mut tlb = Tlb::new(8);
    // Two pages 8 pages apart share a slot: the second evicts the first.
    tlb.insert(VirtAddr(0x1000), entry(0x1000, PageSize::Size4K, 0xa000));
    tlb.insert(VirtAddr(0x9000), entry(0x9000, PageSize::Size4K, 0xb000));
    assert_eq!(
        tlb.len(),
        1,
        "pages 1 and 9 share slot 1 of 8: the TLB is direct-mapped"
    );
    // A 2 MiB page cached for two addresses in different 4 KiB pages sits in two slots.
    tlb.insert(
        VirtAddr(0x20_3000),
        entry(0x20_0000, PageSize::Size2M, 0x40_0000),
    );
    tlb.insert(
        VirtAddr(0x20_5000),
        entry(0x20_0000, PageSize::Size2M, 0x40_0000),
    );
    assert_eq!(
        tlb.len(),
        3,
        "a 2 MiB page inserted for 0x20_3000 and for 0x20_5000 takes slots 3 and 5 (each \
         address's own 4 KiB page number mod 8)"
    );
    assert!(
        tlb.lookup(VirtAddr(0x20_5abc)).is_some(),
        "lookup(0x20_5abc): the 2 MiB page is cached in slot 5"
    );
}

// Catches: invalidate clearing only the address's own slot, missing a huge page cached in other slots.
#[test]
fn invalidate_finds_a_huge_page_in_every_slot() {
    let mut tlb = Tlb::new(8);
    let huge = entry(0x4000_0000, PageSize::Size2M, 0x20_0000);
    for page in 0..8 {
        tlb.insert(VirtAddr(0x4000_0000 + page * 0x1000 + 0x10), huge);
    }
    let small = entry(0x7000_0000, PageSize::Size4K, 0x3000);
    tlb.insert(VirtAddr(0x7000_0000), small);
    tlb.invalidate(VirtAddr(0x4001_2345));
    assert!(
        (0..8).all(|page| tlb.lookup(VirtAddr(0x4000_0000 + page * 0x1000)).is_none()),
        "invalidate(0x4001_2345) must drop the 2 MiB page at 0x4000_0000 from every slot it \
         was cached in, not just the slot of 0x4001_2345"
    );
    assert_eq!(
        tlb.lookup(VirtAddr(0x7000_0000)),
        Some(small),
        "invalidate(0x4001_2345) must keep the unrelated page 0x7000_0000"
    );
}

// Catches: flush leaving entries behind.
#[test]
fn flush_empties_the_tlb() {
    let mut tlb = Tlb::new(4);
    for page in 0..4 {
        tlb.insert(
            VirtAddr(page << 12),
            entry(page << 12, PageSize::Size4K, 0x10_0000 + (page << 12)),
        );
    }
    tlb.flush();
    assert!(
        tlb.is_empty(),
        "after flush the TLB still holds {} entries",
        tlb.len()
    );
    assert!(
        tlb.lookup(VirtAddr(0x1000)).is_none(),
        "lookup after flush found an entry"
    );
}

// Catches: translate that never consults the TLB, or walks even on a hit: a hit must cost zero memory reads.
#[test]
fn a_hit_costs_no_memory_read() {
    let pages: Vec<u64> = (0..16).map(|i| 0x40_0000 + i * 0x1000).collect();
    let (m, mut space, frames) = setup(&pages);
    for (&page, &frame) in pages.iter().zip(&frames) {
        let t = space.translate(&m, VirtAddr(page + 8), Access::read());
        assert_eq!(
            t.map(|t| t.phys),
            Ok(PhysAddr(frame.0 + 8)),
            "translate({page:#x})"
        );
    }
    m.mem.reset_counters();
    let hits = space.tlb().hits();
    for round in 0..3 {
        for (&page, &frame) in pages.iter().zip(&frames) {
            let addr = page + 0x100 * (round + 1);
            let t = space.translate(&m, VirtAddr(addr), Access::write().user());
            assert_eq!(
                t.map(|t| t.phys),
                Ok(PhysAddr(frame.0 + 0x100 * (round + 1))),
                "translate({addr:#x}) from the TLB"
            );
        }
    }
    assert_eq!(
        m.mem.reads(),
        0,
        "16 pages were translated once, then 48 more times: all 48 fit in the 64-slot TLB \
         and must be hits, with no memory read"
    );
    assert_eq!(
        space.tlb().hits() - hits,
        48,
        "TLB hits for the 48 repeated translations"
    );
    assert_eq!(m.mem.writes(), 0, "AddressSpace::translate wrote to memory");
}

// Catches: a hit returning the wrong translation (e.g. the page's start, or the offset of the address it was cached for).
#[test]
fn a_hit_adds_the_offset_of_this_address() {
    let (m, mut space, frames) = setup(&[0x1234_5000]);
    space
        .translate(&m, VirtAddr(0x1234_5010), Access::read())
        .expect("first translation");
    let t = space
        .translate(&m, VirtAddr(0x1234_5ff0), Access::read())
        .expect("second translation");
    assert_eq!(
        t.phys,
        PhysAddr(frames[0].0 + 0xff0),
        "translate(0x1234_5ff0) after translate(0x1234_5010) cached the page"
    );
    assert_eq!(
        t.flags,
        Flags::PRESENT | Flags::WRITABLE | Flags::USER,
        "flags from the TLB"
    );
}

// Catches: a stale TLB after unmap (the old translation still served).
#[test]
fn unmap_invalidates() {
    let (mut m, mut space, _) = setup(&[0x7000, 0x8000]);
    for addr in [0x7000_u64, 0x8000] {
        space
            .translate(&m, VirtAddr(addr), Access::read())
            .expect("mapped");
    }
    space
        .unmap(&mut m, VirtAddr(0x7000))
        .expect("unmap(0x7000)");
    let got = space.translate(&m, VirtAddr(0x7008), Access::read());
    assert!(
        matches!(got, Err(Fault::NotPresent { .. })),
        "translate(0x7008) after unmap(0x7000): expected Fault::NotPresent, got {:?} (the TLB \
         kept the old translation)",
        got.map_err(|f| fault_name(&f))
    );
}

// Catches: a stale TLB after protect (the old, more permissive flags still served).
#[test]
fn protect_invalidates() {
    let (mut m, mut space, _) = setup(&[0x9000]);
    space
        .translate(&m, VirtAddr(0x9000), Access::write().user())
        .expect("a writable user page");
    space
        .protect(&mut m, VirtAddr(0x9000), Flags::USER)
        .expect("protect(0x9000)");
    let got = space.translate(&m, VirtAddr(0x9010), Access::write().user());
    assert_eq!(
        got.map(|t| t.phys),
        Err(Fault::Protection {
            addr: VirtAddr(0x9010),
            violation: Violation::WriteToReadOnly
        }),
        "a user write to 0x9010 after protect(0x9000, USER) made the page read-only (the TLB \
         kept the old permissions?)"
    );
}

// Catches: a hit skipping the permission check (a write allowed through a cached read-only page).
#[test]
fn hits_are_checked_too() {
    let (mut m, mut space, _) = setup(&[]);
    let frame = data_frame(&mut m);
    space
        .map(&mut m, VirtAddr(0xa000), frame, Flags::USER)
        .expect("map(0xa000)");
    space
        .translate(&m, VirtAddr(0xa000), Access::read().user())
        .expect("a user read of a user page");
    for (access, violation) in [
        (Access::write().user(), Violation::WriteToReadOnly),
        (Access::write(), Violation::WriteToReadOnly),
    ] {
        let got = space.translate(&m, VirtAddr(0xa008), access);
        assert_eq!(
            got.map(|t| t.phys),
            Err(Fault::Protection {
                addr: VirtAddr(0xa008),
                violation
            }),
            "a write to the read-only page 0xa000 whose translation is in the TLB"
        );
    }
}

// Catches: caching faults (a not-present address stays "not present" after it is mapped).
#[test]
fn faults_are_not_cached() {
    let (mut m, mut space, _) = setup(&[0x5000]);
    let addr = 0x6000;
    let got = space.translate(&m, VirtAddr(addr), Access::read());
    assert_eq!(
        got.map(|t| t.phys),
        Err(Fault::NotPresent {
            addr: VirtAddr(addr),
            level: Level::Pt
        }),
        "translate(0x6000) before it is mapped"
    );
    let frame = data_frame(&mut m);
    space
        .map(&mut m, VirtAddr(addr), frame, RW)
        .expect("map(0x6000)");
    let got = space.translate(&m, VirtAddr(addr), Access::read());
    assert_eq!(
        got.map(|t| t.phys),
        Ok(frame),
        "translate(0x6000) after map(0x6000): the earlier fault must not have been cached"
    );
}

// Catches: flush_tlb not reaching the TLB, or misses that read more than the four entries of a walk.
#[test]
fn flush_tlb_forces_walks_again() {
    let pages: Vec<u64> = (0..8).map(|i| 0x7f00_0000_0000 + i * 0x20_0000).collect();
    let (m, mut space, _) = setup(&pages);
    for &page in &pages {
        space
            .translate(&m, VirtAddr(page), Access::read())
            .expect("mapped");
    }
    space.flush_tlb();
    assert!(space.tlb().is_empty(), "flush_tlb left entries in the TLB");
    m.mem.reset_counters();
    for &page in &pages {
        space
            .translate(&m, VirtAddr(page), Access::read())
            .expect("mapped");
    }
    assert_eq!(
        m.mem.reads(),
        4 * pages.len() as u64,
        "after flush_tlb, translating 8 pages must walk each once (4 reads each)"
    );
}

// Catches: AddressSpace::translate combining the walk's permissions wrongly (XOR for AND on WRITABLE, AND or XOR for OR on NO_EXECUTE): tables that deny something must win.
#[test]
fn translate_combines_the_permissions_of_every_level() {
    let (mut m, mut space, _) = setup(&[0x40_0000]);
    // The kernel write-protects and forbids execution at two table levels
    // above the (writable, executable) page: the PDPT and PD entries.
    for (above, level) in [(Level::Pml4, Level::Pdpt), (Level::Pdpt, Level::Pd)] {
        let table = raw_entry(&m.mem, space.cr3(), 0x40_0000, above).expect("mapped") & ADDR_BITS;
        let entry_addr = PhysAddr(table + ((0x40_0000 >> shift(level)) & 0x1ff) * 8);
        let entry = m.mem.read_u64(entry_addr);
        let denied = (entry & !Flags::WRITABLE.bits()) | Flags::NO_EXECUTE.bits();
        m.mem.write_u64(entry_addr, denied);
    }
    space.flush_tlb();
    let t = space
        .translate(&m, VirtAddr(0x40_0008), Access::read())
        .unwrap_or_else(|f| panic!("translate(0x400008, read): {}", fault_name(&f)));
    assert!(
        !t.flags.contains(Flags::WRITABLE) && t.flags.contains(Flags::NO_EXECUTE),
        "0x400000 is mapped writable and executable, but its PDPT and PD entries clear \
         WRITABLE and set NO_EXECUTE: the translation's flags must be neither writable nor \
         executable (WRITABLE only if every level sets it, NO_EXECUTE if any level does), \
         got {:?}",
        t.flags
    );
    for access in [Access::write(), Access::execute()] {
        assert!(
            space.translate(&m, VirtAddr(0x40_0008), access).is_err(),
            "translate(0x400008, {access:?}) must fault: the PDPT and PD entries forbid writes \
             and execution"
        );
    }
}

// Catches: lookup taking whatever sits in the address's slot as a hit, without checking that the entry covers the address (a slot is shared by every page with the same number modulo the slots).
#[test]
fn a_slot_holding_another_page_is_a_miss() {
    let mut tlb = Tlb::new(8);
    let e = entry(0x1000, PageSize::Size4K, 0xa000);
    tlb.insert(VirtAddr(0x1000), e);
    let got = tlb.lookup(VirtAddr(0x9008));
    assert_eq!(
        got, None,
        "lookup(0x9008) with only the page 0x1000 cached: pages 1 and 9 share slot 1 of 8, so \
         the slot holds an entry, but it is page 0x1000's; a lookup is a hit only if the entry \
         in the slot covers the address (TlbEntry::covers)"
    );
    assert_eq!(
        (tlb.hits(), tlb.misses()),
        (0, 1),
        "(hits, misses) after looking up 0x9008 in a slot that holds another page: a miss"
    );
    assert_eq!(
        tlb.lookup(VirtAddr(0x1ff8)),
        Some(e),
        "lookup(0x1ff8): page 0x1000 is still cached in slot 1"
    );

    // The same through an address space: pages 64 apart share one of its 64 slots.
    let (m, mut space, frames) = setup(&[0x10_0000, 0x14_0000]);
    for _ in 0..2 {
        for (&page, &frame) in [0x10_0000_u64, 0x14_0000].iter().zip(&frames) {
            let got = space.translate(&m, VirtAddr(page + 0x18), Access::read());
            assert_eq!(
                got.map(|t| t.phys),
                Ok(PhysAddr(frame.0 + 0x18)),
                "translate({:#x}): the pages 0x100000 and 0x140000 share a slot of the 64-slot \
                 TLB and are translated in turn; each must get its own frame (a slot holding \
                 the other page is a miss)",
                page + 0x18
            );
        }
    }
}
