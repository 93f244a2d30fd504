//! Stages 2–4: the four-level walk, permissions and huge pages.

use crate::{Entry, Fault, Flags, Level, PhysAddr, PhysMem, Violation, VirtAddr};

// ANCHOR: access
/// What kind of access a translation is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccessKind {
    /// A load.
    Read,
    /// A store.
    Write,
    /// An instruction fetch.
    Execute,
}

/// An access: its kind, and whether the CPU is in user mode (ring 3) or
/// supervisor mode (ring 0). Supervisor code may use user pages (the
/// exercise leaves out SMEP and SMAP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Access {
    /// Load, store or fetch.
    pub kind: AccessKind,
    /// Whether the access comes from user mode.
    pub user: bool,
}
// ANCHOR_END: access

impl Access {
    /// A supervisor-mode load.
    pub const fn read() -> Access {
        Access {
            kind: AccessKind::Read,
            user: false,
        }
    }

    /// A supervisor-mode store.
    pub const fn write() -> Access {
        Access {
            kind: AccessKind::Write,
            user: false,
        }
    }

    /// A supervisor-mode instruction fetch.
    pub const fn execute() -> Access {
        Access {
            kind: AccessKind::Execute,
            user: false,
        }
    }

    /// The same access from user mode.
    pub const fn user(self) -> Access {
        Access { user: true, ..self }
    }
}

// ANCHOR: page_size
/// The size of the page a translation lands in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PageSize {
    /// 4 KiB, mapped by a level-1 entry; 12 offset bits.
    Size4K,
    /// 2 MiB, mapped by a level-2 entry with the page-size bit; 21 offset bits.
    Size2M,
    /// 1 GiB, mapped by a level-3 entry with the page-size bit; 30 offset bits.
    Size1G,
}
// ANCHOR_END: page_size

impl PageSize {
    /// Bytes in a page of this size.
    pub const fn bytes(self) -> u64 {
        1 << self.offset_bits()
    }

    /// Bits of the address that are the offset within the page.
    pub const fn offset_bits(self) -> u32 {
        match self {
            PageSize::Size4K => 12,
            PageSize::Size2M => 21,
            PageSize::Size1G => 30,
        }
    }

    /// The page size a leaf entry at `level` maps.
    pub const fn of_leaf(level: Level) -> PageSize {
        match level {
            Level::Pt => PageSize::Size4K,
            Level::Pd => PageSize::Size2M,
            Level::Pdpt | Level::Pml4 => PageSize::Size1G,
        }
    }
}

// ANCHOR: walk_types
/// One entry the walk read: which level, where the entry lives in physical
/// memory, and its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// The level of the table the entry is in.
    pub level: Level,
    /// The physical address of the entry: the table's frame plus eight
    /// times the index.
    pub entry_addr: PhysAddr,
    /// The entry's value.
    pub entry: Entry,
}

/// The entries of one successful walk, root first: four for a 4 KiB page,
/// three for a 2 MiB page, two for a 1 GiB page. The last one is the leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Walk {
    steps: [Step; 4],
    len: usize,
}
// ANCHOR_END: walk_types

impl Walk {
    /// A walk that has read nothing yet.
    pub const fn new() -> Walk {
        Walk {
            steps: [Step {
                level: Level::Pml4,
                entry_addr: PhysAddr(0),
                entry: Entry(0),
            }; 4],
            len: 0,
        }
    }

    /// Records the entry read at `level`, stored at `entry_addr`.
    ///
    /// # Panics
    /// After four steps: a walk has at most four levels.
    pub fn push(&mut self, level: Level, entry_addr: PhysAddr, entry: Entry) {
        assert!(self.len < 4, "a walk has at most four steps");
        self.steps[self.len] = Step {
            level,
            entry_addr,
            entry,
        };
        self.len += 1;
    }

    /// The entries read, root first.
    pub fn steps(&self) -> &[Step] {
        &self.steps[..self.len]
    }

    /// The leaf: the entry that maps the page.
    ///
    /// # Panics
    /// If the walk is empty.
    pub fn leaf(&self) -> &Step {
        self.steps().last().expect("a finished walk has a leaf")
    }

    /// The size of the page the leaf maps.
    pub fn page_size(&self) -> PageSize {
        PageSize::of_leaf(self.leaf().level)
    }
}

impl Default for Walk {
    fn default() -> Walk {
        Walk::new()
    }
}

// ANCHOR: translation
/// A successful translation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Translation {
    /// The physical address the virtual address maps to.
    pub phys: PhysAddr,
    /// The physical address of the start of the page.
    pub frame: PhysAddr,
    /// The size of the page.
    pub size: PageSize,
    /// The permissions of the whole walk: `PRESENT`, plus `WRITABLE` and
    /// `USER` if every level sets them, plus `NO_EXECUTE` if any level sets
    /// it. No other bits.
    pub flags: Flags,
}
// ANCHOR_END: translation

