//! Stage 2: how the compiler lays out a `#[repr(C)]` struct.

use std::alloc::Layout;

use crate::align::align_up;

// ANCHOR: struct_layout
/// Where each field of a `#[repr(C)]` struct lives, and the struct's own
/// layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StructLayout {
    /// Size and alignment of the whole struct, trailing padding included.
    pub layout: Layout,
    /// Byte offset of each field, in declaration order.
    pub offsets: Vec<usize>,
}
// ANCHOR_END: struct_layout

// ANCHOR: repr_c_layout
/// Computes the layout C (and `#[repr(C)]`) gives a struct whose fields have
/// the layouts `fields`, in this order.
///
/// Each field starts at the first offset, at or after the end of the previous
/// field, that is a multiple of the field's alignment. The struct is as aligned
/// as its most aligned field (1 for no fields), and its size is rounded up to
/// a multiple of that alignment so that arrays of it stay aligned.
///
/// Returns `None` if the size would overflow what a [`Layout`] can describe.
pub fn repr_c_layout(fields: &[Layout]) -> Option<StructLayout> {
    let mut offsets = Vec::with_capacity(fields.len());
    let mut end = 0usize;
    let mut align = 1usize;
    for field in fields {
        let offset = align_up(end, field.align()).ok()?;
        offsets.push(offset);
        end = offset.checked_add(field.size())?;
        align = align.max(field.align());
    }
    // Trailing padding: the next element of an array must start aligned too.
    let size = align_up(end, align).ok()?;
    let layout = Layout::from_size_align(size, align).ok()?;
    Some(StructLayout { layout, offsets })
}
// ANCHOR_END: repr_c_layout
