//! Stage 8: copy-on-write `fork`, and the copy-on-write faults of `access`.

use hidden_page_table_walker::{ADDR_BITS, data_frame, fault_name, raw_entry};
use learner::{Access, AddressSpace, Fault, Flags, Level, Machine, PhysAddr, Violation, VirtAddr};

const RWU: Flags = Flags::from_bits(Flags::WRITABLE.bits() | Flags::USER.bits());

/// A parent with `pages` writable user pages, each filled with its index + 1.
fn parent(pages: &[u64]) -> (Machine, AddressSpace, Vec<PhysAddr>) {
    let mut m = Machine::new(512);
    let mut space = AddressSpace::new(&mut m).expect("AddressSpace::new");
    let mut frames = Vec::new();
    for (i, &page) in pages.iter().enumerate() {
        let frame = data_frame(&mut m);
        m.mem.write(frame, &[i as u8 + 1; 4096]);
        space
            .map(&mut m, VirtAddr(page), frame, RWU)
            .unwrap_or_else(|e| panic!("map({page:#x}): {e:?}"));
        frames.push(frame);
    }
    (m, space, frames)
}

fn fork(space: &mut AddressSpace, m: &mut Machine) -> AddressSpace {
    space.fork(m).unwrap_or_else(|e| panic!("fork: {e:?}"))
}

fn read_byte(space: &mut AddressSpace, m: &mut Machine, addr: u64) -> u8 {
    let mut b = [0];
    space
        .read_bytes(m, VirtAddr(addr), &mut b)
        .unwrap_or_else(|f| panic!("reading {addr:#x}: {f}"));
    b[0]
}

fn write_byte(space: &mut AddressSpace, m: &mut Machine, addr: u64, value: u8) {
    space
        .write_bytes(m, VirtAddr(addr), &[value])
        .unwrap_or_else(|f| {
            let hint = match f {
                Fault::Protection {
                    violation: Violation::WriteToReadOnly,
                    ..
                } => {
                    " (the page is COPY_ON_WRITE after fork: a write to it is the kernel's to \
                     fix, with a copy or by making the last sharer's entry writable, and retried; \
                     a TLB hit that forbids the write must walk again, it may be such a fault)"
                }
                _ => "",
            };
            panic!("writing {addr:#x}: {f}{hint}")
        });
}

fn leaf_flags(m: &Machine, space: &AddressSpace, addr: u64) -> Flags {
    Flags::from_bits(raw_entry(&m.mem, space.cr3(), addr, Level::Pt).expect("mapped"))
}

// Catches: fork sharing the parent's tables (or leaving pages writable), so the child's write lands in the parent's memory.
#[test]
fn a_child_write_is_invisible_to_the_parent() {
    let (mut m, mut p, _) = parent(&[0x1000, 0x40_0000]);
    let mut c = fork(&mut p, &mut m);
    assert_ne!(c.cr3(), p.cr3(), "the child needs its own PML4");
    assert_eq!(
        read_byte(&mut c, &mut m, 0x1000),
        1,
        "the child reads the parent's data"
    );
    write_byte(&mut c, &mut m, 0x1000, 0xcc);
    assert_eq!(
        read_byte(&mut c, &mut m, 0x1000),
        0xcc,
        "the child reads its own write"
    );
    assert_eq!(
        read_byte(&mut p, &mut m, 0x1000),
        1,
        "the child wrote 0xcc at 0x1000 after fork; the parent must still see its own 1"
    );
    assert_eq!(c.cow_copies(), 1, "the child's write copied one frame");
}

// Catches: the parent's TLB not flushed by fork, so a write through a cached writable translation lands in the shared frame.
#[test]
fn fork_flushes_the_parent_tlb() {
    let (mut m, mut p, _) = parent(&[0x2000]);
    // Cache a writable, dirty translation in the parent.
    write_byte(&mut p, &mut m, 0x2000, 7);
    let mut c = fork(&mut p, &mut m);
    write_byte(&mut p, &mut m, 0x2000, 9);
    assert_eq!(
        read_byte(&mut c, &mut m, 0x2000),
        7,
        "the parent wrote 9 after fork through a translation it had cached before; the child \
         must still see 7 (fork makes the parent's cached translations too permissive)"
    );
    assert_eq!(
        read_byte(&mut p, &mut m, 0x2000),
        9,
        "the parent reads its own write"
    );
}

