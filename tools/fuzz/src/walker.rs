//! The `walker` target: random physical memory, partly page tables and
//! partly garbage, and random addresses through `walk` and `translate`,
//! against a model walk (every case) and the `x86_64` crate's
//! `OffsetPageTable` (where its walk stays inside memory).
//!
//! An entry that points outside memory is the one documented way for a walk
//! to fail other than a fault: [`PhysMem`] panics with "outside memory".
//! Any other panic, any disagreement, and any write or more than four reads
//! by one translation is a finding.

use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};

use oslings_cases::oracle::{self, Oracle};
use page_table_walker_solution::{
    Access, AccessKind, Entry, Fault, Flags, Level, PAGE_SIZE, PageSize, PhysAddr, PhysMem,
    Translation, Violation, VirtAddr, translate, walk,
};

use crate::runner::{Tally, panic_message};

/// What the addresses met, for the report.
static SEEN: Tally<5> = Tally::new([
    "non-canonical",
    "outside memory",
    "not present",
    "mapped",
    "checked against x86_64",
]);

/// A line for the report: how the addresses tried so far fell.
pub(crate) fn stats() -> String {
    format!("addresses: {}", SEEN.summary())
}

/// Bits 12–51: where an entry's address is (written out again here, so
/// that the model does not trust the crate's mask).
const ADDR_BITS: u64 = 0x000f_ffff_ffff_f000;

/// The six accesses: read, write and fetch, from supervisor and user mode.
const ACCESSES: [Access; 6] = [
    Access::read(),
    Access::write(),
    Access::execute(),
    Access::read().user(),
    Access::write().user(),
    Access::execute().user(),
];

/// A random entry: a table or page pointer inside memory with random
/// flags, one pointing far outside memory, pure noise, or zero.
fn entry(rng: &mut fastrand::Rng, frames: u64) -> u64 {
    let flags = |rng: &mut fastrand::Rng| {
        let mut bits = rng.u64(..) & 0xfff & !Flags::PRESENT.bits() & !Flags::HUGE_PAGE.bits();
        bits |= rng.u64(..) & (0x7ff << 52); // ignored bits 52-62
        if rng.u8(..100) < 90 {
            bits |= Flags::PRESENT.bits();
        }
        if rng.u8(..100) < 25 {
            bits |= Flags::HUGE_PAGE.bits();
        }
        if rng.bool() {
            bits |= Flags::NO_EXECUTE.bits();
        }
        bits
    };
    match rng.u8(..100) {
        0..=79 => (rng.u64(..frames) * PAGE_SIZE) | flags(rng),
        80..=86 => (rng.u64(frames..1 << 40) * PAGE_SIZE) | flags(rng),
        87..=93 => rng.u64(..),
        _ => 0,
    }
}

/// An address: usually built from small indices (so that it meets the
/// entries written), sometimes anything at all.
fn address(rng: &mut fastrand::Rng) -> u64 {
    if rng.u8(..10) == 0 {
        return rng.u64(..);
    }
    let index = |rng: &mut fastrand::Rng| {
        if rng.u8(..4) == 0 {
            rng.u64(..512)
        } else {
            rng.u64(..4)
        }
    };
    let raw = (index(rng) << 39) | (index(rng) << 30) | (index(rng) << 21) | (index(rng) << 12);
    let raw = raw | rng.u64(..PAGE_SIZE);
    if rng.bool() {
        raw | 0xffff_8000_0000_0000
    } else {
        raw
    }
}

/// An address that follows the entries in memory: at each level one of
/// the table's non-zero entries (now and then any), so that walks get deep.
fn guided_address(rng: &mut fastrand::Rng, mem: &PhysMem, cr3: u64) -> u64 {
    let mut raw = rng.u64(..1 << 30); // the offset, in a page of any size
    let mut table = Some(cr3);
    for shift in [39, 30, 21, 12] {
        let used: Vec<u64> = match table {
            Some(t) => (0..512)
                .filter(|i| mem.read_u64(PhysAddr(t + i * 8)) != 0)
                .collect(),
            None => Vec::new(),
        };
        let index = if used.is_empty() || rng.u8(..8) == 0 {
            rng.u64(..512)
        } else {
            used[rng.usize(..used.len())]
        };
        raw = (raw & !(511 << shift)) | (index << shift);
        table = table
            .map(|t| mem.read_u64(PhysAddr(t + index * 8)) & ADDR_BITS)
            .filter(|&next| next + PAGE_SIZE <= mem.size());
    }
    // Canonical: bit 47 copied up.
    ((raw << 16) as i64 >> 16) as u64
}

/// What the model walk found.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Model {
    NonCanonical,
    /// An entry to read lies outside memory: the walker must panic.
    OutOfMemory(u64),
    NotPresent(Level),
    /// The leaf: the physical address, the page size, and the combined
    /// WRITABLE/USER (AND over the walk) and NO_EXECUTE (OR) bits.
    Mapped {
        phys: PhysAddr,
        size: PageSize,
        bits: Flags,
    },
}

