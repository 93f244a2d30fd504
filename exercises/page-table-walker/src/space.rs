//! Stages 5–8: an address space: building and tearing down tables, the TLB
//! in front of them, demand paging and copy-on-write fork.

// The blanks below are where these fields get used; until then they look unused.
#![allow(dead_code)]

use std::fmt;

#[allow(unused_imports)] // you will want these
use crate::{
    Access, AccessKind, Entry, Fault, Flags, Level, Machine, PAGE_SIZE, PhysAddr, Tlb, TlbEntry,
    Translation, Violation, VirtAddr, check_access, walk,
};

// ANCHOR: map_error
/// Why [`AddressSpace::map`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MapError {
    /// The virtual address is not canonical.
    NonCanonical(VirtAddr),
    /// The virtual address or the frame is not 4 KiB aligned.
    Misaligned(VirtAddr, PhysAddr),
    /// Something is mapped there already (a 4 KiB page, or a huge page
    /// covering the address).
    AlreadyMapped(VirtAddr),
    /// A table was needed and no frame was free.
    OutOfFrames,
}

/// Why [`AddressSpace::unmap`] or [`AddressSpace::protect`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnmapError {
    /// The virtual address is not canonical.
    NonCanonical(VirtAddr),
    /// No 4 KiB page is mapped at the address (or it is inside a huge page,
    /// which this address space does not manage).
    NotMapped(VirtAddr),
}
// ANCHOR_END: map_error

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MapError::NonCanonical(addr) => write!(f, "cannot map {addr}: not canonical"),
            MapError::Misaligned(addr, frame) => write!(
                f,
                "cannot map {addr} to {frame}: both must be multiples of 4096"
            ),
            MapError::AlreadyMapped(addr) => write!(f, "cannot map {addr}: already mapped"),
            MapError::OutOfFrames => f.write_str("cannot map: no free frame for a page table"),
        }
    }
}

impl fmt::Display for UnmapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnmapError::NonCanonical(addr) => write!(f, "{addr} is not canonical"),
            UnmapError::NotMapped(addr) => write!(f, "no 4 KiB page is mapped at {addr}"),
        }
    }
}

impl std::error::Error for MapError {}
impl std::error::Error for UnmapError {}

/// A range of pages mapped on first touch (stage 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Region {
    pub(crate) start: VirtAddr,
    pub(crate) pages: u64,
    pub(crate) flags: Flags,
}

impl Region {
    pub(crate) fn contains(&self, addr: VirtAddr) -> bool {
        addr.0 >= self.start.0 && (addr.0 - self.start.0) / PAGE_SIZE < self.pages
    }
}

// ANCHOR: space
/// One process's view of memory: a PML4 in the machine's memory, the TLB
/// that caches its translations, and the regions it maps on demand.
///
/// The machine is passed to every call rather than owned, because several
/// address spaces share one machine (stage 8).
#[derive(Debug, Clone)]
pub struct AddressSpace {
    pub(crate) cr3: PhysAddr,
    pub(crate) tlb: Tlb,
    pub(crate) regions: Vec<Region>,
    /// Demand-paging faults handled (stage 7).
    pub(crate) demand_faults: u64,
    /// Frames copied on a copy-on-write fault (stage 8).
    pub(crate) cow_copies: u64,
}
// ANCHOR_END: space

impl AddressSpace {
    /// Slots in every address space's TLB.
    pub const TLB_SLOTS: usize = 64;

    /// An empty address space: a zeroed PML4 from `m`.
    ///
    /// # Errors
    /// [`MapError::OutOfFrames`] if no frame is free.
    pub fn new(m: &mut Machine) -> Result<AddressSpace, MapError> {
        let cr3 = m.alloc_zeroed().ok_or(MapError::OutOfFrames)?;
        Ok(AddressSpace {
            cr3,
            tlb: Tlb::new(Self::TLB_SLOTS),
            regions: Vec::new(),
            demand_faults: 0,
            cow_copies: 0,
        })
    }

