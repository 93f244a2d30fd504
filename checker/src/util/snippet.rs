//! Cutting program output (compiler errors, a test's stderr) down to the
//! lines a report should show.

/// The first `max` lines of `text`, with a note of how many were left out.
pub fn head(text: &str, max: usize) -> String {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    if lines.len() <= max {
        return lines.join("\n");
    }
    let mut kept = lines[..max].join("\n");
    kept.push_str(&format!("\n  … ({} more lines)", lines.len() - max));
    kept
}

/// The last `max` non-blank lines of `text`, without Rust's
/// "run with `RUST_BACKTRACE=1`" note.
pub fn tail(text: &str, max: usize) -> String {
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("note: run with `RUST_BACKTRACE"))
        .collect();
    lines[lines.len().saturating_sub(max)..].join("\n")
}

/// `text` with `prefix` in front of every line.
pub fn indent(text: &str, prefix: &str) -> String {
    text.lines()
        .map(|l| format!("{prefix}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
