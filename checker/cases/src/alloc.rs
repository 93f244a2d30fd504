//! Allocation traces for the bump allocator: a sequence of `alloc`, `reset`
//! and `dealloc_last` calls on an `Arena` over a buffer of `capacity` bytes,
//! each with the result it must have.

use serde::Deserialize;
use toml::Spanned;

use crate::{Case, Invalid};

/// An allocation trace.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllocTrace {
    /// Size of the arena's buffer in bytes.
    pub capacity: usize,
    /// How many bytes past a 4096-aligned address the buffer starts
    /// (default 0); offsets are counted from the buffer's first byte either way.
    #[serde(default)]
    pub skew: usize,
    /// The calls, in order.
    pub steps: Vec<Spanned<AllocStep>>,
}

/// What a step calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AllocOp {
    /// `arena.alloc(Layout::from_size_align(size, align))`.
    Alloc,
    /// `arena.reset()`.
    Reset,
    /// `arena.dealloc_last(ptr, layout)` with the latest block still live
    /// (blocks it takes back are no longer live, so a second `dealloc_last`
    /// offers the block before).
    DeallocLast,
}

/// One call and its expected result.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllocStep {
    /// The call.
    pub op: AllocOp,
    /// `alloc`: the requested size in bytes.
    pub size: Option<usize>,
    /// `alloc`: the requested alignment (a power of two).
    pub align: Option<usize>,
    /// `alloc`: where the block must start, in bytes from the buffer's first
    /// byte (not for zero-sized requests, which only must succeed, aligned).
    pub offset: Option<usize>,
    /// `alloc`: `true` when the arena must refuse (return `None`).
    #[serde(default)]
    pub fails: bool,
    /// `dealloc_last`: whether the arena must take the block back.
    pub freed: Option<bool>,
    /// Any step: the arena's `used()` right after it.
    pub used: Option<usize>,
}

impl Case for AllocTrace {
    fn validate(&self) -> Result<(), Invalid> {
        if self.skew >= 4096 {
            return Err(Invalid::file(format!(
                "skew = {} must be smaller than 4096",
                self.skew
            )));
        }
        if self.steps.is_empty() {
            return Err(Invalid::file(
                "a trace needs at least one step: add a [[steps]] table with op = \"alloc\"",
            ));
        }
        let mut live = 0usize;
        for (i, spanned) in self.steps.iter().enumerate() {
            let step = spanned.get_ref();
            let at =
                |message: String| Invalid::at(spanned.span(), format!("step {}: {message}", i + 1));
            match step.op {
                AllocOp::Alloc => {
                    let (Some(size), Some(align)) = (step.size, step.align) else {
                        return Err(at("op = \"alloc\" needs `size` and `align`".into()));
                    };
                    if !align.is_power_of_two() {
                        return Err(at(format!(
                            "align = {align} is not a power of two (write 1, 2, 4, 8, ...)"
                        )));
                    }
                    if size == 0 {
                        if step.offset.is_some() || step.fails {
                            return Err(at("a zero-sized alloc always succeeds with a pointer \
                                 that need not be in the buffer: leave out `offset` and `fails`"
                                .into()));
                        }
                    } else if step.offset.is_some() == step.fails {
                        return Err(at(
                            "op = \"alloc\" needs exactly one of `offset = N` (where the block \
                             must start) or `fails = true` (the arena must refuse)"
                                .into(),
                        ));
                    }
                    if step.freed.is_some() {
                        return Err(at("`freed` belongs to op = \"dealloc_last\"".into()));
                    }
                    live += usize::from(step.offset.is_some());
                }
                AllocOp::Reset | AllocOp::DeallocLast => {
                    if step.size.is_some()
                        || step.align.is_some()
                        || step.offset.is_some()
                        || step.fails
                    {
                        return Err(at(
                            "`size`, `align`, `offset` and `fails` belong to op = \"alloc\"".into(),
                        ));
                    }
                    if step.op == AllocOp::Reset {
                        if step.freed.is_some() {
                            return Err(at("`freed` belongs to op = \"dealloc_last\"".into()));
                        }
                    } else {
                        if step.freed.is_none() {
                            return Err(at(
                                "op = \"dealloc_last\" needs `freed = true` or `freed = false`"
                                    .into(),
                            ));
                        }
                        if live == 0 {
                            return Err(at("op = \"dealloc_last\" offers back the latest live \
                                 block, and there is none here (every alloc before it failed, \
                                 was reset or was taken back)"
                                .into()));
                        }
                        if step.freed == Some(true) {
                            live -= 1;
                        }
                    }
                    if step.op == AllocOp::Reset {
                        live = 0;
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
    fn a_good_trace_parses() {
        let trace: AllocTrace = parse(
            "capacity = 64\nskew = 1\n\
             [[steps]]\nop = \"alloc\"\nsize = 8\nalign = 8\noffset = 7\n\
             [[steps]]\nop = \"dealloc_last\"\nfreed = true\nused = 0\n\
             [[steps]]\nop = \"reset\"\n",
        )
        .unwrap();
        assert_eq!(trace.steps.len(), 3);
        assert_eq!(trace.steps[1].get_ref().used, Some(0));
    }

    #[test]
    fn a_step_without_its_expectation_names_its_line() {
        let err = parse::<AllocTrace>(
            "capacity = 64\n\n[[steps]]\nop = \"alloc\"\nsize = 8\nalign = 8\n",
        )
        .unwrap_err();
        assert!(err.starts_with("line 3: step 1:"), "{err}");
        assert!(err.contains("offset"), "{err}");
    }

    #[test]
    fn unknown_fields_and_ops_are_refused() {
        let err = parse::<AllocTrace>("capacity = 64\n[[steps]]\nop = \"free\"\n").unwrap_err();
        assert!(err.contains("unknown variant `free`"), "{err}");
        let err = parse::<AllocTrace>("capacity = 64\n[[steps]]\nop = \"reset\"\nsizes = 1\n")
            .unwrap_err();
        assert!(err.contains("unknown field `sizes`"), "{err}");
    }

    #[test]
    fn dealloc_last_needs_a_block() {
        let err = parse::<AllocTrace>(
            "capacity = 64\n[[steps]]\nop = \"reset\"\n[[steps]]\nop = \"dealloc_last\"\nfreed = false\n",
        )
        .unwrap_err();
        assert!(
            err.contains("step 2") && err.contains("there is none"),
            "{err}"
        );
    }
}
