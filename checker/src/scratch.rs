//! The scratch cargo project that compiles an exercise's hidden suite against
//! the crate being graded.
//!
//! The hidden suite (`checker/hidden/<exercise>`) is a workspace crate whose
//! `learner` dependency is the reference solution. To grade another crate, the
//! checker writes a small manifest under `target/oslings/grade/` that compiles
//! the same sources with `learner` pointing at the graded crate (and
//! `reference` at the solution, for the benchmark). Nothing is written into
//! the graded tree.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use toml::{Table, Value};

use crate::manifest::Exercise;
use crate::pack::{self, Pack};

/// A generated project, ready for `cargo`.
#[derive(Debug, Clone)]
pub struct Scratch {
    /// Directory holding the generated `Cargo.toml`.
    pub dir: PathBuf,
    /// Whether the graded crate is the reference solution itself.
    pub grading_reference: bool,
}

/// What is being graded for one exercise.
#[derive(Debug, Clone)]
pub struct Subject {
    /// The crate directory (with its `Cargo.toml`).
    pub crate_dir: PathBuf,
    /// Its package name.
    pub package: String,
    /// What the graded tree holds that was not used (see [`crate::seal`]).
    pub refused: Vec<crate::seal::Refusal>,
}

/// Writes (or refreshes) the scratch project for `exercise` graded from `subject`.
///
/// `root` is the oslings repository (workspace manifest, solutions, hidden
/// suites); `work` is the directory for this graded tree under `target/`;
/// `packs` are instructors' test packs, each an extra `[[test]]` target.
pub fn prepare(
    root: &Path,
    work: &Path,
    exercise: &Exercise,
    subject: &Subject,
    packs: &[Pack],
) -> Result<Scratch> {
    let workspace: Table = read_toml(&root.join("Cargo.toml"))?;
    let hidden: Table = read_toml(&exercise.dir.join("Cargo.toml"))?;
    let shared = shared(&workspace, "dependencies");
    let solution_dir = root.join("solutions").join(&exercise.name);
    let grading_reference = same_dir(&subject.crate_dir, &solution_dir);

    let dir = work.join(&exercise.name);
    std::fs::create_dir_all(dir.join("src"))
        .with_context(|| format!("cannot create {}", dir.display()))?;

    let mut deps = Table::new();
    if let Some(table) = hidden.get("dependencies").and_then(Value::as_table) {
        for (name, spec) in table {
            if name == "learner" {
                continue;
            }
            deps.insert(
                name.clone(),
                resolve_dep(name, spec, &shared, root, &exercise.dir)?,
            );
        }
    }
    deps.insert(
        "learner".into(),
        path_dep(&subject.package, &subject.crate_dir),
    );
    if !grading_reference {
        deps.insert(
            "reference".into(),
            path_dep(&exercise.solution_package, &solution_dir),
        );
    }

    let lib_name = hidden
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(Value::as_str)
        .context("the hidden suite's Cargo.toml has no package name")?
        .replace('-', "_");
    let mut manifest = Table::new();
    let mut package = Table::new();
    package.insert(
        "name".into(),
        Value::from(format!("oslings-grade-{}", exercise.name)),
    );
    package.insert("version".into(), Value::from("0.0.0"));
    package.insert("edition".into(), Value::from("2024"));
    package.insert("publish".into(), Value::from(false));
    for key in [
        "autobins",
        "autotests",
        "autobenches",
        "autoexamples",
        "autolib",
    ] {
        package.insert(key.into(), Value::from(false));
    }
    manifest.insert("package".into(), Value::Table(package));

    let suite = &exercise.dir;
    if let Some(lib) = hidden.get("lib").and_then(Value::as_table) {
        let path = lib
            .get("path")
            .and_then(Value::as_str)
            .unwrap_or("src/lib.rs");
        let mut out = Table::new();
        out.insert("name".into(), Value::from(lib_name.clone()));
        out.insert("path".into(), Value::from(abs(suite, path)));
        manifest.insert("lib".into(), Value::Table(out));
    }
    let mut tests = Vec::new();
    let shipped = if pack::replaces_shipped(packs, &exercise.name) {
        None
    } else {
        hidden.get("test").and_then(Value::as_array)
    };
    for test in shipped.into_iter().flatten() {
        let name = test
            .get("name")
            .and_then(Value::as_str)
            .context("a [[test]] without a name")?;
        let path = test
            .get("path")
            .and_then(Value::as_str)
            .context("a [[test]] without a path")?;
        let mut out = Table::new();
        out.insert("name".into(), Value::from(name));
        out.insert("path".into(), Value::from(abs(suite, path)));
        tests.push(Value::Table(out));
    }
    for (name, path) in pack::write_targets(packs, exercise, &dir, &lib_name)? {
        let mut out = Table::new();
        out.insert("name".into(), Value::from(name));
        out.insert("path".into(), Value::from(path.display().to_string()));
        tests.push(Value::Table(out));
    }
    if tests.is_empty() {
        bail!(
            "{}: the hidden suite declares no [[test]] targets",
            exercise.dir.display()
        );
    }
    manifest.insert("test".into(), Value::Array(tests));

    // Binaries the hidden tests run (e.g. a program built on the graded
    // crate), with `CARGO_BIN_EXE_<name>` set for the tests; the benchmark's
    // `perf` binary is generated below instead.
    let mut bins = Vec::new();
    for bin in hidden
        .get("bin")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = bin
            .get("name")
            .and_then(Value::as_str)
            .context("a [[bin]] without a name")?;
        if name == "perf" {
            continue;
        }
        let path = bin
            .get("path")
            .and_then(Value::as_str)
            .context("a [[bin]] without a path")?;
        let mut out = Table::new();
        out.insert("name".into(), Value::from(name));
        out.insert("path".into(), Value::from(abs(suite, path)));
        bins.push(Value::Table(out));
    }
    let bench = suite.join("perf").join("bench.rs");
    if bench.is_file() {
        let main = perf_main(&bench, grading_reference);
        write_if_changed(&dir.join("src").join("perf.rs"), &main)?;
        let mut out = Table::new();
        out.insert("name".into(), Value::from(perf_bin(&dir)));
        out.insert("path".into(), Value::from("src/perf.rs"));
        bins.push(Value::Table(out));
    }
    if !bins.is_empty() {
        manifest.insert("bin".into(), Value::Array(bins));
    }
    manifest.insert("dependencies".into(), Value::Table(deps));
    manifest.insert("workspace".into(), Value::Table(Table::new()));
    let mut profiles = Table::new();
    if let Some(perf) = workspace.get("profile").and_then(|p| p.get("perf")) {
        profiles.insert("perf".into(), perf.clone());
    }
    manifest.insert("profile".into(), Value::Table(profiles));

    let text = format!(
        "# Generated by the oslings checker; edits are overwritten.\n{}",
        toml::to_string(&manifest)?
    );
    write_if_changed(&dir.join("Cargo.toml"), &text)?;
    // Start from the workspace's lock so that the same versions are used and
    // nothing needs the network; start again whenever the workspace's changes.
    let workspace_lock = std::fs::read(root.join("Cargo.lock")).unwrap_or_default();
    let stamp = format!("{:016x}\n", fingerprint(&workspace_lock));
    let stamp_path = dir.join("Cargo.lock.source");
    let lock = dir.join("Cargo.lock");
    if !lock.exists()
        || std::fs::read_to_string(&stamp_path).ok().as_deref() != Some(stamp.as_str())
    {
        std::fs::write(&lock, &workspace_lock)
            .with_context(|| format!("cannot write {}", lock.display()))?;
        std::fs::write(&stamp_path, stamp)?;
    }
    Ok(Scratch {
        dir,
        grading_reference,
    })
}

