//! Noticing a test that changes files it must not touch: the hidden suite
//! and the graded crate. Changes are reported by path, never undone: someone
//! may be editing those files while grading runs, and a checker that wrote
//! them back could destroy their work.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::course::manifest::Exercise;

/// What identifies one version of a file: size, modification time, inode.
type Stamp = (u64, i64, i64, u64);

/// The watched files of one exercise, as they were at the last check.
#[derive(Debug)]
pub(super) struct Guard {
    dirs: Vec<PathBuf>,
    files: BTreeMap<PathBuf, Stamp>,
}

impl Guard {
    /// Watches the hidden suite of `exercise`, the exercise and solution
    /// crates for it in the repository at `root`, and `also` (the graded
    /// crate, wherever it is, and the checker's generated project with its
    /// cached results).
    pub(super) fn new(root: &Path, exercise: &Exercise, also: &[PathBuf]) -> Guard {
        let mut dirs = vec![exercise.dir.clone()];
        for tree in ["exercises", "solutions"] {
            let dir = root.join(tree).join(&exercise.name);
            if dir.join("Cargo.toml").is_file() {
                dirs.push(dir);
            }
        }
        for dir in also {
            if dir.is_dir() && !dirs.iter().any(|d| d == dir) {
                dirs.push(dir.clone());
            }
        }
        let files = snapshot(&dirs);
        Guard { dirs, files }
    }

    /// The files created, modified or deleted since the last check, written
    /// (for created and modified ones) at `since` or later, as a sentence for
    /// the report. A change made earlier is someone else's: it is taken in
    /// silently.
    pub(super) fn check(&mut self, since: SystemTime) -> Option<String> {
        let since = since
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| (d.as_secs() as i64, d.subsec_nanos() as i64))
            .unwrap_or_default();
        let now = snapshot(&self.dirs);
        let mut changes = Vec::new();
        for (path, stamp) in &now {
            let what = match self.files.get(path) {
                None => "created",
                Some(before) if before != stamp => "modified",
                Some(_) => continue,
            };
            if (stamp.1, stamp.2) >= since {
                changes.push(format!("{} ({what})", path.display()));
            }
        }
        for path in self.files.keys() {
            if !now.contains_key(path) {
                changes.push(format!("{} (deleted)", path.display()));
            }
        }
        self.files = now;
        if changes.is_empty() {
            return None;
        }
        Some(format!(
            "the test changed files outside its working directory: {}\n  (each test runs \
             in a temporary directory of its own: write there, or in \
             std::env::temp_dir(); `git status` shows what to restore)",
            changes.join(", ")
        ))
    }
}

/// Every file under `dirs` except build output (`target/`) and `.git/`,
/// with its stamp; links are stamped themselves, not followed.
fn snapshot(dirs: &[PathBuf]) -> BTreeMap<PathBuf, Stamp> {
    let mut files = BTreeMap::new();
    for dir in dirs {
        let walk = walkdir::WalkDir::new(dir).min_depth(1).into_iter();
        let kept = walk.filter_entry(|e| {
            !(e.file_type().is_dir() && (e.file_name() == "target" || e.file_name() == ".git"))
        });
        for entry in kept.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if !meta.is_dir() {
                let stamp = (meta.len(), meta.mtime(), meta.mtime_nsec(), meta.ino());
                files.insert(entry.into_path(), stamp);
            }
        }
    }
    files
}
