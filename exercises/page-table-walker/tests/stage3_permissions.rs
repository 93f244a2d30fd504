//! Stage 3 visible tests: `check_access` applies the three protection rules
//! in order (user access to a supervisor page, write to a read-only page,
//! fetch from a no-execute page), and `translate` combines the permissions
//! of every level of the walk before checking: writable and user only if
//! every level says so, no-execute if any level says so.
//!
//! Run only this stage with `cargo test -p page-table-walker --test stage3_permissions`.

use page_table_walker::{
    Access, Fault, Flags, Level, PhysAddr, Violation, VirtAddr, check_access, translate,
};
use rstest::rstest;

mod common;

use common::{RWU, Tables, expect_fault, expect_ok, flags};

const P: Flags = Flags::PRESENT;
const PW: Flags = flags(&[Flags::PRESENT, Flags::WRITABLE]);
const PU: Flags = flags(&[Flags::PRESENT, Flags::USER]);
const PWU_NX: Flags = flags(&[
    Flags::PRESENT,
    Flags::WRITABLE,
    Flags::USER,
    Flags::NO_EXECUTE,
]);
const P_NX: Flags = flags(&[Flags::PRESENT, Flags::NO_EXECUTE]);

const ADDR: u64 = 0x0080_8060_4005;

#[rstest]
#[case::user_reads_user_page(RWU, Access::read().user(), None)]
#[case::user_writes_writable_user_page(RWU, Access::write().user(), None)]
#[case::user_executes_executable_page(RWU, Access::execute().user(), None)]
#[case::user_reads_supervisor_page(PW, Access::read().user(), Some(Violation::UserToSupervisor))]
#[case::supervisor_reads_supervisor_page(P, Access::read(), None)]
#[case::supervisor_reads_user_page(PU, Access::read(), None)]
#[case::user_writes_read_only_page(PU, Access::write().user(), Some(Violation::WriteToReadOnly))]
#[case::supervisor_writes_read_only_page(P, Access::write(), Some(Violation::WriteToReadOnly))]
#[case::user_executes_no_execute_page(PWU_NX, Access::execute().user(), Some(Violation::ExecuteNoExecute))]
#[case::user_reads_no_execute_page(PWU_NX, Access::read().user(), None)]
#[case::user_rule_comes_first(P_NX, Access::execute().user(), Some(Violation::UserToSupervisor))]
#[case::user_rule_before_write_rule(P, Access::write().user(), Some(Violation::UserToSupervisor))]
fn check_access_applies_the_rules_in_order(
    #[case] page: Flags,
    #[case] access: Access,
    #[case] want: Option<Violation>,
) {
    let addr = VirtAddr(0x1000);
    let got = check_access(page, access, addr);
    let want = match want {
        None => Ok(()),
        Some(violation) => Err(Fault::Protection { addr, violation }),
    };
    assert_eq!(
        got, want,
        "check_access({page:?}, {access:?}): the rules, in order: a user access needs USER; \
         a write needs WRITABLE (supervisor writes too, CR0.WP = 1); a fetch needs NO_EXECUTE \
         clear. Reads and fetches never need WRITABLE; supervisor accesses never need USER"
    );
}

#[test]
fn translation_flags_are_only_the_combined_permissions() {
    let mut t = Tables::new();
    let frame = t.frame();
    let noise = Flags::ACCESSED | Flags::DIRTY | Flags::GLOBAL | Flags::COPY_ON_WRITE;
    t.map_4k(ADDR, frame, RWU | noise);
    let got = expect_ok(
        translate(&t.m.mem, t.cr3, VirtAddr(ADDR), Access::read().user()),
        "a user read of a present, writable, user page",
    );
    assert_eq!(
        got.flags, RWU,
        "Translation::flags holds PRESENT, plus WRITABLE and USER if every level sets them, \
         plus NO_EXECUTE if any does: no ACCESSED, DIRTY, GLOBAL or other bits"
    );
}

