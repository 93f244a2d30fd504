//! `dev check`: is the course consistent? Each check adds [`Finding`]s
//! naming a file and what to do; nothing is changed.

use anyhow::{Result, bail};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::finding::Finding;
use super::{book, given};
use crate::course::manifest::{Exercise, load_course};
use crate::report::model::{ExerciseReport, Outcome, Report};

/// What `dev check` looks at.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// Only this exercise (default: all).
    pub exercise: Option<String>,
    /// Grade every stub (must score 0) and every solution (must score full).
    pub grading: bool,
    /// Say on stderr what is being graded.
    pub verbose: bool,
    /// Where graded builds go (default: `OSLINGS_TARGET_DIR`, else
    /// `target/oslings/build` in the course).
    pub target_dir: Option<PathBuf>,
    /// The checker binary that grades (default: the running executable,
    /// which must then be the checker).
    pub checker: Option<PathBuf>,
}

/// Checks the course at `root`: the names of the exercises checked, and
/// what was found.
pub fn check(root: &Path, options: &CheckOptions) -> Result<(Vec<String>, Vec<Finding>)> {
    let course = load_course(&root.join("checker").join("hidden"))?;
    let selected: Vec<&Exercise> = match &options.exercise {
        Some(name) => {
            let found: Vec<&Exercise> = course.iter().filter(|e| &e.name == name).collect();
            if found.is_empty() {
                bail!(
                    "no exercise called `{name}` (checker/hidden/*/exercise.toml names {})",
                    course
                        .iter()
                        .map(|e| e.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            found
        }
        None => course.iter().collect(),
    };
    let mut found = Findings {
        root: root.to_path_buf(),
        list: Vec::new(),
    };
    for exercise in &selected {
        let crates = crates(&mut found, exercise);
        stages_and_book(&mut found, exercise);
        hidden_tests(&mut found, exercise);
        found
            .list
            .extend(super::asserts::bare_asserts(root, &exercise.dir));
        perf_entry(&mut found, exercise);
        if let Some(crates) = &crates {
            given_code(&mut found, exercise, crates);
        }
        pristine(&mut found, exercise);
    }
    if options.grading {
        for exercise in &selected {
            grading(&mut found, exercise, options)?;
        }
    }
    Ok((
        selected.iter().map(|e| e.name.clone()).collect(),
        found.list,
    ))
}

struct Findings {
    root: PathBuf,
    list: Vec<Finding>,
}

impl Findings {
    fn add(&mut self, file: impl AsRef<Path>, message: impl Into<String>) {
        let file = file.as_ref();
        let file = file.strip_prefix(&self.root).unwrap_or(file);
        self.list.push(Finding {
            file: file.display().to_string(),
            message: message.into(),
        });
    }

    fn path(&self, relative: impl AsRef<Path>) -> PathBuf {
        self.root.join(relative)
    }
}

/// The library names of an exercise's two crates.
struct Crates {
    lib: String,
    solution_lib: String,
}

fn read_toml(path: &Path) -> std::result::Result<toml::Table, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read it ({e})"))?;
    text.parse::<toml::Table>()
        .map_err(|e| format!("is not valid TOML ({e})"))
}

/// A crate's package name and library name.
fn package_of(manifest: &Path) -> std::result::Result<(String, String), String> {
    let table = read_toml(manifest)?;
    let package = table
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(toml::Value::as_str)
        .ok_or("has no [package] name")?
        .to_string();
    let lib = table
        .get("lib")
        .and_then(|l| l.get("name"))
        .and_then(toml::Value::as_str)
        .map_or_else(|| package.replace('-', "_"), str::to_string);
    Ok((package, lib))
}

/// The one line of every benchmark's `perf/main.rs`: the entry point is
/// `oslings_harness::perf_main!`, the same that the checker generates.
const PERF_MAIN: &str = "oslings_harness::perf_main!();";

/// An exercise with a `[perf]` stage has its benchmark, `perf/bench.rs`,
/// and the workspace's `perf` binary, `perf/main.rs`, is the one line
/// [`PERF_MAIN`], declared as `[[bin]] name = "perf"`.
fn perf_entry(found: &mut Findings, exercise: &Exercise) {
    if exercise.perf.is_none() {
        return;
    }
    let perf = exercise.dir.join("perf");
    let bench = perf.join("bench.rs");
    if !bench.is_file() {
        found.add(
            &bench,
            "the [perf] stage has no benchmark: write its workloads here, handed to \
             `oslings_harness::perf::run_main` by a `pub(crate) fn main()`",
        );
    }
    let main = perf.join("main.rs");
    let text = std::fs::read_to_string(&main).unwrap_or_default();
    let code: String = text
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .flat_map(|line| line.split_whitespace())
        .collect();
    if code != PERF_MAIN {
        found.add(
            &main,
            format!(
                "the benchmark's entry point is the one line `{PERF_MAIN}` (the checker \
                 builds bench.rs with the same macro, checker/harness/src/perf.rs): write \
                 just that"
            ),
        );
    }
    let manifest = exercise.dir.join("Cargo.toml");
    let declared = read_toml(&manifest).ok().is_some_and(|table| {
        let bins = table.get("bin").and_then(toml::Value::as_array);
        bins.into_iter().flatten().any(|bin| {
            bin.get("name").and_then(toml::Value::as_str) == Some("perf")
                && bin.get("path").and_then(toml::Value::as_str) == Some("perf/main.rs")
        })
    });
    if !declared {
        found.add(
            &manifest,
            "declare the benchmark's binary: `[[bin]]` with `name = \"perf\"` and \
             `path = \"perf/main.rs\"` (`.ci/perf-spread` builds it)",
        );
    }
}

/// The exercise's manifest sits in `checker/hidden/<name>`, and its stub,
/// solution and hidden suite are crates with the package names it gives.
fn crates(found: &mut Findings, exercise: &Exercise) -> Option<Crates> {
    let name = &exercise.name;
    let manifest = exercise.dir.join("exercise.toml");
    if exercise.dir.file_name().and_then(|n| n.to_str()) != Some(name) {
        found.add(
            &manifest,
            format!("names the exercise `{name}` but lives in another folder: move it to checker/hidden/{name}/"),
        );
    }
    let mut libs = Vec::new();
    for (dir, expected, key) in [
        ("exercises", &exercise.package, "package"),
        ("solutions", &exercise.solution_package, "solution_package"),
    ] {
        let cargo = found.path(format!("{dir}/{name}/Cargo.toml"));
        match package_of(&cargo) {
            Err(why) => found.add(
                &cargo,
                format!("{why}: every exercise needs a crate at {dir}/{name}/ (`checker dev new` makes one)"),
            ),
            Ok((package, _)) if &package != expected => found.add(
                &cargo,
                format!(
                    "the package is `{package}` but exercise.toml's `{key}` says `{expected}`: make them the same"
                ),
            ),
            Ok((_, lib)) => libs.push(lib),
        }
    }
    let hidden = exercise.dir.join("Cargo.toml");
    match read_toml(&hidden) {
        Err(why) => found.add(
            &hidden,
            format!("{why}: the hidden suite needs a Cargo.toml"),
        ),
        Ok(table) => {
            let learner = table
                .get("dependencies")
                .and_then(|d| d.get("learner"))
                .and_then(|l| l.get("package"))
                .and_then(toml::Value::as_str);
            if learner != Some(exercise.solution_package.as_str()) {
                found.add(
                    &hidden,
                    format!(
                        "the dependency `learner` must be the reference solution, \
                         `learner = {{ package = \"{}\", path = \"../../../solutions/{name}\" }}` \
                         (it is {learner:?})",
                        exercise.solution_package
                    ),
                );
            }
        }
    }
    match <[String; 2]>::try_from(libs) {
        Ok([lib, solution_lib]) => Some(Crates { lib, solution_lib }),
        Err(_) => None,
    }
}

/// Every stage has a valid, unique id, hints and a section that is a
/// heading of the chapter; the chapter is in SUMMARY.md.
fn stages_and_book(found: &mut Findings, exercise: &Exercise) {
    stages(found, exercise);
    book_sections(found, exercise);
}

/// Every stage's id is unique and a module name, and every stage (the perf
/// stage too) has a hint.
fn stages(found: &mut Findings, exercise: &Exercise) {
    let manifest = exercise.dir.join("exercise.toml");
    let mut ids = BTreeSet::new();
    for stage in &exercise.stages {
        if !ids.insert(stage.id.as_str()) {
            found.add(
                &manifest,
                format!("two stages have the id `{}`: ids must be unique", stage.id),
            );
        }
        if syn::parse_str::<syn::Ident>(&stage.id).is_err() || stage.id.starts_with("r#") {
            found.add(
                &manifest,
                format!(
                    "stage id `{}` is not a Rust module name (its tests live in `mod {}`)",
                    stage.id, stage.id
                ),
            );
        }
        if stage.hints.iter().all(|h| h.trim().is_empty()) {
            found.add(
                &manifest,
                format!(
                    "stage `{}` has no hint: add at least one to `hints`",
                    stage.id
                ),
            );
        }
    }
    if exercise
        .perf
        .as_ref()
        .is_some_and(|perf| perf.hints.iter().all(|h| h.trim().is_empty()))
    {
        found.add(
            &manifest,
            "the [perf] stage has no hint: add at least one to its `hints`",
        );
    }
}

/// The chapter exists, is in `SUMMARY.md` and has every stage's section.
fn book_sections(found: &mut Findings, exercise: &Exercise) {
    let manifest = exercise.dir.join("exercise.toml");
    let chapter = found.path("book").join(&exercise.chapter);
    let Ok(text) = std::fs::read_to_string(&chapter) else {
        found.add(
            &manifest,
            format!(
                "its chapter book/{} does not exist: write it, or fix `chapter`",
                exercise.chapter
            ),
        );
        return;
    };
    let headings = book::heading_ids(&text);
    let sections = exercise
        .stages
        .iter()
        .map(|s| (format!("stage `{}`", s.id), &s.section))
        .chain(
            exercise
                .perf
                .iter()
                .map(|p| ("the [perf] stage".to_string(), &p.section)),
        );
    for (what, section) in sections {
        if !headings.contains(section) {
            found.add(
                &chapter,
                format!(
                    "{what} links to section `{section}`, which is not a heading here: add the \
                     section (its heading's id must be `{section}`) or fix `section` in {}",
                    manifest
                        .strip_prefix(&found.root)
                        .unwrap_or(&manifest)
                        .display()
                ),
            );
        }
    }
    let summary = found.path("book/SUMMARY.md");
    let listed = std::fs::read_to_string(&summary)
        .is_ok_and(|s| s.contains(&format!("]({})", exercise.chapter)));
    if !listed {
        found.add(
            &summary,
            format!(
                "does not list {}: add `- [Title]({})` where the chapter belongs",
                exercise.chapter, exercise.chapter
            ),
        );
    }
}

/// The hidden tests of an exercise, by name (`stage::test`), each with the
/// file that holds it.
fn test_names(found: &mut Findings, exercise: &Exercise) -> BTreeMap<String, PathBuf> {
    let mut tests = BTreeMap::new();
    let cargo = exercise.dir.join("Cargo.toml");
    let targets: Vec<String> = read_toml(&cargo)
        .ok()
        .and_then(|t| t.get("test").and_then(toml::Value::as_array).cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|t| {
            t.get("path")
                .and_then(toml::Value::as_str)
                .map(str::to_string)
        })
        .collect();
    if targets.is_empty() {
        found.add(&cargo, "declares no [[test]] target: the hidden tests go in tests/hidden.rs, `[[test]] name = \"hidden\"`");
    }
    for target in targets {
        let path = exercise.dir.join(&target);
        let Some(file) = parse(found, &path) else {
            continue;
        };
        let dir = path.parent().unwrap_or(&exercise.dir).to_path_buf();
        let stem = path.file_stem().map(PathBuf::from).unwrap_or_default();
        for item in &file.items {
            match item {
                syn::Item::Mod(m) => {
                    let name = m.ident.to_string();
                    match &m.content {
                        Some((_, items)) => collect_tests(items, &name, &path, &mut tests),
                        None => {
                            let module = path_attribute(&m.attrs)
                                .map(|p| dir.join(p))
                                .unwrap_or_else(|| dir.join(&stem).join(format!("{name}.rs")));
                            if let Some(inner) = parse(found, &module) {
                                collect_tests(&inner.items, &name, &module, &mut tests);
                            }
                        }
                    }
                }
                syn::Item::Fn(f) if is_test(&f.attrs) => {
                    tests.insert(f.sig.ident.to_string(), path.clone());
                }
                _ => {}
            }
        }
    }
    tests
}

fn parse(found: &mut Findings, path: &Path) -> Option<syn::File> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => {
            found.add(path, format!("cannot read it ({e})"));
            return None;
        }
    };
    match syn::parse_file(&text) {
        Ok(file) => Some(file),
        Err(e) => {
            found.add(path, format!("does not parse as Rust ({e})"));
            None
        }
    }
}

