//! Helpers shared by the page-table walker's hidden tests.
//!
//! - [`World`] writes random four-level page tables into a [`Machine`]
//!   (4 KiB, 2 MiB and 1 GiB pages, tables in the upper half, entries that
//!   are not present but not zero either, random flags and high bits) and
//!   keeps its own model of what it wrote: the expected translation of any
//!   address, fault and all, computed without reading the simulated memory.
//! - [`oracle`] is the independent oracle: the `x86_64` crate's
//!   `OffsetPageTable::translate` over the same simulated memory
//!   ([`oslings_cases::oracle`], shared with the solution's property tests
//!   and the fuzzer). The crate
//!   reports the leaf's flags only, so permissions are checked against the
//!   model; addresses and page sizes against both.
//! - [`describe`] and friends word a divergence the way a learner can act on
//!   it: "at 0x…: expected phys 0x… (2 MiB page), got Fault::NotPresent at
//!   level 2 (seed …)".
//!
//! Every random test is seeded; the seed is part of every failure message.

pub mod cases;

use std::collections::HashMap;

use learner::{
    Access, AccessKind, Fault, Flags, Level, Machine, PageSize, PhysAddr, PhysMem, Translation,
    Violation, VirtAddr,
};

/// Bits 12–51 of an entry (the same mask as the crate's, written out again
/// so that the tests do not trust the code under test).
pub const ADDR_BITS: u64 = 0x000f_ffff_ffff_f000;

/// Sign-extends bit 47 (what `from_indices` must do).
pub const fn canonical(addr: u64) -> u64 {
    ((addr << 16) as i64 >> 16) as u64
}

/// The lowest address bit of the index of `level` (12, 21, 30, 39).
pub const fn shift(level: Level) -> u32 {
    12 + 9 * (level.number() as u32 - 1)
}

/// The six kinds of access: supervisor and user read, write and execute.
pub const ACCESSES: [Access; 6] = [
    Access::read(),
    Access::write(),
    Access::execute(),
    Access::read().user(),
    Access::write().user(),
    Access::execute().user(),
];

/// "2 MiB page" and so on.
pub fn size_name(size: PageSize) -> &'static str {
    match size {
        PageSize::Size4K => "4 KiB page",
        PageSize::Size2M => "2 MiB page",
        PageSize::Size1G => "1 GiB page",
    }
}

/// A fault, worded for a message: "Fault::NotPresent at level 2".
pub fn fault_name(fault: &Fault) -> String {
    match fault {
        Fault::NonCanonical { .. } => "Fault::NonCanonical".to_string(),
        Fault::NotPresent { level, .. } => {
            format!("Fault::NotPresent at level {}", level.number())
        }
        Fault::Protection { violation, .. } => format!("Fault::Protection({violation:?})"),
    }
}

/// An access, worded for a message: "a user write".
pub fn access_name(access: Access) -> String {
    let mode = if access.user { "user" } else { "supervisor" };
    let kind = match access.kind {
        AccessKind::Read => "read",
        AccessKind::Write => "write",
        AccessKind::Execute => "execute",
    };
    format!("a {mode} {kind}")
}

/// What a translation should give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected {
    /// The physical address.
    pub phys: u64,
    /// The start of the page.
    pub frame: u64,
    /// Its size.
    pub size: PageSize,
    /// The combined permissions.
    pub flags: u64,
}

/// A translation result, worded for a message.
pub fn describe(result: &Result<Expected, Fault>) -> String {
    match result {
        Ok(e) => format!("phys {:#x} ({})", e.phys, size_name(e.size)),
        Err(fault) => fault_name(fault),
    }
}

/// The learner's result, worded for a message.
pub fn describe_got(result: &Result<Translation, Fault>) -> String {
    match result {
        Ok(t) => format!("phys {:#x} ({})", t.phys.0, size_name(t.size)),
        Err(fault) => fault_name(fault),
    }
}

