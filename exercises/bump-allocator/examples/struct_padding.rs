//! Lab: where the compiler puts padding. Prints the size, alignment and field
//! offsets of the same three fields declared in two orders with `#[repr(C)]`,
//! and once with Rust's default representation.
//!
//! Run it with `cargo run -p bump-allocator --example struct_padding`.
//! It does not use any of the exercise's blanks.

#![allow(dead_code)] // the structs are measured, never built

use std::mem::{align_of, size_of};

use memoffset::offset_of;

// ANCHOR: structs
/// Smallest field first: C keeps this order, so padding appears twice.
#[repr(C)]
struct Careless {
    flag: u8,
    id: u64,
    port: u16,
}

/// The same fields, largest first.
#[repr(C)]
struct Sorted {
    id: u64,
    port: u16,
    flag: u8,
}

/// The careless order again, but the compiler may reorder fields.
struct Reordered {
    flag: u8,
    id: u64,
    port: u16,
}
// ANCHOR_END: structs

fn bytes(n: usize) -> String {
    if n == 1 {
        "1 byte".to_string()
    } else {
        format!("{n} bytes")
    }
}

fn show(name: &str, size: usize, align: usize, fields: &[(&str, usize, usize)]) {
    let used: usize = fields.iter().map(|&(_, _, field_size)| field_size).sum();
    println!(
        "{name}: size {size}, align {align}, {used} bytes of fields, {} bytes of padding",
        size - used
    );
    let mut by_offset = fields.to_vec();
    by_offset.sort_by_key(|&(_, offset, _)| offset);
    let mut cursor = 0;
    for (field, offset, field_size) in by_offset {
        if offset > cursor {
            println!(
                "  {cursor:>2}..{offset:<2}  padding ({})",
                bytes(offset - cursor)
            );
        }
        let end = offset + field_size;
        println!("  {offset:>2}..{end:<2}  {field} ({})", bytes(field_size));
        cursor = offset + field_size;
    }
    if size > cursor {
        println!(
            "  {cursor:>2}..{size:<2}  trailing padding ({})",
            bytes(size - cursor)
        );
    }
    println!();
}

/// The size of the field that `get` reads, so each field's type is written only once.
fn size_of_field<T, F>(_get: fn(&T) -> &F) -> usize {
    size_of::<F>()
}

macro_rules! show_struct {
    ($name:literal, $ty:ident { $($field:ident),* $(,)? }) => {
        show(
            $name,
            size_of::<$ty>(),
            align_of::<$ty>(),
            &[$((
                stringify!($field),
                offset_of!($ty, $field),
                size_of_field(|value: &$ty| &value.$field),
            )),*],
        )
    };
}

fn main() {
    show_struct!("#[repr(C)] u8, u64, u16", Careless { flag, id, port });
    show_struct!("#[repr(C)] u64, u16, u8", Sorted { id, port, flag });
    show_struct!(
        "default repr, declared u8, u64, u16",
        Reordered { flag, id, port }
    );
}
