//! Stage 7 visible tests: `AddressSpace::access` does what the MMU does on
//! a TLB miss (set ACCESSED in every entry it reads, DIRTY in the leaf on a
//! write, writing an entry only when a bit changes), and what the kernel
//! does on a page fault in a reserved region (map a zeroed frame with the
//! region's flags, then retry: demand paging).
//!
//! Run only this stage with `cargo test -p page-table-walker --test stage7_demand`.

use page_table_walker::{
    Access, AddressSpace, Fault, Flags, Level, Machine, PhysAddr, Violation, VirtAddr,
};
use rstest::rstest;

mod common;

use common::{PAGE, RWU, expect_fault, expect_ok, space, user_read, user_write};

const ADDR: u64 = 0x0080_8060_4000;

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

fn bits_at(m: &Machine, s: &AddressSpace, addr: u64) -> Vec<(Level, bool, bool)> {
    Level::WALK
        .iter()
        .map(|&level| {
            let e = raw_entry(m, s, addr, level);
            (
                level,
                e & Flags::ACCESSED.bits() != 0,
                e & Flags::DIRTY.bits() != 0,
            )
        })
        .collect()
}

/// A space with one mapped, writable user page at [`ADDR`].
fn one_page() -> (Machine, AddressSpace) {
    let (mut m, mut s) = space();
    let data = m.alloc_zeroed().expect("frame");
    s.map(&mut m, VirtAddr(ADDR), data, RWU).expect("map");
    (m, s)
}

#[test]
fn a_read_sets_accessed_at_every_level_and_dirty_nowhere() {
    let (mut m, mut s) = one_page();
    expect_ok(
        s.access(&mut m, VirtAddr(ADDR), user_read()),
        "a user read of a mapped page",
    );
    let want: Vec<_> = Level::WALK.iter().map(|&l| (l, true, false)).collect();
    assert_eq!(
        bits_at(&m, &s, ADDR),
        want,
        "(level, ACCESSED, DIRTY) of every entry after one read: the walk sets ACCESSED in \
         every entry it reads, and a read sets no DIRTY bit"
    );
}

#[test]
fn a_write_sets_dirty_in_the_leaf_only() {
    let (mut m, mut s) = one_page();
    expect_ok(
        s.access(&mut m, VirtAddr(ADDR), user_write()),
        "a user write of a mapped page",
    );
    let want = vec![
        (Level::Pml4, true, false),
        (Level::Pdpt, true, false),
        (Level::Pd, true, false),
        (Level::Pt, true, true),
    ];
    assert_eq!(
        bits_at(&m, &s, ADDR),
        want,
        "(level, ACCESSED, DIRTY) of every entry after one write: DIRTY goes in the leaf \
         (the entry that maps the page) and nowhere else"
    );
}

#[test]
fn a_write_after_a_cached_read_walks_again_to_set_dirty() {
    let (mut m, mut s) = one_page();
    expect_ok(s.access(&mut m, VirtAddr(ADDR), user_read()), "a read");
    expect_ok(
        s.access(&mut m, VirtAddr(ADDR + 8), user_write()),
        "then a write to the same page",
    );
    let leaf = raw_entry(&m, &s, ADDR, Level::Pt);
    assert!(
        leaf & Flags::DIRTY.bits() != 0,
        "the read cached a translation without DIRTY; the write hit it, and must walk again \
         to set DIRTY in the leaf (leaf is {leaf:#x})"
    );
}

#[test]
fn entries_are_written_only_when_a_bit_changes() {
    let (mut m, mut s) = one_page();
    expect_ok(s.access(&mut m, VirtAddr(ADDR), user_write()), "a write");
    s.flush_tlb();
    m.mem.reset_counters();
    expect_ok(
        s.access(&mut m, VirtAddr(ADDR), user_write()),
        "the same write after a TLB flush",
    );
    assert_eq!(
        (m.mem.reads(), m.mem.writes()),
        (4, 0),
        "(reads, writes) of a walk whose ACCESSED and DIRTY bits are all set already: four \
         reads and no write (write an entry back only when a bit changes)"
    );
    m.mem.reset_counters();
    expect_ok(
        s.access(&mut m, VirtAddr(ADDR), user_write()),
        "the same write again",
    );
    assert_eq!(
        (m.mem.reads(), m.mem.writes()),
        (0, 0),
        "(reads, writes) of a write that hits a cached, dirty translation: nothing"
    );
}

