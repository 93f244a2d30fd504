//! Stage 7: `AddressSpace::access`: accessed and dirty bits, and demand
//! paging in reserved regions.

use hidden_page_table_walker::{data_frame, dirty_free_frames, fault_name, raw_entry};
use learner::{Access, AddressSpace, Fault, Flags, Level, Machine, Violation, VirtAddr};

const RWU: Flags = Flags::from_bits(Flags::WRITABLE.bits() | Flags::USER.bits());

fn setup(pages: &[u64]) -> (Machine, AddressSpace) {
    let mut m = Machine::new(512);
    let mut space = AddressSpace::new(&mut m).expect("AddressSpace::new");
    for &page in pages {
        let frame = data_frame(&mut m);
        space
            .map(&mut m, VirtAddr(page), frame, RWU)
            .unwrap_or_else(|e| panic!("map({page:#x}): {e:?}"));
    }
    (m, space)
}

fn flags_at(m: &Machine, space: &AddressSpace, addr: u64, level: Level) -> Flags {
    Flags::from_bits(raw_entry(&m.mem, space.cr3(), addr, level).expect("mapped"))
}

// Catches: ACCESSED not set at every level of the walk (only the leaf, or none).
#[test]
fn a_read_sets_accessed_at_every_level() {
    let (mut m, mut space) = setup(&[0x4000_0000]);
    space
        .access(&mut m, VirtAddr(0x4000_0010), Access::read().user())
        .expect("a user read of a mapped user page");
    for level in Level::WALK {
        let flags = flags_at(&m, &space, 0x4000_0000, level);
        assert!(
            flags.contains(Flags::ACCESSED),
            "after a read of 0x4000_0010, the level-{} entry is {flags:?}: the walk sets \
             ACCESSED in every entry it reads",
            level.number()
        );
    }
}

// Catches: DIRTY set by reads, or set in the upper levels (it belongs in the leaf, for writes only).
#[test]
fn dirty_marks_the_leaf_of_written_pages_only() {
    let (mut m, mut space) = setup(&[0x1000, 0x2000]);
    space
        .access(&mut m, VirtAddr(0x1000), Access::read())
        .expect("read 0x1000");
    space
        .access(&mut m, VirtAddr(0x2000), Access::write())
        .expect("write 0x2000");
    let read_leaf = flags_at(&m, &space, 0x1000, Level::Pt);
    assert!(
        !read_leaf.contains(Flags::DIRTY),
        "0x1000 was only read, but its leaf entry is {read_leaf:?}"
    );
    let written_leaf = flags_at(&m, &space, 0x2000, Level::Pt);
    assert!(
        written_leaf.contains(Flags::DIRTY | Flags::ACCESSED),
        "0x2000 was written, but its leaf entry is {written_leaf:?}: expected ACCESSED and DIRTY"
    );
    for level in [Level::Pml4, Level::Pdpt, Level::Pd] {
        let flags = flags_at(&m, &space, 0x2000, level);
        assert!(
            !flags.contains(Flags::DIRTY),
            "the level-{} entry is {flags:?}: DIRTY is set in the leaf only",
            level.number()
        );
    }
}

// Catches: writing entries whose bits do not change (every access writing all four entries), or access not using the TLB (reads on a hit).
#[test]
fn entries_are_written_only_when_a_bit_changes() {
    let (mut m, mut space) = setup(&[0x3000]);
    m.mem.reset_counters();
    space
        .access(&mut m, VirtAddr(0x3000), Access::read())
        .expect("first read");
    assert_eq!(
        m.mem.writes(),
        4,
        "the first read of a freshly mapped page sets ACCESSED in 4 entries: 4 writes"
    );
    space.flush_tlb();
    m.mem.reset_counters();
    space
        .access(&mut m, VirtAddr(0x3008), Access::read())
        .expect("second read");
    assert_eq!(
        (m.mem.reads(), m.mem.writes()),
        (4, 0),
        "(reads, writes) of a read after flush_tlb: the walk reads 4 entries whose ACCESSED \
         bits are already set, so nothing is written"
    );
    m.mem.reset_counters();
    space
        .access(&mut m, VirtAddr(0x3010), Access::read())
        .expect("third read");
    assert_eq!(
        (m.mem.reads(), m.mem.writes()),
        (0, 0),
        "(reads, writes) of a read whose translation is in the TLB"
    );
}