#[rstest]
#[case::pml4(Level::Pml4)]
#[case::pdpt(Level::Pdpt)]
#[case::pd(Level::Pd)]
#[case::pt(Level::Pt)]
fn a_supervisor_entry_at_any_level_makes_the_page_supervisor(#[case] level: Level) {
    let mut t = Tables::new();
    let frame = t.frame();
    t.map_4k(ADDR, frame, RWU);
    t.set_flags(ADDR, level, Flags::PRESENT | Flags::WRITABLE);

    let fault = expect_fault(
        translate(&t.m.mem, t.cr3, VirtAddr(ADDR), Access::read().user()),
        &format!("a user read when the {level} entry lacks USER"),
    );
    assert_eq!(
        fault,
        Fault::Protection {
            addr: VirtAddr(ADDR),
            violation: Violation::UserToSupervisor
        },
        "USER must be set at every level for user mode: AND the USER bits of all the entries \
         the walk read, not only the leaf's"
    );
    let got = expect_ok(
        translate(&t.m.mem, t.cr3, VirtAddr(ADDR), Access::read()),
        "a supervisor read of the same page",
    );
    assert_eq!(
        got.flags,
        Flags::PRESENT | Flags::WRITABLE,
        "the combined flags of a page whose {level} entry lacks USER"
    );
}

#[rstest]
#[case::pml4(Level::Pml4)]
#[case::pdpt(Level::Pdpt)]
#[case::pd(Level::Pd)]
#[case::pt(Level::Pt)]
fn a_read_only_entry_at_any_level_makes_the_page_read_only(#[case] level: Level) {
    let mut t = Tables::new();
    let frame = t.frame();
    t.map_4k(ADDR, frame, RWU);
    t.set_flags(ADDR, level, Flags::PRESENT | Flags::USER);

    let fault = expect_fault(
        translate(&t.m.mem, t.cr3, VirtAddr(ADDR), Access::write().user()),
        &format!("a user write when the {level} entry lacks WRITABLE"),
    );
    assert_eq!(
        fault,
        Fault::Protection {
            addr: VirtAddr(ADDR),
            violation: Violation::WriteToReadOnly
        },
        "WRITABLE must be set at every level: AND the WRITABLE bits of the whole walk"
    );
    expect_ok(
        translate(&t.m.mem, t.cr3, VirtAddr(ADDR), Access::read().user()),
        "a user read of a read-only page is allowed",
    );
}

#[rstest]
#[case::pml4(Level::Pml4)]
#[case::pdpt(Level::Pdpt)]
#[case::pd(Level::Pd)]
#[case::pt(Level::Pt)]
fn no_execute_at_any_level_makes_the_page_no_execute(#[case] level: Level) {
    let mut t = Tables::new();
    let frame = t.frame();
    t.map_4k(ADDR, frame, RWU);
    t.set_flags(ADDR, level, RWU | Flags::NO_EXECUTE);

    let got = expect_ok(
        translate(&t.m.mem, t.cr3, VirtAddr(ADDR), Access::read().user()),
        &format!("a user read when the {level} entry sets NO_EXECUTE"),
    );
    assert_eq!(
        got.flags,
        RWU | Flags::NO_EXECUTE,
        "NO_EXECUTE in any entry of the walk makes the page no-execute: OR it in \
         (and it is bit 63: did you mask it out of the address, but keep it as a flag?)"
    );
    assert_eq!(got.phys, PhysAddr(frame.0 + 5));
    let fault = expect_fault(
        translate(&t.m.mem, t.cr3, VirtAddr(ADDR), Access::execute().user()),
        "an instruction fetch from it",
    );
    assert_eq!(
        fault,
        Fault::Protection {
            addr: VirtAddr(ADDR),
            violation: Violation::ExecuteNoExecute
        }
    );
}

#[test]
fn the_fault_names_the_full_address_not_the_page() {
    let mut t = Tables::new();
    let frame = t.frame();
    t.map_4k(ADDR, frame, Flags::PRESENT);
    let addr = VirtAddr(ADDR + 0x7f0);
    let fault = expect_fault(
        translate(&t.m.mem, t.cr3, addr, Access::write()),
        "a write to a read-only page",
    );
    assert_eq!(
        fault,
        Fault::Protection {
            addr,
            violation: Violation::WriteToReadOnly
        },
        "the fault carries the address that was translated, offset included (the page fault \
         handler gets it in CR2)"
    );
}