// Catches: fork not taking a reference on shared frames, or the copy-on-write fault not dropping the old frame's reference.
#[test]
fn reference_counts_follow_the_sharing() {
    let (mut m, mut p, frames) = parent(&[0x3000]);
    let mut c = fork(&mut p, &mut m);
    assert_eq!(m.refs(frames[0]), 2, "after fork the frame is mapped twice");
    write_byte(&mut c, &mut m, 0x3000, 1);
    assert_eq!(
        m.refs(frames[0]),
        1,
        "the child copied the page on write: the old frame has one mapping left (the parent's)"
    );
    let t = c
        .translate(&m, VirtAddr(0x3000), Access::read())
        .expect("mapped");
    assert_ne!(
        t.frame, frames[0],
        "the child's page must be a new frame after its write"
    );
    assert_eq!(m.refs(t.frame), 1, "the child's new frame has one mapping");
}

// Catches: the last sharer copying the page instead of reusing its frame (refs == 1 means nobody else sees it).
#[test]
fn the_last_sharer_reuses_the_frame() {
    let (mut m, mut p, frames) = parent(&[0x4000]);
    let mut c = fork(&mut p, &mut m);
    write_byte(&mut c, &mut m, 0x4000, 2);
    let used = m.frames.used_count();
    write_byte(&mut p, &mut m, 0x4000, 3);
    assert_eq!(
        p.cow_copies(),
        0,
        "the parent wrote after the child had taken its own copy: the parent is the only one \
         left on the frame, so it makes it writable again instead of copying"
    );
    assert_eq!(
        m.frames.used_count(),
        used,
        "the parent's write must not take a frame"
    );
    let t = p
        .translate(&m, VirtAddr(0x4000), Access::read())
        .expect("mapped");
    assert_eq!(t.frame, frames[0], "the parent keeps its frame");
    let flags = leaf_flags(&m, &p, 0x4000);
    assert!(
        flags.contains(Flags::WRITABLE) && !flags.contains(Flags::COPY_ON_WRITE),
        "after the copy-on-write fault, the parent's leaf is {flags:?}: expected WRITABLE, and \
         COPY_ON_WRITE cleared"
    );
}

// Catches: fork or the copy-on-write fault making read-only pages writable.
#[test]
fn read_only_pages_stay_read_only() {
    let (mut m, mut p, _) = parent(&[]);
    let frame = data_frame(&mut m);
    p.map(&mut m, VirtAddr(0x5000), frame, Flags::USER)
        .expect("map a read-only page");
    let mut c = fork(&mut p, &mut m);
    for (who, space) in [("child", &mut c), ("parent", &mut p)] {
        let got = space.access(&mut m, VirtAddr(0x5000), Access::write().user());
        assert_eq!(
            got.map(|t| t.phys),
            Err(Fault::Protection {
                addr: VirtAddr(0x5000),
                violation: Violation::WriteToReadOnly
            }),
            "a {who} write to a page that was read-only before fork: only writable pages \
             become copy-on-write"
        );
    }
    assert_eq!(
        c.cow_copies() + p.cow_copies(),
        0,
        "no copy for a read-only page"
    );
}

