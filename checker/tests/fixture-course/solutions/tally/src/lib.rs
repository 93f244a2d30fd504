//! Tally: the fixture exercise of the checker's engine tests.

pub mod add;
pub mod scale;
pub mod sum;
