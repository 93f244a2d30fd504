//! Stage 2: how the compiler lays out a `#[repr(C)]` struct.

use std::alloc::Layout;

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
    todo!("stage 2: lay out {} fields like a C compiler", fields.len())
}
// ANCHOR_END: repr_c_layout