fn path_attribute(attrs: &[syn::Attribute]) -> Option<String> {
    attrs.iter().find_map(|a| match &a.meta {
        syn::Meta::NameValue(nv) if nv.path.is_ident("path") => match &nv.value {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) => Some(s.value()),
            _ => None,
        },
        _ => None,
    })
}

fn is_test(attrs: &[syn::Attribute]) -> bool {
    attrs
        .iter()
        .any(|a| a.path().segments.last().is_some_and(|s| s.ident == "test"))
}

fn collect_tests(
    items: &[syn::Item],
    prefix: &str,
    file: &Path,
    tests: &mut BTreeMap<String, PathBuf>,
) {
    for item in items {
        match item {
            syn::Item::Fn(f) if is_test(&f.attrs) => {
                tests.insert(format!("{prefix}::{}", f.sig.ident), file.to_path_buf());
            }
            syn::Item::Mod(m) => {
                if let Some((_, inner)) = &m.content {
                    collect_tests(inner, &format!("{prefix}::{}", m.ident), file, tests);
                }
            }
            _ => {}
        }
    }
}

/// Every hidden test belongs to a stage, every stage has a hidden test, and
/// every `[[tests]]` override names a test.
fn hidden_tests(found: &mut Findings, exercise: &Exercise) {
    let tests = test_names(found, exercise);
    let ids: Vec<&str> = exercise.stages.iter().map(|s| s.id.as_str()).collect();
    for (name, file) in &tests {
        if exercise.stage_of(name).is_none() {
            let first = name.split("::").next().unwrap_or(name);
            found.add(
                file,
                format!(
                    "hidden test `{name}` belongs to no stage: its first path segment `{first}` is \
                     not a stage id ({}); move it into the module of its stage",
                    ids.join(", ")
                ),
            );
        }
    }
    let manifest = exercise.dir.join("exercise.toml");
    for stage in &exercise.stages {
        let prefix = format!("{}::", stage.id);
        if !tests.keys().any(|t| t.starts_with(&prefix)) {
            found.add(
                &manifest,
                format!(
                    "stage `{}` has no hidden test: add a `#[test]` in tests/hidden/{}.rs (`mod {};` in tests/hidden.rs)",
                    stage.id, stage.id, stage.id
                ),
            );
        }
    }
    found
        .list
        .extend(super::catalogue::stale_entries(&super::catalogue::Suite {
            root: &found.root,
            name: &exercise.name,
            dir: &exercise.dir,
            tests: &tests,
        }));
    for over in &exercise.tests {
        if !tests.contains_key(&over.name) {
            found.add(
                &manifest,
                format!(
                    "the [[tests]] override for `{}` names no hidden test: fix the name or remove the override",
                    over.name
                ),
            );
        }
    }
}

