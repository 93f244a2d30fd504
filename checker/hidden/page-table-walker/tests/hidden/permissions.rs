//! Stage 3: `check_access`, and permissions combined across every level.

use hidden_page_table_walker::{
    ACCESSES, Shape, World, access_name, compare, fault_name, for_random_addresses, model_check,
};
use learner::{Access, Fault, Flags, Level, Violation, VirtAddr, check_access, translate};

const ADDR: VirtAddr = VirtAddr(0x4000);

// Catches: a missing rule (user, write or execute), a rule inverted, supervisor writes to read-only pages allowed (CR0.WP = 1), or SMEP/SMAP-like rules.
#[test]
fn check_access_follows_the_three_rules() {
    for bits in 0..8_u64 {
        let mut flags = Flags::PRESENT;
        if bits & 1 != 0 {
            flags |= Flags::WRITABLE;
        }
        if bits & 2 != 0 {
            flags |= Flags::USER;
        }
        if bits & 4 != 0 {
            flags |= Flags::NO_EXECUTE;
        }
        for access in ACCESSES {
            let expected = model_check(flags.bits(), access).map_or(Ok(()), |violation| {
                Err(Fault::Protection {
                    addr: ADDR,
                    violation,
                })
            });
            assert_eq!(
                check_access(flags, access, ADDR),
                expected,
                "check_access({flags:?}, {}): user mode needs USER, a write needs WRITABLE \
                 (in supervisor mode too), an instruction fetch needs NO_EXECUTE clear; a \
                 supervisor may use user pages",
                access_name(access)
            );
        }
    }
}

// Catches: reporting the broken rules in the wrong order (it is user, then write, then execute).
#[test]
fn check_access_reports_the_first_broken_rule() {
    let cases = [
        (
            Flags::PRESENT,
            Access::write().user(),
            Violation::UserToSupervisor,
        ),
        (
            Flags::PRESENT | Flags::NO_EXECUTE,
            Access::execute().user(),
            Violation::UserToSupervisor,
        ),
        (
            Flags::PRESENT | Flags::USER | Flags::NO_EXECUTE,
            Access::write().user(),
            Violation::WriteToReadOnly,
        ),
        (
            Flags::PRESENT | Flags::NO_EXECUTE,
            Access::write(),
            Violation::WriteToReadOnly,
        ),
    ];
    for (flags, access, violation) in cases {
        assert_eq!(
            check_access(flags, access, ADDR),
            Err(Fault::Protection {
                addr: ADDR,
                violation
            }),
            "check_access({flags:?}, {}): when several rules are broken, the first of user, \
             write, execute is reported",
            access_name(access)
        );
    }
}

// Catches: Translation.flags taken from the leaf alone, NO_EXECUTE from the leaf only, or extra bits (ACCESSED, DIRTY, GLOBAL...) leaking into it.
#[test]
fn translation_flags_combine_every_level() {
    for_random_addresses(100..112, Shape::PERMISSIONS, 300, false, |world, addr| {
        let expected = world.expect_checked(addr, Access::read());
        let got = translate(&world.m.mem, world.cr3, VirtAddr(addr), Access::read());
        compare(addr, &expected, &got, true, world.seed)
    });
}

// Catches: checking permissions at the leaf only, or checking the wrong access kind, on random tables with random permissions.
#[test]
fn random_accesses_fault_exactly_when_some_level_forbids_them() {
    let mut rng = fastrand::Rng::with_seed(7);
    for_random_addresses(120..132, Shape::PERMISSIONS, 300, false, |world, addr| {
        let access = ACCESSES[rng.usize(0..6)];
        let expected = world.expect_checked(addr, access);
        let got = translate(&world.m.mem, world.cr3, VirtAddr(addr), access);
        compare(addr, &expected, &got, true, world.seed)
            .map_err(|m| format!("{m}, for {}", access_name(access)))
    });
}

