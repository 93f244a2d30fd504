//! Simulated physical memory: frames, a frame allocator, and the machine
//! that holds them. Everything here is given; the walker reads and writes
//! memory only through [`PhysMem`], which counts every access.

use std::cell::Cell;
use std::fmt;
use std::ops::{Add, Range};

/// Bytes in a page and in a frame: 4 KiB.
pub const PAGE_SIZE: u64 = 4096;

/// A physical address: a byte offset into [`PhysMem`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PhysAddr(pub u64);

impl PhysAddr {
    /// The address of frame number `n`.
    pub const fn from_frame(n: u64) -> PhysAddr {
        PhysAddr(n * PAGE_SIZE)
    }

    /// The number of the frame this address falls in.
    pub const fn frame_number(self) -> u64 {
        self.0 / PAGE_SIZE
    }

    /// Whether the address is the start of a frame.
    pub const fn is_frame_aligned(self) -> bool {
        self.0 % PAGE_SIZE == 0
    }
}

impl Add<u64> for PhysAddr {
    type Output = PhysAddr;

    fn add(self, rhs: u64) -> PhysAddr {
        PhysAddr(self.0 + rhs)
    }
}

impl fmt::Debug for PhysAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhysAddr({:#x})", self.0)
    }
}

impl fmt::Display for PhysAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

/// One 4 KiB frame, aligned like a real one (so that the `x86_64` crate's
/// page-table types can be laid over it).
#[derive(Clone)]
#[repr(C, align(4096))]
struct Frame([u8; PAGE_SIZE as usize]);

// ANCHOR: phys_mem
/// Physical memory: `frames` zeroed frames at physical addresses
/// `0 .. frames * PAGE_SIZE`, with counters of the reads and writes made
/// through it.
///
/// An access outside memory panics with a message: in this exercise it
/// almost always means an entry's flag bits were used as part of an address.
pub struct PhysMem {
    frames: Box<[Frame]>,
    reads: Cell<u64>,
    writes: Cell<u64>,
}
// ANCHOR_END: phys_mem

impl fmt::Debug for PhysMem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PhysMem")
            .field("frames", &self.frames.len())
            .field("reads", &self.reads.get())
            .field("writes", &self.writes.get())
            .finish()
    }
}

impl PhysMem {
    /// `frames` frames of zeroed memory.
    pub fn new(frames: usize) -> PhysMem {
        PhysMem {
            frames: vec![Frame([0; PAGE_SIZE as usize]); frames].into_boxed_slice(),
            reads: Cell::new(0),
            writes: Cell::new(0),
        }
    }

    /// Frames of memory.
    pub fn frame_count(&self) -> u64 {
        self.frames.len() as u64
    }

    /// Bytes of memory.
    pub fn size(&self) -> u64 {
        self.frame_count() * PAGE_SIZE
    }

    fn range(&self, addr: PhysAddr, len: usize, what: &str) -> Range<usize> {
        let end = addr.0.checked_add(len as u64);
        match end {
            Some(end) if end <= self.size() => addr.0 as usize..end as usize,
            _ => panic!(
                "{what} of {len} bytes at physical address {addr} is outside memory \
                 ({} frames, addresses 0x0..{:#x}). If that address came from a page-table \
                 entry: were its flag bits masked off (Entry::addr)? Was a huge page's \
                 entry (PS set: a 2 MiB or 1 GiB frame) read as if it pointed to a table?",
                self.frame_count(),
                self.size()
            ),
        }
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: `Frame` is `repr(C)` around a byte array with no padding
        // (its size equals its alignment), so the boxed slice of frames is
        // `frames * PAGE_SIZE` initialised, contiguous bytes.
        unsafe {
            std::slice::from_raw_parts(self.frames.as_ptr().cast::<u8>(), self.size() as usize)
        }
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        let len = self.size() as usize;
        // SAFETY: as in `bytes`, and `&mut self` makes the borrow unique.
        unsafe { std::slice::from_raw_parts_mut(self.frames.as_mut_ptr().cast::<u8>(), len) }
    }

