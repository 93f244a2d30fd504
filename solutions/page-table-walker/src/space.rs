//! Stages 5–8: an address space: building and tearing down tables, the TLB
//! in front of them, demand paging and copy-on-write fork.

use std::fmt;

use crate::walk::translation_of;
use crate::{
    Access, AccessKind, Entry, Fault, Flags, Level, Machine, PAGE_SIZE, PhysAddr, PhysMem, Tlb,
    TlbEntry, Translation, Violation, VirtAddr, Walk, check_access, walk,
};

/// The flags of an entry that points at a table: the leaf alone decides.
const TABLE_FLAGS: Flags =
    Flags::from_bits(Flags::PRESENT.bits() | Flags::WRITABLE.bits() | Flags::USER.bits());

/// Reads a whole table (one counted read) as its 512 entries.
fn read_table(mem: &PhysMem, table: PhysAddr) -> [u64; 512] {
    let mut bytes = [0_u8; PAGE_SIZE as usize];
    mem.read(table, &mut bytes);
    let mut entries = [0_u64; 512];
    for (entry, word) in entries.iter_mut().zip(bytes.chunks_exact(8)) {
        *entry = u64::from_le_bytes(word.try_into().expect("8 bytes"));
    }
    entries
}

/// Whether no entry of the table at `table` is present (one counted read).
fn table_is_empty(mem: &PhysMem, table: PhysAddr) -> bool {
    read_table(mem, table)
        .iter()
        .all(|&entry| !Entry(entry).is_present())
}

