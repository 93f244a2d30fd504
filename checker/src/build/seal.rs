//! Sealing a graded tree (`--exercises-from`): only the learner's source
//! files are taken from it, copied under the course's own manifest, so that
//! nothing else in a fork runs at build time or changes the grade.
//!
//! What a fork could otherwise use to forge a grade, and what happens to it
//! here (the book's instructors' appendix has the whole threat model):
//!
//! - its `Cargo.toml` (a build script, a new dependency or proc-macro, a
//!   `[patch]`, workspace dependencies of its own): the copy is built with
//!   the course's manifest for the exercise, written out in full, with
//!   `build = false`; the differences are reported as not used;
//! - `build.rs` and every other file outside `src/`: not copied;
//! - symbolic links (into the grader's solutions, say), special files, and
//!   files over [`MAX_FILE_BYTES`]: not copied, and named;
//! - `include!`, `include_str!` and `#[path]` reaching outside the crate:
//!   found in the compiler's own list of the files it read (dep-info) after
//!   the build — see [`outside_inputs`] — and the exercise is refused;
//! - `.cargo/config.toml` and `rust-toolchain.toml`: cargo runs with its
//!   working directory outside the fork (see [`cargo_dir`]), so it never
//!   reads them; they are named;
//! - an edited `checker/` (hidden tests, the checker): never used, since the
//!   grader's own are; named, so that an instructor sees the attempt.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use toml::{Table, Value};
use walkdir::WalkDir;

use crate::build::cargo_toml::{self, read_toml};
use crate::course::manifest::Exercise;
use crate::report::model::{Refusal, RefusalKind};
use crate::util::fingerprint::fingerprint;
use crate::util::fs::{same_dir, write_if_changed};

/// Largest source file copied from a graded tree.
pub const MAX_FILE_BYTES: u64 = 1 << 20;
/// Most bytes of source copied for one exercise.
pub const MAX_CRATE_BYTES: u64 = 8 << 20;
/// Most files copied for one exercise.
pub const MAX_FILES: usize = 400;

/// An exercise's crate, sealed: the copy to build, and what was left out.
#[derive(Debug, Clone)]
pub struct Sealed {
    /// The copy's directory (its `Cargo.toml` is the course's).
    pub crate_dir: PathBuf,
    /// Its package name (the course's).
    pub package: String,
    /// What was not copied or not used.
    pub refused: Vec<Refusal>,
}

/// Where cargo runs when it builds a sealed copy: a directory no graded
/// tree can put a `.cargo/config.toml` or a `rust-toolchain.toml` in (cargo
/// and rustup look for them from the working directory up, whatever
/// `--manifest-path` says).
pub fn cargo_dir() -> &'static Path {
    Path::new("/")
}

/// The crate of `exercise` in a graded tree: `exercises/<name>`, or
/// `<name>` when the tree is a folder of exercise crates.
pub fn locate(tree: &Path, exercise: &str) -> PathBuf {
    let nested = tree.join("exercises").join(exercise);
    if nested.join("Cargo.toml").exists() {
        nested
    } else {
        tree.join(exercise)
    }
}

/// Copies the sources of `exercise` from the graded `tree` into
/// `into/exercises/<name>` under the course's manifest (from `root`),
/// rewriting only files whose content changed so that cargo rebuilds only
/// what the learner changed.
pub fn seal(root: &Path, tree: &Path, exercise: &Exercise, into: &Path) -> Result<Sealed> {
    let name = &exercise.name;
    let found = locate(tree, name);
    let relative = |path: &Path| display(tree, path);
    let mut refused = Vec::new();
    let refuse = |kind, path: &Path, why: String| Refusal {
        exercise: Some(name.clone()),
        kind,
        path: relative(path),
        why,
    };
    if let Some(link) = symlink_on_the_way(tree, &found) {
        anyhow::bail!(
            "{} is a symbolic link: only real folders of the graded tree are graded \
             (put the crate itself at exercises/{name})",
            relative(&link)
        );
    }
    let theirs = read_toml(&found.join("Cargo.toml")).with_context(|| {
        format!(
            "missing: there is no crate for `{name}` in {}: the graded tree must contain \
             exercises/{name}/Cargo.toml",
            tree.display()
        )
    })?;
    let course_manifest = root.join("exercises").join(name).join("Cargo.toml");
    let ours = read_toml(&course_manifest)?;
    refused.extend(
        manifest_differences(&ours, &theirs)
            .into_iter()
            .map(|why| refuse(RefusalKind::Manifest, &found.join("Cargo.toml"), why)),
    );
    let build_rs = found.join("build.rs");
    if build_rs.symlink_metadata().is_ok() {
        refused.push(refuse(
            RefusalKind::BuildScript,
            &build_rs,
            "a build script runs at build time, outside the tests' sandbox: not run \
             (only src/ is graded)"
                .to_string(),
        ));
    }
    let crate_dir = into.join("exercises").join(name);
    let copied = copy_sources(&found.join("src"), &crate_dir.join("src"))?;
    refused.extend(
        copied
            .skipped
            .into_iter()
            .map(|(kind, path, why)| refuse(kind, &path, why)),
    );
    let workspace = read_toml(&root.join("Cargo.toml"))?;
    let manifest =
        standalone_manifest(&ours, &workspace, root, &root.join("exercises").join(name))?;
    write_if_changed(
        &crate_dir.join("Cargo.toml"),
        &format!(
            "# Generated by the oslings checker: the course's manifest for {name}, \
             over the graded tree's src/.\n{}",
            toml::to_string(&manifest)?
        ),
    )?;
    let package = ours
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(Value::as_str)
        .context("the course's exercise manifest has no package name")?
        .to_string();
    Ok(Sealed {
        crate_dir,
        package,
        refused,
    })
}