// Catches: fork copying data frames (instead of sharing them) or not copying the tables (sharing them).
#[test]
fn fork_shares_frames_and_copies_tables() {
    let pages: Vec<u64> = (0..20).map(|i| 0x10_0000 + i * 0x1000).collect();
    let (mut m, mut p, frames) = parent(&pages);
    let used = m.frames.used_count();
    let c = fork(&mut p, &mut m);
    assert_eq!(
        m.frames.used_count() - used,
        4,
        "fork of 20 pages in one PT needs exactly 4 new frames (PML4, PDPT, PD, PT): data \
         frames are shared, not copied"
    );
    for (&page, &frame) in pages.iter().zip(&frames) {
        let t = learner::translate(&m.mem, c.cr3(), VirtAddr(page), Access::read());
        assert_eq!(
            t.map(|t| t.frame),
            Ok(frame),
            "the child's {page:#x} maps the parent's frame"
        );
        let flags = leaf_flags(&m, &c, page);
        assert!(
            flags.contains(Flags::COPY_ON_WRITE) && !flags.contains(Flags::WRITABLE),
            "the child's leaf for {page:#x} is {flags:?}: a shared writable page becomes \
             read-only and COPY_ON_WRITE"
        );
        let flags = leaf_flags(&m, &p, page);
        assert!(
            flags.contains(Flags::COPY_ON_WRITE) && !flags.contains(Flags::WRITABLE),
            "the parent's leaf for {page:#x} is {flags:?}: the parent's copy must become \
             read-only and COPY_ON_WRITE too"
        );
    }
}

// Catches: fork not copying the reserved regions (the child's demand faults fail).
#[test]
fn fork_copies_the_regions() {
    let (mut m, mut p, _) = parent(&[]);
    p.reserve(VirtAddr(0x60_0000), 4, RWU);
    let mut c = fork(&mut p, &mut m);
    let got = c.access(&mut m, VirtAddr(0x60_1000), Access::write().user());
    assert!(
        got.is_ok(),
        "a child write in a region the parent had reserved before fork: {:?}",
        got.map_err(|f| fault_name(&f))
    );
}

// Catches: frames leaked (or freed too early) by fork, copy-on-write faults and destroy, over random writes.
#[test]
fn fork_write_destroy_leaks_nothing() {
    for seed in 800..804 {
        let mut rng = fastrand::Rng::with_seed(seed);
        let pages: Vec<u64> = (0..24)
            .map(|i| 0x7f00_0000_0000 + (i / 8) * 0x4000_0000 + (i % 8) * 0x1000)
            .collect();
        let (mut m, mut p, _) = parent(&[]);
        let free_at_start = m.frames.free_count() + 1; // the PML4
        for &page in &pages {
            let frame = data_frame(&mut m);
            p.map(&mut m, VirtAddr(page), frame, RWU).expect("map");
        }
        let mut c = fork(&mut p, &mut m);
        let mut expected_p = vec![0_u8; pages.len()];
        let mut expected_c = vec![0_u8; pages.len()];
        for (i, &page) in pages.iter().enumerate() {
            let v = read_byte(&mut p, &mut m, page);
            expected_p[i] = v;
            expected_c[i] = v;
        }
        for _ in 0..100 {
            let i = rng.usize(0..pages.len());
            let value = rng.u8(..);
            if rng.bool() {
                write_byte(&mut p, &mut m, pages[i], value);
                expected_p[i] = value;
            } else {
                write_byte(&mut c, &mut m, pages[i], value);
                expected_c[i] = value;
            }
        }
        for (i, &page) in pages.iter().enumerate() {
            assert_eq!(
                read_byte(&mut p, &mut m, page),
                expected_p[i],
                "the parent's byte at {page:#x} after random writes in both (seed {seed})"
            );
            assert_eq!(
                read_byte(&mut c, &mut m, page),
                expected_c[i],
                "the child's byte at {page:#x} after random writes in both (seed {seed})"
            );
        }
        if rng.bool() {
            c.destroy(&mut m);
            p.destroy(&mut m);
        } else {
            p.destroy(&mut m);
            c.destroy(&mut m);
        }
        assert_eq!(
            m.frames.free_count(),
            free_at_start,
            "after destroying parent and child every frame must be free (seed {seed}): {} leaked",
            free_at_start - m.frames.free_count()
        );
    }
}

