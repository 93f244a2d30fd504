//! Stage 2 visible tests: `Entry::addr` keeps only an entry's address bits,
//! `walk` reads one entry per level from CR3 down to the page table and
//! stops with `Fault::NotPresent` at the first missing entry, and
//! `translate` adds the page offset to the frame the leaf points at.
//!
//! The tables here are written by hand (tests/common/mod.rs), so this stage
//! does not need `AddressSpace::map`. Every page is present, writable and
//! user, and every access a supervisor read: permissions are stage 3.
//!
//! Run only this stage with `cargo test -p page-table-walker --test stage2_walk`.

use page_table_walker::{
    ADDR_MASK, Access, Entry, Fault, Flags, Level, PageSize, PhysAddr, VirtAddr, translate, walk,
};
use rstest::rstest;

mod common;

use common::{RWU, Tables, expect_fault, expect_ok, index, show};

/// An address whose four indices all differ (1, 2, 3, 4) and offset is 5,
/// so a walk that uses the wrong index at some level lands somewhere else.
const ADDR: u64 = 0x0080_8060_4005;

#[rstest]
#[case::flags_in_the_low_bits(Entry::new(PhysAddr(0x1234_5000), RWU).0, 0x1234_5000)]
#[case::no_execute_in_bit_63(0x8000_0000_0012_3067, 0x12_3000)]
#[case::every_bit_set(u64::MAX, ADDR_MASK)]
#[case::only_flag_bits(0xfff0_0000_0000_0fff, 0)]
fn entry_addr_clears_every_flag_bit(#[case] raw: u64, #[case] want: u64) {
    let got = Entry(raw).addr();
    assert_eq!(
        got,
        PhysAddr(want),
        "Entry({raw:#x}).addr() = {got}, expected {want:#x}: the address is bits 12-51 \
         (ADDR_MASK); the low 12 bits and bits 52-63 (NO_EXECUTE is bit 63) are flags"
    );
}

#[test]
fn walk_reads_one_entry_per_level_at_table_plus_eight_times_index() {
    let mut t = Tables::new();
    let frame = t.frame();
    let tables = t.map_4k(ADDR, frame, RWU);

    t.m.mem.reset_counters();
    let w = walk(&t.m.mem, t.cr3, VirtAddr(ADDR))
        .unwrap_or_else(|f| panic!("walk of a mapped 4 KiB page failed: {f:?} ({f})"));
    let reads = t.m.mem.reads();

    let levels: Vec<Level> = w.steps().iter().map(|s| s.level).collect();
    assert_eq!(
        levels,
        Level::WALK,
        "a walk to a 4 KiB page records four steps, root first (levels 4, 3, 2, 1)"
    );
    for (step, table) in w.steps().iter().zip(&tables) {
        let want = PhysAddr(table.0 + 8 * index(ADDR, step.level));
        assert_eq!(
            step.entry_addr,
            want,
            "the {} entry for {ADDR:#x} is at table {table} + 8 * index {} = {want}, but the \
             walk read {} (index off by one level? the level-N index is bits {}-{})",
            step.level,
            index(ADDR, step.level),
            step.entry_addr,
            12 + 9 * (step.level.number() - 1),
            20 + 9 * (step.level.number() - 1),
        );
        assert_eq!(
            step.entry,
            t.entry(ADDR, step.level),
            "the step at {} should hold the entry's value as read from memory",
            step.level
        );
    }
    assert_eq!(
        w.leaf().entry,
        Entry::new(frame, RWU),
        "the leaf is the level-1 entry, which points at the page's frame"
    );
    assert_eq!(
        reads, 4,
        "walk() of a 4 KiB page should read memory exactly 4 times (one entry per level), \
         read {reads}"
    );
}

#[rstest]
#[case::start_of_page(0x0040_0000)]
#[case::inside_page(0x0040_0234)]
#[case::last_byte(0x0040_0fff)]
#[case::every_field_different(ADDR)]
#[case::kernel_half(0xffff_8000_0010_0abc)]
fn translate_adds_the_offset_to_the_frame(#[case] addr: u64) {
    let mut t = Tables::new();
    let frame = t.frame();
    t.map_4k(addr, frame, RWU);
    let got = expect_ok(
        translate(&t.m.mem, t.cr3, VirtAddr(addr), Access::read()),
        &format!("translate({addr:#x}) of a mapped 4 KiB page"),
    );
    let want = PhysAddr(frame.0 + (addr & 0xfff));
    assert_eq!(
        (got.phys, got.frame, got.size),
        (want, frame, PageSize::Size4K),
        "translate({addr:#x}): expected phys {want} in frame {frame} (a 4 KiB page), \
         got {} ({})",
        got.phys,
        show(&Ok(got))
    );
}