/// Compares a learner's translation of `addr` with the expectation; `Err`
/// holds the message. With `check_flags`, `Translation::flags` and the
/// exact protection fault are compared too; without, any access that the
/// model allows is compared by address only.
pub fn compare(
    addr: u64,
    expected: &Result<Expected, Fault>,
    got: &Result<Translation, Fault>,
    check_flags: bool,
    seed: u64,
) -> Result<(), String> {
    let fail = |what: String| Err(format!("at {addr:#x}: {what} (seed {seed})"));
    match (expected, got) {
        (Ok(e), Ok(t)) => {
            if t.phys.0 != e.phys || t.size != e.size {
                return fail(format!(
                    "expected {}, got {}",
                    describe(expected),
                    describe_got(got)
                ));
            }
            if t.frame.0 != e.frame {
                return fail(format!(
                    "expected the page to start at frame {:#x}, got Translation.frame = {:#x}",
                    e.frame, t.frame.0
                ));
            }
            if check_flags && t.flags.bits() != e.flags {
                return fail(format!(
                    "expected Translation.flags = {:?}, got {:?} (PRESENT, plus WRITABLE and USER \
                     if every level sets them, plus NO_EXECUTE if any level sets it, nothing else)",
                    Flags::from_bits(e.flags),
                    t.flags
                ));
            }
            Ok(())
        }
        (Err(e), Err(g)) if e == g => Ok(()),
        (Err(e), Err(g)) => {
            let detail = match (e, g) {
                (Fault::NotPresent { .. }, Fault::NotPresent { .. }) => {
                    " (the wrong level: level 4 is the PML4 that CR3 points at, level 1 the PT)"
                }
                _ if fault_addr(e) != fault_addr(g) => " (the fault must carry the address)",
                _ => "",
            };
            fail(format!(
                "expected {}, got {}{detail}",
                describe(expected),
                fault_name(g)
            ))
        }
        _ => fail(format!(
            "expected {}, got {}",
            describe(expected),
            describe_got(got)
        )),
    }
}

fn fault_addr(fault: &Fault) -> VirtAddr {
    match *fault {
        Fault::NonCanonical { addr }
        | Fault::NotPresent { addr, .. }
        | Fault::Protection { addr, .. } => addr,
    }
}

/// The permission rules, written out again: the first broken one, in the
/// order user, write, execute (CR0.WP = 1, no SMEP or SMAP).
pub fn model_check(flags: u64, access: Access) -> Option<Violation> {
    if access.user && flags & Flags::USER.bits() == 0 {
        Some(Violation::UserToSupervisor)
    } else if access.kind == AccessKind::Write && flags & Flags::WRITABLE.bits() == 0 {
        Some(Violation::WriteToReadOnly)
    } else if access.kind == AccessKind::Execute && flags & Flags::NO_EXECUTE.bits() != 0 {
        Some(Violation::ExecuteNoExecute)
    } else {
        None
    }
}

/// The combined permissions of the entries of a walk, root first.
pub fn combine(path: &[u64]) -> u64 {
    let all = path.iter().fold(!0, |a, e| a & e);
    let any = path.iter().fold(0, |a, e| a | e);
    Flags::PRESENT.bits()
        | (all & (Flags::WRITABLE.bits() | Flags::USER.bits()))
        | (any & Flags::NO_EXECUTE.bits())
}

pub use oslings_cases::oracle::Oracle;

/// The `x86_64` crate's translation of `addr` over the page tables at `cr3`
/// in `mem` ([`oslings_cases::oracle::translate`]); `None` when the crate
/// cannot be asked (`addr` not canonical, a table outside memory, the
/// page-size bit in the PML4 entry).
pub fn oracle(mem: &mut PhysMem, cr3: PhysAddr, addr: u64) -> Option<Oracle> {
    let size = usize::try_from(mem.size()).expect("the memory fits the address space");
    // SAFETY: `PhysMem` keeps its `size()` bytes of frames, initialised, in
    // one block at `base_ptr_mut()`, borrowed mutably (through `mem`) for
    // as long as the slice lives.
    let memory = unsafe { std::slice::from_raw_parts_mut(mem.base_ptr_mut(), size) };
    oslings_cases::oracle::translate(memory, cr3.0, addr)
}

/// The shape of the random tables a [`World`] writes.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Frames of memory.
    pub frames: usize,
    /// Entries used in each table, level 4 first (the rest are zero).
    pub fanout: [usize; 4],
    /// Whether level-3 and level-2 entries may map 1 GiB and 2 MiB pages.
    pub huge: bool,
    /// Whether the permission bits (WRITABLE, USER, NO_EXECUTE) are random;
    /// otherwise every entry sets WRITABLE and USER and none NO_EXECUTE.
    pub random_permissions: bool,
    /// Chance (in percent) that a used entry is not present (its other bits
    /// are random, not zero).
    pub not_present_percent: u8,
}

impl Shape {
    /// Tables of 4 KiB pages with every permission granted.
    pub const WALK: Shape = Shape {
        frames: 512,
        fanout: [6, 4, 4, 8],
        huge: false,
        random_permissions: false,
        not_present_percent: 15,
    };
    /// Tables of 4 KiB pages with random permissions at every level.
    pub const PERMISSIONS: Shape = Shape {
        random_permissions: true,
        ..Shape::WALK
    };
    /// Tables with 1 GiB and 2 MiB pages among the 4 KiB ones.
    pub const HUGE: Shape = Shape {
        huge: true,
        ..Shape::WALK
    };
    /// Everything at once.
    pub const ALL: Shape = Shape {
        huge: true,
        random_permissions: true,
        ..Shape::WALK
    };
}