/// Items of the stub with no `todo!()` are the same in the solution.
fn given_code(found: &mut Findings, exercise: &Exercise, crates: &Crates) {
    let stub_src = found.path(format!("exercises/{}/src", exercise.name));
    let solution_src = found.path(format!("solutions/{}/src", exercise.name));
    let rename = (crates.solution_lib.as_str(), crates.lib.as_str());
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(&stub_src)
        .into_iter()
        .filter_map(std::result::Result::ok)
        .filter(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "rs"))
        .map(|e| e.into_path())
        .collect();
    files.sort();
    for stub_file in files {
        let relative = stub_file
            .strip_prefix(&stub_src)
            .unwrap_or(&stub_file)
            .to_path_buf();
        let solution_file = solution_src.join(&relative);
        let Ok(stub_text) = std::fs::read_to_string(&stub_file) else {
            continue;
        };
        let stub = match given::items(&stub_text, None) {
            Ok(items) => items,
            Err(e) => {
                found.add(&stub_file, format!("does not parse as Rust ({e})"));
                continue;
            }
        };
        let Ok(solution_text) = std::fs::read_to_string(&solution_file) else {
            if !stub.is_empty() {
                found.add(
                    &stub_file,
                    format!(
                        "has no counterpart solutions/{}/src/{}: the solution must have the same files",
                        exercise.name,
                        relative.display()
                    ),
                );
            }
            continue;
        };
        let solution = match given::items(&solution_text, Some(rename)) {
            Ok(items) => items,
            Err(e) => {
                found.add(&solution_file, format!("does not parse as Rust ({e})"));
                continue;
            }
        };
        for problem in given::compare(&stub, &solution) {
            found.add(
                &stub_file,
                format!(
                    "{problem} (solutions/{}/src/{}): make the two the same, or give the stub's \
                     body a `todo!()` if the learner writes it",
                    exercise.name,
                    relative.display()
                ),
            );
        }
    }
}