/// The model walk, which also returns every entry it read (level, where, value).
fn model(mem: &PhysMem, cr3: u64, addr: u64) -> (Model, Vec<(Level, u64, u64)>) {
    let mut path = Vec::new();
    if ((addr << 16) as i64 >> 16) as u64 != addr {
        return (Model::NonCanonical, path);
    }
    let (mut all, mut any) = (!0u64, 0u64);
    let mut table = cr3;
    for (n, level) in [Level::Pml4, Level::Pdpt, Level::Pd, Level::Pt]
        .into_iter()
        .enumerate()
    {
        let shift = 39 - 9 * n as u32;
        let at = table + ((addr >> shift) & 511) * 8;
        if at + 8 > mem.size() {
            return (Model::OutOfMemory(at), path);
        }
        let entry = mem.read_u64(PhysAddr(at));
        if entry & 1 == 0 {
            return (Model::NotPresent(level), path);
        }
        path.push((level, at, entry));
        all &= entry;
        any |= entry;
        let huge = entry & (1 << 7) != 0 && matches!(level, Level::Pdpt | Level::Pd);
        if huge || level == Level::Pt {
            let size = match level {
                Level::Pdpt => PageSize::Size1G,
                Level::Pd => PageSize::Size2M,
                _ => PageSize::Size4K,
            };
            let offset_mask = size.bytes() - 1;
            let phys = (entry & ADDR_BITS & !offset_mask) | (addr & offset_mask);
            let bits = 1 | (all & 0b110) | (any & (1 << 63));
            let (phys, bits) = (PhysAddr(phys), Flags::from_bits(bits));
            return (Model::Mapped { phys, size, bits }, path);
        }
        table = entry & ADDR_BITS;
    }
    unreachable!("four levels at most")
}

/// What `translate` must return for `access`, given the model's answer
/// (which must not be [`Model::OutOfMemory`]).
fn expected(model: &Model, addr: u64, access: Access) -> Result<Translation, Fault> {
    let va = VirtAddr(addr);
    match *model {
        Model::NonCanonical => Err(Fault::NonCanonical { addr: va }),
        Model::NotPresent(level) => Err(Fault::NotPresent { addr: va, level }),
        Model::OutOfMemory(_) => unreachable!("no expected result: the walk must panic"),
        Model::Mapped { phys, size, bits } => {
            let (phys, bits) = (phys.0, bits.bits());
            let violation = if access.user && bits & Flags::USER.bits() == 0 {
                Some(Violation::UserToSupervisor)
            } else if access.kind == AccessKind::Write && bits & Flags::WRITABLE.bits() == 0 {
                Some(Violation::WriteToReadOnly)
            } else if access.kind == AccessKind::Execute && bits & Flags::NO_EXECUTE.bits() != 0 {
                Some(Violation::ExecuteNoExecute)
            } else {
                None
            };
            match violation {
                Some(violation) => Err(Fault::Protection {
                    addr: va,
                    violation,
                }),
                None => Ok(Translation {
                    phys: PhysAddr(phys),
                    frame: PhysAddr(phys & !(size.bytes() - 1)),
                    size,
                    flags: Flags::from_bits(bits),
                }),
            }
        }
    }
}

/// The `x86_64` crate's translation of `addr` ([`oracle::translate`]):
/// `Some(Some((phys, page bytes)))`, `Some(None)` (not mapped), or `None`
/// when the crate cannot be asked (a table outside memory, the page-size
/// bit in the PML4 entry, a non-canonical address).
fn oracle(mem: &mut PhysMem, cr3: u64, addr: u64) -> Option<Option<(u64, u64)>> {
    let size = mem.size() as usize;
    // SAFETY: `PhysMem` keeps its `size()` bytes of frames, initialised, in
    // one block at `base_ptr_mut()`, borrowed mutably (through `mem`) for as
    // long as the slice lives.
    let memory = unsafe { std::slice::from_raw_parts_mut(mem.base_ptr_mut(), size) };
    Some(match oracle::translate(memory, cr3, addr)? {
        Oracle::Mapped { phys, page_bytes } => Some((phys, page_bytes)),
        Oracle::NotMapped => None,
    })
}

/// Runs `f`, expecting the documented out-of-memory panic when `oom` is set
/// and no panic otherwise. `Ok(None)` is the expected panic.
fn guarded<T>(what: &str, oom: Option<u64>, f: impl FnOnce() -> T) -> Result<Option<T>, String> {
    match (catch_unwind(AssertUnwindSafe(f)), oom) {
        (Ok(value), None) => Ok(Some(value)),
        (Err(p), Some(_)) if panic_message(&*p).contains("outside memory") => Ok(None),
        (Err(p), _) => Err(format!("{what} panicked: {}", panic_message(&*p))),
        (Ok(_), Some(at)) => Err(format!(
            "{what} returned although the entry it had to read, at physical {at:#x}, is outside memory"
        )),
    }
}