    /// The physical address of the PML4 (what CR3 holds while this address
    /// space runs).
    pub fn cr3(&self) -> PhysAddr {
        self.cr3
    }

    /// The TLB, for its counters.
    pub fn tlb(&self) -> &Tlb {
        &self.tlb
    }

    /// Forgets every cached translation.
    pub fn flush_tlb(&mut self) {
        self.tlb.flush();
    }

    // ANCHOR: map
    /// Maps the 4 KiB page at `addr` to `frame` with `flags` (plus
    /// `PRESENT`), creating the missing tables on the way from zeroed
    /// frames. Entries that point at tables get `PRESENT | WRITABLE | USER`,
    /// so that the leaf alone decides the permissions. Records the new
    /// mapping of `frame` with [`Machine::share`].
    ///
    /// # Errors
    /// See [`MapError`]; nothing is changed when `addr` is already mapped.
    pub fn map(
        &mut self,
        m: &mut Machine,
        addr: VirtAddr,
        frame: PhysAddr,
        flags: Flags,
    ) -> Result<(), MapError> {
        let _ = (m, addr, frame, flags);
        todo!(
            "stage 5: walk down, creating tables; \
             refuse to overwrite; write the leaf"
        )
    }
    // ANCHOR_END: map

    // ANCHOR: unmap
    /// Removes the 4 KiB mapping at `addr` and returns the frame it mapped.
    /// Drops the mapping's reference with [`Machine::release`] (which frees
    /// the frame when it was the last), then frees every table left empty
    /// (a PT, then its PD, then its PDPT; never the PML4) and clears the
    /// entry that pointed at it. Stage 6: the TLB must not keep the old
    /// translation.
    ///
    /// # Errors
    /// See [`UnmapError`]; nothing is changed on error.
    pub fn unmap(
        &mut self,
        m: &mut Machine,
        addr: VirtAddr, // any address in the page
    ) -> Result<PhysAddr, UnmapError> {
        let _ = (m, addr);
        todo!(
            "stage 5: clear the leaf, release the frame, \
             free empty tables bottom-up"
        )
    }
    // ANCHOR_END: unmap

    // ANCHOR: protect
    /// Replaces the flags of the 4 KiB mapping at `addr` with `flags` (plus
    /// `PRESENT`), keeping its frame. Stage 6: the TLB must not keep the old
    /// permissions.
    ///
    /// # Errors
    /// See [`UnmapError`].
    pub fn protect(
        &mut self,
        m: &mut Machine,
        addr: VirtAddr,
        flags: Flags,
    ) -> Result<(), UnmapError> {
        let _ = (m, addr, flags);
        todo!("stage 5: rewrite the leaf entry with the new flags")
    }
    // ANCHOR_END: protect

    // ANCHOR: destroy
    /// Tears the address space down: releases the frame of every 4 KiB
    /// mapping ([`Machine::release`]) and frees every table, the PML4 included.
    pub fn destroy(self, m: &mut Machine) {
        let _ = m;
        todo!("stage 5: visit every table below the PML4, depth first")
    }
    // ANCHOR_END: destroy

    // ANCHOR: translate
    /// Translates `addr` for `access`, through the TLB: a hit costs no read
    /// of memory; a miss walks the tables and caches the result. Faults are
    /// never cached. Changes nothing in memory (no accessed or dirty bits).
    ///
    /// # Errors
    /// As [`crate::translate`].
    pub fn translate(
        &mut self,
        m: &Machine,
        addr: VirtAddr,
        access: Access,
    ) -> Result<Translation, Fault> {
        let _ = (m, addr, access);
        todo!(
            "stage 6: look up the TLB first; \
             on a miss walk, check and insert"
        )
    }
    // ANCHOR_END: translate

    /// Registers `pages` pages from `start` (page-aligned) to be mapped on
    /// first touch with `flags` (stage 7).
    pub fn reserve(&mut self, start: VirtAddr, pages: u64, flags: Flags) {
        assert!(
            start.0 % PAGE_SIZE == 0,
            "reserve({start}): not page-aligned"
        );
        self.regions.push(Region {
            start,
            pages,
            flags,
        });
    }