fn git(root: &Path, args: &[&str], index: Option<&Path>) -> std::result::Result<String, String> {
    let mut command = Command::new("git");
    command.arg("-C").arg(root).args(args);
    if let Some(index) = index {
        command.env("GIT_INDEX_FILE", index);
    }
    let out = command
        .output()
        .map_err(|e| format!("git cannot run: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// The git tree hash `exercises/<name>` would have if committed as it is
/// in the working tree (what `pristine_tree` records), via a scratch index.
pub(crate) fn working_tree_hash(root: &Path, name: &str) -> std::result::Result<String, String> {
    git(root, &["rev-parse", "--git-dir"], None)?;
    let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
    let index = scratch.path().join("index");
    let path = format!("exercises/{name}");
    git(root, &["add", "-A", "--", &path], Some(&index))?;
    git(
        root,
        &["write-tree", &format!("--prefix={path}/")],
        Some(&index),
    )
}

/// `pristine_tree` is `HEAD:exercises/<name>`, and the stub has no
/// uncommitted change.
fn pristine(found: &mut Findings, exercise: &Exercise) {
    let root = found.root.clone();
    let manifest = exercise.dir.join("exercise.toml");
    let path = format!("exercises/{}", exercise.name);
    if let Err(why) = git(&root, &["rev-parse", "--git-dir"], None) {
        found.add(
            &manifest,
            format!("cannot check `pristine_tree`: the course is not a git checkout ({why})"),
        );
        return;
    }
    let update = "OSLINGS_BLESS=1 cargo test -p checker --test learner pristine";
    match git(&root, &["status", "--porcelain", "--", &path], None) {
        Ok(status) if !status.is_empty() => {
            let changed: Vec<&str> = status.lines().take(5).collect();
            found.add(
                &path,
                format!(
                    "has uncommitted changes ({}): commit them, then update `pristine_tree` ({update}) and commit that",
                    changed.join("; ")
                ),
            );
            return;
        }
        Err(why) => {
            found.add(&path, format!("git status failed: {why}"));
            return;
        }
        Ok(_) => {}
    }
    let head = match git(&root, &["rev-parse", &format!("HEAD:{path}")], None) {
        Ok(head) => head,
        Err(_) => {
            found.add(&path, "is not committed: commit it, then set `pristine_tree` to what `git rev-parse HEAD:exercises/<name>` prints");
            return;
        }
    };
    match &exercise.pristine_tree {
        Some(recorded) if *recorded == head => {}
        Some(recorded) => found.add(
            &manifest,
            format!("`pristine_tree` is {recorded} but HEAD:{path} is {head}: set it to {head} ({update})"),
        ),
        None => found.add(&manifest, format!("has no `pristine_tree`: add `pristine_tree = \"{head}\"` (what `reset` restores)")),
    }
}

/// Grades one tree of one exercise with the checker binary (`--format
/// json`), in the course at `root`.
fn grade(
    checker: &Path,
    root: &Path,
    target_dir: &Path,
    exercise: &Exercise,
    solutions: bool,
) -> std::result::Result<ExerciseReport, String> {
    let mut command = Command::new(checker);
    if solutions {
        command.args(["--against", "solutions"]);
    }
    let out = command
        .args([exercise.name.as_str(), "--format", "json"])
        .current_dir(root)
        .env("OSLINGS_ROOT", root)
        .env("OSLINGS_TARGET_DIR", target_dir)
        .env("OSLINGS_BUILD_AHEAD", "0")
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", checker.display()))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !matches!(out.status.code(), Some(0 | 1)) {
        return Err(format!(
            "the checker failed ({}): {}",
            out.status,
            stderr.trim()
        ));
    }
    let report: Report = serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "the checker's JSON report does not read ({e}): {}",
            stderr.trim()
        )
    })?;
    report
        .exercises
        .into_iter()
        .find(|e| e.name == exercise.name)
        .ok_or_else(|| "the checker's report has no entry for it".to_string())
}

