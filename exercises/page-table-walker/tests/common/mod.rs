//! Helpers shared by the page-table-walker stages' visible tests.
//!
//! The heart of it is [`Tables`]: a machine plus a PML4, and a small builder
//! that writes page-table entries by hand (with [`Entry::new`] and
//! [`PhysMem::write_u64`]), so that the walk of stages 2–4 can be tested
//! before `AddressSpace::map` (stage 5) exists. The builder computes indices
//! with its own shifts and reads entries raw, so it does not depend on any of
//! your blanks either.

#![allow(dead_code, unreachable_pub)]

use page_table_walker::{
    ADDR_MASK, Access, AddressSpace, Entry, Fault, Flags, Level, Machine, PAGE_SIZE, PageSize,
    PhysAddr, Translation, VirtAddr,
};

/// Frames of memory in a test machine: 1 MiB, plenty for the tables of a
/// test and a few data frames.
pub const FRAMES: usize = 256;

/// The flags the builder gives an entry that points at a table: present,
/// writable, user. Then the leaf alone decides the permissions.
pub const TABLE: Flags = flags(&[Flags::PRESENT, Flags::WRITABLE, Flags::USER]);

/// Present, writable, user: a page anyone may read and write (and execute).
pub const RWU: Flags = TABLE;

/// `Flags | Flags` in a `const` context (the `BitOr` impl is not `const`).
pub const fn flags(bits: &[Flags]) -> Flags {
    let mut all = 0;
    let mut i = 0;
    while i < bits.len() {
        all |= bits[i].bits();
        i += 1;
    }
    Flags::from_bits(all)
}

/// The index of `addr` at `level`, computed here independently of
/// `VirtAddr::split`: bits 12–20 for level 1, 21–29 for level 2, and so on.
pub fn index(addr: u64, level: Level) -> u64 {
    (addr >> (12 + 9 * (u32::from(level.number()) - 1))) & 511
}

/// The level a page of `size` is mapped at.
pub fn leaf_level(size: PageSize) -> Level {
    match size {
        PageSize::Size4K => Level::Pt,
        PageSize::Size2M => Level::Pd,
        PageSize::Size1G => Level::Pdpt,
    }
}

/// A machine with a PML4 and a hand-written page-table builder.
#[derive(Debug)]
pub struct Tables {
    /// The machine whose memory holds the tables.
    pub m: Machine,
    /// The physical address of the PML4.
    pub cr3: PhysAddr,
}

impl Default for Tables {
    fn default() -> Tables {
        Tables::new()
    }
}

impl Tables {
    /// A machine of [`FRAMES`] frames with an empty PML4.
    pub fn new() -> Tables {
        let mut m = Machine::new(FRAMES);
        let cr3 = m.alloc_zeroed().expect("a fresh machine has free frames");
        Tables { m, cr3 }
    }

    /// A fresh zeroed frame, to map as data.
    pub fn frame(&mut self) -> PhysAddr {
        self.m
            .alloc_zeroed()
            .expect("the test machine ran out of frames")
    }

    /// The raw entry at `level` on the way to `addr`, and where it lives, or
    /// `None` if the walk cannot get there (an entry above is not present or
    /// is a huge page). Reads raw memory; the read is counted like any other.
    pub fn entry_at(&self, addr: u64, level: Level) -> Option<(PhysAddr, Entry)> {
        let mut table = self.cr3;
        for lvl in Level::WALK {
            let at = PhysAddr(table.0 + 8 * index(addr, lvl));
            let entry = Entry(self.m.mem.read_u64(at));
            if lvl == level {
                return Some((at, entry));
            }
            if !entry.is_present() || (lvl != Level::Pml4 && entry.is_huge()) {
                return None;
            }
            table = PhysAddr(entry.0 & ADDR_MASK);
        }
        unreachable!("every level is in Level::WALK")
    }

    /// The raw entry at `level` on the way to `addr`.
    ///
    /// # Panics
    /// If the tables above do not lead there.
    pub fn entry(&self, addr: u64, level: Level) -> Entry {
        self.entry_at(addr, level)
            .unwrap_or_else(|| panic!("test bug: no table at {level} for {addr:#x}"))
            .1
    }

