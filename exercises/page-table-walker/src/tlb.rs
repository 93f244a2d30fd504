//! Stage 6: a translation lookaside buffer, a small cache of recent
//! translations in front of the walk.

// The blanks below are where these fields get used; until then they look unused.
#![allow(dead_code)]

use crate::{Flags, PageSize, PhysAddr, Translation, VirtAddr};

// ANCHOR: tlb_entry
/// One cached translation: a whole page, of any size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TlbEntry {
    /// The virtual address of the start of the page.
    pub page: VirtAddr,
    /// The page's size.
    pub size: PageSize,
    /// The physical address of the start of the page.
    pub frame: PhysAddr,
    /// The combined permissions of the walk (as in [`Translation::flags`]),
    /// plus `DIRTY` if the leaf entry's dirty bit is set in memory when the
    /// translation is cached (whether it was set before, or by the walk that
    /// cached it).
    pub flags: Flags,
}
// ANCHOR_END: tlb_entry

impl TlbEntry {
    /// The entry caching `translation`, which was made for `addr`.
    pub fn new(addr: VirtAddr, translation: &Translation, dirty: bool) -> TlbEntry {
        let mask = translation.size.bytes() - 1;
        TlbEntry {
            page: VirtAddr(addr.0 & !mask),
            size: translation.size,
            frame: translation.frame,
            flags: if dirty {
                translation.flags | Flags::DIRTY
            } else {
                translation.flags
            },
        }
    }

    /// Whether `addr` falls in this entry's page.
    pub fn covers(&self, addr: VirtAddr) -> bool {
        addr.0 & !(self.size.bytes() - 1) == self.page.0
    }

    /// The translation of `addr`, which this entry covers.
    pub fn translate(&self, addr: VirtAddr) -> Translation {
        debug_assert!(self.covers(addr));
        Translation {
            phys: PhysAddr(self.frame.0 + (addr.0 - self.page.0)),
            frame: self.frame,
            size: self.size,
            flags: self.flags & !Flags::DIRTY,
        }
    }
}

// ANCHOR: tlb
/// A direct-mapped TLB of `slots` entries. The slot of an address is its
/// 4 KiB page number modulo the number of slots, whatever the size of the
/// page it lands in: a 2 MiB page touched at several 4 KiB pages may be
/// cached in several slots, and invalidating it must find them all.
#[derive(Debug, Clone)]
pub struct Tlb {
    pub(crate) slots: Vec<Option<TlbEntry>>,
    pub(crate) hits: u64,
    pub(crate) misses: u64,
}
// ANCHOR_END: tlb

impl Tlb {
    /// An empty TLB with `slots` slots.
    ///
    /// # Panics
    /// If `slots` is zero.
    pub fn new(slots: usize) -> Tlb {
        assert!(slots > 0, "a TLB needs at least one slot");
        Tlb {
            slots: vec![None; slots],
            hits: 0,
            misses: 0,
        }
    }

    // ANCHOR: lookup
    /// The cached entry covering `addr`, counting a hit, or `None`,
    /// counting a miss.
    pub fn lookup(&mut self, addr: VirtAddr) -> Option<TlbEntry> {
        let _ = addr;
        todo!("stage 6: look in the slot of addr's 4 KiB page number")
    }
    // ANCHOR_END: lookup

    // ANCHOR: insert
    /// Caches `entry`, which was looked up for `addr`, in `addr`'s slot
    /// (replacing whatever was there).
    pub fn insert(&mut self, addr: VirtAddr, entry: TlbEntry) {
        let _ = (addr, entry);
        todo!("stage 6: store the entry in addr's slot")
    }
    // ANCHOR_END: insert

    // ANCHOR: invalidate
    /// Drops every cached entry that covers `addr` (what `invlpg` does).
    pub fn invalidate(&mut self, addr: VirtAddr) {
        let _ = addr;
        todo!(
            "stage 6: every slot whose entry covers addr, \
             not just addr's own slot"
        )
    }
    // ANCHOR_END: invalidate

    /// Drops every cached entry (what reloading CR3 does).
    pub fn flush(&mut self) {
        todo!("stage 6: empty every slot")
    }

    /// Lookups that found an entry.
    pub fn hits(&self) -> u64 {
        self.hits
    }

    /// Lookups that found none.
    pub fn misses(&self) -> u64 {
        self.misses
    }

    /// Entries cached now.
    pub fn len(&self) -> usize {
        self.slots.iter().filter(|s| s.is_some()).count()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Slots in the TLB.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }
}