#[rstest]
#[case::pt_entry_missing(0x0040_1000, Level::Pt)]
#[case::pd_entry_missing(0x0060_0000, Level::Pd)]
#[case::pdpt_entry_missing(0x4000_0000, Level::Pdpt)]
#[case::pml4_entry_missing(0x0080_0000_0000, Level::Pml4)]
fn walk_reports_the_level_of_the_first_missing_entry(#[case] addr: u64, #[case] level: Level) {
    let mut t = Tables::new();
    let frame = t.frame();
    // Only 0x40_0000 is mapped; `addr` shares its tables down to `level`.
    t.map_4k(0x0040_0000, frame, RWU);
    let want = Fault::NotPresent {
        addr: VirtAddr(addr),
        level,
    };
    let got = walk(&t.m.mem, t.cr3, VirtAddr(addr)).map(|w| w.leaf().entry);
    assert_eq!(
        got,
        Err(want),
        "walk({addr:#x}) should stop at the first entry without PRESENT, at {level} \
         (is the fault's level the table being read, and the address the full virtual address?)"
    );
    let fault = expect_fault(
        translate(&t.m.mem, t.cr3, VirtAddr(addr), Access::read()),
        &format!("translate({addr:#x})"),
    );
    assert_eq!(
        fault, want,
        "translate passes on the walk's fault unchanged"
    );
}

#[test]
fn an_entry_with_an_address_but_no_present_bit_is_not_present() {
    let mut t = Tables::new();
    let frame = t.frame();
    t.map_4k(ADDR, frame, RWU);
    // Clear only PRESENT in the PD entry: its address still points at the PT.
    t.set_flags(ADDR, Level::Pd, Flags::WRITABLE | Flags::USER);
    let got = walk(&t.m.mem, t.cr3, VirtAddr(ADDR)).map(|w| w.leaf().entry);
    assert_eq!(
        got,
        Err(Fault::NotPresent {
            addr: VirtAddr(ADDR),
            level: Level::Pd
        }),
        "when PRESENT is clear the MMU ignores every other bit of the entry, the address too"
    );
}

#[test]
fn walk_masks_high_flag_bits_out_of_table_addresses() {
    let mut t = Tables::new();
    let frame = t.frame();
    t.map_4k(ADDR, frame, RWU);
    // NO_EXECUTE (bit 63) and bits 52-62 (free for software) in every table
    // pointer: none of them is part of the next table's address.
    let high = Flags::from_bits(0xfff0_0000_0000_0000);
    for level in [Level::Pml4, Level::Pdpt, Level::Pd] {
        t.set_flags(ADDR, level, RWU | high);
    }
    let got = expect_ok(
        translate(&t.m.mem, t.cr3, VirtAddr(ADDR), Access::read()),
        "translate through table entries with bits 52-63 set (did you mask the flags out of \
         the address with Entry::addr?)",
    );
    assert_eq!(got.phys, PhysAddr(frame.0 + 5), "{}", show(&Ok(got)));
}

#[test]
fn non_canonical_addresses_fault_before_any_read() {
    let mut t = Tables::new();
    let frame = t.frame();
    t.map_4k(0, frame, RWU);
    t.m.mem.reset_counters();
    let addr = VirtAddr(0x0000_8000_0000_0000);
    let got = walk(&t.m.mem, t.cr3, addr).map(|w| w.leaf().entry);
    assert_eq!(
        got,
        Err(Fault::NonCanonical { addr }),
        "walk of a non-canonical address should fail with Fault::NonCanonical"
    );
    assert_eq!(
        t.m.mem.reads(),
        0,
        "a non-canonical address is refused before the walk reads anything"
    );
}

#[test]
fn many_pages_each_translate_to_their_own_frame() {
    let mut t = Tables::new();
    let pages: [u64; 8] = [
        0x0000,
        0x1000,
        0x0020_0000,
        0x4000_0000,
        0x0080_0000_0000,
        0x7fff_ffff_f000,
        0xffff_8000_0000_0000,
        0xffff_ffff_ffff_f000,
    ];
    let frames: Vec<PhysAddr> = pages.iter().map(|_| t.frame()).collect();
    for (&page, &frame) in pages.iter().zip(&frames) {
        t.map_4k(page, frame, RWU);
    }
    for (&page, &frame) in pages.iter().zip(&frames) {
        let addr = page + 0x123;
        let got = expect_ok(
            translate(&t.m.mem, t.cr3, VirtAddr(addr), Access::read()),
            &format!("translate({addr:#x})"),
        );
        assert_eq!(
            got.phys,
            PhysAddr(frame.0 + 0x123),
            "{addr:#x} is mapped to frame {frame}; got {} (a translation that lands in another \
             page's frame usually means an index was taken from the wrong bits)",
            show(&Ok(got))
        );
    }
}