    // ANCHOR: access
    /// Performs `access` at `addr` the way the CPU and the kernel together
    /// would, and returns the translation used:
    ///
    /// - On a TLB miss, the walk sets `ACCESSED` in every entry it reads
    ///   and, for a write, `DIRTY` in the leaf (writing an entry only when a
    ///   bit changes), then caches the translation. A write that hits a TLB
    ///   entry without `DIRTY` walks again, to set the bit.
    /// - Stage 7: a page that is not present but lies in a reserved region
    ///   gets a zeroed frame mapped with the region's flags, and the access
    ///   is retried (a demand fault).
    /// - Stage 8: a write to a page marked `COPY_ON_WRITE` gets its own copy
    ///   of the frame (or, if no other mapping shares the frame any more,
    ///   the same frame made writable again), and the access is retried.
    ///
    /// # Errors
    /// Every other fault, as [`crate::translate`] reports it.
    pub fn access(
        &mut self,
        m: &mut Machine,
        addr: VirtAddr,
        access: Access,
    ) -> Result<Translation, Fault> {
        let _ = (m, addr, access);
        todo!(
            "stage 7: accessed/dirty bits and demand faults; \
             stage 8: copy-on-write faults"
        )
    }
    // ANCHOR_END: access

    // ANCHOR: fork
    /// A copy of this address space that shares every frame copy-on-write:
    /// new tables all the way down; each leaf entry copied into them; every
    /// writable page made read-only and marked `COPY_ON_WRITE` in both
    /// spaces; one more reference ([`Machine::share`]) on every shared frame.
    /// The reserved regions are copied too. The parent's cached
    /// translations are now too permissive.
    ///
    /// # Errors
    /// [`MapError::OutOfFrames`] if the new tables do not fit.
    pub fn fork(&mut self, m: &mut Machine) -> Result<AddressSpace, MapError> {
        let _ = m;
        todo!("stage 8: copy the tables, share the frames read-only")
    }
    // ANCHOR_END: fork

    /// Demand faults handled so far (stage 7).
    pub fn demand_faults(&self) -> u64 {
        self.demand_faults
    }

    /// Frames copied by copy-on-write faults so far (stage 8).
    pub fn cow_copies(&self) -> u64 {
        self.cow_copies
    }

    /// Reads `buf.len()` bytes at `addr` with user-mode loads through
    /// [`access`](Self::access).
    ///
    /// # Errors
    /// The first fault.
    pub fn read_bytes(
        &mut self,
        m: &mut Machine,
        addr: VirtAddr,
        buf: &mut [u8],
    ) -> Result<(), Fault> {
        let mut done = 0;
        while done < buf.len() {
            let at = VirtAddr(addr.0 + done as u64);
            let t = self.access(m, at, Access::read().user())?;
            let in_page = (PAGE_SIZE - at.0 % PAGE_SIZE) as usize;
            let n = in_page.min(buf.len() - done);
            m.mem.read(t.phys, &mut buf[done..done + n]);
            done += n;
        }
        Ok(())
    }

    /// Writes `data` at `addr` with user-mode stores through
    /// [`access`](Self::access).
    ///
    /// # Errors
    /// The first fault.
    pub fn write_bytes(
        &mut self,
        m: &mut Machine,
        addr: VirtAddr,
        data: &[u8],
    ) -> Result<(), Fault> {
        let mut done = 0;
        while done < data.len() {
            let at = VirtAddr(addr.0 + done as u64);
            let t = self.access(m, at, Access::write().user())?;
            let in_page = (PAGE_SIZE - at.0 % PAGE_SIZE) as usize;
            let n = in_page.min(data.len() - done);
            m.mem.write(t.phys, &data[done..done + n]);
            done += n;
        }
        Ok(())
    }
}
