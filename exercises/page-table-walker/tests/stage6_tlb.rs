//! Stage 6 visible tests: the `Tlb` (a direct-mapped cache of translations,
//! with hit and miss counters, `invalidate` and `flush`), and
//! `AddressSpace::translate`, which looks there first. A TLB is judged by
//! what it saves: `PhysMem::reads()` counts the entries a walk reads, and a
//! hit must read none. It must also never be stale: after `unmap` or
//! `protect`, the old translation is gone.
//!
//! Run only this stage with `cargo test -p page-table-walker --test stage6_tlb`.

use page_table_walker::{
    Access, Fault, Flags, PageSize, PhysAddr, Tlb, TlbEntry, Translation, Violation, VirtAddr,
};
use rstest::rstest;

mod common;

use common::{RWU, expect_fault, expect_ok, flags, space, user_read, user_write};

/// A cache entry for the page of `size` at `page`, mapped at `frame`.
fn entry(page: u64, size: PageSize, frame: u64) -> TlbEntry {
    let t = Translation {
        phys: PhysAddr(frame),
        frame: PhysAddr(frame),
        size,
        flags: RWU,
    };
    TlbEntry::new(VirtAddr(page), &t, false)
}

#[test]
fn an_empty_tlb_misses_and_a_filled_one_hits() {
    let mut tlb = Tlb::new(8);
    assert_eq!(
        tlb.lookup(VirtAddr(0x5000)),
        None,
        "an empty TLB has nothing to find"
    );
    let e = entry(0x5000, PageSize::Size4K, 0x9000);
    tlb.insert(VirtAddr(0x5000), e);
    assert_eq!(
        tlb.lookup(VirtAddr(0x5abc)),
        Some(e),
        "after insert for 0x5000, a lookup anywhere in that 4 KiB page should hit \
         (the slot is the 4 KiB page number modulo the slots, not the address)"
    );
    assert_eq!(
        tlb.lookup(VirtAddr(0x6000)),
        None,
        "the next page is not cached"
    );
    assert_eq!(
        (tlb.hits(), tlb.misses(), tlb.len()),
        (1, 2, 1),
        "(hits, misses, len) after a miss, an insert, a hit and a miss"
    );
}

#[test]
fn pages_that_share_a_slot_evict_each_other() {
    let mut tlb = Tlb::new(8);
    let a = entry(0x1000, PageSize::Size4K, 0xa000);
    let b = entry(0x9000, PageSize::Size4K, 0xb000); // page 9 = page 1 + 8 slots
    tlb.insert(VirtAddr(0x1000), a);
    tlb.insert(VirtAddr(0x9000), b);
    assert_eq!(
        (tlb.lookup(VirtAddr(0x9000)), tlb.lookup(VirtAddr(0x1000))),
        (Some(b), None),
        "pages 1 and 9 share slot 1 of 8 (page number % slots): the second insert replaces \
         the first, and a lookup must check that the entry in the slot covers the address"
    );
    assert_eq!(tlb.len(), 1);
}

#[test]
fn invalidating_a_huge_page_drops_it_from_every_slot() {
    let mut tlb = Tlb::new(8);
    let huge = entry(0x0020_0000, PageSize::Size2M, 0x0040_0000);
    // The same 2 MiB page, cached through three different 4 KiB pages.
    for addr in [0x0020_0000, 0x0020_1000, 0x0020_3000] {
        tlb.insert(VirtAddr(addr), huge);
    }
    let other = entry(0x7000, PageSize::Size4K, 0x8000);
    tlb.insert(VirtAddr(0x7000), other);
    assert_eq!(tlb.len(), 4);
    tlb.invalidate(VirtAddr(0x0020_5000));
    assert_eq!(
        tlb.len(),
        1,
        "invalidate(0x205000) falls in the 2 MiB page cached in three slots: all three must \
         go (look at every slot whose entry covers the address, not only the address's own \
         slot), and the unrelated 4 KiB entry must stay"
    );
    assert_eq!(tlb.lookup(VirtAddr(0x7000)), Some(other));
    tlb.flush();
    assert!(tlb.is_empty(), "flush() empties every slot");
}

