//! Rendering a [`crate::model::Report`]: human text or versioned JSON.

pub mod text;

use crate::model::Report;

/// The JSON report, pretty-printed.
pub fn json(report: &Report) -> String {
    serde_json::to_string_pretty(report).expect("a report always serialises")
}
