//! Instructor test packs (`--pack DIR`): private hidden tests added to the
//! shipped ones, or replacing them, without changing the repository.
//!
//! A pack is a directory:
//!
//! ```text
//! DIR/pack.toml                          format = 1, name, visibility,
//!                                        [exercises.<name>] replace, visibility
//! DIR/<exercise>/<stage>.rs              Rust tests, `use learner::...`
//! DIR/<exercise>/cases/<stage>/<n>.toml  data-driven cases (see `oslings_cases`)
//! ```
//!
//! Loading a pack checks all of it (every case file is parsed), so a mistake
//! is the instructor's error, with the file and line, before anything runs.
//! In the scratch project each pack becomes one extra `[[test]]` target whose
//! modules are named by stage: `<stage>::<pack>::<test>` for Rust tests and
//! `<stage>::<pack>_cases::<case>` for cases, so the stage mapping of
//! [`Exercise::stage_of`] applies unchanged.
//!
//! `visibility` (for the whole pack, or per exercise) says when a Gradescope
//! student may read the messages of the pack's failing tests; the report
//! carries it on each of the pack's tests (see `report::gradescope`).

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use toml::Spanned;

use crate::course::manifest::Exercise;
use crate::util::fingerprint::fingerprint;
use crate::util::fs::write_if_changed;

/// The pack format this checker reads.
pub const FORMAT: u32 = 1;

/// A loaded, validated pack.
#[derive(Debug, Clone)]
pub struct Pack {
    /// Its directory (absolute).
    pub dir: PathBuf,
    /// Its name: a Rust identifier, used in test names.
    pub name: String,
    /// When students see its tests' messages, unless an exercise says otherwise.
    pub visibility: Visibility,
    /// What it holds, per exercise it touches.
    pub exercises: Vec<PackExercise>,
}

/// A pack's tests for one exercise.
#[derive(Debug, Clone)]
pub struct PackExercise {
    /// The exercise's name.
    pub name: String,
    /// Whether the shipped hidden tests are dropped.
    pub replace: bool,
    /// When students see these tests' messages (the exercise's setting, else the pack's).
    pub visibility: Visibility,
    /// Rust test files: stage id → file.
    pub rust: BTreeMap<String, PathBuf>,
    /// Case files: stage id → (test function name, file), sorted.
    pub cases: BTreeMap<String, Vec<(String, PathBuf)>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackToml {
    format: Spanned<u32>,
    name: Spanned<String>,
    #[serde(default)]
    #[allow(dead_code)] // read by people; checked for its type only
    description: Option<String>,
    #[serde(default)]
    visibility: Visibility,
    #[serde(default)]
    exercises: BTreeMap<Spanned<String>, ExerciseSettings>,
}

#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExerciseSettings {
    #[serde(default)]
    replace: bool,
    #[serde(default)]
    visibility: Option<Visibility>,
}

/// When a student may read a pack test's failure message: Gradescope's
/// test visibilities, named as in its `results.json`. Only the messages are
/// withheld; a stage's score is always shown.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Always (the default): like the shipped hidden tests.
    #[default]
    Visible,
    /// Once the assignment's due date (or late due date) has passed.
    AfterDueDate,
    /// Once the instructor publishes the grades.
    AfterPublished,
    /// Never: for instructors only.
    Hidden,
}

impl Visibility {
    /// Whether students always see the messages.
    pub fn is_visible(&self) -> bool {
        *self == Visibility::Visible
    }

    /// The value Gradescope reads, e.g. `after_due_date`.
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Visible => "visible",
            Visibility::AfterDueDate => "after_due_date",
            Visibility::AfterPublished => "after_published",
            Visibility::Hidden => "hidden",
        }
    }

    /// When a student gets to read the messages, for a sentence.
    pub fn when(self) -> &'static str {
        match self {
            Visibility::Visible => "now",
            Visibility::AfterDueDate => "after the due date",
            Visibility::AfterPublished => "once grades are published",
            Visibility::Hidden => "only to your instructors",
        }
    }
}