/// A page the world mapped.
#[derive(Debug, Clone, Copy)]
pub struct Leaf {
    /// The virtual address of the start of the page.
    pub page: u64,
    /// The page size.
    pub size: PageSize,
}

/// Random page tables in a machine, and the model of what they map.
#[derive(Debug)]
pub struct World {
    /// The machine the tables live in.
    pub m: Machine,
    /// The PML4.
    pub cr3: PhysAddr,
    /// The seed the tables came from.
    pub seed: u64,
    /// Every page mapped.
    pub leaves: Vec<Leaf>,
    /// Addresses whose walk meets an entry that is not present (zero or
    /// not), with that level.
    pub holes: Vec<(u64, Level)>,
    /// The table of each level, by the address bits above its index.
    tables: HashMap<(u8, u64), PhysAddr>,
    /// The entries written, by level and the address bits from its index up.
    entries: HashMap<(u8, u64), u64>,
}

/// Random flag bits for an entry (never PRESENT, never HUGE_PAGE).
fn random_bits(rng: &mut fastrand::Rng, permissions: bool) -> u64 {
    // WRITE_THROUGH, NO_CACHE, ACCESSED, DIRTY, GLOBAL, bits 9-11.
    let mut bits = rng.u64(..) & 0xf78;
    // Bits 52-62: available to software and protection keys.
    bits |= rng.u64(..) & 0x7ff0_0000_0000_0000;
    if permissions {
        // Mostly permissive, so that most walks pass but every rule is hit.
        if rng.u8(0..4) != 0 {
            bits |= Flags::WRITABLE.bits();
        }
        if rng.u8(0..4) != 0 {
            bits |= Flags::USER.bits();
        }
        if rng.u8(0..4) == 0 {
            bits |= Flags::NO_EXECUTE.bits();
        }
    } else {
        bits |= Flags::WRITABLE.bits() | Flags::USER.bits();
    }
    bits
}

impl World {
    /// Random tables of `shape` from `seed`.
    pub fn random(seed: u64, shape: Shape) -> World {
        let mut m = Machine::new(shape.frames);
        let cr3 = m.alloc_zeroed().expect("a frame for the PML4");
        let mut world = World {
            m,
            cr3,
            seed,
            leaves: Vec::new(),
            holes: Vec::new(),
            tables: HashMap::new(),
            entries: HashMap::new(),
        };
        world.tables.insert((4, 0), cr3);
        let mut rng = fastrand::Rng::with_seed(seed);
        world.fill(&mut rng, shape, Level::Pml4, 0);
        world
    }

    /// Fills the table of `level` for the address bits `prefix` above its index.
    fn fill(&mut self, rng: &mut fastrand::Rng, shape: Shape, level: Level, prefix: u64) {
        let table = self.tables[&(level.number(), prefix)];
        let mut indices: Vec<u64> = Vec::new();
        let fanout = shape.fanout[4 - level.number() as usize];
        while indices.len() < fanout {
            // At level 4, make sure both halves of the address space appear.
            let index = match (level, indices.len()) {
                (Level::Pml4, 0) => rng.u64(0..256),
                (Level::Pml4, 1) => rng.u64(256..512),
                _ => rng.u64(0..512),
            };
            if !indices.contains(&index) {
                indices.push(index);
            }
        }
        for index in indices {
            let key = (prefix << 9) | index;
            let start = canonical(key << shift(level));
            let mut entry = random_bits(rng, shape.random_permissions);
            if rng.u8(0..100) < shape.not_present_percent {
                // Not present, but not zero: only bit 0 says "present".
                entry = (entry | (rng.u64(..) & ADDR_BITS) | 0x80) & !1;
                self.holes
                    .push((start | rng.u64(0..1 << shift(level)), level));
            } else if level == Level::Pt {
                // A 4 KiB page anywhere in 52 bits of physical addresses (the
                // walker never reads it). Bit 7 here is PAT, not a page size:
                // set at random once huge pages are in play (stage 4).
                entry |= 1 | (rng.u64(1..1 << 40) << 12);
                if shape.huge {
                    entry |= rng.u64(0..2) << 7;
                }
                self.leaves.push(Leaf {
                    page: start,
                    size: PageSize::Size4K,
                });
            } else if shape.huge && level != Level::Pml4 && rng.u8(0..4) == 0 {
                let size = if level == Level::Pdpt {
                    PageSize::Size1G
                } else {
                    PageSize::Size2M
                };
                let frame = rng.u64(0..1 << (52 - size.offset_bits())) << size.offset_bits();
                entry |= 1 | Flags::HUGE_PAGE.bits() | frame;
                self.leaves.push(Leaf { page: start, size });
            } else {
                let next = level.next().expect("not level 1");
                let child = self.m.alloc_zeroed().expect("test bug: memory too small");
                self.tables.insert((next.number(), key), child);
                entry |= 1 | child.0;
                self.fill(rng, shape, next, key);
            }
            self.write_entry(level, key, table.0 + index * 8, entry);
        }
    }

