//! Reusing an exercise's last results when nothing they depend on has
//! changed: the learner's crate, the hidden suite, the instructors' packs,
//! the checker itself and the settings. A re-grade with no edit then takes
//! well under a second, and the report says the results were reused.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

use crate::report::model::ExerciseReport;

/// What a saved result is valid for: a fingerprint of every input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Key(u64);

/// The saved results of one exercise.
#[derive(Debug, Serialize, Deserialize)]
struct Saved {
    key: Key,
    graded_at: String,
    report: ExerciseReport,
}

/// The key of grading with `settings` (tree, timeout, packs: anything that
/// changes outcomes) the files under `inputs` (folders or files; a `target`
/// folder inside is skipped) with this checker binary.
pub fn key(inputs: &[PathBuf], settings: &str) -> Key {
    let mut seen: Vec<(String, u64, u128)> = Vec::new();
    let checker = std::env::current_exe().ok();
    for input in inputs.iter().chain(checker.as_ref()) {
        let walk = walkdir::WalkDir::new(input)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| e.file_name() != "target");
        for entry in walk.filter_map(Result::ok) {
            let Ok(meta) = entry.metadata() else { continue };
            let modified = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            seen.push((entry.path().display().to_string(), meta.len(), modified));
        }
    }
    Key(crate::util::fingerprint::fingerprint(&(seen, settings)))
}

/// Where the results of `exercise` are saved, under a tree's scratch space.
pub fn path(work_dir: &Path, exercise: &str) -> PathBuf {
    work_dir.join(format!("results-{exercise}.json"))
}

/// The saved results, if they were graded with the same `key`; marked as
/// reused, with when they were graded.
pub fn load(path: &Path, key: Key) -> Option<ExerciseReport> {
    let saved: Saved = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    (saved.key == key).then_some(ExerciseReport {
        reused_from: Some(saved.graded_at),
        ..saved.report
    })
}

/// The last saved results, whatever they were graded with: where the
/// learner stood, to decide what to run first and what to build ahead.
pub fn last(path: &Path) -> Option<ExerciseReport> {
    let saved: Saved = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    Some(saved.report)
}

/// Saves `report` as the results for `key` (best effort: a failure only
/// means the next grading runs the tests again).
pub fn save(path: &Path, key: Key, report: &ExerciseReport) {
    let saved = Saved {
        key,
        graded_at: jiff::Timestamp::now().to_string(),
        report: report.clone(),
    };
    if let (Some(dir), Ok(json)) = (path.parent(), serde_json::to_vec(&saved)) {
        let _ = std::fs::create_dir_all(dir);
        let _ = std::fs::write(path, json);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edit_changes_the_key_and_nothing_else_does() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir_all(src.join("target")).unwrap();
        std::fs::write(src.join("lib.rs"), "fn a() {}").unwrap();
        let inputs = [src.clone()];
        let first = key(&inputs, "exercises 5s");
        assert_eq!(key(&inputs, "exercises 5s"), first, "nothing changed");
        std::fs::write(src.join("target").join("junk"), "x").unwrap();
        assert_eq!(
            key(&inputs, "exercises 5s"),
            first,
            "target/ is not an input"
        );
        assert_ne!(key(&inputs, "exercises 9s"), first, "another setting");
        std::fs::write(src.join("lib.rs"), "fn a() { }").unwrap();
        assert_ne!(key(&inputs, "exercises 5s"), first, "an edit");
    }
}
