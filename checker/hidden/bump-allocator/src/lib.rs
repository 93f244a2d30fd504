//! Helpers shared by the bump allocator's hidden tests.