// Catches: a write that hits a TLB entry cached without DIRTY not walking again, so DIRTY is never set.
#[test]
fn a_write_through_a_clean_tlb_entry_sets_dirty() {
    let (mut m, mut space) = setup(&[0x5000]);
    space
        .access(&mut m, VirtAddr(0x5000), Access::read())
        .expect("read");
    // `translate` caches too, without touching memory.
    space
        .translate(&m, VirtAddr(0x5000), Access::read())
        .expect("translate");
    space
        .access(&mut m, VirtAddr(0x5008), Access::write())
        .expect("write");
    let leaf = flags_at(&m, &space, 0x5000, Level::Pt);
    assert!(
        leaf.contains(Flags::DIRTY),
        "a read cached the page clean, then a write hit that TLB entry: the leaf is {leaf:?}, \
         DIRTY missing (a write through a clean entry must walk again to set it)"
    );
    space.flush_tlb();
    space
        .access(&mut m, VirtAddr(0x5000), Access::read())
        .expect("read");
    m.mem.reset_counters();
    space
        .access(&mut m, VirtAddr(0x5010), Access::write())
        .expect("write");
    assert_eq!(
        m.mem.reads(),
        0,
        "a read after flush cached the already-dirty page: a write that hits it needs no walk"
    );
}

// Catches: demand paging mapping a frame without zeroing it (the allocator's frames hold old data).
#[test]
fn demand_pages_are_zeroed() {
    let (mut m, mut space) = setup(&[]);
    dirty_free_frames(&mut m, 0xa5);
    space.reserve(VirtAddr(0x10_0000), 4, RWU);
    let mut buf = [0xff_u8; 64];
    space
        .read_bytes(&mut m, VirtAddr(0x10_1ff0), &mut buf)
        .unwrap_or_else(|f| panic!("reading 64 bytes at 0x10_1ff0 in a reserved region: {f}"));
    assert!(
        buf.iter().all(|&b| b == 0),
        "a page mapped on demand must read as zeros (Machine::alloc_zeroed), got {:?}...",
        &buf[..8]
    );
    assert_eq!(
        space.demand_faults(),
        2,
        "reading across the boundary of pages 1 and 2 of the region faults in both"
    );
}

// Catches: demand faults outside the reserved region (one page before or after), or a region's last page left out.
#[test]
fn demand_paging_stays_inside_the_region() {
    let (mut m, mut space) = setup(&[]);
    space.reserve(VirtAddr(0x20_0000), 3, RWU);
    for addr in [0x1f_f000_u64, 0x20_3000] {
        let got = space.access(&mut m, VirtAddr(addr), Access::read().user());
        assert!(
            matches!(got, Err(Fault::NotPresent { .. })),
            "access({addr:#x}) just outside the region 0x20_0000..0x20_3000: expected \
             Fault::NotPresent, got {:?}",
            got.map_err(|f| fault_name(&f))
        );
    }
    assert_eq!(
        space.demand_faults(),
        0,
        "no demand fault outside the region"
    );
    let got = space.access(&mut m, VirtAddr(0x20_2fff), Access::read().user());
    assert!(
        got.is_ok(),
        "access(0x20_2fff), the last byte of the region: {:?}",
        got.map_err(|f| fault_name(&f))
    );
}

// Catches: counting a demand fault on every access (not just the first touch), or mapping a fresh frame again on each touch.
#[test]
fn each_page_faults_once() {
    let (mut m, mut space) = setup(&[]);
    space.reserve(VirtAddr(0x7000_0000), 8, RWU);
    let data: Vec<u8> = (0..8 * 4096).map(|i| (i % 251) as u8).collect();
    space
        .write_bytes(&mut m, VirtAddr(0x7000_0000), &data)
        .unwrap_or_else(|f| panic!("writing 8 pages of the region: {f}"));
    assert_eq!(
        space.demand_faults(),
        8,
        "8 pages touched for the first time"
    );
    space.flush_tlb();
    let mut back = vec![0; data.len()];
    space
        .read_bytes(&mut m, VirtAddr(0x7000_0000), &mut back)
        .unwrap_or_else(|f| panic!("reading the 8 pages back: {f}"));
    assert!(
        back == data,
        "the bytes written through access() did not read back the same"
    );
    assert_eq!(
        space.demand_faults(),
        8,
        "the 8 pages were already mapped: reading them again is no demand fault"
    );
}