/// What the whole graded tree holds that the grader does not use: cargo
/// configuration, toolchain files, and an edited checker.
pub fn inspect_tree(root: &Path, tree: &Path) -> Vec<Refusal> {
    let mut refused = Vec::new();
    let walk = WalkDir::new(tree)
        .max_depth(6)
        .into_iter()
        .filter_entry(|e| !matches!(e.file_name().to_str(), Some("target" | ".git")));
    for entry in walk.filter_map(Result::ok).take(50_000) {
        let path = entry.path();
        let file = entry.file_name().to_string_lossy();
        let in_cargo_dir = path
            .parent()
            .and_then(Path::file_name)
            .is_some_and(|p| p == ".cargo");
        let refusal = if in_cargo_dir && (file == "config.toml" || file == "config") {
            Some((
                RefusalKind::CargoConfig,
                "cargo configuration (a runner, a rustc wrapper, flags, [env], [patch], a target \
                 dir) would change how the grader builds and runs: not read — cargo runs outside \
                 the graded tree",
            ))
        } else if file == "rust-toolchain.toml" || file == "rust-toolchain" {
            Some((
                RefusalKind::Toolchain,
                "a toolchain file would pick the compiler: not read — the grader's toolchain \
                 builds",
            ))
        } else {
            None
        };
        if let Some((kind, why)) = refusal {
            refused.push(Refusal {
                exercise: None,
                kind,
                path: display(tree, path),
                why: why.to_string(),
            });
        }
    }
    let theirs = tree.join("checker");
    if theirs.is_dir() && !same_dir(&theirs, &root.join("checker")) {
        let differing = differing_files(&root.join("checker"), &theirs);
        if let Some(first) = differing.first() {
            let more = match differing.len() {
                1 => String::new(),
                n => format!(" (and {} more files)", n - 1),
            };
            refused.push(Refusal {
                exercise: None,
                kind: RefusalKind::EditedGrader,
                path: format!("checker/{first}"),
                why: format!(
                    "differs from the grader's copy{more}: the graded tree's checker and hidden \
                     tests are never used, the grader's are"
                ),
            });
        }
    }
    refused
}

/// Files the compiler read for the crate at `crate_dir` that lie outside
/// it, from the dep-info file (`.d`) cargo writes beside the crate's
/// `.rlib`: what `include!`, `include_str!`, `include_bytes!` and `#[path]`
/// pulled in, whatever macro built their argument.
pub fn outside_inputs(rlib: &Path, crate_dir: &Path) -> Result<Vec<PathBuf>> {
    let stem = rlib
        .file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.strip_prefix("lib"))
        .with_context(|| format!("{} is not a library's file", rlib.display()))?;
    let dep_info = rlib.with_file_name(format!("{stem}.d"));
    let text = std::fs::read_to_string(&dep_info)
        .with_context(|| format!("cannot read the compiler's dep-info {}", dep_info.display()))?;
    let first = text.lines().next().unwrap_or_default();
    let inputs = first.split_once(": ").map_or("", |(_, deps)| deps);
    let allowed = crate_dir
        .canonicalize()
        .unwrap_or_else(|_| crate_dir.to_path_buf());
    Ok(split_dep_list(inputs)
        .into_iter()
        .map(PathBuf::from)
        .filter(|path| {
            let resolved = path.canonicalize().unwrap_or_else(|_| path.clone());
            !resolved.starts_with(&allowed)
        })
        .collect())
}

