//! Stage 4 visible tests: huge pages. A level-2 entry with the page-size bit
//! maps a 2 MiB page and a level-3 entry with it a 1 GiB page: the walk
//! stops there (three or two reads instead of four), and the offset within
//! the page is 21 or 30 bits wide. At level 1 the same bit means something
//! else and must be ignored.
//!
//! Run only this stage with `cargo test -p page-table-walker --test stage4_huge`.

use page_table_walker::{
    Access, Fault, Flags, Level, PageSize, PhysAddr, Violation, VirtAddr, translate, walk,
};
use rstest::rstest;

mod common;

use common::{RWU, Tables, expect_fault, expect_ok, show};

/// 2 MiB, 1 GiB.
const MIB2: u64 = 2 << 20;
const GIB1: u64 = 1 << 30;

/// Physical frames of huge pages. Translation never reads the data, so they
/// may lie beyond the test machine's memory; they only need the alignment.
const FRAME_2M: PhysAddr = PhysAddr(0x3460_0000);
const FRAME_1G: PhysAddr = PhysAddr(0x0001_4000_0000);

#[rstest]
#[case::start(0x0060_0000)]
#[case::second_4k_page(0x0060_1000)]
#[case::deep_inside(0x0067_89ab)]
#[case::last_byte(0x007f_ffff)]
fn a_2mib_page_keeps_21_offset_bits(#[case] addr: u64) {
    let mut t = Tables::new();
    t.map(addr, PageSize::Size2M, FRAME_2M, RWU);
    let got = expect_ok(
        translate(&t.m.mem, t.cr3, VirtAddr(addr), Access::read()),
        &format!("translate({addr:#x}) inside a 2 MiB page"),
    );
    let want = PhysAddr(FRAME_2M.0 + (addr & (MIB2 - 1)));
    assert_eq!(
        (got.phys, got.frame, got.size),
        (want, FRAME_2M, PageSize::Size2M),
        "{addr:#x} lies in a 2 MiB page at frame {FRAME_2M}: expected phys {want}, got {} \
         (the offset in a 2 MiB page is the low 21 bits, not 12; and the walk must stop at \
         a level-2 entry with HUGE_PAGE instead of treating the page as a table)",
        show(&Ok(got))
    );
}

#[rstest]
#[case::start(0x4000_0000)]
#[case::deep_inside(0x5234_5678)]
#[case::last_byte(0x7fff_ffff)]
fn a_1gib_page_keeps_30_offset_bits(#[case] addr: u64) {
    let mut t = Tables::new();
    t.map(addr, PageSize::Size1G, FRAME_1G, RWU);
    let got = expect_ok(
        translate(&t.m.mem, t.cr3, VirtAddr(addr), Access::read()),
        &format!("translate({addr:#x}) inside a 1 GiB page"),
    );
    let want = PhysAddr(FRAME_1G.0 + (addr & (GIB1 - 1)));
    assert_eq!(
        (got.phys, got.frame, got.size),
        (want, FRAME_1G, PageSize::Size1G),
        "{addr:#x} lies in a 1 GiB page at frame {FRAME_1G}: expected phys {want}, got {} \
         (the offset in a 1 GiB page is the low 30 bits; the walk stops at a level-3 entry \
         with HUGE_PAGE)",
        show(&Ok(got))
    );
}

#[rstest]
#[case::size_2m(PageSize::Size2M, 0x0060_1234, 3, Level::Pd)]
#[case::size_1g(PageSize::Size1G, 0x4123_4567, 2, Level::Pdpt)]
fn the_walk_stops_at_the_huge_entry(
    #[case] size: PageSize,
    #[case] addr: u64,
    #[case] steps: usize,
    #[case] leaf: Level,
) {
    let mut t = Tables::new();
    let frame = if size == PageSize::Size2M {
        FRAME_2M
    } else {
        FRAME_1G
    };
    t.map(addr, size, frame, RWU);
    t.m.mem.reset_counters();
    let w = walk(&t.m.mem, t.cr3, VirtAddr(addr))
        .unwrap_or_else(|f| panic!("walk({addr:#x}) to a {size:?} page failed: {f:?} ({f})"));
    let reads = t.m.mem.reads();
    assert_eq!(
        (w.steps().len(), w.leaf().level, w.page_size()),
        (steps, leaf, size),
        "a walk to a {size:?} page has {steps} steps and its leaf is at {leaf}"
    );
    assert_eq!(
        reads, steps as u64,
        "the walk to a {size:?} page should read {steps} entries, it read {reads}"
    );
}