impl PackToml {
    /// Checks the manifest (read from `path`, whose text is `text`) against
    /// the course; returns its settings per exercise.
    fn check(
        &self,
        path: &Path,
        text: &str,
        course: &[Exercise],
    ) -> Result<BTreeMap<String, ExerciseSettings>> {
        let at = |span: std::ops::Range<usize>| {
            format!("{}:{}", path.display(), line_of(text, span.start))
        };
        if *self.format.get_ref() != FORMAT {
            bail!(
                "{}: format = {} is not a pack format this checker reads: write format = {FORMAT} \
                 (or update the checker)",
                at(self.format.span()),
                self.format.get_ref()
            );
        }
        let name = self.name.get_ref();
        if !is_identifier(name) {
            bail!(
                "{}: name = \"{name}\" cannot be part of a test name: use lowercase letters, digits \
                 and `_`, starting with a letter (e.g. name = \"{}\")",
                at(self.name.span()),
                suggest_identifier(name)
            );
        }
        let mut settings = BTreeMap::new();
        for (exercise, setting) in &self.exercises {
            let exercise_name = exercise.get_ref();
            if find_exercise(course, exercise_name).is_none() {
                bail!(
                    "{}: [exercises.{exercise_name}]: {}",
                    at(exercise.span()),
                    unknown_exercise(course, exercise_name)
                );
            }
            settings.insert(exercise_name.clone(), *setting);
        }
        Ok(settings)
    }
}

/// Loads every pack given with `--pack`, in order; two packs may not share a name.
pub fn load_all(dirs: &[PathBuf], course: &[Exercise]) -> Result<Vec<Pack>> {
    let mut packs: Vec<Pack> = Vec::new();
    for dir in dirs {
        let pack = Pack::load(dir, course)?;
        if let Some(other) = packs.iter().find(|p| p.name == pack.name) {
            bail!(
                "the packs {} and {} are both called `{}`: give one of them another `name` in \
                 its pack.toml (test names include it, so they must differ)",
                other.dir.display(),
                pack.dir.display(),
                pack.name
            );
        }
        packs.push(pack);
    }
    Ok(packs)
}

impl Pack {
    /// Reads and checks the pack in `dir` against the course's exercises and stages.
    pub fn load(dir: &Path, course: &[Exercise]) -> Result<Pack> {
        if !dir.is_dir() {
            bail!(
                "--pack {}: no such directory (give the folder that holds pack.toml)",
                dir.display()
            );
        }
        let dir = dir
            .canonicalize()
            .with_context(|| format!("cannot read {}", dir.display()))?;
        let manifest_path = dir.join("pack.toml");
        let text = std::fs::read_to_string(&manifest_path).with_context(|| {
            format!(
                "{} has no pack.toml: a pack starts with one holding at least\n  \
                 format = {FORMAT}\n  name = \"my_pack\"",
                dir.display()
            )
        })?;
        let manifest: PackToml = toml::from_str(&text).map_err(|err| {
            anyhow::anyhow!(
                "{} is not a valid pack manifest: {}\n(it takes `format = {FORMAT}`, `name = \"...\"`, \
                 an optional `description`, an optional `visibility = \"visible\"|\"after_due_date\"|\"after_published\"|\"hidden\"`, \
                 and `[exercises.<exercise>]` tables with `replace = true|false` and `visibility`)",
                manifest_path.display(),
                err.to_string().trim_end()
            )
        })?;
        let mut settings = manifest.check(&manifest_path, &text, course)?;
        let mut exercises = Vec::new();
        for entry in sorted_entries(&dir)? {
            let file_name = entry
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            if file_name.starts_with('.') || !entry.is_dir() {
                continue;
            }
            let Some(exercise) = find_exercise(course, &file_name) else {
                bail!(
                    "{}: {} (a pack holds one folder per exercise it tests)",
                    entry.display(),
                    unknown_exercise(course, &file_name)
                );
            };
            let setting = settings.remove(&file_name).unwrap_or_default();
            let visibility = setting.visibility.unwrap_or(manifest.visibility);
            exercises.push(PackExercise::load(
                &entry,
                exercise,
                setting.replace,
                visibility,
            )?);
        }
        if let Some((exercise, setting)) = settings.iter().find(|(_, s)| s.replace) {
            let _ = setting;
            bail!(
                "{}: [exercises.{exercise}] has replace = true but the pack has no {exercise}/ \
                 folder: every shipped test would be dropped and none added. Add tests in {}/{exercise}/ \
                 or remove the table",
                manifest_path.display(),
                dir.display()
            );
        }
        Ok(Pack {
            name: manifest.name.into_inner(),
            visibility: manifest.visibility,
            dir,
            exercises,
        })
    }