/// The benchmark's entry point for the scratch project: `candidate` is the
/// graded crate, `reference` the solution (the same crate when grading it).
fn perf_main(bench: &Path, grading_reference: bool) -> String {
    let reference = if grading_reference {
        "extern crate learner as reference;"
    } else {
        "extern crate reference;"
    };
    format!(
        "//! Generated by the oslings checker: the benchmark with the graded crate as `candidate`.\n\
         extern crate learner as candidate;\n{reference}\n\n\
         #[path = {bench:?}]\nmod bench;\n\nfn main() {{\n    bench::main();\n}}\n",
        bench = bench.display().to_string()
    )
}

fn path_dep(package: &str, dir: &Path) -> Value {
    let mut spec = Table::new();
    spec.insert("package".into(), Value::from(package));
    spec.insert("path".into(), Value::from(dir.display().to_string()));
    Value::Table(spec)
}

/// Turns a dependency of the hidden suite into one the scratch project can
/// use: workspace inheritance resolved, relative paths made absolute.
pub(crate) fn resolve_dep(
    name: &str,
    spec: &Value,
    shared: &Table,
    root: &Path,
    suite: &Path,
) -> Result<Value> {
    let inherits = spec.get("workspace").and_then(Value::as_bool) == Some(true);
    if !inherits {
        return Ok(absolute_paths(spec.clone(), suite));
    }
    let base = shared.get(name).with_context(|| {
        format!("dependency `{name}` inherits from the workspace, which does not declare it")
    })?;
    let mut table = match base {
        Value::String(version) => {
            let mut t = Table::new();
            t.insert("version".into(), Value::from(version.clone()));
            t
        }
        Value::Table(t) => t.clone(),
        other => bail!("unexpected workspace dependency `{name}` = {other}"),
    };
    if let Some(extra) = spec.get("features").and_then(Value::as_array) {
        let features = table
            .entry("features")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = features {
            list.extend(extra.iter().cloned());
        }
    }
    Ok(absolute_paths(Value::Table(table), root))
}