#[test]
fn the_page_size_bit_is_ignored_at_level_1() {
    let mut t = Tables::new();
    let frame = t.frame();
    let addr = 0x0060_0abc;
    // Bit 7 in a level-1 entry is PAT, not "page size".
    t.map_4k(addr, frame, RWU | Flags::HUGE_PAGE);
    let got = expect_ok(
        translate(&t.m.mem, t.cr3, VirtAddr(addr), Access::read()),
        "translate of a 4 KiB page whose level-1 entry has bit 7 set",
    );
    assert_eq!(
        (got.phys, got.size),
        (PhysAddr(frame.0 + 0xabc), PageSize::Size4K),
        "bit 7 of a level-1 entry does not make a huge page: a level-1 leaf is always 4 KiB \
         ({})",
        show(&Ok(got))
    );
}

#[test]
fn huge_and_small_pages_live_side_by_side() {
    let mut t = Tables::new();
    let small = t.frame();
    t.map(0x0060_0000, PageSize::Size2M, FRAME_2M, RWU);
    t.map_4k(0x0080_0000, small, RWU); // the next 2 MiB slot of the same PD
    t.map(0x4000_0000, PageSize::Size1G, FRAME_1G, RWU);
    let cases = [
        (
            0x0061_2345,
            PhysAddr(FRAME_2M.0 + 0x1_2345),
            PageSize::Size2M,
        ),
        (0x0080_0123, PhysAddr(small.0 + 0x123), PageSize::Size4K),
        (
            0x4765_4321,
            PhysAddr(FRAME_1G.0 + 0x765_4321),
            PageSize::Size1G,
        ),
    ];
    for (addr, phys, size) in cases {
        let got = expect_ok(
            translate(&t.m.mem, t.cr3, VirtAddr(addr), Access::read()),
            &format!("translate({addr:#x})"),
        );
        assert_eq!(
            (got.phys, got.size),
            (phys, size),
            "translate({addr:#x}): {}",
            show(&Ok(got))
        );
    }
    let fault = expect_fault(
        translate(&t.m.mem, t.cr3, VirtAddr(0x00a0_0000), Access::read()),
        "an unmapped 2 MiB slot next to the huge page",
    );
    assert_eq!(
        fault,
        Fault::NotPresent {
            addr: VirtAddr(0x00a0_0000),
            level: Level::Pd
        }
    );
}

#[test]
fn huge_pages_combine_permissions_like_small_ones() {
    let mut t = Tables::new();
    let addr = 0x0060_0000;
    t.map(
        addr,
        PageSize::Size2M,
        FRAME_2M,
        Flags::PRESENT | Flags::USER | Flags::NO_EXECUTE,
    );
    let got = expect_ok(
        translate(&t.m.mem, t.cr3, VirtAddr(addr), Access::read().user()),
        "a user read of a read-only, no-execute 2 MiB page",
    );
    assert_eq!(
        got.flags,
        Flags::PRESENT | Flags::USER | Flags::NO_EXECUTE,
        "the flags of a huge page: PRESENT, USER and NO_EXECUTE combined over three levels; \
         HUGE_PAGE is not a permission"
    );
    let fault = expect_fault(
        translate(&t.m.mem, t.cr3, VirtAddr(addr + 8), Access::write().user()),
        "a user write to it",
    );
    assert_eq!(
        fault,
        Fault::Protection {
            addr: VirtAddr(addr + 8),
            violation: Violation::WriteToReadOnly
        }
    );
}