    /// Overwrites the entry at `level` on the way to `addr`.
    pub fn set_entry(&mut self, addr: u64, level: Level, entry: Entry) {
        let (at, _) = self
            .entry_at(addr, level)
            .unwrap_or_else(|| panic!("test bug: no table at {level} for {addr:#x}"));
        self.m.mem.write_u64(at, entry.0);
    }

    /// Keeps the address of the entry at `level` for `addr`, replaces its flags.
    pub fn set_flags(&mut self, addr: u64, level: Level, flags: Flags) {
        let old = self.entry(addr, level);
        self.set_entry(addr, level, Entry::new(PhysAddr(old.0 & ADDR_MASK), flags));
    }

    /// Maps the page of `size` containing `addr` to `frame` with `leaf`
    /// flags (give `PRESENT` yourself; add `HUGE_PAGE` is done here for 2 MiB
    /// and 1 GiB pages). Missing tables are allocated zeroed and pointed at
    /// with [`TABLE`] flags. Returns the physical addresses of the tables on
    /// the way, root first (the PML4 included).
    pub fn map(
        &mut self,
        addr: u64,
        size: PageSize,
        frame: PhysAddr,
        leaf: Flags,
    ) -> Vec<PhysAddr> {
        let leaf_level = leaf_level(size);
        let mut table = self.cr3;
        let mut path = vec![table];
        for level in Level::WALK {
            let at = PhysAddr(table.0 + 8 * index(addr, level));
            if level == leaf_level {
                let leaf = if size == PageSize::Size4K {
                    leaf
                } else {
                    leaf | Flags::HUGE_PAGE
                };
                self.m.mem.write_u64(at, Entry::new(frame, leaf).0);
                return path;
            }
            let entry = Entry(self.m.mem.read_u64(at));
            table = if entry.is_present() {
                assert!(
                    level == Level::Pml4 || !entry.is_huge(),
                    "test bug: {addr:#x} is inside a huge page already"
                );
                PhysAddr(entry.0 & ADDR_MASK)
            } else {
                let next = self.frame();
                self.m.mem.write_u64(at, Entry::new(next, TABLE).0);
                next
            };
            path.push(table);
        }
        unreachable!("the leaf level is in Level::WALK")
    }

    /// Maps the 4 KiB page at `addr` to `frame` with `leaf` flags.
    pub fn map_4k(&mut self, addr: u64, frame: PhysAddr, leaf: Flags) -> Vec<PhysAddr> {
        self.map(addr, PageSize::Size4K, frame, leaf)
    }
}

/// Formats a translation result for a message.
pub fn show(result: &Result<Translation, Fault>) -> String {
    match result {
        Ok(t) => format!(
            "Ok: phys {}, frame {}, {:?}, flags {:?}",
            t.phys, t.frame, t.size, t.flags
        ),
        Err(fault) => format!("Err({fault:?}): {fault}"),
    }
}

/// Unwraps a translation that must succeed, with a readable message.
pub fn expect_ok(result: Result<Translation, Fault>, what: &str) -> Translation {
    match result {
        Ok(t) => t,
        Err(fault) => panic!("{what}: expected a translation, got the fault {fault:?} ({fault})"),
    }
}

/// Unwraps a fault that must happen, with a readable message.
pub fn expect_fault(result: Result<Translation, Fault>, what: &str) -> Fault {
    match result {
        Err(fault) => fault,
        Ok(t) => panic!(
            "{what}: expected a fault, but the address translated to {} ({:?} page, flags {:?})",
            t.phys, t.size, t.flags
        ),
    }
}

/// A machine and one empty address space in it.
pub fn space() -> (Machine, AddressSpace) {
    let mut m = Machine::new(FRAMES);
    let space = AddressSpace::new(&mut m).expect("a fresh machine has a free frame");
    (m, space)
}

/// A user-mode load.
pub fn user_read() -> Access {
    Access::read().user()
}

/// A user-mode store.
pub fn user_write() -> Access {
    Access::write().user()
}

/// Bytes in a 4 KiB page.
pub const PAGE: u64 = PAGE_SIZE;

/// `VirtAddr(addr)`, short.
pub fn va(addr: u64) -> VirtAddr {
    VirtAddr(addr)
}
