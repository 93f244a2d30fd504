//! Runs the allocation traces of instructor test packs (`oslings_cases::alloc`)
//! against the learner's `Arena`. The checker generates one `#[test]` per
//! case file, calling [`run_case!`](crate::run_case).

use std::alloc::Layout;
use std::ptr::NonNull;

use learner::Arena;
use oslings_cases::alloc::{AllocOp, AllocTrace};

use crate::{SkewedBuffer, must_not_panic};

/// Runs the case file at `path` (absolute; the checker validated it when it
/// loaded the pack) as a test; `name` is how the failure message names it.
#[macro_export]
macro_rules! run_case {
    ($name:literal, $path:literal) => {
        $crate::cases::run($name, include_str!($path))
    };
}

/// Runs one allocation trace; panics with the first step that went wrong.
pub fn run(name: &str, text: &str) {
    let trace: AllocTrace = oslings_cases::parse(text)
        .unwrap_or_else(|err| panic!("the case file {name} is not valid: {err}"));
    let mut buffer = SkewedBuffer::new(trace.capacity, 4096, trace.skew);
    let start = buffer.start();
    let mut arena = Arena::new(buffer.as_uninit());
    let mut live: Vec<(NonNull<u8>, Layout)> = Vec::new();
    for (i, step) in trace.steps.iter().map(|s| s.get_ref()).enumerate() {
        let fail = |what: String| -> ! {
            panic!(
                "case {name}, step {} of {} (an arena of {} bytes starting {} bytes past a \
                 4096-aligned address):\n{what}",
                i + 1,
                trace.steps.len(),
                trace.capacity,
                trace.skew
            )
        };
        match step.op {
            AllocOp::Alloc => {
                let (size, align) = (step.size.unwrap_or(0), step.align.unwrap_or(1));
                let layout = Layout::from_size_align(size, align)
                    .unwrap_or_else(|err| fail(format!("size {size}, align {align}: {err}")));
                let call = format!("alloc(size {size}, align {align})");
                let got = must_not_panic(&call, "return a block or None", || arena.alloc(layout));
                match (got, step.offset) {
                    (None, _) if size == 0 => fail(format!(
                        "{call} returned None; a zero-sized request always succeeds"
                    )),
                    (Some(ptr), _) if size == 0 => {
                        if ptr.as_ptr().addr() % align != 0 {
                            fail(format!(
                                "{call} returned {ptr:?}, which is not aligned to {align}"
                            ));
                        }
                    }
                    (None, Some(offset)) => fail(format!(
                        "{call} returned None; expected a block at offset {offset}"
                    )),
                    (Some(ptr), None) => fail(format!(
                        "{call} returned a block at offset {}; expected None (it must not fit)",
                        ptr.as_ptr().addr().wrapping_sub(start)
                    )),
                    (Some(ptr), Some(offset)) => {
                        let got = ptr.as_ptr().addr().wrapping_sub(start);
                        if got != offset {
                            fail(format!(
                                "{call} returned a block at offset {got}; expected offset {offset}"
                            ));
                        }
                        live.push((ptr, layout));
                    }
                    (None, None) => {}
                }
            }
            AllocOp::Reset => {
                must_not_panic("reset()", "free every block", || arena.reset());
                live.clear();
            }
            AllocOp::DeallocLast => {
                let expected = step.freed.unwrap_or(false);
                let Some(&(ptr, layout)) = live.last() else {
                    fail("dealloc_last: no live block to offer back".into())
                };
                let offset = ptr.as_ptr().addr() - start;
                let call = format!(
                    "dealloc_last(the block at offset {offset}, size {}, align {})",
                    layout.size(),
                    layout.align()
                );
                let freed = must_not_panic(&call, "return true or false", || {
                    arena.dealloc_last(ptr, layout)
                });
                if freed != expected {
                    fail(format!("{call} returned {freed}; expected {expected}"));
                }
                if freed {
                    live.pop();
                }
            }
        }
        if let Some(used) = step.used {
            let got = must_not_panic("used()", "return the bytes in use", || arena.used());
            if got != used {
                fail(format!("after this step used() is {got}; expected {used}"));
            }
        }
    }
}