// Catches: fork treating a huge-page entry as a pointer to a table (building a table for it and copying the page's frame as one) instead of copying the entry as it is.
#[test]
fn fork_copies_huge_page_entries_as_they_are() {
    let mut m = Machine::new(64);
    let mut space = AddressSpace::new(&mut m).expect("AddressSpace::new");
    let frame = data_frame(&mut m);
    space
        .map(&mut m, VirtAddr(0x1000), frame, RWU)
        .unwrap_or_else(|e| panic!("map(0x1000): {e:?}"));
    // A 2 MiB page at 0x20_0000 (mapping physical 0) in the same PD, written
    // straight into the tables: `map` only makes 4 KiB pages.
    let pd = raw_entry(&m.mem, space.cr3(), 0x1000, Level::Pdpt).expect("mapped") & ADDR_BITS;
    let huge = (Flags::PRESENT | Flags::WRITABLE | Flags::USER | Flags::HUGE_PAGE).bits();
    m.mem.write_u64(PhysAddr(pd + 8), huge);
    let free_before = m.frames.free_count();
    let got = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| space.fork(&mut m)));
    let child = match got {
        Ok(Ok(child)) => child,
        Ok(Err(e)) => panic!("fork of a space with a 4 KiB page and a 2 MiB page failed: {e:?}"),
        Err(_) => panic!(
            "fork panicked on a space with a 2 MiB page at 0x200000 (a PD entry with HUGE_PAGE, \
             mapping physical 0): that entry maps a page, it is not a table to copy"
        ),
    };
    assert_eq!(
        raw_entry(&m.mem, child.cr3(), 0x20_0000, Level::Pd),
        Some(huge),
        "after fork, the child's PD entry for the 2 MiB page at 0x200000 must be the parent's \
         entry, copied as it is ({huge:#x}), not a pointer to a new table"
    );
    assert_eq!(
        free_before - m.frames.free_count(),
        4,
        "fork of a space with one 4 KiB page and one 2 MiB page needs four new tables (PML4, \
         PDPT, PD, PT) and nothing for the 2 MiB page"
    );
}

// Catches: a write fault handled as copy-on-write before the user/supervisor check: the error is right (UserToSupervisor) but a private copy was already made. Checks the side effects, not just the error.
#[test]
fn a_write_under_a_read_only_directory_copies_nothing() {
    let (mut m, mut p, frames) = parent(&[0x7000]);
    let mut c = fork(&mut p, &mut m);
    // The child's directory entry above 0x7000 loses WRITABLE: the leaf's
    // COPY_ON_WRITE can no longer make the page writable.
    let pd_entry = raw_entry(&m.mem, c.cr3(), 0x7000, Level::Pd).expect("a PD entry for 0x7000");
    let pd = raw_entry(&m.mem, c.cr3(), 0x7000, Level::Pdpt).expect("a PDPT entry") & ADDR_BITS;
    // 0x7000 is in the first 2 MiB: entry 0 of its page directory.
    let at = PhysAddr(pd);
    m.mem.write_u64(at, pd_entry & !Flags::WRITABLE.bits());
    let leaf_before = raw_entry(&m.mem, c.cr3(), 0x7000, Level::Pt);
    let used = m.frames.used_count();
    let got = c.access(&mut m, VirtAddr(0x7010), Access::write().user());
    assert_eq!(
        got.map(|t| t.phys),
        Err(Fault::Protection {
            addr: VirtAddr(0x7010),
            violation: Violation::WriteToReadOnly
        }),
        "a write to a copy-on-write page whose page directory entry is read-only: no copy can \
         make it writable, so it is WriteToReadOnly"
    );
    assert_eq!(
        (
            c.cow_copies(),
            m.frames.used_count() - used,
            m.refs(frames[0])
        ),
        (0, 0, 2),
        "(cow_copies, frames taken, references on the shared frame) after a write refused by a \
         read-only page directory entry: a private copy was made although the write can never \
         go through; copy only when the leaf is all that forbids the write (every entry above \
         it WRITABLE)"
    );
    assert_eq!(
        raw_entry(&m.mem, c.cr3(), 0x7000, Level::Pt),
        leaf_before,
        "the child's leaf for 0x7000 changed after a write refused by its page directory entry"
    );
}