/// The paths of a Makefile-style dependency list (`a b\ c`).
fn split_dep_list(list: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut current = String::new();
    let mut chars = list.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => current.extend(chars.next()),
            ' ' => paths.extend((!current.is_empty()).then(|| std::mem::take(&mut current))),
            c => current.push(c),
        }
    }
    paths.extend((!current.is_empty()).then_some(current));
    paths
}

/// The sources copied, and what was not.
struct Copied {
    skipped: Vec<(RefusalKind, PathBuf, String)>,
}

/// Mirrors the regular files of `from` into `to`: links, special files
/// and oversized files are skipped, files no longer in `from` removed.
fn copy_sources(from: &Path, to: &Path) -> Result<Copied> {
    std::fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    let mut skipped = Vec::new();
    let mut kept = std::collections::BTreeSet::new();
    let (mut bytes, mut files) = (0u64, 0usize);
    for entry in WalkDir::new(from).follow_links(false).min_depth(1) {
        let Ok(entry) = entry else { continue };
        let path = entry.path();
        let relative = path.strip_prefix(from).unwrap_or(path).to_path_buf();
        let kind = entry.file_type();
        if kind.is_dir() {
            kept.insert(relative.clone());
            std::fs::create_dir_all(to.join(&relative))?;
            continue;
        }
        if !kind.is_file() {
            let what = if kind.is_symlink() {
                let target = std::fs::read_link(path).unwrap_or_default();
                format!("a symbolic link (to {}): not followed", target.display())
            } else {
                "not a regular file: not read".to_string()
            };
            skipped.push((RefusalKind::NotAFile, path.to_path_buf(), what));
            continue;
        }
        let size = entry.metadata().map(|m| m.len()).unwrap_or(u64::MAX);
        let limit = if size > MAX_FILE_BYTES {
            Some(format!(
                "{size} bytes, over the {} KiB limit for one source file: not graded",
                MAX_FILE_BYTES >> 10
            ))
        } else if bytes + size > MAX_CRATE_BYTES || files >= MAX_FILES {
            Some(format!(
                "over the limits for one crate ({} files, {} MiB): not graded",
                MAX_FILES,
                MAX_CRATE_BYTES >> 20
            ))
        } else {
            None
        };
        if let Some(why) = limit {
            skipped.push((RefusalKind::TooBig, path.to_path_buf(), why));
            continue;
        }
        bytes += size;
        files += 1;
        let content =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let target = to.join(&relative);
        if std::fs::read(&target).ok().as_deref() != Some(content.as_slice()) {
            std::fs::write(&target, &content)
                .with_context(|| format!("cannot write {}", target.display()))?;
        }
        kept.insert(relative);
    }
    remove_stale(to, &kept)?;
    Ok(Copied { skipped })
}

/// Removes what `to` holds beyond `kept` (files the learner deleted).
fn remove_stale(to: &Path, kept: &std::collections::BTreeSet<PathBuf>) -> Result<()> {
    let stale: Vec<PathBuf> = WalkDir::new(to)
        .min_depth(1)
        .contents_first(true)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| !kept.contains(e.path().strip_prefix(to).unwrap_or(e.path())))
        .map(|e| e.path().to_path_buf())
        .collect();
    for path in stale {
        let removed = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        removed.with_context(|| format!("cannot remove {}", path.display()))?;
    }
    Ok(())
}

/// The course's exercise manifest made to stand alone: workspace
/// inheritance resolved, no build script, no lints or dev-dependencies, and
/// a `[workspace]` of its own.
fn standalone_manifest(
    ours: &Table,
    workspace: &Table,
    root: &Path,
    course_dir: &Path,
) -> Result<Table> {
    let shared_package = cargo_toml::shared(workspace, "package");
    let shared_deps = cargo_toml::shared(workspace, "dependencies");
    let mut manifest = ours.clone();
    manifest.remove("lints");
    manifest.remove("dev-dependencies");
    manifest.remove("build-dependencies");
    let package = manifest
        .get_mut("package")
        .and_then(Value::as_table_mut)
        .context("the course's exercise manifest has no [package]")?;
    for (key, value) in package.iter_mut() {
        if value.get("workspace").and_then(Value::as_bool) == Some(true) {
            *value = shared_package
                .get(key)
                .cloned()
                .with_context(|| format!("package.{key} inherits from a workspace without it"))?;
        }
    }
    package.insert("build".into(), Value::from(false));
    for key in ["autobins", "autoexamples", "autotests", "autobenches"] {
        package.insert(key.into(), Value::from(false));
    }
    if let Some(deps) = manifest
        .get_mut("dependencies")
        .and_then(Value::as_table_mut)
    {
        for (name, spec) in deps.iter_mut() {
            *spec = cargo_toml::resolve_dep(name, spec, &shared_deps, root, course_dir)?;
        }
    }
    manifest.insert("workspace".into(), Value::Table(Table::new()));
    Ok(manifest)
}

