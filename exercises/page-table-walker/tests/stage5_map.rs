//! Stage 5 visible tests: `AddressSpace::map` builds the missing tables and
//! writes the leaf, `unmap` clears it and frees every table left empty,
//! `protect` rewrites a leaf's flags, and `destroy` gives every frame back.
//! Frames are counted with the machine's `FrameAllocator` and reference
//! counts, so a leak or a double free shows.
//!
//! Translations here use the free function `translate` over the address
//! space's CR3 (the TLB in front of it is stage 6).
//!
//! Run only this stage with `cargo test -p page-table-walker --test stage5_map`.

use page_table_walker::{
    Access, AddressSpace, Fault, Flags, Level, Machine, MapError, PhysAddr, UnmapError, Violation,
    VirtAddr, translate,
};
use rstest::rstest;

mod common;

use common::{FRAMES, RWU, expect_fault, expect_ok, show, space};

/// A fresh zeroed data frame.
fn frame(m: &mut Machine) -> PhysAddr {
    m.alloc_zeroed()
        .expect("the test machine ran out of frames")
}

/// The raw entry at `level` for `addr` in `space`, read by hand.
fn raw_entry(m: &Machine, space: &AddressSpace, addr: u64, level: Level) -> u64 {
    let mut table = space.cr3().0;
    for lvl in Level::WALK {
        let shift = 12 + 9 * (u32::from(lvl.number()) - 1);
        let entry = m
            .mem
            .read_u64(PhysAddr(table + 8 * ((addr >> shift) & 511)));
        if lvl == level {
            return entry;
        }
        table = entry & page_table_walker::ADDR_MASK;
    }
    unreachable!()
}

#[rstest]
#[case::low(0x0040_0000)]
#[case::every_field_different(0x0080_8060_4000)]
#[case::top_of_user_space(0x7fff_ffff_f000)]
#[case::kernel_half(0xffff_8000_0000_0000)]
fn a_mapped_page_translates_to_its_frame(#[case] addr: u64) {
    let (mut m, mut s) = space();
    let data = frame(&mut m);
    s.map(&mut m, VirtAddr(addr), data, Flags::WRITABLE | Flags::USER)
        .unwrap_or_else(|e| panic!("map({addr:#x} -> {data}) failed: {e:?} ({e})"));
    let got = expect_ok(
        translate(
            &m.mem,
            s.cr3(),
            VirtAddr(addr + 0x42),
            Access::write().user(),
        ),
        &format!("a user write to {:#x} after map", addr + 0x42),
    );
    assert_eq!(
        (got.phys, got.flags),
        (PhysAddr(data.0 + 0x42), RWU),
        "after map({addr:#x} -> {data}, WRITABLE | USER): {}",
        show(&Ok(got))
    );
    assert_eq!(
        m.refs(data),
        1,
        "map records the new mapping of the frame with Machine::share"
    );
}

#[test]
fn map_creates_three_tables_once_and_points_at_them_with_full_permissions() {
    let (mut m, mut s) = space();
    let a = frame(&mut m);
    let b = frame(&mut m);
    let before = m.frames.used_count();
    s.map(&mut m, VirtAddr(0x0040_0000), a, Flags::EMPTY)
        .expect("first map");
    assert_eq!(
        m.frames.used_count() - before,
        3,
        "the first map in an empty space needs a PDPT, a PD and a PT (the PML4 exists)"
    );
    s.map(&mut m, VirtAddr(0x0040_1000), b, Flags::EMPTY)
        .expect("second map, next page");
    assert_eq!(
        m.frames.used_count() - before,
        3,
        "the next page shares all three tables: map should reuse present tables, not \
         allocate new ones"
    );
    for level in [Level::Pml4, Level::Pdpt, Level::Pd] {
        let entry = raw_entry(&m, &s, 0x0040_0000, level);
        assert_eq!(
            entry & 0xfff,
            RWU.bits(),
            "an entry that points at a table gets PRESENT | WRITABLE | USER, so the leaf alone \
             decides; the {level} entry has flags {:#x}",
            entry & 0xfff
        );
    }
    let leaf = raw_entry(&m, &s, 0x0040_0000, Level::Pt);
    assert_eq!(
        leaf,
        a.0 | Flags::PRESENT.bits(),
        "the leaf is the frame with the given flags plus PRESENT (got {leaf:#x})"
    );
}