    fn write_entry(&mut self, level: Level, key: u64, at: u64, entry: u64) {
        self.m.mem.write_u64(PhysAddr(at), entry);
        self.entries.insert((level.number(), key), entry);
    }

    /// Overwrites the entry of `level` on the walk to `addr` (whose tables
    /// down to `level` must exist) with `entry`, in memory and in the model.
    pub fn set_entry(&mut self, addr: u64, level: Level, entry: u64) {
        let key = (addr & 0xffff_ffff_ffff) >> shift(level);
        let table = self.tables[&(level.number(), key >> 9)];
        self.write_entry(level, key, table.0 + (key & 0x1ff) * 8, entry);
    }

    /// The entry of `level` on the walk to `addr`, with the physical
    /// address it is stored at; `None` if the model has no table there.
    pub fn entry_of(&self, addr: u64, level: Level) -> Option<(PhysAddr, u64)> {
        let key = (addr & 0xffff_ffff_ffff) >> shift(level);
        let table = self.tables.get(&(level.number(), key >> 9))?;
        let entry = self
            .entries
            .get(&(level.number(), key))
            .copied()
            .unwrap_or(0);
        Some((PhysAddr(table.0 + (key & 0x1ff) * 8), entry))
    }

    /// The walk to `addr` according to the model: every entry read, as
    /// (level, where it is stored, its value), and the fault if any.
    pub fn model_walk(&self, addr: u64) -> (Vec<(Level, PhysAddr, u64)>, Option<Fault>) {
        let va = VirtAddr(addr);
        if canonical(addr) != addr {
            return (Vec::new(), Some(Fault::NonCanonical { addr: va }));
        }
        let mut steps = Vec::new();
        for level in Level::WALK {
            let (at, entry) = self
                .entry_of(addr, level)
                .expect("test bug: the model lost a table");
            steps.push((level, at, entry));
            if entry & 1 == 0 {
                return (steps, Some(Fault::NotPresent { addr: va, level }));
            }
            let huge = entry & Flags::HUGE_PAGE.bits() != 0;
            if level == Level::Pt || (huge && matches!(level, Level::Pdpt | Level::Pd)) {
                break;
            }
        }
        (steps, None)
    }

    /// The expected translation of `addr` for `access`, from the model alone.
    pub fn expect(&self, addr: u64, access: Access) -> Result<Expected, Fault> {
        let (steps, fault) = self.model_walk(addr);
        if let Some(fault) = fault {
            return Err(fault);
        }
        let (level, _, leaf) = *steps.last().expect("a walk reads an entry");
        let size = PageSize::of_leaf(level);
        let mask = size.bytes() - 1;
        let frame = leaf & ADDR_BITS & !mask;
        let path: Vec<u64> = steps.iter().map(|s| s.2).collect();
        let flags = combine(&path);
        if let Some(violation) = model_check(flags, access) {
            return Err(Fault::Protection {
                addr: VirtAddr(addr),
                violation,
            });
        }
        Ok(Expected {
            phys: frame | (addr & mask),
            frame,
            size,
            flags,
        })
    }

    /// Checks the model against the `x86_64` crate at `addr` (a test bug
    /// if they disagree) and returns the model's answer for `access`.
    pub fn expect_checked(&mut self, addr: u64, access: Access) -> Result<Expected, Fault> {
        let expected = self.expect(addr, access);
        if canonical(addr) == addr {
            let oracle = oracle(&mut self.m.mem, self.cr3, addr);
            let model = self.expect(addr, Access::read());
            let agrees = match (&model, oracle) {
                (Ok(e), Some(Oracle::Mapped { phys, page_bytes })) => {
                    e.phys == phys && e.size.bytes() == page_bytes
                }
                (Err(Fault::NotPresent { .. }), Some(Oracle::NotMapped)) => true,
                _ => false,
            };
            assert!(
                agrees,
                "test bug: at {addr:#x} the model says {} but the x86_64 crate {oracle:?} (seed {})",
                describe(&model),
                self.seed
            );
        }
        expected
    }

