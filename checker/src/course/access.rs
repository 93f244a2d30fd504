//! Whether the checker can read a tree before it grades it: a folder it may
//! not read gets one sentence that says what to do, not a confusing failure
//! further on.

use anyhow::{Result, bail};
use std::path::Path;

/// Fails when `dir`, its `exercises/` or one of the crates in it cannot be
/// listed. Missing folders are fine here: grading reports those itself.
pub fn check_readable(dir: &Path) -> Result<()> {
    readable(dir)?;
    let exercises = dir.join("exercises");
    if exercises.is_dir() {
        readable(&exercises)?;
        if let Ok(entries) = std::fs::read_dir(&exercises) {
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    readable(&entry.path())?;
                }
            }
        }
    }
    Ok(())
}

fn readable(dir: &Path) -> Result<()> {
    match std::fs::read_dir(dir) {
        Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied => bail!(
            "the checker may not read {0} (permission denied): give your user read access, \
             e.g. `chmod -R u+rX {0}`, or grade a copy you can read",
            dir.display()
        ),
        _ => Ok(()),
    }
}
