//! Property tests: address arithmetic and translation against the `x86_64`
//! crate and a model walk.
//!
//! The `x86_64` crate (used by real kernels) is the oracle for splitting,
//! canonical form and building addresses, and its `OffsetPageTable` for
//! where random page tables lead. It reports only the leaf's flags, so the
//! combined permissions are checked against a model walk written here.
//! `PROPTEST_CASES=2000 cargo test -p page-table-walker-solution --test
//! properties` runs them longer.

use oslings_cases::oracle::{self, Oracle};
use page_table_walker_solution::{
    Access, Fault, Flags, Indices, Level, PAGE_SIZE, PageSize, PhysAddr, PhysMem, Violation,
    VirtAddr, translate, walk,
};
use proptest::prelude::*;

/// `addr` made canonical: bit 47 copied into bits 48-63.
fn canonical(addr: u64) -> u64 {
    ((addr << 16) as i64 >> 16) as u64
}

/// A 64-bit address: anything, canonical, or right at the edges of the hole.
fn address() -> impl Strategy<Value = u64> {
    prop_oneof![
        any::<u64>(),
        any::<u64>().prop_map(canonical),
        (0u64..=16).prop_map(|d| 0x0000_8000_0000_0000 - 8 + d),
        (0u64..=16).prop_map(|d| 0xffff_8000_0000_0000 - 8 + d),
    ]
}

proptest! {
    #[test]
    fn canonical_form_agrees_with_x86_64(addr in address()) {
        prop_assert_eq!(
            VirtAddr(addr).is_canonical(),
            oracle::is_canonical(addr),
            "is_canonical({:#x})", addr
        );
    }

    #[test]
    fn split_agrees_with_x86_64(addr in address()) {
        let expected = match oracle::split(addr) {
            Some([pml4, pdpt, pd, pt, offset]) => Ok(Indices { pml4, pdpt, pd, pt, offset }),
            None => Err(Fault::NonCanonical { addr: VirtAddr(addr) }),
        };
        prop_assert_eq!(VirtAddr(addr).split(), expected, "split({:#x})", addr);
    }

    #[test]
    fn from_indices_agrees_with_x86_64_and_undoes_split(
        pml4 in any::<u16>(), pdpt in any::<u16>(), pd in any::<u16>(), pt in any::<u16>(),
        offset in any::<u16>(),
    ) {
        let indices = Indices { pml4, pdpt, pd, pt, offset };
        let expected = oracle::from_indices([pml4, pdpt, pd, pt, offset]);
        let built = VirtAddr::from_indices(indices);
        prop_assert_eq!(built, VirtAddr(expected), "from_indices({:?})", indices);
        let low = |i: u16| i & 0x1ff;
        prop_assert_eq!(built.split(), Ok(Indices {
            pml4: low(pml4), pdpt: low(pdpt), pd: low(pd), pt: low(pt), offset: offset & 0xfff,
        }));
    }

    #[test]
    fn split_then_from_indices_is_the_identity(addr in address()) {
        if let Ok(indices) = VirtAddr(addr).split() {
            prop_assert_eq!(VirtAddr::from_indices(indices), VirtAddr(addr));
        }
    }
}

/// Frames of simulated memory for the random tables.
const FRAMES: u64 = 48;

/// The permission and bookkeeping bits an entry may carry at random.
fn flag_bits() -> impl Strategy<Value = u64> {
    let bits = Flags::WRITABLE.bits()
        | Flags::USER.bits()
        | Flags::WRITE_THROUGH.bits()
        | Flags::ACCESSED.bits()
        | Flags::DIRTY.bits()
        | Flags::GLOBAL.bits()
        | Flags::COPY_ON_WRITE.bits()
        | Flags::NO_EXECUTE.bits()
        | (0x7ff << 52); // bits 52-62 are ignored by the MMU and not address bits
    any::<u64>().prop_map(move |r| r & bits)
}

/// A page to map: where, how big, onto which physical address, with which
/// bits on the leaf and on the entries above it.
#[derive(Debug, Clone)]
struct Mapping {
    addr: u64,
    size: PageSize,
    phys: u64,
    leaf_bits: u64,
    table_bits: [u64; 3],
}

