//! Stage 4: 2 MiB and 1 GiB pages.

use hidden_page_table_walker::{
    ACCESSES, ADDR_BITS, Shape, World, access_name, compare, for_random_addresses, size_name,
};
use learner::{Access, Flags, Level, PageSize, PhysAddr, VirtAddr, translate, walk};

/// A world of permissive 4 KiB tables with its first page's level-`level`
/// entry replaced by a huge page at physical `frame`. Returns the world and
/// the start of the huge page.
fn with_huge(seed: u64, level: Level, frame: u64) -> (World, u64) {
    let mut world = World::random(seed, Shape::WALK);
    let size = PageSize::of_leaf(level);
    let page = world.leaves[0].page & !(size.bytes() - 1);
    let (_, entry) = world.entry_of(page, level).expect("the walk exists");
    let flags = entry & !ADDR_BITS;
    world.set_entry(page, level, flags | Flags::HUGE_PAGE.bits() | frame);
    (world, page)
}

// Catches: page sizes, huge-page offsets or huge-page frames wrong anywhere (random tables with 1 GiB and 2 MiB pages, against the x86_64 crate).
#[test]
fn translate_matches_the_x86_64_crate_with_huge_pages() {
    for_random_addresses(200..212, Shape::HUGE, 400, false, |world, addr| {
        let expected = world.expect_checked(addr, Access::read());
        let got = translate(&world.m.mem, world.cr3, VirtAddr(addr), Access::read());
        compare(addr, &expected, &got, false, world.seed)
    });
}

// Catches: a 2 MiB page using a 12-bit (or 30-bit) offset: bits 12-20 of the address must go into the physical address.
#[test]
fn two_mib_pages_use_21_offset_bits() {
    let frame = 0x7654_0000_0000 & !((1 << 21) - 1);
    let (world, page) = with_huge(210, Level::Pd, frame);
    for offset in [0, 0x1000, 0x1f_f000, 0x1f_ffff, 0x12_3456] {
        let addr = page + offset;
        let got = translate(&world.m.mem, world.cr3, VirtAddr(addr), Access::read());
        let expected = frame + offset;
        assert_eq!(
            got.map(|t| (t.phys, t.frame, t.size)),
            Ok((PhysAddr(expected), PhysAddr(frame), PageSize::Size2M)),
            "translate({addr:#x}), in the 2 MiB page at {page:#x} mapped to {frame:#x}: the \
             offset is the low 21 bits of the address ({offset:#x})"
        );
    }
}

// Catches: a 1 GiB page using a 21-bit (or 12-bit) offset: bits 12-29 of the address must go into the physical address.
#[test]
fn one_gib_pages_use_30_offset_bits() {
    let frame = 0x3_4000_0000_u64 & !((1 << 30) - 1);
    let (world, page) = with_huge(211, Level::Pdpt, frame);
    for offset in [0, 0x1000, 0x20_0000, 0x3fff_f000, 0x3fff_ffff, 0x1234_5678] {
        let addr = page + offset;
        let got = translate(&world.m.mem, world.cr3, VirtAddr(addr), Access::read());
        let expected = frame + offset;
        assert_eq!(
            got.map(|t| (t.phys, t.frame, t.size)),
            Ok((PhysAddr(expected), PhysAddr(frame), PageSize::Size1G)),
            "translate({addr:#x}), in the 1 GiB page at {page:#x} mapped to {frame:#x}: the \
             offset is the low 30 bits of the address ({offset:#x})"
        );
    }
}

// Catches: treating a huge-page entry as a pointer to a next table (walking on into the page's frame).
#[test]
fn the_walk_stops_at_a_huge_page() {
    for (level, steps) in [(Level::Pdpt, 2), (Level::Pd, 3)] {
        // The huge page is at physical 0: walking on would read zeros from
        // frame 0 and report a missing entry.
        let (world, page) = with_huge(212, level, 0);
        let addr = page + 0x5008;
        world.m.mem.reset_counters();
        let got = walk(&world.m.mem, world.cr3, VirtAddr(addr));
        let reads = world.m.mem.reads();
        let size = size_name(PageSize::of_leaf(level));
        match got {
            Ok(w) => {
                assert_eq!(
                    w.steps().len(),
                    steps,
                    "walk({addr:#x}) in a {size}: the level-{} entry has the page-size bit, \
                     so it is the leaf and the walk ends there",
                    level.number()
                );
                assert_eq!(w.leaf().level, level, "walk({addr:#x}): the leaf's level");
            }
            Err(fault) => panic!(
                "walk({addr:#x}) in a {size} (its level-{} entry has the page-size bit, bit 7): \
                 expected a walk of {steps} steps, got {fault:?}; a huge-page entry maps the \
                 page itself, it does not point at a next table",
                level.number()
            ),
        }
        assert_eq!(
            reads, steps as u64,
            "walk({addr:#x}) in a {size} read {reads} entries, should read {steps}"
        );
    }
}

// Catches: honouring the page-size bit at level 4 (it is reserved there: the walk goes on to level 3).
#[test]
fn the_page_size_bit_means_nothing_at_level_4() {
    let mut world = World::random(213, Shape::WALK);
    let leaf = world.leaves[0];
    let (_, entry) = world
        .entry_of(leaf.page, Level::Pml4)
        .expect("the walk exists");
    world.set_entry(leaf.page, Level::Pml4, entry | Flags::HUGE_PAGE.bits());
    let addr = leaf.page + 0x10;
    let expected = world.expect(addr, Access::read());
    let got = translate(&world.m.mem, world.cr3, VirtAddr(addr), Access::read());
    if let Err(message) = compare(addr, &expected, &got, false, 213) {
        panic!(
            "{message}: the PML4 entry has bit 7 set, which is reserved at level 4; the walk \
             must go on through all four levels"
        );
    }
}

