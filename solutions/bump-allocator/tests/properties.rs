//! Property tests: the reference's arithmetic against models too simple to be wrong.
//!
//! Each model computes in `u128` (where nothing a `usize` can hold overflows)
//! or leans on the standard library (`Layout::extend`), and proptest throws
//! random inputs at both, biased towards the edges (`usize::MAX`, huge
//! alignments) where the bugs live. `PROPTEST_CASES=10000 cargo test -p
//! bump-allocator-solution --test properties` runs them longer.

use std::alloc::Layout;
use std::mem::MaybeUninit;
use std::ptr::NonNull;

use bump_allocator_solution::{AlignError, Arena, align_down, align_up, repr_c_layout};
use proptest::prelude::*;

/// An address, often close to the top of the address space.
fn address() -> impl Strategy<Value = usize> {
    prop_oneof![
        any::<usize>(),
        0usize..=4096,
        (0usize..=4096).prop_map(|below| usize::MAX - below),
    ]
}

/// A power of two, every one a `usize` can hold.
fn power_of_two() -> impl Strategy<Value = usize> {
    (0..usize::BITS).prop_map(|shift| 1usize << shift)
}

/// Anything that is not a power of two (zero included).
fn not_power_of_two() -> impl Strategy<Value = usize> {
    any::<usize>().prop_filter("a power of two", |n| !n.is_power_of_two())
}

proptest! {
    #[test]
    fn align_up_is_the_next_multiple_or_an_overflow(addr in address(), align in power_of_two()) {
        let (a, n) = (addr as u128, align as u128);
        let next_multiple = a.div_ceil(n) * n;
        let expected = if next_multiple > usize::MAX as u128 {
            Err(AlignError::Overflow { addr, align })
        } else {
            Ok(next_multiple as usize)
        };
        prop_assert_eq!(align_up(addr, align), expected);
    }

    #[test]
    fn align_down_is_the_previous_multiple(addr in address(), align in power_of_two()) {
        let (a, n) = (addr as u128, align as u128);
        prop_assert_eq!(align_down(addr, align), Ok((a / n * n) as usize));
    }

    #[test]
    fn alignments_that_are_not_powers_of_two_are_refused(
        addr in address(),
        align in not_power_of_two(),
    ) {
        let refused = Err(AlignError::NotPowerOfTwo { align });
        prop_assert_eq!(align_up(addr, align), refused);
        prop_assert_eq!(align_down(addr, align), refused);
    }
}

/// A field's layout: mostly small, sometimes so large that the struct overflows.
fn field() -> impl Strategy<Value = Layout> {
    let size = prop_oneof![
        4 => 0usize..=64,
        1 => (0usize..=4096).prop_map(|below| isize::MAX as usize / 2 - below),
    ];
    (size, 0u32..=12).prop_filter_map("not a valid Layout", |(size, shift)| {
        Layout::from_size_align(size, 1 << shift).ok()
    })
}

/// What `#[repr(C)]` does, as the standard library spells it:
/// `Layout::extend` field by field, then `pad_to_align`.
fn std_repr_c(fields: &[Layout]) -> Option<(Layout, Vec<usize>)> {
    let mut layout = Layout::from_size_align(0, 1).expect("the empty layout");
    let mut offsets = Vec::new();
    for field in fields {
        let (extended, offset) = layout.extend(*field).ok()?;
        layout = extended;
        offsets.push(offset);
    }
    Some((layout.pad_to_align(), offsets))
}

proptest! {
    #[test]
    fn repr_c_layout_agrees_with_layout_extend(
        fields in prop::collection::vec(field(), 0..8),
    ) {
        let ours = repr_c_layout(&fields).map(|s| (s.layout, s.offsets));
        prop_assert_eq!(ours, std_repr_c(&fields));
    }
}

/// One call on an arena.
#[derive(Debug, Clone)]
enum Op {
    Alloc {
        size: usize,
        align: usize,
    },
    /// Give back the `n`-th block handed out so far (modulo their number).
    DeallocLast(usize),
    Reset,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (prop_oneof![3 => 1usize..=48, 1 => Just(0usize), 1 => 0usize..=600], 0u32..=9)
            .prop_map(|(size, shift)| Op::Alloc { size, align: 1 << shift }),
        2 => any::<usize>().prop_map(Op::DeallocLast),
        1 => Just(Op::Reset),
    ]
}

/// The arena as a bare cursor over addresses: align up, check the end, bump.
struct Model {
    start: u128,
    end: u128,
    next: u128,
}

impl Model {
    fn alloc(&mut self, size: usize, align: usize) -> Option<u128> {
        if size == 0 {
            return Some(align as u128);
        }
        let at = self.next.div_ceil(align as u128) * align as u128;
        if at + size as u128 > self.end {
            return None;
        }
        self.next = at + size as u128;
        Some(at)
    }

    fn dealloc_last(&mut self, addr: u128, size: usize) -> bool {
        let last = addr >= self.start && addr + size as u128 == self.next;
        if last {
            self.next = addr;
        }
        last
    }
}

proptest! {
    #[test]
    fn arena_hands_out_what_a_bare_cursor_would(
        len in 0usize..=1024,
        skew in 0usize..8,
        ops in prop::collection::vec(op(), 0..40),
    ) {
        // `skew` moves the buffer off any alignment the allocator gives it,
        // so that aligning the offset instead of the address shows.
        let mut storage = vec![MaybeUninit::<u8>::uninit(); len + skew];
        let buf = &mut storage[skew..];
        let start = buf.as_ptr() as u128;
        let mut model = Model { start, end: start + len as u128, next: start };
        let mut arena = Arena::new(buf);
        let mut handed_out: Vec<(NonNull<u8>, Layout)> = Vec::new();
        for (step, op) in ops.into_iter().enumerate() {
            match op {
                Op::Alloc { size, align } => {
                    let layout = Layout::from_size_align(size, align).expect("small layout");
                    let got = arena.alloc(layout);
                    let want = model.alloc(size, align);
                    prop_assert_eq!(
                        got.map(|p| p.as_ptr() as u128), want,
                        "step {}: alloc({:?}) at offset {}", step, layout, model.next - start
                    );
                    if let Some(ptr) = got {
                        handed_out.push((ptr, layout));
                    }
                }
                Op::DeallocLast(n) if !handed_out.is_empty() => {
                    let (ptr, layout) = handed_out[n % handed_out.len()];
                    let want = model.dealloc_last(ptr.as_ptr() as u128, layout.size());
                    prop_assert_eq!(arena.dealloc_last(ptr, layout), want, "step {}", step);
                }
                Op::DeallocLast(_) => {}
                Op::Reset => {
                    arena.reset();
                    model.next = start;
                    handed_out.clear();
                }
            }
            prop_assert_eq!(arena.used() as u128, model.next - start, "used after step {}", step);
            prop_assert_eq!(arena.remaining() as u128, model.end - model.next, "remaining after step {}", step);
            prop_assert_eq!(arena.capacity(), len);
        }
    }
}