    /// A random address worth translating: inside a mapped page (often near
    /// its edges), in a hole, in an unused slot of a table, anywhere
    /// canonical, or (when `non_canonical`) not canonical at all.
    pub fn sample(&self, rng: &mut fastrand::Rng, non_canonical: bool) -> u64 {
        let pick = rng.u8(0..20);
        match pick {
            0..=10 if !self.leaves.is_empty() => {
                let leaf = &self.leaves[rng.usize(0..self.leaves.len())];
                let bytes = leaf.size.bytes();
                let offset = match rng.u8(0..4) {
                    0 => 0,
                    1 => bytes - 1,
                    _ => rng.u64(0..bytes),
                };
                leaf.page + offset
            }
            11..=13 if !self.holes.is_empty() => self.holes[rng.usize(0..self.holes.len())].0,
            14..=16 if !self.leaves.is_empty() => {
                // Next to a mapped page: likely an unused slot of a used table.
                let leaf = &self.leaves[rng.usize(0..self.leaves.len())];
                let step = 1_u64 << (leaf.size.offset_bits() + 9 * rng.u32(0..3));
                canonical(leaf.page.wrapping_add(step * rng.u64(1..4)) | rng.u64(0..4096))
            }
            17 if non_canonical => {
                // Some bits 48-63 differ from bit 47.
                let addr = canonical(rng.u64(..));
                addr ^ (1 << rng.u32(48..64))
            }
            _ => canonical(rng.u64(..)),
        }
    }
}

/// Runs `f` for each of `seeds` random worlds of `shape` and `samples`
/// random addresses in each; `f` gets the world and the address and returns
/// the first divergence. Panics with it.
pub fn for_random_addresses(
    seeds: std::ops::Range<u64>,
    shape: Shape,
    samples: usize,
    non_canonical: bool,
    mut f: impl FnMut(&mut World, u64) -> Result<(), String>,
) {
    for seed in seeds {
        let mut world = World::random(seed, shape);
        let mut rng = fastrand::Rng::with_seed(seed ^ 0x5eed);
        for _ in 0..samples {
            let addr = world.sample(&mut rng, non_canonical);
            if let Err(message) = f(&mut world, addr) {
                panic!("{message}");
            }
        }
    }
}

/// A frame from the allocator for data (not zeroed).
pub fn data_frame(m: &mut Machine) -> PhysAddr {
    m.frames.allocate().expect("test bug: memory too small")
}

/// A random 4 KiB-aligned canonical address, from both halves.
pub fn random_page(rng: &mut fastrand::Rng) -> u64 {
    canonical(rng.u64(..)) & !0xfff
}

/// Fills every free frame of `m` with `byte` (so that a frame taken from the
/// allocator without zeroing shows it).
pub fn dirty_free_frames(m: &mut Machine, byte: u8) {
    let mut taken = Vec::new();
    while let Some(frame) = m.frames.allocate() {
        m.mem.write(frame, &[byte; 4096]);
        taken.push(frame);
    }
    // Give them back in reverse, so the allocator hands them out in the
    // same order as before.
    for frame in taken.into_iter().rev() {
        m.frames.deallocate(frame);
    }
}

/// The entry of `level` on the walk to `addr` in the tables at `cr3`, read
/// by the test's own walk (its reads are counted: call it outside measured
/// sections). `None` if an entry above it is not present.
pub fn raw_entry(mem: &PhysMem, cr3: PhysAddr, addr: u64, level: Level) -> Option<u64> {
    let mut table = cr3.0;
    for l in Level::WALK {
        let index = (addr >> shift(l)) & 0x1ff;
        let entry = mem.read_u64(PhysAddr(table + index * 8));
        if l == level {
            return Some(entry);
        }
        if entry & 1 == 0 {
            return None;
        }
        table = entry & ADDR_BITS;
    }
    None
}

/// The frames used by the tables reachable from `cr3` (the PML4 included),
/// counted by a test's own walk over the memory.
pub fn table_frames(mem: &PhysMem, cr3: PhysAddr) -> usize {
    fn count(mem: &PhysMem, table: u64, level: u8) -> usize {
        let mut n = 1;
        if level > 1 {
            for i in 0..512 {
                let entry = mem.read_u64(PhysAddr(table + i * 8));
                let huge = entry & Flags::HUGE_PAGE.bits() != 0 && level < 4;
                if entry & 1 != 0 && !huge {
                    n += count(mem, entry & ADDR_BITS, level - 1);
                }
            }
        }
        n
    }
    count(mem, cr3.0, 4)
}