// Catches: demand-mapped pages ignoring the region's flags (e.g. always writable or always user).
#[test]
fn demand_pages_get_the_region_flags() {
    let (mut m, mut space) = setup(&[]);
    space.reserve(VirtAddr(0x40_0000), 2, Flags::USER);
    space.reserve(VirtAddr(0x50_0000), 2, Flags::WRITABLE);
    let got = space.access(&mut m, VirtAddr(0x40_0000), Access::write().user());
    assert_eq!(
        got.map(|t| t.phys),
        Err(Fault::Protection {
            addr: VirtAddr(0x40_0000),
            violation: Violation::WriteToReadOnly
        }),
        "a user write to a region reserved with USER only: the page is mapped on demand, \
         read-only, so the write faults (only a leaf marked COPY_ON_WRITE is the kernel's to \
         make writable on a write fault)"
    );
    assert_eq!(
        space.demand_faults(),
        1,
        "the read-only page was still mapped on demand"
    );
    let got = space.access(&mut m, VirtAddr(0x50_0000), Access::read().user());
    assert_eq!(
        got.map(|t| t.phys),
        Err(Fault::Protection {
            addr: VirtAddr(0x50_0000),
            violation: Violation::UserToSupervisor
        }),
        "a user read of a region reserved without USER"
    );
    let got = space.access(&mut m, VirtAddr(0x50_0008), Access::write());
    assert!(got.is_ok(), "a supervisor write there: {got:?}");
}

// Catches: a region's end computed as `start + pages * 4096`, which wraps to zero for a region at the very top of the address space (so nothing is inside it), or a demand fault refused there.
#[test]
fn a_region_at_the_top_of_the_address_space_is_demand_paged() {
    let (mut m, mut space) = setup(&[]);
    // The last 16 pages of the kernel half: start + 16 * 4096 is 2^64.
    let start = 0xffff_ffff_ffff_0000_u64;
    space.reserve(VirtAddr(start), 16, Flags::WRITABLE);
    for (addr, what) in [
        (
            0xffff_ffff_ffff_fff8_u64,
            "the last 8 bytes of the address space",
        ),
        (start, "the first page of the region"),
    ] {
        let got = space.access(&mut m, VirtAddr(addr), Access::write());
        assert!(
            got.is_ok(),
            "access({addr:#x}, a supervisor write), {what}, in the region of 16 pages reserved \
             at {start:#x}: expected a demand fault and Ok, got {}; the region's end, start + \
             16 * 4096, is 2^64 and does not fit in a u64 (wraps to 0): compare the page \
             offset (addr - start) / 4096 with the number of pages instead (Region::contains)",
            got.map_or_else(|f| fault_name(&f), |_| "Ok".to_string())
        );
    }
    assert_eq!(
        space.demand_faults(),
        2,
        "two pages of the region at the top of the address space were touched"
    );
}

// Catches: a demand fault that cannot map its page (no frame left for the tables) keeping the data frame it allocated: the fault stands and the frame is leaked.
#[test]
fn a_demand_fault_that_cannot_map_leaks_no_frame() {
    // Frame 0 is never handed out: 3 free frames, the PML4 takes one. The
    // data frame fits; the PDPT, PD and PT it would need do not.
    let mut m = Machine::new(4);
    let mut space = AddressSpace::new(&mut m).expect("AddressSpace::new");
    space.reserve(VirtAddr(0x1000), 4, RWU);
    let free = m.frames.free_count();
    let got = space.access(&mut m, VirtAddr(0x1008), Access::write().user());
    assert_eq!(
        got.map(|t| t.phys),
        Err(Fault::NotPresent {
            addr: VirtAddr(0x1008),
            level: Level::Pml4
        }),
        "access(0x1008) in a reserved region, on a machine with {free} free frames: the page \
         needs a data frame and three tables, which do not fit, so the not-present fault \
         stands"
    );
    assert_eq!(
        m.frames.free_count(),
        free,
        "a demand fault whose map failed (OutOfFrames) took {} frame(s) and kept them: give \
         back the data frame you allocated when the map fails",
        free - m.frames.free_count()
    );
    assert_eq!(
        space.demand_faults(),
        0,
        "a demand fault that could not map its page is not counted"
    );
}