fn mapping() -> impl Strategy<Value = Mapping> {
    // Few distinct indices, so that mappings share tables and collide.
    let index = 0u64..4;
    let size = prop_oneof![
        6 => Just(PageSize::Size4K),
        2 => Just(PageSize::Size2M),
        1 => Just(PageSize::Size1G),
    ];
    (
        (
            index.clone(),
            index.clone(),
            index.clone(),
            index,
            any::<bool>(),
        ),
        size,
        any::<u64>(),
        flag_bits(),
        [flag_bits(), flag_bits(), flag_bits()],
    )
        .prop_map(
            |((l4, l3, l2, l1, high), size, phys, leaf_bits, table_bits)| {
                let addr = (l4 << 39) | (l3 << 30) | (l2 << 21) | (l1 << 12);
                let addr = if high {
                    addr | 0xffff_8000_0000_0000
                } else {
                    addr
                };
                Mapping {
                    addr,
                    size,
                    phys,
                    leaf_bits,
                    table_bits,
                }
            },
        )
}

/// A raw word written over an entry of one of the tables: bits that point
/// inside memory, and any flags (the page-size bit included).
#[derive(Debug, Clone)]
struct Poke {
    table: usize,
    index: u64,
    frame: u64,
    bits: u64,
    huge: bool,
    present: bool,
}

