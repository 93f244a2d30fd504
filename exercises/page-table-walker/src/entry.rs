//! Page-table entries: 64-bit words holding a physical address and flags,
//! at the bit positions the x86-64 MMU reads.

use std::fmt;
use std::ops::{BitAnd, BitOr, BitOrAssign, Not};

use crate::PhysAddr;

// ANCHOR: addr_mask
/// Bits 12–51 of an entry: the physical address of the next table or of
/// the page (x86-64 allows up to 52-bit physical addresses).
pub const ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;
// ANCHOR_END: addr_mask

// ANCHOR: flags
/// The flag bits of an entry.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flags(u64);

impl Flags {
    /// No flags.
    pub const EMPTY: Flags = Flags(0);
    /// Bit 0: the entry is in use. When clear, the MMU ignores every other bit.
    pub const PRESENT: Flags = Flags(1 << 0);
    /// Bit 1: writes are allowed (at this level and below, if every level
    /// allows).
    pub const WRITABLE: Flags = Flags(1 << 1);
    /// Bit 2: user-mode code may access (if every level allows).
    pub const USER: Flags = Flags(1 << 2);
    /// Bit 3: write-through caching.
    pub const WRITE_THROUGH: Flags = Flags(1 << 3);
    /// Bit 4: caching disabled.
    pub const NO_CACHE: Flags = Flags(1 << 4);
    /// Bit 5: set by the MMU when a walk uses the entry.
    pub const ACCESSED: Flags = Flags(1 << 5);
    /// Bit 6: set by the MMU in the leaf entry when the page is written.
    pub const DIRTY: Flags = Flags(1 << 6);
    /// Bit 7, "page size": in a level-3 entry a 1 GiB page, in a level-2
    /// entry a 2 MiB page, instead of a pointer to the next table. (At level
    /// 4 the bit is reserved and at level 1 it means something else: ignore
    /// it there.)
    pub const HUGE_PAGE: Flags = Flags(1 << 7);
    /// Bit 8: the translation survives a CR3 switch.
    pub const GLOBAL: Flags = Flags(1 << 8);
    /// Bit 9, free for the operating system: this exercise marks pages
    /// shared copy-on-write with it.
    pub const COPY_ON_WRITE: Flags = Flags(1 << 9);
    /// Bit 63: instruction fetches are not allowed (if any level sets it).
    pub const NO_EXECUTE: Flags = Flags(1 << 63);

    /// The flag bits of a raw entry (everything outside [`ADDR_MASK`]).
    pub const fn from_bits(bits: u64) -> Flags {
        Flags(bits & !ADDR_MASK)
    }

    /// The raw bits.
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// Whether every flag of `other` is set in `self`.
    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    /// The flags of both (`|`, usable in constants).
    pub const fn union(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }
}
// ANCHOR_END: flags

impl BitOr for Flags {
    type Output = Flags;

    fn bitor(self, rhs: Flags) -> Flags {
        Flags(self.0 | rhs.0)
    }
}

impl BitOrAssign for Flags {
    fn bitor_assign(&mut self, rhs: Flags) {
        self.0 |= rhs.0;
    }
}

impl BitAnd for Flags {
    type Output = Flags;

    fn bitand(self, rhs: Flags) -> Flags {
        Flags(self.0 & rhs.0)
    }
}

impl Not for Flags {
    type Output = Flags;

    fn not(self) -> Flags {
        Flags::from_bits(!self.0)
    }
}

impl fmt::Debug for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [(Flags, &str); 12] = [
            (Flags::PRESENT, "PRESENT"),
            (Flags::WRITABLE, "WRITABLE"),
            (Flags::USER, "USER"),
            (Flags::WRITE_THROUGH, "WRITE_THROUGH"),
            (Flags::NO_CACHE, "NO_CACHE"),
            (Flags::ACCESSED, "ACCESSED"),
            (Flags::DIRTY, "DIRTY"),
            (Flags::HUGE_PAGE, "HUGE_PAGE"),
            (Flags::GLOBAL, "GLOBAL"),
            (Flags::COPY_ON_WRITE, "COPY_ON_WRITE"),
            (Flags::NO_EXECUTE, "NO_EXECUTE"),
            (Flags::EMPTY, ""),
        ];
        let mut rest = self.0;
        let mut first = true;
        for (flag, name) in NAMES.iter().filter(|(flag, _)| flag.0 != 0) {
            if self.contains(*flag) {
                f.write_str(if first { "" } else { " | " })?;
                f.write_str(name)?;
                rest &= !flag.0;
                first = false;
            }
        }
        if rest != 0 {
            write!(f, "{}{rest:#x}", if first { "" } else { " | " })?;
        } else if first {
            f.write_str("(empty)")?;
        }
        Ok(())
    }
}

// ANCHOR: entry
/// One entry of a page table: a 64-bit word, 512 of them per 4 KiB table.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Entry(pub u64);
// ANCHOR_END: entry

impl Entry {
    /// An entry pointing at `addr` (a frame-aligned physical address) with
    /// `flags`.
    pub const fn new(addr: PhysAddr, flags: Flags) -> Entry {
        Entry((addr.0 & ADDR_MASK) | flags.bits())
    }

    /// The entry's flags.
    pub const fn flags(self) -> Flags {
        Flags::from_bits(self.0)
    }

    /// Whether the present bit is set.
    pub const fn is_present(self) -> bool {
        self.0 & Flags::PRESENT.bits() != 0
    }

    /// Whether the page-size bit is set (see [`Flags::HUGE_PAGE`]).
    pub const fn is_huge(self) -> bool {
        self.0 & Flags::HUGE_PAGE.bits() != 0
    }

    // ANCHOR: entry_addr
    /// The physical address the entry points at: the next table's frame or
    /// the page's frame, with every flag bit (low and high) cleared.
    pub fn addr(self) -> PhysAddr {
        todo!("stage 2: keep only the address bits")
    }
    // ANCHOR_END: entry_addr
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Entry({:#x}: {:?})", self.0 & ADDR_MASK, self.flags())
    }
}
