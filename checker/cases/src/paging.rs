//! Page-table scenarios: an address space on a small simulated machine,
//! 4 KiB mappings made with `AddressSpace::map`, and translations with the
//! physical address or the fault each must give.

use serde::Deserialize;
use toml::Spanned;

use crate::{Case, Invalid};

/// A page-table scenario.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageScenario {
    /// Simulated memory in 4 KiB frames (default 64). The frame allocator
    /// hands out the lowest free frame first, so data frames picked from
    /// the top of memory never collide with the tables.
    #[serde(default = "default_frames")]
    pub frames: u64,
    /// What is done, in order.
    pub steps: Vec<Spanned<PageStep>>,
}

fn default_frames() -> u64 {
    64
}

/// What a step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PageOp {
    /// `space.map(m, virt, phys, flags)`: must succeed.
    Map,
    /// `space.unmap(m, virt)`: must succeed and return the frame `phys`.
    Unmap,
    /// `space.translate(m, virt, access)`: must give `phys` or `fault`.
    Translate,
}

/// A page flag a mapping can carry (`PRESENT` is always added).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PageFlag {
    /// `Flags::WRITABLE`.
    Writable,
    /// `Flags::USER`.
    User,
    /// `Flags::NO_EXECUTE`.
    NoExecute,
}

/// The kind of an access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessKind {
    /// A load.
    Read,
    /// A store.
    Write,
    /// An instruction fetch.
    Execute,
}

/// The fault a translation must raise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// `Fault::NonCanonical`.
    NonCanonical,
    /// `Fault::NotPresent` (with `level`).
    NotPresent,
    /// `Violation::UserToSupervisor`.
    UserToSupervisor,
    /// `Violation::WriteToReadOnly`.
    WriteToReadOnly,
    /// `Violation::ExecuteNoExecute`.
    ExecuteNoExecute,
}

/// One step and its expected result.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageStep {
    /// What is done.
    pub op: PageOp,
    /// The virtual address (page-aligned for `map` and `unmap`).
    pub virt: u64,
    /// `map`: the frame mapped; `unmap`: the frame returned;
    /// `translate`: the physical address expected.
    pub phys: Option<u64>,
    /// `map`: the flags.
    #[serde(default)]
    pub flags: Vec<PageFlag>,
    /// `translate`: the access (default `read`).
    pub access: Option<AccessKind>,
    /// `translate`: whether the access comes from user mode (default `false`).
    #[serde(default)]
    pub user: bool,
    /// `translate`: the fault expected instead of an address.
    pub fault: Option<FaultKind>,
    /// `translate` with `fault = "not_present"`: the level (4 to 1) of the missing entry.
    pub level: Option<u8>,
}

impl Case for PageScenario {
    fn validate(&self) -> Result<(), Invalid> {
        if !(8..=4096).contains(&self.frames) {
            return Err(Invalid::file(format!(
                "frames = {} is out of range: give 8 to 4096 frames of 4 KiB",
                self.frames
            )));
        }
        if self.steps.is_empty() {
            return Err(Invalid::file(
                "a scenario needs at least one [[steps]] table (op = \"map\", \"unmap\" or \"translate\")",
            ));
        }
        let memory = self.frames * 4096;
        for (i, spanned) in self.steps.iter().enumerate() {
            let step = spanned.get_ref();
            let at =
                |message: String| Invalid::at(spanned.span(), format!("step {}: {message}", i + 1));
            match step.op {
                PageOp::Map | PageOp::Unmap => {
                    let Some(phys) = step.phys else {
                        return Err(at("op = \"map\" and \"unmap\" need `phys` (the frame's \
                             physical address)"
                            .into()));
                    };
                    if step.virt % 4096 != 0 || phys % 4096 != 0 {
                        return Err(at(format!(
                            "virt = {:#x} and phys = {phys:#x} must both be multiples of 0x1000",
                            step.virt
                        )));
                    }
                    if phys == 0 || phys >= memory {
                        return Err(at(format!(
                            "phys = {phys:#x} is not a frame of the machine: use frame 1 to {} \
                             (phys 0x1000 to {:#x}); frame 0 is never handed out",
                            self.frames - 1,
                            memory - 4096
                        )));
                    }
                    if step.access.is_some()
                        || step.user
                        || step.fault.is_some()
                        || step.level.is_some()
                    {
                        return Err(at(
                            "`access`, `user`, `fault` and `level` belong to op = \"translate\""
                                .into(),
                        ));
                    }
                    if step.op == PageOp::Unmap && !step.flags.is_empty() {
                        return Err(at("`flags` belong to op = \"map\"".into()));
                    }
                }
                PageOp::Translate => {
                    if !step.flags.is_empty() {
                        return Err(at("`flags` belong to op = \"map\"".into()));
                    }
                    if step.phys.is_some() == step.fault.is_some() {
                        return Err(at(
                            "op = \"translate\" needs exactly one of `phys = 0x...` \
                             (the address expected) or `fault = \"...\"` (not_present, \
                             write_to_read_only, user_to_supervisor, execute_no_execute, \
                             non_canonical)"
                                .into(),
                        ));
                    }
                    let wants_level = step.fault == Some(FaultKind::NotPresent);
                    if wants_level != step.level.is_some() {
                        return Err(at(
                            "fault = \"not_present\" needs `level = 4`, 3, 2 or 1 (the \
                             table whose entry is missing), and only it takes `level`"
                                .into(),
                        ));
                    }
                    if let Some(level) = step.level.filter(|l| !(1..=4).contains(l)) {
                        return Err(at(format!(
                            "level = {level}: levels are 4 (PML4) to 1 (PT)"
                        )));
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    #[test]
    fn a_good_scenario_parses() {
        let scenario: PageScenario = parse(
            "[[steps]]\nop = \"map\"\nvirt = 0x4000\nphys = 0x3f000\nflags = [\"writable\"]\n\
             [[steps]]\nop = \"translate\"\nvirt = 0x4008\nphys = 0x3f008\n\
             [[steps]]\nop = \"translate\"\nvirt = 0x5000\nfault = \"not_present\"\nlevel = 1\n",
        )
        .unwrap();
        assert_eq!(scenario.frames, 64);
        assert_eq!(scenario.steps.len(), 3);
    }

    #[test]
    fn a_fault_needs_its_level() {
        let err = parse::<PageScenario>(
            "[[steps]]\nop = \"translate\"\nvirt = 0x5000\nfault = \"not_present\"\n",
        )
        .unwrap_err();
        assert!(
            err.starts_with("line 1: step 1:") && err.contains("level"),
            "{err}"
        );
    }

    #[test]
    fn frames_must_exist() {
        let err = parse::<PageScenario>(
            "frames = 16\n[[steps]]\nop = \"map\"\nvirt = 0x4000\nphys = 0x20000\n",
        )
        .unwrap_err();
        assert!(err.contains("not a frame of the machine"), "{err}");
    }
}