fn poke() -> impl Strategy<Value = Poke> {
    (
        any::<usize>(),
        0u64..4,
        0..FRAMES,
        flag_bits(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(table, index, frame, bits, huge, present)| Poke {
            table,
            index,
            frame,
            bits,
            huge,
            present,
        })
}

/// Page tables written straight into a [`PhysMem`]: a frame per table,
/// handed out in order after frame 0 (the PML4 is frame 1).
struct Tables {
    mem: PhysMem,
    cr3: PhysAddr,
    tables: Vec<u64>,
}

impl Tables {
    fn build(mappings: &[Mapping], pokes: &[Poke]) -> Tables {
        let mut t = Tables {
            mem: PhysMem::new(FRAMES as usize),
            cr3: PhysAddr(PAGE_SIZE),
            tables: vec![PAGE_SIZE],
        };
        for m in mappings {
            t.map(m);
        }
        for p in pokes {
            let table = t.tables[p.table % t.tables.len()];
            let mut bits = (p.frame * PAGE_SIZE) | p.bits;
            bits |= if p.present { Flags::PRESENT.bits() } else { 0 };
            // In a PML4 entry the page-size bit is reserved: the walk must
            // ignore it (and the `x86_64` crate is not asked, it panics).
            if p.huge {
                bits |= Flags::HUGE_PAGE.bits();
            }
            t.mem.write_u64(PhysAddr(table + p.index * 8), bits);
        }
        t
    }

    fn map(&mut self, m: &Mapping) {
        let leaf_level = match m.size {
            PageSize::Size4K => 1,
            PageSize::Size2M => 2,
            PageSize::Size1G => 3,
        };
        let mut table = self.cr3.0;
        for level in (leaf_level + 1..=4).rev() {
            let slot = PhysAddr(table + ((m.addr >> (12 + 9 * (level - 1))) & 0x1ff) * 8);
            let entry = self.mem.read_u64(slot);
            if entry & Flags::PRESENT.bits() == 0 {
                let Some(frame) = self.new_table() else {
                    return;
                };
                let bits = m.table_bits[4 - level] & !Flags::HUGE_PAGE.bits();
                self.mem
                    .write_u64(slot, frame | bits | Flags::PRESENT.bits());
                table = frame;
            } else if entry & Flags::HUGE_PAGE.bits() != 0 && level != 4 {
                return; // a huge page is in the way
            } else {
                table = entry & 0x000f_ffff_ffff_f000;
            }
        }
        let slot = PhysAddr(table + ((m.addr >> (12 + 9 * (leaf_level - 1))) & 0x1ff) * 8);
        let huge = if leaf_level > 1 {
            Flags::HUGE_PAGE.bits()
        } else {
            0
        };
        // A 4 KiB leaf stays inside memory: a poke may turn its table into a
        // directory, and then the leaf is followed as a table pointer.
        let phys = match m.size {
            PageSize::Size4K => m.phys % FRAMES * PAGE_SIZE,
            size => m.phys & 0x000f_ffff_ffff_f000 & !(size.bytes() - 1),
        };
        // At level 1 bit 7 is the PAT bit, not the page size: keep it random there.
        let leaf_bits = if leaf_level == 1 {
            m.leaf_bits | (m.phys & Flags::HUGE_PAGE.bits())
        } else {
            m.leaf_bits
        };
        self.mem
            .write_u64(slot, phys | leaf_bits | huge | Flags::PRESENT.bits());
    }

    fn new_table(&mut self) -> Option<u64> {
        let n = self.tables.len() as u64 + 1;
        (n < FRAMES).then(|| {
            self.tables.push(n * PAGE_SIZE);
            n * PAGE_SIZE
        })
    }

    /// What the `x86_64` crate's `OffsetPageTable` says `addr` maps to:
    /// `Some((phys, page bytes))`, or `None` when it is not mapped.
    fn oracle(&mut self, addr: u64) -> Option<(u64, u64)> {
        let size = self.mem.size() as usize;
        // SAFETY: `PhysMem` keeps its `size()` bytes of frames, initialised,
        // in one block at `base_ptr_mut()`, borrowed mutably (through
        // `self`) for as long as the slice lives.
        let memory = unsafe { std::slice::from_raw_parts_mut(self.mem.base_ptr_mut(), size) };
        // Every table pointer is inside memory (pokes pick frames below
        // FRAMES, mappings' tables are frames of `mem`), so the crate is
        // always asked.
        match oracle::translate(memory, self.cr3.0, addr).expect("the walk stays in memory") {
            Oracle::Mapped { phys, page_bytes } => Some((phys, page_bytes)),
            Oracle::NotMapped => None,
        }
    }

    /// Where the model walk leads `addr` (which it must map), and the page
    /// size in bytes.
    fn model_phys(&self, addr: u64) -> (u64, u64) {
        let mut table = self.cr3.0;
        for level in Level::WALK {
            let shift = 12 + 9 * (u32::from(level.number()) - 1);
            let entry = self
                .mem
                .read_u64(PhysAddr(table + ((addr >> shift) & 0x1ff) * 8));
            let huge = entry & Flags::HUGE_PAGE.bits() != 0;
            if level == Level::Pt || (huge && matches!(level, Level::Pdpt | Level::Pd)) {
                let size = PageSize::of_leaf(level);
                let mask = size.bytes() - 1;
                return (
                    (entry & 0x000f_ffff_ffff_f000 & !mask) | (addr & mask),
                    size.bytes(),
                );
            }
            table = entry & 0x000f_ffff_ffff_f000;
        }
        unreachable!()
    }

    /// The model walk: the level of the missing entry, or the combined
    /// (AND of WRITABLE and USER, OR of NO_EXECUTE) bits of every entry.
    fn model(&self, addr: u64) -> Result<u64, Level> {
        let mut table = self.cr3.0;
        let (mut all, mut any) = (!0u64, 0u64);
        for level in Level::WALK {
            let shift = 12 + 9 * (u32::from(level.number()) - 1);
            let entry = self
                .mem
                .read_u64(PhysAddr(table + ((addr >> shift) & 0x1ff) * 8));
            if entry & 1 == 0 {
                return Err(level);
            }
            all &= entry;
            any |= entry;
            let huge = entry & Flags::HUGE_PAGE.bits() != 0;
            if level == Level::Pt || (huge && matches!(level, Level::Pdpt | Level::Pd)) {
                let user_write = Flags::WRITABLE.bits() | Flags::USER.bits();
                return Ok(Flags::PRESENT.bits()
                    | (all & user_write)
                    | (any & Flags::NO_EXECUTE.bits()));
            }
            table = entry & 0x000f_ffff_ffff_f000;
        }
        unreachable!()
    }
}

/// The six accesses: read, write and fetch, from supervisor and user mode.
const ACCESSES: [Access; 6] = [
    Access::read(),
    Access::write(),
    Access::execute(),
    Access::read().user(),
    Access::write().user(),
    Access::execute().user(),
];

/// The rule of the exercise for `access` on combined `bits`.
fn allowed(bits: u64, access: Access) -> Result<(), Violation> {
    use page_table_walker_solution::AccessKind::*;
    if access.user && bits & Flags::USER.bits() == 0 {
        Err(Violation::UserToSupervisor)
    } else if access.kind == Write && bits & Flags::WRITABLE.bits() == 0 {
        Err(Violation::WriteToReadOnly)
    } else if access.kind == Execute && bits & Flags::NO_EXECUTE.bits() != 0 {
        Err(Violation::ExecuteNoExecute)
    } else {
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn translate_agrees_with_x86_64_and_the_model(
        mappings in prop::collection::vec(mapping(), 1..16),
        pokes in prop::collection::vec(poke(), 0..6),
        offsets in prop::collection::vec(any::<u64>(), 4),
        probes in prop::collection::vec(address(), 4),
    ) {
        let mut t = Tables::build(&mappings, &pokes);
        let near = mappings.iter().zip(offsets.iter().cycle()).map(|(m, off)| m.addr | (off & (m.size.bytes() - 1)));
        for addr in near.chain(probes) {
            if !VirtAddr(addr).is_canonical() {
                prop_assert_eq!(translate(&t.mem, t.cr3, VirtAddr(addr), Access::read()), Err(Fault::NonCanonical { addr: VirtAddr(addr) }));
                continue;
            }
            let model = t.model(addr);
            let pml4e = t.mem.read_u64(PhysAddr(t.cr3.0 + ((addr >> 39) & 0x1ff) * 8));
            let oracle = if pml4e & Flags::HUGE_PAGE.bits() == 0 {
                let oracle = t.oracle(addr);
                prop_assert_eq!(oracle.is_some(), model.is_ok(), "test bug: the model and x86_64 disagree at {:#x}", addr);
                oracle
            } else {
                // The model's answer, in the oracle's terms.
                model.ok().map(|_| t.model_phys(addr))
            };
            let va = VirtAddr(addr);
            for access in ACCESSES {
                let got = translate(&t.mem, t.cr3, va, access);
                match (oracle, model) {
                    (_, Err(level)) => prop_assert_eq!(got, Err(Fault::NotPresent { addr: va, level }), "{:#x} {:?}", addr, access),
                    (Some((phys, size)), Ok(bits)) => match allowed(bits, access) {
                        Err(violation) => prop_assert_eq!(got, Err(Fault::Protection { addr: va, violation }), "{:#x} {:?}", addr, access),
                        Ok(()) => {
                            let tr = got.map_err(|f| TestCaseError::fail(format!("{addr:#x} {access:?}: {f:?}")))?;
                            prop_assert_eq!((tr.phys.0, tr.size.bytes()), (phys, size), "{:#x}", addr);
                            prop_assert_eq!(tr.frame.0, phys & !(size - 1));
                            prop_assert_eq!(tr.flags.bits(), bits, "combined flags at {:#x}", addr);
                        }
                    },
                    (None, Ok(_)) => unreachable!(),
                }
            }
            // `walk` reads the same entries, one step per level down to the leaf.
            match (walk(&t.mem, t.cr3, va), oracle) {
                (Ok(w), Some((_, size))) => {
                    prop_assert_eq!(w.page_size().bytes(), size);
                    let expected_steps = match w.page_size() { PageSize::Size4K => 4, PageSize::Size2M => 3, PageSize::Size1G => 2 };
                    prop_assert_eq!(w.steps().len(), expected_steps);
                    for step in w.steps() {
                        prop_assert_eq!(step.entry.0, t.mem.read_u64(step.entry_addr));
                    }
                }
                (Err(Fault::NotPresent { level, .. }), None) => prop_assert_eq!(Err(level), model.map(|_| ())),
                (got, _) => prop_assert!(false, "walk({:#x}) = {:?}, x86_64 says {:?}", addr, got, oracle),
            }
        }
    }
}
