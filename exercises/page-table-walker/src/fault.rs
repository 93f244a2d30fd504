//! Why a translation failed: the page faults of the exercise.

use std::fmt;

use crate::{Level, VirtAddr};

// ANCHOR: fault
/// A failed translation: what the MMU would raise as a page fault (or, for a
/// non-canonical address, a general-protection fault).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// Bits 48–63 of the address are not all copies of bit 47.
    NonCanonical {
        /// The address.
        addr: VirtAddr,
    },
    /// The walk met an entry without the present bit.
    NotPresent {
        /// The address being translated.
        addr: VirtAddr,
        /// The level of the table whose entry was not present (4 = PML4).
        level: Level,
    },
    /// Every entry was present, but the combined permissions forbid the access.
    Protection {
        /// The address being translated.
        addr: VirtAddr,
        /// Which rule the access broke.
        violation: Violation,
    },
}
// ANCHOR_END: fault

// ANCHOR: violation
/// The rule a forbidden access broke. When several are broken, the first in
/// this order is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Violation {
    /// User-mode access to a page that some level marks supervisor-only.
    UserToSupervisor,
    /// A write to a page that some level marks read-only (supervisor writes
    /// too: the exercise models CR0.WP = 1, as every modern kernel sets it).
    WriteToReadOnly,
    /// An instruction fetch from a page that some level marks no-execute.
    ExecuteNoExecute,
}
// ANCHOR_END: violation

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::NonCanonical { addr } => write!(
                f,
                "{addr} is not canonical: bits 48-63 must all equal bit 47"
            ),
            Fault::NotPresent { addr, level } => {
                write!(f, "page fault at {addr}: no present entry at {level}")
            }
            Fault::Protection { addr, violation } => {
                let what = match violation {
                    Violation::UserToSupervisor => "user-mode access to a supervisor page",
                    Violation::WriteToReadOnly => "write to a read-only page",
                    Violation::ExecuteNoExecute => "instruction fetch from a no-execute page",
                };
                write!(f, "page fault at {addr}: {what}")
            }
        }
    }
}

impl std::error::Error for Fault {}
