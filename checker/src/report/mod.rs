//! The results ([`model`]) and their renderings: human text, versioned JSON, and the
//! shapes other tools read (JUnit XML, Gradescope, GitHub Classroom, Markdown).

pub mod classroom;
pub mod gradescope;
pub mod junit;
pub mod markdown;
pub mod model;
pub mod text;

use model::Report;

/// The JSON report, pretty-printed.
pub fn json(report: &Report) -> String {
    serde_json::to_string_pretty(report).expect("a report always serialises")
}