/// One case: a random memory, then 16 addresses through `walk` and `translate`.
pub(crate) fn case(seed: u64, verbose: bool) -> Result<(), String> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let frames = rng.u64(2..=24);
    let mut mem = PhysMem::new(frames as usize);
    for frame in 0..frames {
        if rng.u8(..10) < 9 {
            for _ in 0..rng.usize(0..=16) {
                let index = if rng.u8(..4) == 0 {
                    rng.u64(..512)
                } else {
                    rng.u64(..4)
                };
                let value = entry(&mut rng, frames);
                mem.write_u64(PhysAddr(frame * PAGE_SIZE + index * 8), value);
            }
        }
    }
    let cr3 = rng.u64(..frames) * PAGE_SIZE;
    let mut log = String::new();
    if verbose {
        let _ = writeln!(log, "{frames} frames, CR3 = {cr3:#x}; non-zero words:");
        for at in (0..mem.size()).step_by(8) {
            let word = mem.read_u64(PhysAddr(at));
            if word != 0 {
                let _ = writeln!(log, "  [{at:#x}] = {word:#018x}  {:?}", Entry(word));
            }
        }
    }
    for _ in 0..16 {
        let addr = if rng.bool() {
            guided_address(&mut rng, &mem, cr3)
        } else {
            address(&mut rng)
        };
        let (model, path) = model(&mem, cr3, addr);
        SEEN.add(match model {
            Model::NonCanonical => 0,
            Model::OutOfMemory(_) => 1,
            Model::NotPresent(_) => 2,
            Model::Mapped { .. } => 3,
        });
        let oom = match model {
            Model::OutOfMemory(at) => Some(at),
            _ => None,
        };
        if verbose {
            let _ = writeln!(log, "{addr:#x}: model {model:?}");
        }
        let fail = |log: &str, message: String| {
            format!("{log}at {addr:#x} (model: {model:?}):\n  {message}")
        };
        // The x86_64 crate, where it can be asked: not where the walk
        // leaves memory or meets the page-size bit in the PML4 entry.
        let pml4e_huge = path.first().is_some_and(|&(_, _, e)| e & (1 << 7) != 0);
        let askable = oom.is_none() && model != Model::NonCanonical && !pml4e_huge;
        match (oracle(&mut mem, cr3, addr), askable) {
            (Some(theirs), true) => {
                SEEN.add(4);
                let ours = match model {
                    Model::Mapped { phys, size, .. } => Some((phys.0, size.bytes())),
                    _ => None,
                };
                if theirs != ours {
                    return Err(fail(
                        &log,
                        format!("test bug: the model says {ours:?}, the x86_64 crate {theirs:?}"),
                    ));
                }
            }
            (None, false) => {}
            (answer, _) => {
                return Err(fail(
                    &log,
                    format!("test bug: askable is {askable}, the oracle answered {answer:?}"),
                ));
            }
        }
        for access in ACCESSES {
            mem.reset_counters();
            let what = format!("translate({addr:#x}, {access:?})");
            let Some(got) = guarded(&what, oom, || {
                translate(&mem, PhysAddr(cr3), VirtAddr(addr), access)
            })
            .map_err(|e| fail(&log, e))?
            else {
                continue;
            };
            let want = expected(&model, addr, access);
            if got != want {
                return Err(fail(
                    &log,
                    format!("{what}\n  got:      {got:?}\n  expected: {want:?}"),
                ));
            }
            if mem.reads() > 4 || mem.writes() > 0 {
                return Err(fail(
                    &log,
                    format!(
                        "{what} made {} reads and {} writes (at most 4 reads, no write)",
                        mem.reads(),
                        mem.writes()
                    ),
                ));
            }
        }
        let what = format!("walk({addr:#x})");
        let Some(got) = guarded(&what, oom, || walk(&mem, PhysAddr(cr3), VirtAddr(addr)))
            .map_err(|e| fail(&log, e))?
        else {
            continue;
        };
        let steps: Result<Vec<(Level, u64, u64)>, Fault> = got.map(|w| {
            w.steps()
                .iter()
                .map(|s| (s.level, s.entry_addr.0, s.entry.0))
                .collect()
        });
        let want = match expected(&model, addr, Access::read()) {
            Ok(_) => Ok(path.clone()),
            Err(fault) => Err(fault),
        };
        if steps != want {
            return Err(fail(
                &log,
                format!("{what}\n  got:      {steps:?}\n  expected: {want:?}"),
            ));
        }
    }
    if verbose {
        print!("{log}");
    }
    Ok(())
}
