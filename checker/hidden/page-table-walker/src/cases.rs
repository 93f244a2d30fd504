//! Runs the page-table scenarios of instructor test packs
//! (`oslings_cases::paging`) against the learner's `AddressSpace`. The
//! checker generates one `#[test]` per case file, calling
//! [`run_case!`](crate::run_case).

use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};

use learner::{
    Access, AddressSpace, Fault, Flags, Level, Machine, PAGE_SIZE, PhysAddr, Violation, VirtAddr,
};
use oslings_cases::paging::{AccessKind, FaultKind, PageFlag, PageOp, PageScenario, PageStep};

/// Runs the case file at `path` (absolute; the checker validated it when it
/// loaded the pack) as a test; `name` is how the failure message names it.
#[macro_export]
macro_rules! run_case {
    ($name:literal, $path:literal) => {
        $crate::cases::run($name, include_str!($path))
    };
}

/// Runs one scenario; panics with the first step that went wrong.
pub fn run(name: &str, text: &str) {
    let scenario: PageScenario = oslings_cases::parse(text)
        .unwrap_or_else(|err| panic!("the case file {name} is not valid: {err}"));
    let mut m = Machine::new(scenario.frames as usize);
    reserve_data_frames(&mut m, &scenario);
    let mut space = guard(name, 0, "AddressSpace::new(machine)", || {
        AddressSpace::new(&mut m)
    })
    .unwrap_or_else(|err| panic!("case {name}: AddressSpace::new failed: {err:?}"));
    for (i, step) in scenario.steps.iter().map(|s| s.get_ref()).enumerate() {
        let number = i + 1;
        let virt = VirtAddr(step.virt);
        let fail = |what: String| -> ! {
            panic!(
                "case {name}, step {number} of {} (a machine of {} frames):\n{what}",
                scenario.steps.len(),
                scenario.frames
            )
        };
        match step.op {
            PageOp::Map => {
                let frame = PhysAddr(step.phys.unwrap_or(0));
                let flags = flags_of(step);
                let call = format!("map({virt}, {frame}, {flags:?})");
                if let Err(err) = guard(name, number, &call, || {
                    space.map(&mut m, virt, frame, flags)
                }) {
                    fail(format!("{call} returned Err({err:?}); expected Ok"));
                }
            }
            PageOp::Unmap => {
                let call = format!("unmap({virt})");
                let expected = PhysAddr(step.phys.unwrap_or(0));
                match guard(name, number, &call, || space.unmap(&mut m, virt)) {
                    Ok(frame) if frame == expected => {}
                    Ok(frame) => fail(format!(
                        "{call} returned Ok({frame}); expected Ok({expected})"
                    )),
                    Err(err) => fail(format!(
                        "{call} returned Err({err:?}); expected Ok({expected})"
                    )),
                }
            }
            PageOp::Translate => {
                let access = access_of(step);
                let call = format!("translate({virt}, {access:?})");
                let got = guard(name, number, &call, || space.translate(&m, virt, access));
                let expected = match (step.phys, step.fault) {
                    (Some(phys), _) => Ok(PhysAddr(phys)),
                    (None, Some(kind)) => Err(fault_of(kind, virt, step.level)),
                    (None, None) => panic!("the case was validated: phys or fault"),
                };
                match (got, expected) {
                    (Ok(t), Ok(phys)) if t.phys == phys => {}
                    (Err(fault), Err(want)) if fault == want => {}
                    (got, want) => fail(format!(
                        "{call} returned {}; expected {}",
                        show(&got.map(|t| t.phys)),
                        show(&want)
                    )),
                }
            }
        }
    }
}

/// Takes every frame a `map` step names out of the allocator's hands (so no
/// table lands in one), keeping the order it hands out the others: lowest first.
fn reserve_data_frames(m: &mut Machine, scenario: &PageScenario) {
    let data: BTreeSet<u64> = scenario
        .steps
        .iter()
        .map(|s| s.get_ref())
        .filter(|s| s.op == PageOp::Map)
        .filter_map(|s| s.phys)
        .collect();
    let mut all = Vec::new();
    while let Some(frame) = m.frames.allocate() {
        all.push(frame);
    }
    all.sort_by_key(|f| std::cmp::Reverse(f.0));
    for frame in all {
        if !data.contains(&frame.0) {
            m.frames.deallocate(frame);
        }
    }
    debug_assert!(data.iter().all(|&f| f % PAGE_SIZE == 0));
}

fn flags_of(step: &PageStep) -> Flags {
    step.flags.iter().fold(Flags::PRESENT, |flags, flag| {
        flags
            | match flag {
                PageFlag::Writable => Flags::WRITABLE,
                PageFlag::User => Flags::USER,
                PageFlag::NoExecute => Flags::NO_EXECUTE,
            }
    })
}

fn access_of(step: &PageStep) -> Access {
    let access = match step.access.unwrap_or(AccessKind::Read) {
        AccessKind::Read => Access::read(),
        AccessKind::Write => Access::write(),
        AccessKind::Execute => Access::execute(),
    };
    if step.user { access.user() } else { access }
}

fn fault_of(kind: FaultKind, addr: VirtAddr, level: Option<u8>) -> Fault {
    let protection = |violation| Fault::Protection { addr, violation };
    match kind {
        FaultKind::NonCanonical => Fault::NonCanonical { addr },
        FaultKind::NotPresent => Fault::NotPresent {
            addr,
            level: match level {
                Some(4) => Level::Pml4,
                Some(3) => Level::Pdpt,
                Some(2) => Level::Pd,
                _ => Level::Pt,
            },
        },
        FaultKind::UserToSupervisor => protection(Violation::UserToSupervisor),
        FaultKind::WriteToReadOnly => protection(Violation::WriteToReadOnly),
        FaultKind::ExecuteNoExecute => protection(Violation::ExecuteNoExecute),
    }
}

fn show(result: &Result<PhysAddr, Fault>) -> String {
    match result {
        Ok(phys) => format!("Ok(phys {phys})"),
        Err(fault) => format!("Err({fault:?}), i.e. \"{fault}\""),
    }
}

/// Runs `f`, turning a panic of the learner's code into a message that says
/// which call of which step panicked.
fn guard<R>(name: &str, step: usize, call: &str, f: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(value) => value,
        Err(payload) => {
            let reason = oslings_harness::panic_reason(&*payload);
            if reason.starts_with("not yet implemented") {
                panic!(
                    "case {name}, step {step}: {call} reached a todo!() ({reason}): fill in that blank first"
                );
            }
            panic!("case {name}, step {step}: {call} panicked ({reason}); it must not panic");
        }
    }
}
