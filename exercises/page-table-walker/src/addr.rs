//! Stage 1: virtual addresses, split into the indices of the four-level walk.

use std::fmt;

use crate::Fault;

/// A virtual address, as a program uses it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct VirtAddr(pub u64);

impl fmt::Debug for VirtAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VirtAddr({:#x})", self.0)
    }
}

impl fmt::Display for VirtAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

// ANCHOR: level
/// A level of the walk, named after its table, numbered as the manuals do:
/// the walk starts at level 4 (the table CR3 points at) and ends at level 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Level 1: the page table (PT); its entries map 4 KiB pages.
    Pt = 1,
    /// Level 2: the page directory (PD); an entry may map a 2 MiB page.
    Pd = 2,
    /// Level 3: the page-directory-pointer table (PDPT); an entry may map a
    /// 1 GiB page.
    Pdpt = 3,
    /// Level 4: the PML4, the root.
    Pml4 = 4,
}
// ANCHOR_END: level

impl Level {
    /// The four levels in walk order: 4, 3, 2, 1.
    pub const WALK: [Level; 4] = [Level::Pml4, Level::Pdpt, Level::Pd, Level::Pt];

    /// The level's number, 1 to 4.
    pub const fn number(self) -> u8 {
        self as u8
    }

    /// The level the walk visits after this one (`None` after level 1).
    pub const fn next(self) -> Option<Level> {
        match self {
            Level::Pml4 => Some(Level::Pdpt),
            Level::Pdpt => Some(Level::Pd),
            Level::Pd => Some(Level::Pt),
            Level::Pt => None,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Level::Pml4 => "PML4",
            Level::Pdpt => "PDPT",
            Level::Pd => "PD",
            Level::Pt => "PT",
        };
        write!(f, "level {} ({name})", self.number())
    }
}

// ANCHOR: indices
/// A canonical virtual address taken apart: the index into the table of
/// each level (0–511) and the byte offset within the 4 KiB page (0–4095).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Indices {
    /// Bits 39–47: the entry of the PML4 (level 4).
    pub pml4: u16,
    /// Bits 30–38: the entry of the PDPT (level 3).
    pub pdpt: u16,
    /// Bits 21–29: the entry of the PD (level 2).
    pub pd: u16,
    /// Bits 12–20: the entry of the PT (level 1).
    pub pt: u16,
    /// Bits 0–11: the byte within the 4 KiB page.
    pub offset: u16,
}
// ANCHOR_END: indices

impl Indices {
    /// The index into the table of `level`.
    pub const fn at(&self, level: Level) -> u16 {
        match level {
            Level::Pml4 => self.pml4,
            Level::Pdpt => self.pdpt,
            Level::Pd => self.pd,
            Level::Pt => self.pt,
        }
    }
}

impl VirtAddr {
    // ANCHOR: is_canonical
    /// Whether bits 48–63 are all copies of bit 47, as x86-64 requires of
    /// every address it translates (the upper half of the 64-bit space is
    /// the kernel's, the lower half user space, and the hole between them
    /// is unusable).
    pub fn is_canonical(self) -> bool {
        todo!("stage 1: compare bits 48-63 with bit 47")
    }
    // ANCHOR_END: is_canonical

    // ANCHOR: split
    /// The four table indices and the page offset of a canonical address.
    ///
    /// # Errors
    /// [`Fault::NonCanonical`] if the address is not canonical.
    pub fn split(self) -> Result<Indices, Fault> {
        todo!("stage 1: four 9-bit fields above a 12-bit offset")
    }
    // ANCHOR_END: split

    // ANCHOR: from_indices
    /// The canonical address with these indices and offset: the inverse of
    /// [`split`](Self::split), with bit 47 copied into bits 48–63. Indices
    /// above 511 and offsets above 4095 keep only their low 9 and 12 bits.
    pub fn from_indices(indices: Indices) -> VirtAddr {
        let _ = indices;
        todo!("stage 1: shift each field into place, then sign-extend bit 47")
    }
    // ANCHOR_END: from_indices
}
