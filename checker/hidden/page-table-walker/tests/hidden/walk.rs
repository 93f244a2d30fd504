//! Stage 2: `Entry::addr`, `walk` and `translate` over random tables of
//! 4 KiB pages, against the `x86_64` crate's `OffsetPageTable`.

use hidden_page_table_walker::{
    ADDR_BITS, Shape, World, canonical, compare, fault_name, for_random_addresses,
};
use learner::{Access, Entry, Fault, Level, PhysAddr, VirtAddr, translate, walk};

// Catches: Entry::addr keeping flag bits (the low twelve, or NX in bit 63 and bits 52-62).
#[test]
fn entry_addr_clears_every_flag_bit() {
    let seed = 0xadd7;
    let mut rng = fastrand::Rng::with_seed(seed);
    for _ in 0..1000 {
        let raw = rng.u64(..);
        assert_eq!(
            Entry(raw).addr(),
            PhysAddr(raw & ADDR_BITS),
            "Entry({raw:#x}).addr(): only bits 12-51 are the address; bits 0-11 and 52-63 \
             (NO_EXECUTE is bit 63) are flags"
        );
    }
}

// Catches: wrong index bits, not masking flags (incl. NX) out of the next table's address, entry at table + index instead of + index * 8.
#[test]
fn translate_matches_the_x86_64_crate_on_random_tables() {
    for_random_addresses(0..12, Shape::WALK, 400, false, |world, addr| {
        let expected = world.expect_checked(addr, Access::read());
        let got = translate(&world.m.mem, world.cr3, VirtAddr(addr), Access::read());
        compare(addr, &expected, &got, false, world.seed)
    });
}

// Catches: a Walk whose steps have the wrong levels, entry addresses (table + index * 8) or values, or too few or too many steps.
#[test]
fn walk_records_every_entry_it_reads() {
    for_random_addresses(20..26, Shape::WALK, 300, false, |world, addr| {
        let (steps, fault) = world.model_walk(addr);
        let got = walk(&world.m.mem, world.cr3, VirtAddr(addr));
        match (fault, got) {
            (None, Ok(w)) => {
                let got: Vec<(Level, PhysAddr, u64)> = w
                    .steps()
                    .iter()
                    .map(|s| (s.level, s.entry_addr, s.entry.0))
                    .collect();
                if got != steps {
                    return Err(format!(
                        "walk at {addr:#x}: expected the steps (level, entry address, entry) \
                         {steps:x?}, got {got:x?} (seed {})",
                        world.seed
                    ));
                }
                Ok(())
            }
            (Some(e), Err(g)) if e == g => Ok(()),
            (e, g) => Err(format!(
                "walk at {addr:#x}: expected {}, got {} (seed {})",
                e.map_or("a walk of 4 steps".to_string(), |f| fault_name(&f)),
                match g {
                    Ok(w) => format!("a walk of {} steps", w.steps().len()),
                    Err(f) => fault_name(&f),
                },
                world.seed
            )),
        }
    });
}

// Catches: the not-present level numbered wrong (0-based, or counted from the bottom), or "not present" tested as entry == 0 instead of bit 0.
#[test]
fn not_present_faults_name_the_level() {
    for seed in 30..40 {
        let world = World::random(seed, Shape::WALK);
        assert!(!world.holes.is_empty(), "test bug: no holes (seed {seed})");
        for &(addr, level) in &world.holes {
            let got = translate(&world.m.mem, world.cr3, VirtAddr(addr), Access::read());
            assert_eq!(
                got.map(|t| t.phys),
                Err(Fault::NotPresent {
                    addr: VirtAddr(addr),
                    level
                }),
                "translate({addr:#x}): the entry at level {} has its present bit (bit 0) clear, \
                 though other bits are set (seed {seed}); level 4 is the PML4",
                level.number()
            );
        }
    }
}