    // ANCHOR: read_u64
    /// Reads the little-endian 64-bit word at `addr` (one counted read).
    ///
    /// # Panics
    /// If `addr` is not 8-byte aligned or lies outside memory.
    pub fn read_u64(&self, addr: PhysAddr) -> u64 {
        assert!(
            addr.0 % 8 == 0,
            "read of a 64-bit word at {addr}, which is not 8-byte aligned: \
             table entries sit at table + index * 8"
        );
        let range = self.range(addr, 8, "a read");
        self.reads.set(self.reads.get() + 1);
        u64::from_le_bytes(self.bytes()[range].try_into().expect("8 bytes"))
    }
    // ANCHOR_END: read_u64

    /// Writes the 64-bit word at `addr` (one counted write).
    ///
    /// # Panics
    /// If `addr` is not 8-byte aligned or lies outside memory.
    pub fn write_u64(&mut self, addr: PhysAddr, value: u64) {
        assert!(
            addr.0 % 8 == 0,
            "write of a 64-bit word at {addr}, which is not 8-byte aligned: table entries sit at table + index * 8"
        );
        let range = self.range(addr, 8, "a write");
        self.writes.set(self.writes.get() + 1);
        self.bytes_mut()[range].copy_from_slice(&value.to_le_bytes());
    }

    /// Copies `buf.len()` bytes starting at `addr` into `buf` (one counted read).
    pub fn read(&self, addr: PhysAddr, buf: &mut [u8]) {
        let range = self.range(addr, buf.len(), "a read");
        self.reads.set(self.reads.get() + 1);
        buf.copy_from_slice(&self.bytes()[range]);
    }

    /// Copies `data` into memory starting at `addr` (one counted write).
    pub fn write(&mut self, addr: PhysAddr, data: &[u8]) {
        let range = self.range(addr, data.len(), "a write");
        self.writes.set(self.writes.get() + 1);
        self.bytes_mut()[range].copy_from_slice(data);
    }

    /// Fills the frame at `frame` with zeros (one counted write).
    pub fn zero_frame(&mut self, frame: PhysAddr) {
        self.write(frame, &[0; PAGE_SIZE as usize]);
    }

    /// Copies the frame at `from` over the frame at `to` (one counted read
    /// and one counted write).
    pub fn copy_frame(&mut self, from: PhysAddr, to: PhysAddr) {
        let mut page = [0; PAGE_SIZE as usize];
        self.read(from, &mut page);
        self.write(to, &page);
    }

    /// Reads made so far (or since [`reset_counters`](Self::reset_counters)).
    pub fn reads(&self) -> u64 {
        self.reads.get()
    }

    /// Writes made so far (or since [`reset_counters`](Self::reset_counters)).
    pub fn writes(&self) -> u64 {
        self.writes.get()
    }

    /// Sets both counters back to zero.
    pub fn reset_counters(&self) {
        self.reads.set(0);
        self.writes.set(0);
    }

    /// Where physical address 0 lives in this process: physical address `p`
    /// is at `base_ptr() + p`. For tools that read tables in place (such as
    /// the `x86_64` crate's `OffsetPageTable`); such reads are not counted.
    pub fn base_ptr(&self) -> *const u8 {
        self.frames.as_ptr().cast()
    }

    /// [`base_ptr`](Self::base_ptr) for tools that need a mutable pointer
    /// (the `x86_64` crate's page-table types take `&mut`); writes through
    /// it are not counted either.
    pub fn base_ptr_mut(&mut self) -> *mut u8 {
        self.frames.as_mut_ptr().cast()
    }
}

// ANCHOR: frame_allocator
/// Hands out free frames one at a time, lowest address first, and takes
/// them back. Freeing a frame twice, or one it never handed out, panics:
/// both are bugs in the code that called it.
#[derive(Debug, Clone)]
pub struct FrameAllocator {
    /// Free frames, the next one to hand out last.
    free: Vec<PhysAddr>,
    /// For every frame number in `range`, whether it is handed out.
    in_use: Vec<bool>,
    range: Range<u64>,
}
// ANCHOR_END: frame_allocator

impl FrameAllocator {
    /// An allocator owning the frames numbered `frames` (all free).
    pub fn new(frames: Range<u64>) -> FrameAllocator {
        FrameAllocator {
            free: frames.clone().rev().map(PhysAddr::from_frame).collect(),
            in_use: vec![false; (frames.end - frames.start) as usize],
            range: frames,
        }
    }