/// A world of permissive tables, with the entry of `level` on the way to
/// its first 4 KiB page replaced by the same entry with `clear` cleared and
/// `set` set. Returns the world and an address in that page.
fn restricted(level: Level, clear: Flags, set: Flags) -> (World, u64) {
    let mut world = World::random(140, Shape::WALK);
    let addr = world.leaves[0].page + 8;
    let (_, entry) = world.entry_of(addr, level).expect("the walk exists");
    world.set_entry(addr, level, (entry & !clear.bits()) | set.bits());
    (world, addr)
}

// Catches: permissions checked only at the leaf (an upper level's read-only, supervisor or no-execute bit ignored).
#[test]
fn every_level_can_forbid() {
    let rules = [
        (
            Flags::WRITABLE,
            Flags::EMPTY,
            Access::write(),
            Violation::WriteToReadOnly,
            "WRITABLE clear",
        ),
        (
            Flags::USER,
            Flags::EMPTY,
            Access::read().user(),
            Violation::UserToSupervisor,
            "USER clear",
        ),
        (
            Flags::EMPTY,
            Flags::NO_EXECUTE,
            Access::execute(),
            Violation::ExecuteNoExecute,
            "NO_EXECUTE set",
        ),
    ];
    for level in Level::WALK {
        for (clear, set, access, violation, what) in rules {
            let (world, addr) = restricted(level, clear, set);
            let got = translate(&world.m.mem, world.cr3, VirtAddr(addr), access);
            assert_eq!(
                got.map(|t| t.phys),
                Err(Fault::Protection {
                    addr: VirtAddr(addr),
                    violation
                }),
                "translate({addr:#x}, {}) where only the level-{} entry has {what} (every other \
                 level allows everything): one level is enough to forbid",
                access_name(access),
                level.number()
            );
        }
    }
}

// Catches: checking permissions level by level during the walk, so a forbidden upper level hides a not-present entry below it.
#[test]
fn not_present_comes_before_protection() {
    let mut world = World::random(141, Shape::WALK);
    let hole = world
        .holes
        .iter()
        .find(|(_, level)| *level == Level::Pt)
        .copied()
        .expect("test bug: no hole at level 1");
    let (addr, _) = hole;
    let (_, entry) = world.entry_of(addr, Level::Pml4).expect("the walk exists");
    world.set_entry(addr, Level::Pml4, entry & !Flags::USER.bits());
    let got = translate(
        &world.m.mem,
        world.cr3,
        VirtAddr(addr),
        Access::write().user(),
    );
    assert_eq!(
        got.map(|t| t.phys),
        Err(Fault::NotPresent {
            addr: VirtAddr(addr),
            level: Level::Pt
        }),
        "translate({addr:#x}, a user write): the PML4 entry is supervisor-only but the level-1 \
         entry is not present; the walk finishes first (a page that is not there is \
         reported as such), permissions are checked on the whole walk after"
    );
}

// Catches: a user check missing from translate (user-mode access to a supervisor page allowed).
#[test]
fn user_access_to_a_supervisor_page_faults() {
    let (world, addr) = restricted(Level::Pt, Flags::USER, Flags::EMPTY);
    for access in [
        Access::read().user(),
        Access::write().user(),
        Access::execute().user(),
    ] {
        let got = translate(&world.m.mem, world.cr3, VirtAddr(addr), access);
        assert_eq!(
            got.as_ref().map_err(fault_name).map(|t| t.phys),
            Err(fault_name(&Fault::Protection {
                addr: VirtAddr(addr),
                violation: Violation::UserToSupervisor
            })),
            "translate({addr:#x}, {}) of a supervisor-only page",
            access_name(access)
        );
    }
    let got = translate(&world.m.mem, world.cr3, VirtAddr(addr), Access::write());
    assert!(
        got.is_ok(),
        "translate({addr:#x}, a supervisor write) of a writable supervisor page: {got:?}"
    );
}