fn absolute_paths(mut spec: Value, base: &Path) -> Value {
    if let Some(table) = spec.as_table_mut() {
        if let Some(Value::String(path)) = table.get("path") {
            let absolute = abs(base, path);
            table.insert("path".into(), Value::from(absolute));
        }
    }
    spec
}

fn abs(base: &Path, path: &str) -> String {
    base.join(path).display().to_string()
}

/// A table the workspace manifest shares with its members
/// (`[workspace.<key>]`), empty when it has none.
pub(crate) fn shared(workspace: &Table, key: &str) -> Table {
    workspace
        .get("workspace")
        .and_then(|w| w.get(key))
        .and_then(Value::as_table)
        .cloned()
        .unwrap_or_default()
}

pub(crate) fn read_toml(path: &Path) -> Result<Table> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    text.parse()
        .with_context(|| format!("{} is not valid TOML", path.display()))
}

/// A hash of `value` for cache keys and directory names under `target/`
/// (stable within one build of the checker, which is all they need).
/// The name of the benchmark binary of the generated project in `dir`: one
/// of its own, because every generated project builds into the same target
/// directory, where a binary's name is its path, and two checkers grading
/// at once must not run each other's benchmark.
pub fn perf_bin(dir: &Path) -> String {
    format!("perf-{:016x}", fingerprint(dir))
}

/// A stable 64-bit hash of `value`.
pub fn fingerprint<T: std::hash::Hash + ?Sized>(value: &T) -> u64 {
    use std::hash::Hasher;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

pub(crate) fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Writes `text` to `path` unless it already holds exactly that, so cargo
/// does not see a changed file and rebuild.
pub fn write_if_changed(path: &Path, text: &str) -> Result<()> {
    if std::fs::read_to_string(path).ok().as_deref() == Some(text) {
        return Ok(());
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}