    /// A free frame (its contents are whatever was there), or `None` when
    /// every frame is in use.
    pub fn allocate(&mut self) -> Option<PhysAddr> {
        let frame = self.free.pop()?;
        self.in_use[(frame.frame_number() - self.range.start) as usize] = true;
        Some(frame)
    }

    /// Gives `frame` back.
    ///
    /// # Panics
    /// If `frame` is not frame-aligned, not one of this allocator's frames,
    /// or already free.
    pub fn deallocate(&mut self, frame: PhysAddr) {
        assert!(
            frame.is_frame_aligned(),
            "deallocate({frame}): not the start of a frame"
        );
        let n = frame.frame_number();
        assert!(
            self.range.contains(&n),
            "deallocate({frame}): frame {n} does not belong to this allocator (frames {:?})",
            self.range
        );
        let slot = &mut self.in_use[(n - self.range.start) as usize];
        assert!(
            *slot,
            "deallocate({frame}): the frame is already free (freed twice?)"
        );
        *slot = false;
        self.free.push(frame);
    }

    /// Whether `frame` is currently handed out.
    pub fn is_allocated(&self, frame: PhysAddr) -> bool {
        let n = frame.frame_number();
        self.range.contains(&n) && self.in_use[(n - self.range.start) as usize]
    }

    /// Frames free now.
    pub fn free_count(&self) -> usize {
        self.free.len()
    }

    /// Frames handed out now.
    pub fn used_count(&self) -> usize {
        self.in_use.len() - self.free.len()
    }
}

// ANCHOR: machine
/// A machine: physical memory, the allocator of its frames, and a reference
/// count per frame for the frames that mappings point at.
///
/// Frame 0 is never handed out, so a zero address in an entry is never a
/// real table. Every mapping of a frame holds one reference
/// ([`share`](Self::share)); dropping the last one
/// ([`release`](Self::release)) returns the frame to the allocator.
#[derive(Debug)]
pub struct Machine {
    /// The memory the tables and the data live in.
    pub mem: PhysMem,
    /// The free frames.
    pub frames: FrameAllocator,
    refs: Vec<u32>,
}
// ANCHOR_END: machine

impl Machine {
    /// A machine with `frames` frames of memory, all but frame 0 free.
    ///
    /// # Panics
    /// If `frames` is zero.
    pub fn new(frames: usize) -> Machine {
        assert!(frames > 0, "a machine needs memory");
        Machine {
            mem: PhysMem::new(frames),
            frames: FrameAllocator::new(1..frames as u64),
            refs: vec![0; frames],
        }
    }

    /// A zeroed frame fresh from the allocator, or `None` if memory is full.
    pub fn alloc_zeroed(&mut self) -> Option<PhysAddr> {
        let frame = self.frames.allocate()?;
        self.mem.zero_frame(frame);
        Some(frame)
    }

    /// The reference count of `frame`.
    ///
    /// # Panics
    /// If `frame` is outside memory.
    fn count(&mut self, frame: PhysAddr) -> &mut u32 {
        let frames = self.refs.len();
        self.refs
            .get_mut(frame.frame_number() as usize)
            .unwrap_or_else(|| {
                panic!(
                    "frame {frame} is outside memory ({frames} frames): not a frame of this machine"
                )
            })
    }

    /// Mappings that point at `frame` (zero for a frame outside memory).
    pub fn refs(&self, frame: PhysAddr) -> u32 {
        self.refs
            .get(frame.frame_number() as usize)
            .copied()
            .unwrap_or(0)
    }

    /// Records one more mapping of `frame`.
    ///
    /// # Panics
    /// If `frame` is outside memory.
    pub fn share(&mut self, frame: PhysAddr) {
        *self.count(frame) += 1;
    }

    /// Drops one mapping of `frame`; when it was the last, gives the frame
    /// back to the allocator and returns `true`.
    ///
    /// # Panics
    /// If `frame` has no mapping left to drop.
    pub fn release(&mut self, frame: PhysAddr) -> bool {
        let count = self.count(frame);
        assert!(
            *count > 0,
            "release({frame}): the frame has no mapping left (released more often than shared)"
        );
        *count -= 1;
        if *count == 0 {
            self.frames.deallocate(frame);
            true
        } else {
            false
        }
    }
}