// Catches: honouring the page-size bit at level 1 (bit 7 of a PT entry is PAT: the page is still 4 KiB) or letting it into Translation.flags.
#[test]
fn the_page_size_bit_means_nothing_at_level_1() {
    let mut world = World::random(214, Shape::WALK);
    let leaf = world.leaves[0];
    let (_, entry) = world
        .entry_of(leaf.page, Level::Pt)
        .expect("the walk exists");
    world.set_entry(leaf.page, Level::Pt, entry | Flags::HUGE_PAGE.bits());
    let addr = leaf.page + 0xabc;
    let expected = world.expect_checked(addr, Access::read());
    let got = translate(&world.m.mem, world.cr3, VirtAddr(addr), Access::read());
    if let Err(message) = compare(addr, &expected, &got, true, 214) {
        panic!("{message}: bit 7 of a level-1 entry is PAT, the page is still 4 KiB");
    }
}

// Catches: permissions of a huge page taken from its leaf only, or not checked at all (random accesses over huge pages).
#[test]
fn huge_pages_combine_permissions_too() {
    let mut rng = fastrand::Rng::with_seed(215);
    let mut huge_seen = 0;
    for_random_addresses(215..227, Shape::ALL, 300, false, |world, addr| {
        let access = ACCESSES[rng.usize(0..6)];
        let expected = world.expect_checked(addr, access);
        if matches!(expected, Ok(e) if e.size != PageSize::Size4K) {
            huge_seen += 1;
        }
        let got = translate(&world.m.mem, world.cr3, VirtAddr(addr), access);
        compare(addr, &expected, &got, true, world.seed)
            .map_err(|m| format!("{m}, for {}", access_name(access)))
    });
    assert!(huge_seen > 50, "test bug: only {huge_seen} huge pages");
}

// Catches: `walk` honouring the page-size bit at level 4 (stopping at the PML4 entry as if it mapped a page), tested on `walk` itself, whatever `translate` does.
#[test]
fn walk_ignores_the_page_size_bit_at_level_4() {
    let mut world = World::random(216, Shape::WALK);
    let leaf = world.leaves[0];
    let (_, entry) = world
        .entry_of(leaf.page, Level::Pml4)
        .expect("the walk exists");
    world.set_entry(leaf.page, Level::Pml4, entry | Flags::HUGE_PAGE.bits());
    let addr = leaf.page + 0x10;
    let (steps, fault) = world.model_walk(addr);
    assert_eq!(fault, None, "test bug: the model's walk faults");
    world.m.mem.reset_counters();
    let got = walk(&world.m.mem, world.cr3, VirtAddr(addr));
    let reads = world.m.mem.reads();
    match got {
        Ok(w) => {
            let got: Vec<(Level, PhysAddr, u64)> = w
                .steps()
                .iter()
                .map(|s| (s.level, s.entry_addr, s.entry.0))
                .collect();
            assert_eq!(
                got.len(),
                4,
                "walk({addr:#x}) returned {} step(s) ending at level {}: the PML4 entry has bit \
                 7 set, but at level 4 that bit is reserved, not a page size; the walk goes on \
                 through all four levels to the level-1 leaf (only level-3 and level-2 entries \
                 can map huge pages)",
                got.len(),
                w.leaf().level.number()
            );
            assert_eq!(
                got, steps,
                "walk({addr:#x}) with bit 7 set in the PML4 entry: expected the steps (level, \
                 entry address, entry) {steps:x?}"
            );
        }
        Err(fault) => panic!(
            "walk({addr:#x}) with bit 7 set in the PML4 entry: expected a walk of 4 steps, got \
             {fault:?}; at level 4 bit 7 is reserved, the entry still points at a PDPT"
        ),
    }
    assert_eq!(
        reads, 4,
        "walk({addr:#x}) read {reads} entries: a walk to a 4 KiB page reads four"
    );
}

// Catches: a huge page's frame taken straight from `Entry::addr`, keeping bit 12 (PAT in a huge entry) or any bit below the page size in the physical address.
#[test]
fn the_pat_bit_is_not_part_of_a_huge_frame() {
    for (seed, level, frame) in [
        (217, Level::Pd, 0x7654_0000_0000_u64 & !((1 << 21) - 1)),
        (218, Level::Pdpt, 0x3_4000_0000_u64),
    ] {
        let size = PageSize::of_leaf(level);
        // Bit 12 is PAT in a huge entry: the tables of a real kernel set it
        // for write-combining memory. The frame itself is size-aligned.
        let (world, page) = with_huge(seed, level, frame | 0x1000);
        for offset in [0_u64, 0x345, 0x2000, size.bytes() - 0x1001] {
            assert_eq!(
                offset & 0x1000,
                0,
                "test bug: offset {offset:#x} has bit 12"
            );
            let addr = page + offset;
            let got = translate(&world.m.mem, world.cr3, VirtAddr(addr), Access::read());
            assert_eq!(
                got.map(|t| (t.phys, t.frame, t.size)),
                Ok((PhysAddr(frame + offset), PhysAddr(frame), size)),
                "translate({addr:#x}), in the {} at {page:#x} whose level-{} entry has the \
                 address {:#x} with bit 12 set: in a huge entry bit 12 is PAT (a caching bit), \
                 not part of the frame; the frame is the entry's address with the low {} bits \
                 cleared ({frame:#x}), and bit 12 of the physical address comes from the \
                 virtual address",
                size_name(size),
                level.number(),
                frame | 0x1000,
                size.offset_bits()
            );
        }
    }
}