    /// The pack's tests for `exercise`, if it has any.
    pub fn exercise(&self, name: &str) -> Option<&PackExercise> {
        self.exercises.iter().find(|e| e.name == name)
    }

    /// The `[[test]]` target the pack adds to the scratch project.
    pub fn target_name(&self) -> String {
        format!("pack_{}", self.name)
    }

    /// When students see the messages of this pack's tests of `exercise`.
    pub fn visibility_of(&self, exercise: &str) -> Visibility {
        self.exercise(exercise)
            .map_or(self.visibility, |tests| tests.visibility)
    }
}

impl PackExercise {
    fn load(
        dir: &Path,
        exercise: &Exercise,
        replace: bool,
        visibility: Visibility,
    ) -> Result<PackExercise> {
        let stage_ids = || {
            exercise
                .stages
                .iter()
                .map(|s| s.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut rust = BTreeMap::new();
        let mut cases = BTreeMap::new();
        for entry in sorted_entries(dir)? {
            let file_name = entry
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            if file_name.starts_with('.') || file_name.ends_with(".md") {
                continue;
            }
            if entry.is_dir() && file_name == "cases" {
                cases = load_cases(&entry, exercise)?;
                continue;
            }
            let stage = file_name.strip_suffix(".rs").filter(|_| entry.is_file());
            match stage {
                Some(stage) if exercise.stages.iter().any(|s| s.id == stage) => {
                    rust.insert(stage.to_string(), entry.clone());
                }
                Some(stage) => bail!(
                    "{}: {} has no stage `{stage}`: name a Rust test file after the stage its \
                     tests belong to, one of: {} (e.g. {}.rs)",
                    entry.display(),
                    exercise.name,
                    stage_ids(),
                    closest(stage, exercise.stages.iter().map(|s| s.id.as_str()))
                ),
                None => bail!(
                    "{}: a pack's exercise folder holds `<stage>.rs` Rust tests and a `cases/` \
                     folder (stages of {}: {}); move or remove this",
                    entry.display(),
                    exercise.name,
                    stage_ids()
                ),
            }
        }
        if replace {
            let empty: Vec<&str> = exercise
                .stages
                .iter()
                .map(|s| s.id.as_str())
                .filter(|id| !rust.contains_key(*id) && !cases.contains_key(*id))
                .collect();
            if !empty.is_empty() {
                bail!(
                    "{}: with replace = true the pack's tests are the only ones, and a stage \
                     without tests can never pass; add tests for stage(s) {} \
                     (a `<stage>.rs` file or cases/<stage>/*.toml), or set replace = false",
                    dir.display(),
                    empty.join(", ")
                );
            }
        }
        Ok(PackExercise {
            name: exercise.name.clone(),
            replace,
            visibility,
            rust,
            cases,
        })
    }
}

/// Every case file under `dir` (`cases/<stage>/<name>.toml`), parsed and
/// validated now, keyed by stage.
fn load_cases(dir: &Path, exercise: &Exercise) -> Result<BTreeMap<String, Vec<(String, PathBuf)>>> {
    let Some(kind) = exercise.cases else {
        bail!(
            "{}: {} takes no data-driven cases; write its tests in Rust instead, as \
             {}/<stage>.rs",
            dir.display(),
            exercise.name,
            dir.parent().unwrap_or(dir).display()
        );
    };
    let mut cases = BTreeMap::new();
    for stage_dir in sorted_entries(dir)? {
        let stage = stage_dir
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if stage.starts_with('.') {
            continue;
        }
        if !stage_dir.is_dir() || !exercise.stages.iter().any(|s| s.id == stage) {
            bail!(
                "{}: cases live in one folder per stage, named by its id: one of {} (e.g. \
                 cases/{}/)",
                stage_dir.display(),
                exercise
                    .stages
                    .iter()
                    .map(|s| s.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                closest(&stage, exercise.stages.iter().map(|s| s.id.as_str()))
            );
        }
        let of_stage = load_stage_cases(&stage_dir, exercise, kind)?;
        if !of_stage.is_empty() {
            cases.insert(stage, of_stage);
        }
    }
    Ok(cases)
}

/// The case files of one stage's folder, each with its test function's
/// name, checked to be valid cases of `kind`.
fn load_stage_cases(
    stage_dir: &Path,
    exercise: &Exercise,
    kind: oslings_cases::Kind,
) -> Result<Vec<(String, PathBuf)>> {
    let mut of_stage: Vec<(String, PathBuf)> = Vec::new();
    for file in sorted_entries(stage_dir)? {
        let file_name = file
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if file_name.starts_with('.') {
            continue;
        }
        let Some(stem) = file_name.strip_suffix(".toml").filter(|_| file.is_file()) else {
            bail!(
                "{}: a case is a `.toml` file ({} for {}); rename or remove this",
                file.display(),
                kind.describe(),
                exercise.name
            );
        };
        let function = test_function_name(stem).with_context(|| {
            format!(
                "{}: a case's file name becomes its test's name: use lowercase letters, \
                 digits, `-` and `_` (e.g. {}.toml)",
                file.display(),
                suggest_identifier(stem)
            )
        })?;
        if let Some((_, other)) = of_stage.iter().find(|(f, _)| *f == function) {
            bail!(
                "{} and {} would both be the test `{function}`: rename one",
                other.display(),
                file.display()
            );
        }
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        if let Err(err) = kind.check(&text) {
            bail!(
                "{}: not a valid case ({} for {}):\n{err}",
                file.display(),
                kind.describe(),
                exercise.name
            );
        }
        of_stage.push((function, file));
    }
    Ok(of_stage)
}

/// Whether some pack replaces the shipped tests of `exercise`.
pub fn replaces_shipped(packs: &[Pack], exercise: &str) -> bool {
    packs
        .iter()
        .filter_map(|p| p.exercise(exercise))
        .any(|e| e.replace)
}

/// A short key for the packs, for the scratch directory's name: grading with
/// and without a pack (or with another) never shares results.
pub fn key(packs: &[Pack]) -> Option<String> {
    if packs.is_empty() {
        return None;
    }
    let ids: Vec<(&Path, &str)> = packs
        .iter()
        .map(|p| (p.dir.as_path(), p.name.as_str()))
        .collect();
    let names: Vec<&str> = packs.iter().map(|p| p.name.as_str()).collect();
    Some(format!(
        "{}-{:08x}",
        names.join("+"),
        fingerprint(&ids) as u32
    ))
}

/// Writes the test crate root of each pack that has tests for `exercise`
/// into `scratch_dir/src/`, and returns the `[[test]]` targets: (name, path).
///
/// `suite_lib` is the crate name of the hidden suite's library, whose
/// `run_case!` runs a case file.
pub fn write_targets(
    packs: &[Pack],
    exercise: &Exercise,
    scratch_dir: &Path,
    suite_lib: &str,
) -> Result<Vec<(String, PathBuf)>> {
    let mut targets = Vec::new();
    for pack in packs {
        let Some(tests) = pack.exercise(&exercise.name) else {
            continue;
        };
        let mut source = format!(
            "//! Generated by the oslings checker from the test pack `{}` ({}): edits are \
             overwritten.\n#![allow(unused_imports, dead_code)]\n",
            pack.name,
            pack.dir.display()
        );
        for stage in &exercise.stages {
            let rust = tests.rust.get(&stage.id);
            let cases = tests.cases.get(&stage.id);
            if rust.is_none() && cases.is_none() {
                continue;
            }
            writeln!(source, "\nmod {} {{", stage.id)?;
            if let Some(file) = rust {
                let path = file.display().to_string();
                writeln!(source, "    #[path = {path:?}]\n    mod {};", pack.name)?;
            }
            if let Some(cases) = cases {
                writeln!(source, "    mod {}_cases {{", pack.name)?;
                for (function, file) in cases {
                    let shown = format!(
                        "{}/{}",
                        pack.name,
                        file.strip_prefix(&pack.dir).unwrap_or(file).display()
                    );
                    let path = file.display().to_string();
                    writeln!(
                        source,
                        "        #[test]\n        fn {function}() {{\n            \
                         {suite_lib}::run_case!({shown:?}, {path:?});\n        }}"
                    )?;
                }
                writeln!(source, "    }}")?;
            }
            writeln!(source, "}}")?;
        }
        let path = scratch_dir
            .join("src")
            .join(format!("{}.rs", pack.target_name()));
        write_if_changed(&path, &source)?;
        targets.push((pack.target_name(), path));
    }
    Ok(targets)
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<Vec<_>>>()
        .with_context(|| format!("cannot list {}", dir.display()))?;
    entries.sort();
    Ok(entries)
}

fn find_exercise<'a>(course: &'a [Exercise], name: &str) -> Option<&'a Exercise> {
    course.iter().find(|e| e.name == name)
}

fn unknown_exercise(course: &[Exercise], name: &str) -> String {
    let names: Vec<&str> = course.iter().map(|e| e.name.as_str()).collect();
    format!(
        "there is no exercise called `{name}` (did you mean `{}`?); the exercises are: {}",
        closest(name, names.iter().copied()),
        names.join(", ")
    )
}

/// The candidate closest to `name` by edit distance.
fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> &'a str {
    candidates
        .min_by_key(|c| strsim::levenshtein(c, name))
        .unwrap_or_default()
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn suggest_identifier(name: &str) -> String {
    let mut out: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if !out.starts_with(|c: char| c.is_ascii_lowercase()) {
        out.insert_str(0, "case_");
    }
    out
}

/// The test function for a case file's stem: `-` becomes `_`, and a stem
/// that starts with a digit gets `case_` in front.
fn test_function_name(stem: &str) -> Option<String> {
    if stem.is_empty()
        || !stem
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    {
        return None;
    }
    let name = stem.replace('-', "_");
    Some(if name.starts_with(|c: char| c.is_ascii_lowercase()) {
        name
    } else {
        format!("case_{name}")
    })
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).unwrap_or(text).matches('\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_file_names_become_test_names() {
        assert_eq!(
            test_function_name("two-allocs").as_deref(),
            Some("two_allocs")
        );
        assert_eq!(test_function_name("1st").as_deref(), Some("case_1st"));
        assert_eq!(test_function_name("Bad Name"), None);
    }

    #[test]
    fn pack_names_are_identifiers() {
        assert!(is_identifier("fall_2026"));
        assert!(!is_identifier("fall-2026"));
        assert_eq!(suggest_identifier("Fall-2026"), "fall_2026");
    }
}