#[test]
fn a_user_write_to_a_supervisor_cow_page_copies_nothing() {
    let (mut m, mut p, _) = parent(&[]);
    let frame = data_frame(&mut m);
    m.mem.write(frame, &[0x5a; 4096]);
    // A writable supervisor page: fork makes it copy-on-write in both.
    p.map(&mut m, VirtAddr(0x6000), frame, Flags::WRITABLE)
        .expect("map a supervisor page");
    let mut c = fork(&mut p, &mut m);
    let leaf_before = raw_entry(&m.mem, c.cr3(), 0x6000, Level::Pt);
    let used = m.frames.used_count();
    let got = c.access(&mut m, VirtAddr(0x6008), Access::write().user());
    assert_eq!(
        got.map(|t| t.phys),
        Err(Fault::Protection {
            addr: VirtAddr(0x6008),
            violation: Violation::UserToSupervisor
        }),
        "a user write to a supervisor page that fork made copy-on-write: the user check comes \
         first, UserToSupervisor"
    );
    assert_eq!(
        (c.cow_copies(), m.frames.used_count() - used, m.refs(frame)),
        (0, 0, 2),
        "(cow_copies, frames taken, references on the shared frame) after a user write to a \
         supervisor copy-on-write page that faulted UserToSupervisor: the fault is right but a \
         private copy was made first; check user/supervisor (check_access) before treating a \
         write as copy-on-write, so a refused write changes nothing"
    );
    assert_eq!(
        raw_entry(&m.mem, c.cr3(), 0x6000, Level::Pt),
        leaf_before,
        "the child's leaf for 0x6000 changed after a user write that faulted UserToSupervisor: \
         a refused write leaves the copy-on-write page as it was (read-only, COPY_ON_WRITE, \
         the shared frame)"
    );
    // The kernel's own write to it is a copy-on-write fault like any other.
    let got = c.access(&mut m, VirtAddr(0x6008), Access::write());
    assert!(
        got.is_ok(),
        "a supervisor write to the same copy-on-write page: {:?}",
        got.map_err(|f| fault_name(&f))
    );
    assert_eq!(c.cow_copies(), 1, "the supervisor write copied the page");
}

// Catches: the copy-on-write fault mapping a new frame without copying the old page into it (copy_frame forgotten): only the byte written survives.
#[test]
fn a_copy_keeps_the_rest_of_the_page() {
    let (mut m, mut p, frames) = parent(&[0x7000]);
    let pattern: Vec<u8> = (0..4096).map(|i| (i * 7 % 251) as u8 + 1).collect();
    m.mem.write(frames[0], &pattern);
    let mut c = fork(&mut p, &mut m);
    write_byte(&mut c, &mut m, 0x7800, 0);
    let mut page = vec![0; 4096];
    c.read_bytes(&mut m, VirtAddr(0x7000), &mut page)
        .unwrap_or_else(|f| panic!("the child reading its page 0x7000: {f}"));
    let mut expected = pattern.clone();
    expected[0x800] = 0;
    if let Some(at) = (0..4096).find(|&i| page[i] != expected[i]) {
        panic!(
            "after the child wrote one byte at 0x7800 of a copy-on-write page, its byte at \
             {:#x} is {:#x}, expected {:#x} (the parent's data): the child's private frame \
             must start as a copy of the shared one (copy_frame), then take the write",
            0x7000 + at,
            page[at],
            expected[at]
        );
    }
    let mut back = vec![0; 4096];
    p.read_bytes(&mut m, VirtAddr(0x7000), &mut back)
        .unwrap_or_else(|f| panic!("the parent reading its page 0x7000: {f}"));
    assert!(
        back == pattern,
        "the parent's page 0x7000 changed after the child's write"
    );
}