// Catches: reading more (or fewer) than one entry per level, e.g. reading whole tables, or walking twice.
#[test]
fn translate_reads_one_entry_per_level() {
    let world = World::random(41, Shape::WALK);
    let mut rng = fastrand::Rng::with_seed(41);
    for _ in 0..300 {
        let addr = world.sample(&mut rng, true);
        let (steps, _) = world.model_walk(addr);
        world.m.mem.reset_counters();
        let got = translate(&world.m.mem, world.cr3, VirtAddr(addr), Access::read());
        let reads = world.m.mem.reads();
        assert_eq!(
            reads,
            steps.len() as u64,
            "translate({addr:#x}) read memory {reads} times, but the walk has to read exactly \
             {} entries (one per level until {}) (seed 41)",
            steps.len(),
            match got {
                Ok(_) => "the leaf".to_string(),
                Err(f) => fault_name(&f),
            }
        );
        assert_eq!(
            world.m.mem.writes(),
            0,
            "translate({addr:#x}) wrote to memory: a translation only reads the tables"
        );
    }
}

// Catches: walking (or panicking) on a non-canonical address instead of returning Fault::NonCanonical before any read.
#[test]
fn non_canonical_addresses_fault_before_any_read() {
    let world = World::random(42, Shape::WALK);
    for addr in [
        0x0000_8000_0000_0000_u64,
        0xffff_0000_0000_0000,
        0x0001_0000_0000_0000,
        0x8000_0000_0000_1000,
    ] {
        world.m.mem.reset_counters();
        let got = translate(&world.m.mem, world.cr3, VirtAddr(addr), Access::read());
        assert_eq!(
            got,
            Err(Fault::NonCanonical {
                addr: VirtAddr(addr)
            }),
            "translate({addr:#x})"
        );
        assert_eq!(
            walk(&world.m.mem, world.cr3, VirtAddr(addr)).map(|w| w.steps().len()),
            Err(Fault::NonCanonical {
                addr: VirtAddr(addr)
            }),
            "walk({addr:#x})"
        );
        assert_eq!(
            world.m.mem.reads(),
            0,
            "translate({addr:#x}) read memory: a non-canonical address faults before the walk"
        );
    }
}

// Catches: rejecting canonical kernel (upper-half) addresses, or computing their PML4 index from the sign-extension bits.
#[test]
fn kernel_half_addresses_translate() {
    let mut checked = 0;
    for seed in 50..60 {
        let mut world = World::random(seed, Shape::WALK);
        let kernel_pages: Vec<u64> = world
            .leaves
            .iter()
            .map(|l| l.page)
            .filter(|&page| page >= 0xffff_8000_0000_0000)
            .collect();
        for page in kernel_pages {
            let addr = page + 0x123;
            let expected = world.expect_checked(addr, Access::read());
            let got = translate(&world.m.mem, world.cr3, VirtAddr(addr), Access::read());
            if let Err(message) = compare(addr, &expected, &got, false, seed) {
                panic!("{message} (a kernel-half address: PML4 index 256-511)");
            }
            checked += 1;
        }
    }
    assert!(checked > 0, "test bug: no kernel-half pages");
}

// Catches: ignoring cr3 (always starting from some fixed frame).
#[test]
fn the_walk_starts_at_cr3() {
    let mut world = World::random(61, Shape::WALK);
    let leaf = world.leaves[0];
    // A second PML4 that maps nothing.
    let empty = world.m.alloc_zeroed().expect("a free frame");
    let addr = leaf.page;
    let got = translate(&world.m.mem, empty, VirtAddr(addr), Access::read());
    assert_eq!(
        got.map(|t| t.phys),
        Err(Fault::NotPresent {
            addr: VirtAddr(addr),
            level: Level::Pml4
        }),
        "translate({addr:#x}) with cr3 = {empty}, an empty PML4 (the same address is mapped \
         under another PML4): the walk starts at the table cr3 points at"
    );
    assert_eq!(
        canonical(addr),
        addr,
        "test bug: the mapped page {addr:#x} is not a canonical address"
    );
}