#[test]
fn map_refuses_what_it_cannot_do_and_changes_nothing() {
    let (mut m, mut s) = space();
    let a = frame(&mut m);
    let b = frame(&mut m);
    s.map(&mut m, VirtAddr(0x1000), a, RWU).expect("map");
    let used = m.frames.used_count();

    let cases = [
        (
            VirtAddr(0x1000),
            b,
            MapError::AlreadyMapped(VirtAddr(0x1000)),
            "mapping over a present page",
        ),
        (
            VirtAddr(0x0000_8000_0000_0000),
            b,
            MapError::NonCanonical(VirtAddr(0x0000_8000_0000_0000)),
            "a non-canonical address",
        ),
        (
            VirtAddr(0x2010),
            b,
            MapError::Misaligned(VirtAddr(0x2010), b),
            "an address that is not page-aligned",
        ),
        (
            VirtAddr(0x2000),
            PhysAddr(b.0 + 8),
            MapError::Misaligned(VirtAddr(0x2000), PhysAddr(b.0 + 8)),
            "a frame that is not page-aligned",
        ),
    ];
    for (addr, to, want, what) in cases {
        assert_eq!(
            s.map(&mut m, addr, to, RWU),
            Err(want),
            "map({addr} -> {to}): {what}"
        );
    }
    let still = expect_ok(
        translate(&m.mem, s.cr3(), VirtAddr(0x1000), Access::read()),
        "the first mapping after the refused maps",
    );
    assert_eq!(still.frame, a, "a refused map must not overwrite the leaf");
    assert_eq!(
        (m.frames.used_count(), m.refs(a), m.refs(b)),
        (used, 1, 0),
        "a refused map allocates no table and shares no frame"
    );
}

#[test]
fn map_reports_out_of_frames() {
    // Frames 1, 2, 3: the PML4, a data frame, and one left, but a first map
    // needs three new tables.
    let mut m = Machine::new(4);
    let mut s = AddressSpace::new(&mut m).expect("the PML4 fits");
    let data = frame(&mut m);
    assert_eq!(
        s.map(&mut m, VirtAddr(0x1000), data, RWU),
        Err(MapError::OutOfFrames),
        "when alloc_zeroed() returns None, map returns MapError::OutOfFrames (never panic)"
    );
}

#[test]
fn unmapping_the_only_page_frees_the_frame_and_every_table_but_the_pml4() {
    let (mut m, mut s) = space();
    let data = frame(&mut m);
    let addr = VirtAddr(0x0080_8060_4000);
    s.map(&mut m, addr, data, RWU).expect("map");
    assert_eq!(
        s.unmap(&mut m, addr),
        Ok(data),
        "unmap returns the frame that was mapped"
    );
    assert_eq!(
        m.frames.used_count(),
        1,
        "after unmapping the only page, only the PML4 is in use: the data frame goes back \
         with Machine::release (its last mapping), and the PT, PD and PDPT, now empty, are \
         deallocated ({} frames still in use)",
        m.frames.used_count()
    );
    assert_eq!(
        raw_entry(&m, &s, addr.0, Level::Pml4),
        0,
        "the PML4 entry that pointed at the freed PDPT must be cleared"
    );
    assert_eq!(
        translate(&m.mem, s.cr3(), addr, Access::read()),
        Err(Fault::NotPresent {
            addr,
            level: Level::Pml4
        })
    );
}