/// The stub compiles and scores 0; the solution scores full marks.
fn grading(found: &mut Findings, exercise: &Exercise, options: &CheckOptions) -> Result<()> {
    let root = found.root.clone();
    let target_dir = options
        .target_dir
        .clone()
        .or_else(|| std::env::var_os("OSLINGS_TARGET_DIR").map(PathBuf::from))
        .unwrap_or_else(|| root.join("target").join("oslings").join("build"));
    // The checker this code runs in, unless told which (a test is not one).
    let checker = options
        .checker
        .clone()
        .unwrap_or_else(|| PathBuf::from("/proc/self/exe"));
    let missing: Vec<String> = exercise
        .stages
        .iter()
        .flat_map(|s| crate::exec::programs::missing_programs(&s.requires))
        .collect();
    for solutions in [false, true] {
        let dir = format!(
            "{}/{}",
            if solutions { "solutions" } else { "exercises" },
            exercise.name
        );
        if options.verbose {
            eprintln!("dev check: grading {dir}");
        }
        let report = match grade(&checker, &root, &target_dir, exercise, solutions) {
            Ok(report) => report,
            Err(e) => {
                found.add(&dir, format!("could not be graded: {e}"));
                continue;
            }
        };
        if let Some(error) = &report.compile_error {
            let first: Vec<&str> = error.message.lines().take(12).collect();
            found.add(
                &dir,
                format!(
                    "does not compile with its hidden suite:\n    {}",
                    first.join("\n    ")
                ),
            );
            continue;
        }
        if solutions {
            judge_solution(found, &dir, &report, &missing);
        } else {
            judge_stub(found, &dir, &report, exercise);
        }
    }
    Ok(())
}

