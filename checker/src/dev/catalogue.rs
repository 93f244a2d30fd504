//! The catalogue of learner mistakes (`mistakes.toml`) stays in step with
//! the reference solution and the hidden suite, and its first screens
//! (`first-screens.md`) with the catalogue.
//!
//! `.ci/mistakes` plants every entry and grades it, which takes most of an
//! hour; these checks take milliseconds and catch what goes stale first: an
//! entry whose text no longer occurs in the reference, a test renamed under
//! an entry, an entry added without its first screen.

use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::finding::Finding;

/// One planted mistake, as `mistakes.toml` writes it (the format is
/// `checker/hidden/README-mistakes.md`'s).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Mistake {
    id: String,
    file: String,
    #[serde(rename = "story")]
    _story: String,
    find: String,
    #[serde(rename = "replace")]
    _replace: String,
    test: String,
    #[serde(default, rename = "kind")]
    _kind: String,
    #[serde(default)]
    argued: Option<String>,
    #[serde(default, rename = "flake")]
    _flake: bool,
    #[serde(default, rename = "racy")]
    _racy: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Catalogue {
    #[serde(default)]
    mistake: Vec<Mistake>,
}

/// Where one exercise's catalogue is checked against.
pub(crate) struct Suite<'a> {
    /// The course's root (findings name files relative to it).
    pub root: &'a Path,
    /// The exercise's name (`exercises/<name>`, `solutions/<name>`).
    pub name: &'a str,
    /// Its hidden suite, `checker/hidden/<name>`.
    pub dir: &'a Path,
    /// The hidden tests' names.
    pub tests: &'a BTreeMap<String, PathBuf>,
}

/// What is stale in the exercise's catalogue and first screens; nothing
/// when it has no catalogue yet.
pub(crate) fn stale_entries(suite: &Suite<'_>) -> Vec<Finding> {
    let path = suite.dir.join("mistakes.toml");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Vec::new();
    };
    let file = relative(suite.root, &path);
    let catalogue: Catalogue = match toml::from_str(&text) {
        Ok(catalogue) => catalogue,
        Err(e) => {
            return vec![Finding {
                file,
                message: format!(
                    "does not read as a catalogue ({}); the format is in checker/hidden/README-mistakes.md",
                    e.message()
                ),
            }];
        }
    };
    let mut findings: Vec<Finding> = catalogue
        .mistake
        .iter()
        .flat_map(|m| entry_findings(suite, m))
        .map(|message| Finding {
            file: file.clone(),
            message,
        })
        .collect();
    findings.extend(duplicate_ids(&catalogue, &file));
    findings.extend(first_screens(suite, &catalogue));
    findings
}

/// What is wrong with one entry: its test or its text.
fn entry_findings(suite: &Suite<'_>, mistake: &Mistake) -> Vec<String> {
    let mut found = Vec::new();
    let id = &mistake.id;
    if !suite.tests.contains_key(&mistake.test) {
        found.push(format!(
            "entry `{id}` expects `{}` to fail, but the hidden suite has no such test: was it \
             renamed? Name the test that catches the mistake now",
            mistake.test
        ));
    }
    let reference = suite
        .root
        .join("solutions")
        .join(suite.name)
        .join(&mistake.file);
    let Ok(source) = std::fs::read_to_string(&reference) else {
        found.push(format!(
            "entry `{id}` plants its mistake in `{}`, which the reference solution does not have",
            mistake.file
        ));
        return found;
    };
    let lib = suite.name.replace('-', "_");
    let source = source.replace(&format!("{lib}_solution"), &lib);
    let times = source.matches(mistake.find.as_str()).count();
    if times != 1 {
        found.push(format!(
            "entry `{id}`: its `find` text occurs {times} times in {} (it must occur exactly \
             once): the reference changed under it; copy the lines as they are now",
            relative(suite.root, &reference)
        ));
    }
    found
}

/// Two entries with one id.
fn duplicate_ids(catalogue: &Catalogue, file: &str) -> Vec<Finding> {
    let mut seen = BTreeSet::new();
    catalogue
        .mistake
        .iter()
        .filter(|m| !seen.insert(m.id.as_str()))
        .map(|m| Finding {
            file: file.to_string(),
            message: format!("two entries are called `{}`: rename one", m.id),
        })
        .collect()
}