// ANCHOR: walk
/// Walks the tables from `cr3` (the physical address of the PML4) for
/// `addr`, reading one entry per level through `mem`, and returns every
/// entry it read.
///
/// The walk stops early at a level-3 or level-2 entry with the page-size
/// bit (a 1 GiB or 2 MiB page, stage 4). Permissions are not checked here.
///
/// # Errors
/// [`Fault::NonCanonical`] for a non-canonical address (before any read);
/// [`Fault::NotPresent`] with the level of the first entry that is not
/// present.
pub fn walk(mem: &PhysMem, cr3: PhysAddr, addr: VirtAddr) -> Result<Walk, Fault> {
    let indices = addr.split()?;
    let mut walk = Walk::new();
    let mut table = cr3;
    for level in Level::WALK {
        let entry_addr = table + u64::from(indices.at(level)) * 8;
        let entry = Entry(mem.read_u64(entry_addr));
        if !entry.is_present() {
            return Err(Fault::NotPresent { addr, level });
        }
        walk.push(level, entry_addr, entry);
        if level == Level::Pt || (entry.is_huge() && matches!(level, Level::Pdpt | Level::Pd)) {
            return Ok(walk);
        }
        table = entry.addr();
    }
    unreachable!("the walk ends at level 1 at the latest")
}
// ANCHOR_END: walk

// ANCHOR: check_access
/// Whether `access` is allowed on a page whose combined permissions are
/// `flags` (as in [`Translation::flags`]).
///
/// # Errors
/// [`Fault::Protection`] for `addr` with the first broken rule, in the
/// order of [`crate::Violation`]: user access to a supervisor page, then a
/// write to a read-only page, then a fetch from a no-execute page.
pub fn check_access(
    flags: Flags,
    access: Access,
    addr: VirtAddr, // where the access was made (for the fault)
) -> Result<(), Fault> {
    let violation = if access.user && !flags.contains(Flags::USER) {
        Violation::UserToSupervisor
    } else if access.kind == AccessKind::Write && !flags.contains(Flags::WRITABLE) {
        Violation::WriteToReadOnly
    } else if access.kind == AccessKind::Execute && flags.contains(Flags::NO_EXECUTE) {
        Violation::ExecuteNoExecute
    } else {
        return Ok(());
    };
    Err(Fault::Protection { addr, violation })
}
// ANCHOR_END: check_access

// ANCHOR: translate
/// Translates `addr` for `access`: walks the tables, combines the
/// permissions of every level, checks the access, and adds the offset
/// within the page (12, 21 or 30 bits) to the leaf's frame.
///
/// # Errors
/// The faults of [`walk`], then those of [`check_access`].
pub fn translate(
    mem: &PhysMem,
    cr3: PhysAddr,
    addr: VirtAddr,
    access: Access,
) -> Result<Translation, Fault> {
    // The same walk as `walk`, without recording the steps: the permissions
    // are combined on the way down, in two words.
    let indices = addr.split()?;
    let mut all = !0_u64; // WRITABLE and USER survive only if every level sets them
    let mut any = 0_u64; // NO_EXECUTE counts if any level sets it
    let mut table = cr3;
    for level in Level::WALK {
        let entry = Entry(mem.read_u64(table + u64::from(indices.at(level)) * 8));
        if !entry.is_present() {
            return Err(Fault::NotPresent { addr, level });
        }
        all &= entry.0;
        any |= entry.0;
        if level == Level::Pt || (entry.is_huge() && matches!(level, Level::Pdpt | Level::Pd)) {
            let size = PageSize::of_leaf(level);
            let translation = leaf_translation(addr, entry, size, all, any);
            check_access(translation.flags, access, addr)?;
            return Ok(translation);
        }
        table = entry.addr();
    }
    unreachable!("the walk ends at level 1 at the latest")
}
// ANCHOR_END: translate

/// The combined permissions of a walk: `all` is the AND of its entries,
/// `any` their OR.
#[inline]
const fn combined_flags(all: u64, any: u64) -> Flags {
    Flags::from_bits(
        Flags::PRESENT.bits()
            | (all & (Flags::WRITABLE.bits() | Flags::USER.bits()))
            | (any & Flags::NO_EXECUTE.bits()),
    )
}

/// The translation of `addr` by the leaf `entry` of a walk whose entries
/// ANDed give `all` and ORed give `any`.
#[inline]
fn leaf_translation(
    addr: VirtAddr,
    entry: Entry,
    size: PageSize,
    all: u64,
    any: u64,
) -> Translation {
    let mask = size.bytes() - 1;
    // In a huge-page entry the low address bits (12 to 20 or 29) are not
    // part of the frame (bit 12 is the PAT bit there).
    let frame = PhysAddr(entry.addr().0 & !mask);
    Translation {
        phys: PhysAddr(frame.0 | (addr.0 & mask)),
        frame,
        size,
        flags: combined_flags(all, any),
    }
}

/// The translation a finished walk gives for `addr` (permissions not checked).
pub(crate) fn translation_of(walk: &Walk, addr: VirtAddr) -> Translation {
    let (all, any) = walk
        .steps()
        .iter()
        .fold((!0_u64, 0_u64), |(all, any), step| {
            (all & step.entry.0, any | step.entry.0)
        });
    leaf_translation(addr, walk.leaf().entry, walk.page_size(), all, any)
}