#[test]
fn unmap_keeps_tables_that_still_map_something() {
    let (mut m, mut s) = space();
    let a = frame(&mut m);
    let b = frame(&mut m);
    s.map(&mut m, VirtAddr(0x0040_0000), a, RWU).expect("map a");
    s.map(&mut m, VirtAddr(0x0040_1000), b, RWU).expect("map b");
    let used = m.frames.used_count();
    s.unmap(&mut m, VirtAddr(0x0040_0000)).expect("unmap a");
    assert_eq!(
        m.frames.used_count(),
        used - 1,
        "unmapping one of two pages in a PT frees the data frame only: the PT still maps \
         the other page"
    );
    let got = expect_ok(
        translate(&m.mem, s.cr3(), VirtAddr(0x0040_1000), Access::read()),
        "the page next to the unmapped one",
    );
    assert_eq!(got.frame, b);
    let fault = expect_fault(
        translate(&m.mem, s.cr3(), VirtAddr(0x0040_0000), Access::read()),
        "the unmapped page",
    );
    assert_eq!(
        fault,
        Fault::NotPresent {
            addr: VirtAddr(0x0040_0000),
            level: Level::Pt
        }
    );
}

#[test]
fn unmap_of_a_page_that_is_not_mapped_is_an_error() {
    let (mut m, mut s) = space();
    let a = frame(&mut m);
    s.map(&mut m, VirtAddr(0x0040_0000), a, RWU).expect("map");
    let used = m.frames.used_count();
    for addr in [0x0040_1000, 0x4000_0000, 0xffff_8000_0000_0000] {
        assert_eq!(
            s.unmap(&mut m, VirtAddr(addr)),
            Err(UnmapError::NotMapped(VirtAddr(addr))),
            "unmap({addr:#x}) where nothing is mapped"
        );
    }
    assert_eq!(
        s.unmap(&mut m, VirtAddr(0x0000_8000_0000_0000)),
        Err(UnmapError::NonCanonical(VirtAddr(0x0000_8000_0000_0000)))
    );
    assert_eq!(m.frames.used_count(), used, "a refused unmap frees nothing");
}

#[test]
fn protect_replaces_the_flags_and_keeps_the_frame() {
    let (mut m, mut s) = space();
    let a = frame(&mut m);
    let addr = VirtAddr(0x0040_0000);
    s.map(&mut m, addr, a, RWU).expect("map");
    s.protect(&mut m, addr, Flags::USER | Flags::NO_EXECUTE)
        .expect("protect a mapped page");
    let got = expect_ok(
        translate(&m.mem, s.cr3(), addr, Access::read().user()),
        "a user read after protect(USER | NO_EXECUTE)",
    );
    assert_eq!(
        (got.frame, got.flags),
        (a, Flags::PRESENT | Flags::USER | Flags::NO_EXECUTE),
        "protect keeps the frame and sets exactly the new flags plus PRESENT"
    );
    assert_eq!(
        translate(&m.mem, s.cr3(), addr, Access::write().user()),
        Err(Fault::Protection {
            addr,
            violation: Violation::WriteToReadOnly
        }),
        "WRITABLE was not in the new flags"
    );
    assert_eq!(
        s.protect(&mut m, VirtAddr(0x0040_1000), RWU),
        Err(UnmapError::NotMapped(VirtAddr(0x0040_1000)))
    );
}

#[test]
fn destroy_gives_back_every_frame() {
    let mut m = Machine::new(FRAMES);
    let mut s = AddressSpace::new(&mut m).expect("new");
    // 40 pages spread over several PTs, PDs and PDPTs, and both halves.
    for i in 0..40u64 {
        let addr = match i % 4 {
            0 => i * 0x1000,
            1 => 0x0020_0000 * i,
            2 => 0x4000_0000 * i,
            _ => 0xffff_8000_0000_0000 + i * 0x1000,
        };
        let data = frame(&mut m);
        s.map(&mut m, VirtAddr(addr), data, RWU)
            .unwrap_or_else(|e| panic!("map({addr:#x}): {e:?}"));
    }
    assert!(m.frames.used_count() > 40);
    s.destroy(&mut m);
    assert_eq!(
        m.frames.used_count(),
        0,
        "after destroy, every frame is free: each data frame released once, each table \
         (PML4 included) deallocated once ({} still in use)",
        m.frames.used_count()
    );
}
