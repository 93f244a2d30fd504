//! oslings reference solution 4: an x86-64 page-table walker, complete.
//!
//! Same public API as the exercise crate `page-table-walker`; the checker's
//! hidden tests and benchmark compile against either. Graded with
//! `cargo run -p checker -- --against solutions page-table-walker`.
//!
//! The page tables are real x86-64 four-level tables (the same bits the MMU
//! reads), kept in simulated physical memory: [`PhysMem`] is a buffer of
//! 4 KiB frames that counts every read and write, so tests can see how much
//! work a translation did.
//!
//! | stage | where | what it holds |
//! |---|---|---|
//! | 1 | [`VirtAddr::split`], [`VirtAddr::from_indices`] | four 9-bit indices and a 12-bit offset; canonical addresses |
//! | 2 | [`Entry::addr`], [`walk`], [`translate`] | the four-level walk from CR3 |
//! | 3 | [`check_access`], [`translate`] | permissions combined across every level |
//! | 4 | [`walk`], [`translate`] | 2 MiB and 1 GiB pages |
//! | 5 | [`AddressSpace::map`], [`AddressSpace::unmap`], [`AddressSpace::protect`], [`AddressSpace::destroy`] | building and tearing down tables |
//! | 6 | [`Tlb`], [`AddressSpace::translate`] | a translation cache that is never stale |
//! | 7 | [`AddressSpace::access`] | accessed and dirty bits, demand paging |
//! | 8 | [`AddressSpace::fork`], [`AddressSpace::access`] | copy-on-write |

mod addr;
mod entry;
mod fault;
mod mem;
mod space;
mod tlb;
mod walk;

pub use addr::{Indices, Level, VirtAddr};
pub use entry::{ADDR_MASK, Entry, Flags};
pub use fault::{Fault, Violation};
pub use mem::{FrameAllocator, Machine, PAGE_SIZE, PhysAddr, PhysMem};
pub use space::{AddressSpace, MapError, UnmapError};
pub use tlb::{Tlb, TlbEntry};
pub use walk::{
    Access, AccessKind, PageSize, Step, Translation, Walk, check_access, translate, walk,
};