/// The frame of the table an entry at `entry_addr` lives in.
const fn table_of(entry_addr: PhysAddr) -> PhysAddr {
    PhysAddr(entry_addr.0 & !(PAGE_SIZE - 1))
}

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
        let indices = addr.split().map_err(|_| MapError::NonCanonical(addr))?;
        if addr.0 % PAGE_SIZE != 0 || !frame.is_frame_aligned() {
            return Err(MapError::Misaligned(addr, frame));
        }
        let mut table = self.cr3;
        for level in [Level::Pml4, Level::Pdpt, Level::Pd] {
            let entry_addr = table + u64::from(indices.at(level)) * 8;
            let entry = Entry(m.mem.read_u64(entry_addr));
            table = if entry.is_present() {
                if entry.is_huge() && level != Level::Pml4 {
                    return Err(MapError::AlreadyMapped(addr));
                }
                entry.addr()
            } else {
                // Every table from here down is missing: check that they all
                // fit before changing anything, so a failure leaves no
                // half-built path behind.
                if m.frames.free_count() < level.number() as usize - 1 {
                    return Err(MapError::OutOfFrames);
                }
                let new_table = m.alloc_zeroed().ok_or(MapError::OutOfFrames)?;
                m.mem
                    .write_u64(entry_addr, Entry::new(new_table, TABLE_FLAGS).0);
                new_table
            };
        }
        let entry_addr = table + u64::from(indices.pt) * 8;
        if Entry(m.mem.read_u64(entry_addr)).is_present() {
            return Err(MapError::AlreadyMapped(addr));
        }
        m.mem
            .write_u64(entry_addr, Entry::new(frame, flags | Flags::PRESENT).0);
        m.share(frame);
        Ok(())
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
        let walk = self.walk_4k(m, addr)?;
        let steps = walk.steps();
        let leaf = steps[3];
        m.mem.write_u64(leaf.entry_addr, 0);
        self.tlb.invalidate(addr);
        let frame = leaf.entry.addr();
        m.release(frame);
        // Free the PT, then the PD, then the PDPT, as long as each is left
        // empty; the entry above an empty table is cleared with it.
        for i in (1..4).rev() {
            let table = table_of(steps[i].entry_addr);
            if !table_is_empty(&m.mem, table) {
                break;
            }
            m.frames.deallocate(table);
            m.mem.write_u64(steps[i - 1].entry_addr, 0);
        }
        Ok(frame)
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
        let walk = self.walk_4k(m, addr)?;
        let leaf = walk.leaf();
        m.mem.write_u64(
            leaf.entry_addr,
            Entry::new(leaf.entry.addr(), flags | Flags::PRESENT).0,
        );
        self.tlb.invalidate(addr);
        Ok(())
    }
    // ANCHOR_END: protect

    // ANCHOR: destroy
    /// Tears the address space down: releases the frame of every 4 KiB
    /// mapping ([`Machine::release`]) and frees every table, the PML4 included.
    pub fn destroy(self, m: &mut Machine) {
        free_table(m, self.cr3, Level::Pml4);
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
        if let Some(cached) = self.tlb.lookup(addr) {
            let translation = cached.translate(addr);
            check_access(translation.flags, access, addr)?;
            return Ok(translation);
        }
        let walk = walk(&m.mem, self.cr3, addr)?;
        let translation = translation_of(&walk, addr);
        check_access(translation.flags, access, addr)?;
        let dirty = walk.leaf().entry.flags().contains(Flags::DIRTY);
        self.tlb
            .insert(addr, TlbEntry::new(addr, &translation, dirty));
        Ok(translation)
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
        let write = access.kind == AccessKind::Write;
        if let Some(cached) = self.tlb.lookup(addr) {
            let translation = cached.translate(addr);
            // A write through a clean entry walks again, to set DIRTY; a
            // forbidden access walks again too (it may be a copy-on-write
            // fault, and the walk reports the fault precisely).
            if (!write || cached.flags.contains(Flags::DIRTY))
                && check_access(translation.flags, access, addr).is_ok()
            {
                return Ok(translation);
            }
        }
        // One demand fault and one copy-on-write fault at most, then the
        // access must go through (or fail for good).
        for _ in 0..3 {
            let walk = match walk(&m.mem, self.cr3, addr) {
                Ok(walk) => walk,
                Err(fault @ Fault::NotPresent { .. }) => {
                    if self.demand_fault(m, addr) {
                        continue;
                    }
                    return Err(fault);
                }
                Err(fault) => return Err(fault),
            };
            let translation = translation_of(&walk, addr);
            if let Err(fault) = check_access(translation.flags, access, addr) {
                if matches!(
                    fault,
                    Fault::Protection {
                        violation: Violation::WriteToReadOnly,
                        ..
                    }
                ) && self.cow_fault(m, &walk, addr)
                {
                    continue;
                }
                return Err(fault);
            }
            // The MMU's part: ACCESSED in every entry read, DIRTY in the
            // leaf for a write; an entry is written only if it changes.
            let leaf = walk.steps().len() - 1;
            for (i, step) in walk.steps().iter().enumerate() {
                let mut updated = step.entry.0 | Flags::ACCESSED.bits();
                if write && i == leaf {
                    updated |= Flags::DIRTY.bits();
                }
                if updated != step.entry.0 {
                    m.mem.write_u64(step.entry_addr, updated);
                }
            }
            let dirty = write || walk.leaf().entry.flags().contains(Flags::DIRTY);
            self.tlb
                .insert(addr, TlbEntry::new(addr, &translation, dirty));
            return Ok(translation);
        }
        unreachable!("an access needs at most one demand and one copy-on-write fault")
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
        let cr3 = m.alloc_zeroed().ok_or(MapError::OutOfFrames)?;
        let child = AddressSpace {
            cr3,
            tlb: Tlb::new(self.tlb.capacity()),
            regions: self.regions.clone(),
            demand_faults: 0,
            cow_copies: 0,
        };
        // Pages made read-only in the parent must not stay writable in its TLB.
        self.tlb.flush();
        if copy_table(m, self.cr3, cr3, Level::Pml4).is_err() {
            child.destroy(m);
            return Err(MapError::OutOfFrames);
        }
        Ok(child)
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

impl AddressSpace {
    /// The walk to the 4 KiB mapping at `addr`.
    fn walk_4k(&self, m: &Machine, addr: VirtAddr) -> Result<Walk, UnmapError> {
        match walk(&m.mem, self.cr3, addr) {
            Ok(walk) if walk.leaf().level == Level::Pt => Ok(walk),
            Err(Fault::NonCanonical { .. }) => Err(UnmapError::NonCanonical(addr)),
            _ => Err(UnmapError::NotMapped(addr)),
        }
    }

    /// Handles a not-present fault at `addr`: maps a zeroed frame with the
    /// flags of the reserved region around it. `false` when `addr` is in no
    /// region (or memory is full): the fault stands.
    fn demand_fault(&mut self, m: &mut Machine, addr: VirtAddr) -> bool {
        let Some(region) = self.regions.iter().find(|r| r.contains(addr)).copied() else {
            return false;
        };
        let Some(frame) = m.alloc_zeroed() else {
            return false;
        };
        let page = VirtAddr(addr.0 & !(PAGE_SIZE - 1));
        if self.map(m, page, frame, region.flags).is_err() {
            m.frames.deallocate(frame);
            return false;
        }
        self.demand_faults += 1;
        true
    }

    /// Handles a write to a read-only page at `addr`, found by `walk`: if the
    /// leaf is a 4 KiB copy-on-write page, and the leaf is all that forbids
    /// the write (every table entry above it is writable), gives this space
    /// a writable page of its own (the same frame when nobody else shares it
    /// any more, a copy otherwise) and returns `true`.
    fn cow_fault(&mut self, m: &mut Machine, walk: &Walk, addr: VirtAddr) -> bool {
        let leaf = *walk.leaf();
        let flags = leaf.entry.flags();
        if leaf.level != Level::Pt || !flags.contains(Flags::COPY_ON_WRITE) {
            return false;
        }
        let (_, upper) = walk.steps().split_last().expect("a walk has a leaf");
        if upper
            .iter()
            .any(|step| !step.entry.flags().contains(Flags::WRITABLE))
        {
            return false;
        }
        let old = leaf.entry.addr();
        let frame = if m.refs(old) == 1 {
            old
        } else {
            let Some(copy) = m.frames.allocate() else {
                return false;
            };
            m.mem.copy_frame(old, copy);
            m.share(copy);
            m.release(old);
            self.cow_copies += 1;
            copy
        };
        let flags = (flags & !Flags::COPY_ON_WRITE) | Flags::WRITABLE;
        m.mem.write_u64(leaf.entry_addr, Entry::new(frame, flags).0);
        self.tlb.invalidate(addr);
        true
    }
}

/// Frees the table at `table` (of `level`) and every table below it,
/// releasing the frame of every 4 KiB mapping. Huge pages are left alone:
/// an address space does not create them, so it holds no reference on them.
fn free_table(m: &mut Machine, table: PhysAddr, level: Level) {
    for raw in read_table(&m.mem, table) {
        let entry = Entry(raw);
        if !entry.is_present() {
            continue;
        }
        match level.next() {
            None => {
                m.release(entry.addr());
            }
            Some(_) if entry.is_huge() && level != Level::Pml4 => {}
            Some(next) => free_table(m, entry.addr(), next),
        }
    }
    m.frames.deallocate(table);
}

/// Fills the empty table `to` (of `level`) with a copy-on-write copy of the
/// table `from`: new tables below, the same leaf entries, every writable
/// 4 KiB page made read-only and `COPY_ON_WRITE` in both, and one more
/// reference on every frame. Huge pages are copied as they are.
fn copy_table(m: &mut Machine, from: PhysAddr, to: PhysAddr, level: Level) -> Result<(), MapError> {
    for (i, raw) in read_table(&m.mem, from).into_iter().enumerate() {
        let entry = Entry(raw);
        if !entry.is_present() {
            continue;
        }
        let offset = i as u64 * 8;
        match level.next() {
            None => {
                let mut flags = entry.flags();
                if flags.contains(Flags::WRITABLE) {
                    flags = (flags & !Flags::WRITABLE) | Flags::COPY_ON_WRITE;
                    m.mem
                        .write_u64(from + offset, Entry::new(entry.addr(), flags).0);
                }
                m.mem
                    .write_u64(to + offset, Entry::new(entry.addr(), flags).0);
                m.share(entry.addr());
            }
            Some(_) if entry.is_huge() && level != Level::Pml4 => {
                m.mem.write_u64(to + offset, raw);
            }
            Some(next) => {
                let table = m.alloc_zeroed().ok_or(MapError::OutOfFrames)?;
                m.mem
                    .write_u64(to + offset, Entry::new(table, entry.flags()).0);
                copy_table(m, entry.addr(), table, next)?;
            }
        }
    }
    Ok(())
}