/// How the graded tree's manifest differs from the course's, one sentence
/// per difference that matters, ending in what the grader did instead.
fn manifest_differences(ours: &Table, theirs: &Table) -> Vec<String> {
    let mut found = Vec::new();
    let used = "the course's manifest was used instead";
    for section in ["dependencies", "build-dependencies"] {
        let mine = ours.get(section).and_then(Value::as_table);
        let yours = theirs.get(section).and_then(Value::as_table);
        for (name, spec) in yours.into_iter().flatten() {
            match mine.and_then(|m| m.get(name)) {
                None => found.push(format!("adds the {section} `{name}`: {used}")),
                Some(original) if original != spec => {
                    found.push(format!("changes the {section} `{name}`: {used}"))
                }
                Some(_) => {}
            }
        }
    }
    let package = |t: &Table, key: &str| t.get("package").and_then(|p| p.get(key)).cloned();
    if package(theirs, "build").is_some_and(|b| b.as_bool() != Some(false)) {
        found.push(format!("names a build script: not run; {used}"));
    }
    if theirs
        .get("lib")
        .and_then(|l| l.get("proc-macro"))
        .is_some()
    {
        found.push(format!("makes the crate a proc-macro: {used}"));
    }
    if found.is_empty() && strip_dev(ours) != strip_dev(theirs) {
        found.push(format!("differs from the course's: {used}"));
    }
    found
}

/// A manifest without what does not take part in grading.
fn strip_dev(manifest: &Table) -> Table {
    let mut manifest = manifest.clone();
    manifest.remove("dev-dependencies");
    manifest
}

/// The first symbolic link among the components of `path` below `tree`.
fn symlink_on_the_way(tree: &Path, path: &Path) -> Option<PathBuf> {
    let relative = path.strip_prefix(tree).ok()?;
    let mut current = tree.to_path_buf();
    for part in relative.components() {
        current.push(part);
        if current
            .symlink_metadata()
            .is_ok_and(|m| m.file_type().is_symlink())
        {
            return Some(current);
        }
    }
    None
}

/// Relative paths of the files that differ between two trees (either side
/// missing counts), `target/` left out, first few only.
fn differing_files(ours: &Path, theirs: &Path) -> Vec<String> {
    let list = |dir: &Path| -> std::collections::BTreeMap<PathBuf, u64> {
        WalkDir::new(dir)
            .follow_links(false)
            .into_iter()
            .filter_entry(|e| e.file_name() != "target")
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .take(20_000)
            .map(|e| {
                let content = if e.metadata().is_ok_and(|m| m.len() <= MAX_FILE_BYTES) {
                    std::fs::read(e.path()).unwrap_or_default()
                } else {
                    e.metadata()
                        .map(|m| m.len().to_le_bytes().to_vec())
                        .unwrap_or_default()
                };
                let relative = e.path().strip_prefix(dir).unwrap_or(e.path()).to_path_buf();
                (relative, fingerprint(&content))
            })
            .collect()
    };
    let (mine, yours) = (list(ours), list(theirs));
    let mut paths: std::collections::BTreeSet<&PathBuf> = mine.keys().collect();
    paths.extend(yours.keys());
    paths
        .into_iter()
        .filter(|p| mine.get(*p) != yours.get(*p))
        .map(|p| p.display().to_string())
        .collect()
}

fn display(tree: &Path, path: &Path) -> String {
    path.strip_prefix(tree)
        .unwrap_or(path)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dep_lists_keep_escaped_spaces() {
        assert_eq!(
            split_dep_list("/a/src/lib.rs /b/my\\ file.rs  /c"),
            ["/a/src/lib.rs", "/b/my file.rs", "/c"]
        );
    }

    #[test]
    fn an_added_dependency_and_a_build_script_are_named() {
        let ours: Table = "[package]\nname = \"x\"\n[dependencies]\nlibc = \"0.2\"\n"
            .parse()
            .unwrap();
        let theirs: Table = "[package]\nname = \"x\"\nbuild = \"b.rs\"\n[dependencies]\nlibc = \"0.2\"\nevil = \"1\"\n"
            .parse()
            .unwrap();
        let found = manifest_differences(&ours, &theirs);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].contains("`evil`"), "{found:?}");
        assert!(found[1].contains("build script"), "{found:?}");
        assert!(manifest_differences(&ours, &ours).is_empty());
    }
}
