//! oslings reference solution 1: the bump allocator, complete.
//!
//! Same public API as the exercise crate `bump-allocator`; the checker's
//! hidden tests and benchmark compile against either. Graded with
//! `cargo run -p checker -- --against solutions bump-allocator`.
//!
//! | stage | module | what it holds |
//! |---|---|---|
//! | 1 | [`align`] | `align_up` and `align_down` on addresses |
//! | 2 | [`layout`] | the layout of a `#[repr(C)]` struct from its fields |
//! | 3 | [`arena`] | an arena that bumps through a fixed buffer |
//! | 4 | [`arena`] | zero-sized and over-aligned requests, `reset`, `dealloc_last` |
//! | 5 | [`global`] | a lock-free `GlobalAlloc` that can run a whole program |
//! | 6 | [`chunked`] | an arena that grows with `mmap` chunks from the OS |
//!
//! Once the six stages pass, the checker also measures how fast your `Arena`
//! and `BumpGlobal` are (the book's "Stage 7: performance"); that stage adds
//! no code of its own.

pub mod align;
pub mod arena;
pub mod chunked;
pub mod global;
pub mod layout;

pub use align::{AlignError, align_down, align_up};
pub use arena::Arena;
pub use chunked::ChunkedArena;
pub use global::BumpGlobal;
pub use layout::{StructLayout, repr_c_layout};