#[test]
fn the_first_touch_of_a_reserved_page_maps_a_zeroed_frame() {
    let (mut m, mut s) = space();
    let start = 0x0000_6000_0000_0000;
    s.reserve(VirtAddr(start), 16, RWU);
    let used = m.frames.used_count();
    // Put garbage in every free frame, to see that the new page is zeroed.
    let mut garbage = Vec::new();
    while let Some(f) = m.frames.allocate() {
        m.mem.write(f, &[0xa5; PAGE as usize]);
        garbage.push(f);
    }
    for f in garbage {
        m.frames.deallocate(f);
    }

    let addr = VirtAddr(start + 3 * PAGE + 0x10);
    let got = expect_ok(
        s.access(&mut m, addr, user_read()),
        "a user read inside a reserved region (a demand fault)",
    );
    assert_eq!(
        s.demand_faults(),
        1,
        "one demand fault: the page was not present and lies in a region"
    );
    assert_eq!(
        m.frames.used_count() - used,
        4,
        "the demand fault maps one data frame and the three tables on the way"
    );
    let mut bytes = [0xff; 16];
    m.mem.read(got.phys, &mut bytes);
    assert_eq!(
        bytes, [0; 16],
        "a page mapped on demand must be zeroed (frames come back from the allocator with \
         old contents: use Machine::alloc_zeroed)"
    );
    assert_eq!(got.flags, RWU, "the page gets the region's flags");
}

#[test]
fn each_page_faults_once() {
    let (mut m, mut s) = space();
    let start = 0x0000_6000_0000_0000;
    s.reserve(VirtAddr(start), 10, RWU);
    for round in 0..3 {
        for page in 0..10 {
            expect_ok(
                s.access(&mut m, VirtAddr(start + page * PAGE + round), user_write()),
                "a write in a reserved region",
            );
        }
    }
    assert_eq!(
        s.demand_faults(),
        10,
        "10 pages touched three times each: 10 demand faults (only a page that is not \
         present yet faults)"
    );
}

#[test]
fn demand_paged_memory_keeps_what_is_written() {
    let (mut m, mut s) = space();
    let start = 0x0000_6000_0000_0000;
    s.reserve(VirtAddr(start), 4, RWU);
    let message = b"hello, virtual memory; this text crosses a page boundary";
    let at = VirtAddr(start + PAGE - 20);
    s.write_bytes(&mut m, at, message)
        .unwrap_or_else(|f| panic!("write_bytes into a reserved region: {f:?} ({f})"));
    let mut back = vec![0; message.len()];
    s.read_bytes(&mut m, at, &mut back)
        .unwrap_or_else(|f| panic!("read_bytes from it: {f:?} ({f})"));
    assert_eq!(
        String::from_utf8_lossy(&back),
        String::from_utf8_lossy(message),
        "bytes written through access() should read back the same"
    );
    assert_eq!(s.demand_faults(), 2, "the text touched two pages");
}

#[rstest]
#[case::below_the_region(0x0000_6000_0000_0000 - PAGE)]
#[case::just_past_the_region(0x0000_6000_0000_0000 + 4 * PAGE)]
fn outside_every_region_a_missing_page_is_a_fault(#[case] addr: u64) {
    let (mut m, mut s) = space();
    s.reserve(VirtAddr(0x0000_6000_0000_0000), 4, RWU);
    let fault = expect_fault(
        s.access(&mut m, VirtAddr(addr), user_read()),
        &format!("an access at {addr:#x}, outside the reserved region"),
    );
    assert!(
        matches!(fault, Fault::NotPresent { .. }),
        "expected NotPresent, got {fault:?}"
    );
    assert_eq!(s.demand_faults(), 0);
}

#[test]
fn a_demand_mapped_page_still_obeys_the_region_flags() {
    let (mut m, mut s) = space();
    let start = VirtAddr(0x0000_6000_0000_0000);
    s.reserve(start, 1, Flags::USER);
    assert_eq!(
        s.access(&mut m, start, Access::write().user()),
        Err(Fault::Protection {
            addr: start,
            violation: Violation::WriteToReadOnly
        }),
        "a write to a read-only region: the demand fault maps the page read-only, and the \
         retried write faults"
    );
}
