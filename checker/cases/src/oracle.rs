//! The page-table walker's independent oracle: the `x86_64` crate (used by
//! real kernels) asked about the same simulated memory and the same
//! addresses as the walker under test. One copy, for the hidden suite, the
//! reference solution's property tests and benchmark, and the fuzzer.
//!
//! It speaks in plain numbers (`u64` addresses, page sizes in bytes) and
//! takes the simulated memory as bytes, so that it depends on no version of
//! the walker: the hidden suite hands it the graded crate's memory, the
//! solution's tests their own. Physical address `p` is byte `p` of
//! `memory`, as in the walker's `PhysMem` (whose `base_ptr_mut` and `size`
//! give the slice).
//!
//! - [`is_canonical`], [`split`] and [`from_indices`]: the crate's address
//!   arithmetic.
//! - [`translate`]: where the crate's `OffsetPageTable::translate` leads an
//!   address, safely: it refuses the walks it cannot make (a table outside
//!   memory, the page-size bit in a PML4 entry).
//! - [`offset_page_table`]: the crate's page table itself, for benchmarks
//!   that time it.

use x86_64::structures::paging::mapper::{MappedFrame, TranslateResult};
use x86_64::structures::paging::{
    OffsetPageTable, Page, PageTable, PageTableFlags, PageTableIndex, Size4KiB, Translate,
};

/// Bytes in a frame and in a page table.
const FRAME: u64 = 4096;

/// Bits 12–51 of an entry: the address of the next table or of the page.
const ADDR_BITS: u64 = 0x000f_ffff_ffff_f000;

/// Whether `addr` is canonical for the crate (`VirtAddr::try_new`).
pub fn is_canonical(addr: u64) -> bool {
    x86_64::VirtAddr::try_new(addr).is_ok()
}

/// The crate's split of `addr`: `[pml4, pdpt, pd, pt, offset]` (the
/// indices of levels 4 to 1, then the offset in a 4 KiB page), or `None`
/// when `addr` is not canonical.
pub fn split(addr: u64) -> Option<[u16; 5]> {
    let va = x86_64::VirtAddr::try_new(addr).ok()?;
    Some([
        u16::from(va.p4_index()),
        u16::from(va.p3_index()),
        u16::from(va.p2_index()),
        u16::from(va.p1_index()),
        u16::from(va.page_offset()),
    ])
}

/// The address the crate builds from `[pml4, pdpt, pd, pt, offset]`: the
/// start of the page with those indices (each cut to its low 9 bits, bit 47
/// copied into bits 48–63) plus the offset cut to its low 12 bits.
pub fn from_indices([pml4, pdpt, pd, pt, offset]: [u16; 5]) -> u64 {
    let index = PageTableIndex::new_truncate;
    let page =
        Page::<Size4KiB>::from_page_table_indices(index(pml4), index(pdpt), index(pd), index(pt));
    page.start_address().as_u64() + u64::from(offset & 0xfff)
}

/// What the crate's translation of an address found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Oracle {
    /// Mapped: the physical address, and the size of the page in bytes
    /// (4 KiB, 2 MiB or 1 GiB). The crate reports the leaf's flags only,
    /// not the combined permissions of the walk: those are left to a model.
    Mapped {
        /// The physical address.
        phys: u64,
        /// The page size in bytes.
        page_bytes: u64,
    },
    /// Not mapped: an entry of the walk is not present.
    NotMapped,
}

/// The crate's `OffsetPageTable::translate` of `addr` over the page tables
/// whose PML4 is at physical address `cr3` in `memory`.
///
/// `None` when the crate cannot be asked: `addr` is not canonical, `cr3`
/// is not a frame of `memory`, a table the walk would read lies outside
/// `memory`, or the PML4 entry has the page-size bit set (reserved there:
/// the crate panics on it). A present level-1 entry is mapped whatever its
/// address; a level-1 entry without its present bit is not mapped (the
/// crate itself calls any non-zero one mapped).
///
/// Panics if `memory` does not start on a 4096-byte boundary (a `PhysMem`
/// always does).
pub fn translate(memory: &mut [u8], cr3: u64, addr: u64) -> Option<Oracle> {
    if !is_canonical(addr) || !walk_stays_inside(memory, cr3, addr)? {
        return None;
    }
    // SAFETY: the walk to `addr` reads only tables inside `memory` and
    // meets no page-size bit in the PML4 entry (checked just above, with
    // the crate's own rules), and the table lives only in this function.
    let table = unsafe { offset_page_table(memory, cr3) };
    Some(match table.translate(x86_64::VirtAddr::new(addr)) {
        TranslateResult::Mapped { flags, .. } if !flags.contains(PageTableFlags::PRESENT) => {
            Oracle::NotMapped
        }
        TranslateResult::Mapped { frame, offset, .. } => {
            let page_bytes = match frame {
                MappedFrame::Size4KiB(_) => 4 << 10,
                MappedFrame::Size2MiB(_) => 2 << 20,
                MappedFrame::Size1GiB(_) => 1 << 30,
            };
            let phys = frame.start_address().as_u64() + offset;
            Oracle::Mapped { phys, page_bytes }
        }
        TranslateResult::NotMapped => Oracle::NotMapped,
        // Only a 4 KiB frame that is not 4 KiB-aligned, which a masked
        // entry never is.
        TranslateResult::InvalidFrameAddress(frame) => {
            panic!("the x86_64 crate found an invalid frame address {frame:?}")
        }
    })
}