/// The untouched stub must fail its first stage.
fn judge_stub(found: &mut Findings, dir: &str, report: &ExerciseReport, exercise: &Exercise) {
    if report.score != 0 || report.stages.first().is_some_and(|s| s.passed) {
        found.add(
            dir,
            format!(
                "the untouched stub scores {}/{}: its first stage must fail until the \
                 learner writes code (a hidden test of stage `{}` that a `todo!()` fails)",
                report.score, report.max_score, exercise.stages[0].id
            ),
        );
    }
}

/// The reference solution must score full marks; `missing` are the
/// programs a stage needs that this machine lacks.
fn judge_solution(found: &mut Findings, dir: &str, report: &ExerciseReport, missing: &[String]) {
    if report.score >= report.max_score {
        return;
    }
    let failing: Vec<String> = report
        .tests
        .iter()
        .filter(|t| t.outcome != Outcome::Passed)
        .take(5)
        .map(|t| {
            format!(
                "{} {}: {}",
                t.name,
                t.outcome.label(),
                t.message.lines().next().unwrap_or("")
            )
        })
        .collect();
    let needs = if missing.is_empty() {
        String::new()
    } else {
        format!(
            " (this machine lacks {}, which a stage needs)",
            missing.join(", ")
        )
    };
    let perf = report
        .performance
        .as_ref()
        .filter(|p| p.score < p.max_score)
        .map(|p| format!("\n    performance: {}", p.message))
        .unwrap_or_default();
    found.add(
        dir,
        format!(
            "the reference solution scores {}/{}, not full marks{needs}:\n    {}{perf}",
            report.score,
            report.max_score,
            failing.join("\n    ")
        ),
    );
}
