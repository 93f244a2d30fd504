//! Files and directories: writing only what changed, telling whether two
//! paths are one directory.

use anyhow::{Context, Result};
use std::path::Path;

/// Writes `text` to `path` unless it already holds exactly that, so cargo
/// does not see a changed file and rebuild.
pub fn write_if_changed(path: &Path, text: &str) -> Result<()> {
    if std::fs::read_to_string(path).ok().as_deref() == Some(text) {
        return Ok(());
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// Whether `a` and `b` are the same directory (both exist and resolve to one path).
pub fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