/// The first screens file has one section per entry, each caught (or
/// argued); nothing when it has not been written yet.
fn first_screens(suite: &Suite<'_>, catalogue: &Catalogue) -> Vec<Finding> {
    let path = suite.dir.join("first-screens.md");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Vec::new();
    };
    let file = relative(suite.root, &path);
    let regenerate = format!(
        "regenerate it: .ci/mistakes {} --runs 1 --screens",
        suite.name
    );
    let sections: BTreeMap<&str, &str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("## "))
        .filter_map(|heading| heading.split_once(" ("))
        .collect();
    let mut found = Vec::new();
    for mistake in &catalogue.mistake {
        let expected = if mistake.argued.is_some() {
            "argued"
        } else {
            "caught"
        };
        match sections.get(mistake.id.as_str()) {
            None => found.push(format!(
                "has no first screen for entry `{}`; {regenerate}",
                mistake.id
            )),
            Some(verdict) if !verdict.starts_with(expected) => found.push(format!(
                "entry `{}` was not {expected} when its first screen was written ({}); fix the \
                 entry or the suite, then {regenerate}",
                mistake.id,
                verdict.trim_end_matches(')')
            )),
            Some(_) => {}
        }
    }
    let ids: BTreeSet<&str> = catalogue.mistake.iter().map(|m| m.id.as_str()).collect();
    for id in sections.keys().filter(|id| !ids.contains(*id)) {
        found.push(format!(
            "has a first screen for `{id}`, which the catalogue no longer has; {regenerate}"
        ));
    }
    found
        .into_iter()
        .map(|message| Finding {
            file: file.clone(),
            message,
        })
        .collect()
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENTRY: &str = r#"
[[mistake]]
id = "off-by-one"
file = "src/lib.rs"
story = "The learner counts from one."
find = "let start = 0;"
replace = "let start = 1;"
test = "count::starts_at_zero"
"#;

    struct Course {
        dir: tempfile::TempDir,
        tests: BTreeMap<String, PathBuf>,
    }

    impl Course {
        fn new(catalogue: &str, reference: &str, screens: Option<&str>) -> Course {
            let dir = tempfile::tempdir().unwrap();
            let hidden = dir.path().join("checker/hidden/tally");
            std::fs::create_dir_all(&hidden).unwrap();
            std::fs::write(hidden.join("mistakes.toml"), catalogue).unwrap();
            if let Some(screens) = screens {
                std::fs::write(hidden.join("first-screens.md"), screens).unwrap();
            }
            let src = dir.path().join("solutions/tally/src");
            std::fs::create_dir_all(&src).unwrap();
            std::fs::write(src.join("lib.rs"), reference).unwrap();
            let tests = [("count::starts_at_zero".to_string(), PathBuf::new())].into();
            Course { dir, tests }
        }

        fn findings(&self) -> Vec<String> {
            let dir = self.dir.path().join("checker/hidden/tally");
            let suite = Suite {
                root: self.dir.path(),
                name: "tally",
                dir: &dir,
                tests: &self.tests,
            };
            stale_entries(&suite)
                .into_iter()
                .map(|f| f.to_string())
                .collect()
        }
    }

    const SCREENS: &str = "# First screens\n\n## off-by-one (caught)\n\nstory\n";

    #[test]
    fn an_entry_in_step_with_everything_is_fine() {
        let course = Course::new(ENTRY, "fn f() { let start = 0; }", Some(SCREENS));
        assert_eq!(course.findings(), Vec::<String>::new());
    }

    #[test]
    fn a_renamed_test_and_a_changed_reference_are_named() {
        let catalogue = ENTRY.replace("count::starts_at_zero", "count::begins_at_zero");
        let course = Course::new(&catalogue, "fn f() { let first = 0; }", None);
        let findings = course.findings();
        assert_eq!(findings.len(), 2, "{findings:#?}");
        assert!(
            findings[0]
                .contains("`count::begins_at_zero` to fail, but the hidden suite has no such test"),
            "{findings:#?}"
        );
        assert!(
            findings[1].contains("occurs 0 times in solutions/tally/src/lib.rs"),
            "{findings:#?}"
        );
    }

    #[test]
    fn first_screens_must_match_the_catalogue() {
        let screens = "## stale-entry (caught)\n";
        let course = Course::new(ENTRY, "let start = 0;", Some(screens));
        assert_eq!(
            course.findings(),
            [
                "checker/hidden/tally/first-screens.md: has no first screen for entry \
                 `off-by-one`; regenerate it: .ci/mistakes tally --runs 1 --screens",
                "checker/hidden/tally/first-screens.md: has a first screen for `stale-entry`, \
                 which the catalogue no longer has; regenerate it: .ci/mistakes tally --runs 1 \
                 --screens",
            ]
        );
    }

    #[test]
    fn a_missed_entry_on_the_first_screens_is_named() {
        let screens = "## off-by-one (missed)\n";
        let course = Course::new(ENTRY, "let start = 0;", Some(screens));
        let findings = course.findings();
        assert!(
            findings[0].contains(
                "entry `off-by-one` was not caught when its first screen was written (missed)"
            ),
            "{findings:#?}"
        );
    }

    #[test]
    fn an_unknown_key_and_a_duplicate_id_are_named() {
        let catalogue = format!("{ENTRY}{ENTRY}");
        let course = Course::new(&catalogue, "let start = 0;", None);
        assert_eq!(
            course.findings(),
            ["checker/hidden/tally/mistakes.toml: two entries are called `off-by-one`: rename one"]
        );
        let course = Course::new(&format!("{ENTRY}flakey = true\n"), "let start = 0;", None);
        let findings = course.findings();
        assert!(
            findings[0].contains("does not read as a catalogue") && findings[0].contains("flakey"),
            "{findings:#?}"
        );
    }
}