#[test]
fn a_hit_reads_no_memory() {
    let (mut m, mut s) = space();
    let data = m.alloc_zeroed().expect("frame");
    let addr = VirtAddr(0x0080_8060_4000);
    s.map(&mut m, addr, data, RWU).expect("map");

    m.mem.reset_counters();
    let first = expect_ok(s.translate(&m, addr, user_read()), "the first translate");
    let miss_reads = m.mem.reads();
    for i in 0..100 {
        let again = expect_ok(
            s.translate(&m, VirtAddr(addr.0 + i * 8), user_read()),
            "a repeated translate",
        );
        assert_eq!(again.phys, PhysAddr(first.phys.0 + i * 8));
    }
    let total = m.mem.reads();
    assert_eq!(
        miss_reads, 4,
        "the first translate misses and walks: 4 reads (got {miss_reads})"
    );
    assert_eq!(
        total,
        4,
        "100 more translations of the same page should all hit the TLB and read nothing: \
         {} reads for them (is the entry inserted after the walk, and looked up first?)",
        total - miss_reads
    );
    assert_eq!((s.tlb().hits(), s.tlb().misses()), (100, 1));
    assert_eq!(
        m.mem.writes(),
        0,
        "AddressSpace::translate changes nothing in memory (accessed and dirty bits are \
         stage 7, in access())"
    );
}

#[test]
fn faults_are_not_cached() {
    let (mut m, mut s) = space();
    let addr = VirtAddr(0x0040_0000);
    expect_fault(s.translate(&m, addr, user_read()), "translate before map");
    let data = m.alloc_zeroed().expect("frame");
    s.map(&mut m, addr, data, RWU).expect("map");
    let got = expect_ok(
        s.translate(&m, addr, user_read()),
        "translate after map (a fault must never be cached)",
    );
    assert_eq!(got.frame, data);
}

#[test]
fn unmap_leaves_no_stale_translation() {
    let (mut m, mut s) = space();
    let a = m.alloc_zeroed().expect("frame");
    let keep = m.alloc_zeroed().expect("frame");
    let addr = VirtAddr(0x0040_0000);
    s.map(&mut m, addr, a, RWU).expect("map");
    s.map(&mut m, VirtAddr(0x0040_1000), keep, RWU)
        .expect("map a neighbour");
    expect_ok(s.translate(&m, addr, user_read()), "translate (now cached)");
    s.unmap(&mut m, addr).expect("unmap");
    let fault = expect_fault(
        s.translate(&m, addr, user_read()),
        "translate after unmap (the TLB still held the old translation: unmap must \
         invalidate the page)",
    );
    assert!(
        matches!(fault, Fault::NotPresent { .. }),
        "expected NotPresent, got {fault:?}"
    );
}

#[rstest]
#[case::read_only(Flags::USER, user_write(), Violation::WriteToReadOnly)]
#[case::supervisor_only(Flags::WRITABLE, user_read(), Violation::UserToSupervisor)]
#[case::no_execute(
    flags(&[Flags::USER, Flags::NO_EXECUTE]),
    Access::execute().user(),
    Violation::ExecuteNoExecute
)]
fn protect_leaves_no_stale_permissions(
    #[case] new_flags: Flags,
    #[case] access: Access,
    #[case] violation: Violation,
) {
    let (mut m, mut s) = space();
    let data = m.alloc_zeroed().expect("frame");
    let addr = VirtAddr(0x0040_0000);
    s.map(&mut m, addr, data, RWU).expect("map");
    expect_ok(
        s.translate(&m, addr, access),
        "the access before protect (now cached)",
    );
    s.protect(&mut m, addr, new_flags).expect("protect");
    assert_eq!(
        s.translate(&m, addr, access),
        Err(Fault::Protection { addr, violation }),
        "after protect({new_flags:?}), {access:?} must fault: the TLB kept the old \
         permissions (protect must invalidate the page), or a hit skipped check_access"
    );
}

#[test]
fn a_hit_still_checks_the_permissions() {
    let (mut m, mut s) = space();
    let data = m.alloc_zeroed().expect("frame");
    let addr = VirtAddr(0x0040_0000);
    s.map(&mut m, addr, data, Flags::USER)
        .expect("map read-only");
    expect_ok(s.translate(&m, addr, user_read()), "a read (now cached)");
    let misses = s.tlb().misses();
    assert_eq!(
        s.translate(&m, addr, user_write()),
        Err(Fault::Protection {
            addr,
            violation: Violation::WriteToReadOnly
        }),
        "a write to a read-only page faults even when its translation is cached: check the \
         cached flags on a hit"
    );
    assert_eq!(
        s.tlb().misses(),
        misses,
        "the write should have hit the TLB (the page is cached) and faulted from there"
    );
}