/// Follows the walk to `addr` the way the crate will: `Some(true)` if every
/// table it reads lies inside `memory`, `Some(false)` if one does not, and
/// `None` if the PML4 entry has the page-size bit set.
fn walk_stays_inside(memory: &[u8], cr3: u64, addr: u64) -> Option<bool> {
    let size = memory.len() as u64;
    let mut table = cr3;
    for level in (1..=4).rev() {
        if table % FRAME != 0 || table.checked_add(FRAME).is_none_or(|end| end > size) {
            return Some(false);
        }
        if level == 1 {
            break;
        }
        let at = (table + ((addr >> (12 + 9 * (level - 1))) & 0x1ff) * 8) as usize;
        let entry = u64::from_le_bytes(memory[at..at + 8].try_into().expect("8 bytes"));
        let flags = PageTableFlags::from_bits_retain(entry);
        if !flags.contains(PageTableFlags::PRESENT) {
            break;
        }
        if flags.contains(PageTableFlags::HUGE_PAGE) {
            if level == 4 {
                return None;
            }
            break;
        }
        table = entry & ADDR_BITS;
    }
    Some(true)
}

/// The crate's page table over the tables whose PML4 is at physical
/// address `cr3` in `memory` (physical address `p` is `memory[p]`), for
/// timing the crate itself; prefer [`translate`], which checks the walk.
///
/// Panics if `memory` does not start on a 4096-byte boundary or `cr3` is
/// not a frame of it.
///
/// # Safety
/// Every table that a walk through the result reaches must lie inside
/// `memory`, and no walk may meet a PML4 entry with the page-size bit set
/// (the crate panics on it).
pub unsafe fn offset_page_table(memory: &mut [u8], cr3: u64) -> OffsetPageTable<'_> {
    let base = memory.as_mut_ptr();
    assert!(
        base as usize % FRAME as usize == 0,
        "the simulated memory must start on a 4096-byte boundary"
    );
    assert!(
        cr3 % FRAME == 0 && cr3 + FRAME <= memory.len() as u64,
        "CR3 {cr3:#x} is not a frame of the simulated memory"
    );
    // SAFETY: `cr3` is a 4096-aligned frame inside `memory` (checked
    // above), which starts on a 4096-byte boundary, so the 4096 bytes there
    // are a valid, initialised and aligned `PageTable` (any bits are an
    // entry); it borrows `memory` mutably for as long as the result lives.
    let pml4 = unsafe { &mut *base.add(cr3 as usize).cast::<PageTable>() };
    // SAFETY: physical address `p` lives at `base + p` for every `p` in
    // `memory`, and the caller promises that every table a walk reaches is
    // inside it.
    unsafe { OffsetPageTable::new(pml4, x86_64::VirtAddr::new(base as u64)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames of 4096 aligned bytes, as `PhysMem` keeps them.
    #[repr(C, align(4096))]
    #[derive(Clone, Copy)]
    struct Frame([u8; 4096]);

    fn memory(frames: usize) -> Vec<Frame> {
        vec![Frame([0; 4096]); frames]
    }

    fn bytes(frames: &mut [Frame]) -> &mut [u8] {
        let len = frames.len() * 4096;
        // SAFETY: `Frame` is 4096 initialised bytes without padding, so
        // the frames are `len` bytes, borrowed mutably for the result.
        unsafe { std::slice::from_raw_parts_mut(frames.as_mut_ptr().cast(), len) }
    }

    fn write(memory: &mut [u8], at: u64, entry: u64) {
        memory[at as usize..at as usize + 8].copy_from_slice(&entry.to_le_bytes());
    }

    #[test]
    fn split_and_from_indices_undo_each_other() {
        let addr = 0xffff_8123_4567_89ab;
        let indices = split(addr).expect("canonical");
        assert_eq!(from_indices(indices), addr);
        assert_eq!(split(0x0000_8000_0000_0000), None);
        assert!(!is_canonical(0x0000_8000_0000_0000));
    }

    #[test]
    fn translates_a_4k_page_and_a_2m_page() {
        let mut frames = memory(4);
        let m = bytes(&mut frames);
        // PML4 at frame 0 -> PDPT at 1 -> PD at 2 -> PT at 3.
        write(m, 0, 0x1000 | 3);
        write(m, 0x1000, 0x2000 | 3);
        write(m, 0x2000, 0x3000 | 3);
        write(m, 0x2000 + 8, 0x4000_0000 | 0x83);
        write(m, 0x3000 + 5 * 8, 0xabc_d000 | 3);
        let got = translate(m, 0, (5 << 12) | 0x123);
        let want = Oracle::Mapped {
            phys: 0xabc_d123,
            page_bytes: 4096,
        };
        assert_eq!(got, Some(want));
        let got = translate(m, 0, (1 << 21) | 0x1234);
        let want = Oracle::Mapped {
            phys: 0x4000_1234,
            page_bytes: 2 << 20,
        };
        assert_eq!(got, Some(want));
        assert_eq!(translate(m, 0, 6 << 12), Some(Oracle::NotMapped));
    }

    #[test]
    fn refuses_walks_it_cannot_make() {
        let mut frames = memory(2);
        let m = bytes(&mut frames);
        write(m, 0, 0x7000 | 3); // a PDPT outside memory
        write(m, 8, 0x1000 | 0x83); // the page-size bit in a PML4 entry
        assert_eq!(translate(m, 0, 0x1000), None);
        assert_eq!(translate(m, 0, 1 << 39), None);
        assert_eq!(translate(m, 0, 0x0000_8000_0000_0000), None);
        assert_eq!(translate(m, 0x2000, 0), None);
        assert_eq!(translate(m, 0, 2 << 39), Some(Oracle::NotMapped));
    }
}
