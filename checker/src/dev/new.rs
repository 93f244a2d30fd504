//! `dev new`: scaffolds an exercise from its name, title, chapter and
//! stages, wired into the course so that `dev check` passes on it at once:
//! each stage is a placeholder task (`solve(x)` returns `x + n` in stage
//! n), with a blank in the stub, an answer in the solution, a visible test,
//! a hidden test, placeholder hints and a section of the chapter.

use anyhow::{Context, Result, bail};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::book;
use crate::course::manifest::load_course;

/// What `dev new` is asked to make.
#[derive(Debug, Clone)]
pub struct NewExercise {
    /// Crate name in kebab-case, e.g. `ring-buffer`.
    pub name: String,
    /// Human title, e.g. "Ring buffer".
    pub title: String,
    /// The chapter's file under `book/`.
    pub chapter: String,
    /// Stages in order: (id, title).
    pub stages: Vec<(String, String)>,
    /// Position in the course (default: after the last exercise).
    pub order: Option<u32>,
}

impl NewExercise {
    /// Checks the command line's values; `stages` are `"id: Title"`.
    pub fn parse(
        name: &str,
        title: &str,
        chapter: &str,
        stages: &[String],
        order: Option<u32>,
    ) -> Result<NewExercise> {
        let valid_name = name.len() >= 2
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !name.contains("--");
        if !valid_name {
            bail!(
                "`{name}` is not a valid exercise name: use a crate name in kebab-case \
                 (lowercase letters, digits and single dashes, starting with a letter), \
                 e.g. `ring-buffer`"
            );
        }
        if name.ends_with("-solution") || name.starts_with("hidden-") {
            bail!(
                "`{name}`: the names `*-solution` and `hidden-*` belong to the crates dev new makes"
            );
        }
        if title.trim().is_empty() {
            bail!("--title must not be empty");
        }
        let valid_chapter = chapter.strip_suffix(".md").is_some_and(|stem| {
            !stem.is_empty()
                && stem
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        }) && chapter != "SUMMARY.md";
        if !valid_chapter {
            bail!(
                "--chapter `{chapter}`: give a file name under book/ such as `ring-buffer.md` (lowercase, dashes)"
            );
        }
        let mut parsed: Vec<(String, String)> = Vec::new();
        for stage in stages {
            let Some((id, stage_title)) = stage.split_once(':') else {
                bail!(
                    "--stage `{stage}`: write it as \"id: Title\", e.g. --stage \"push: Push and pop\""
                );
            };
            let (id, stage_title) = (id.trim(), stage_title.trim());
            if syn::parse_str::<syn::Ident>(id).is_err()
                || id.starts_with("r#")
                || !id.starts_with(|c: char| c.is_ascii_lowercase())
                || !id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                bail!(
                    "--stage `{stage}`: the id `{id}` must be a Rust module name in snake_case (not a keyword)"
                );
            }
            if stage_title.is_empty() {
                bail!("--stage `{stage}`: the stage needs a title after the colon");
            }
            if parsed.iter().any(|(other, _)| other == id) {
                bail!("--stage: two stages have the id `{id}`");
            }
            parsed.push((id.to_string(), stage_title.to_string()));
        }
        if parsed.is_empty() {
            bail!("give at least one --stage \"id: Title\"");
        }
        Ok(NewExercise {
            name: name.to_string(),
            title: title.trim().to_string(),
            chapter: chapter.to_string(),
            stages: parsed,
            order,
        })
    }
}

/// What `dev new` made.
#[derive(Debug, Clone, Default)]
pub struct Scaffolded {
    /// Files created, relative to the course's root.
    pub created: Vec<PathBuf>,
    /// Existing files changed.
    pub changed: Vec<PathBuf>,
    /// The exercise's name.
    pub name: String,
    /// Whether `pristine_tree` could be computed (a git checkout).
    pub pristine: bool,
}

impl std::fmt::Display for Scaffolded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = &self.name;
        writeln!(f, "created {} files:", self.created.len())?;
        for path in &self.created {
            writeln!(f, "  {}", path.display())?;
        }
        writeln!(f, "changed:")?;
        for path in &self.changed {
            writeln!(f, "  {}", path.display())?;
        }
        let pristine = if self.pristine {
            format!(
                "exercise.toml already records `pristine_tree` for exercises/{name} as it is \
                 now; after a later change to the stub, commit it and run \
                 `OSLINGS_BLESS=1 cargo test -p checker --test learner pristine`."
            )
        } else {
            format!(
                "then add `pristine_tree = \"<git rev-parse HEAD:exercises/{name}>\"` to \
                 exercise.toml (dev check prints it)."
            )
        };
        let steps = [
            format!(
                "For each stage, replace the placeholder `solve` with the real work: the \
                 blanks in exercises/{name}/src/<stage>.rs (a `todo!()` in every body the \
                 learner writes; code outside the blanks must be the same as in \
                 solutions/{name}/src/), the answer in the solution, hidden tests in \
                 checker/hidden/{name}/tests/hidden/<stage>.rs (the module is the stage id), \
                 visible tests in exercises/{name}/tests/, real hints in \
                 checker/hidden/{name}/exercise.toml, and the chapter's section."
            ),
            format!(
                "`cargo run -p checker -- dev check --exercise {name}` until it finds nothing."
            ),
            format!(
                "Catalogue the mistakes learners make in checker/hidden/{name}/mistakes.toml \
                 (checker/hidden/README-mistakes.md) and run `.ci/mistakes {name}`."
            ),
            format!(
                "Optionally, a performance stage: [perf] in exercise.toml, \
                 checker/hidden/{name}/perf/bench.rs (workloads handed to \
                 `oslings_harness::perf::run_main`; see the other exercises), and the \
                 benchmark's entry point, the one line `oslings_harness::perf_main!();` in \
                 perf/main.rs, declared in the hidden suite's Cargo.toml as \
                 `[[bin]] name = \"perf\"` with `oslings-harness` among its dependencies."
            ),
            format!(
                "Add {name} to the tables of exercises in README.md, book/introduction.md and \
                 book/instructors.md, and re-bless the grading snapshots, which list every \
                 exercise (`OSLINGS_BLESS=1 cargo test -p checker --test grading`)."
            ),
            format!(
                "Commit everything, Cargo.lock included (the next cargo build adds the new \
                 crates to it); {pristine}"
            ),
            "`bash .ci/run` before you push (CONTRIBUTING.md).".to_string(),
        ];
        writeln!(f, "\nnext steps:")?;
        for (n, step) in steps.iter().enumerate() {
            let first = format!("  {}. ", n + 1);
            let options = textwrap::Options::new(80)
                .initial_indent(&first)
                .subsequent_indent("     ");
            writeln!(f, "{}", textwrap::fill(step, options))?;
        }
        Ok(())
    }
}

/// Makes the exercise in the course at `root`.
pub fn scaffold(root: &Path, spec: &NewExercise) -> Result<Scaffolded> {
    let workspace_text = check_free(root, &spec.name)?;
    let course = load_course(&root.join("checker").join("hidden"))?;
    let order = spec
        .order
        .unwrap_or_else(|| course.iter().map(|e| e.order).max().unwrap_or(0) + 1);
    let mut writer = Writer {
        root,
        spec,
        made: Scaffolded {
            name: spec.name.clone(),
            ..Scaffolded::default()
        },
    };
    writer.crates()?;
    writer.visible_tests()?;
    writer.hidden_suite()?;
    let sections = writer.chapter()?;
    writer.summary()?;
    writer.workspace_dependencies(&workspace_text)?;
    writer.manifest(order, &sections)?;
    Ok(writer.made)
}

/// Refuses a name the course already uses; the workspace's `Cargo.toml`.
fn check_free(root: &Path, name: &str) -> Result<String> {
    for dir in ["exercises", "solutions", "checker/hidden"] {
        let path = root.join(dir).join(name);
        if path.exists() {
            bail!(
                "{} already exists: choose another name, or remove it first",
                path.display()
            );
        }
    }
    let workspace = root.join("Cargo.toml");
    let workspace_text = std::fs::read_to_string(&workspace)
        .with_context(|| format!("cannot read {}", workspace.display()))?;
    let taken = |package: &str| {
        workspace_text
            .lines()
            .any(|l| l.trim_start().starts_with(&format!("{package} = ")))
    };
    for package in [
        name.to_string(),
        format!("{name}-solution"),
        format!("hidden-{name}"),
    ] {
        if taken(&package) {
            bail!(
                "the package name `{package}` is already in the workspace's Cargo.toml: choose another name"
            );
        }
    }
    for dir in ["checker", "tools"] {
        if root.join(dir).join(name).exists() {
            bail!("{dir}/{name} already exists: choose another name");
        }
    }
    Ok(workspace_text)
}

/// Writes the scaffold's files and records what it made and changed.
struct Writer<'a> {
    root: &'a Path,
    spec: &'a NewExercise,
    made: Scaffolded,
}

impl Writer<'_> {
    /// Writes a new file of the scaffold and records it.
    fn write(&mut self, relative: String, text: String) -> Result<()> {
        put(self.root, &mut self.made.created, relative, text)
    }

    /// The stub and the solution.
    fn crates(&mut self) -> Result<()> {
        let name = &self.spec.name.clone();
        let lib = name.replace('-', "_");
        // The stub and the solution.
        for (dir, package, lib_name, what) in [
            ("exercises", name.clone(), lib.clone(), "exercise"),
            (
                "solutions",
                format!("{name}-solution"),
                format!("{lib}_solution"),
                "reference solution",
            ),
        ] {
            self.write(
            format!("{dir}/{name}/Cargo.toml"),
            format!(
                "[package]\nname = \"{package}\"\nversion = \"0.1.0\"\ndescription = {}\n\
                 edition.workspace = true\nrust-version.workspace = true\nlicense.workspace = true\n\
                 publish.workspace = true\n\n[lib]\nname = \"{lib_name}\"\n\n[dependencies]\n\n\
                 [dev-dependencies]\n\n[lints]\nworkspace = true\n",
                toml_string(&format!("oslings {what}: {}", self.spec.title.to_lowercase()))
            ),
        )?;
            let mut lib_rs = format!(
                "//! oslings {what}: {}.\n//!\n//! Read the chapter `book/{}`, then fill in the `todo!()`s stage by\n\
             //! stage. `cargo test -p {name}` runs the visible tests; `cargo run -p\n\
             //! checker -- {name}` grades your work.\n//!\n//! | stage | module |\n//! |---|---|\n",
                self.spec.title, self.spec.chapter
            );
            for (n, (id, _)) in self.spec.stages.iter().enumerate() {
                let _ = writeln!(lib_rs, "//! | {} | [`{id}`] |", n + 1);
            }
            lib_rs.push('\n');
            for (id, _) in &self.spec.stages {
                let _ = writeln!(lib_rs, "pub mod {id};");
            }
            self.write(format!("{dir}/{name}/src/lib.rs"), lib_rs)?;
            for (n, (id, stage_title)) in self.spec.stages.iter().enumerate() {
                let n = n + 1;
                let body = if dir == "exercises" {
                    format!("todo!(\"stage {n}: return {{x}} + {n}\")")
                } else {
                    format!("x + {n}")
                };
                self.write(
                    format!("{dir}/{name}/src/{id}.rs"),
                    format!(
                        "//! Stage {n}: {stage_title}.\n\n\
                     /// This stage's number. Given code: the same in the stub and the\n\
                     /// solution (`checker dev check` compares them).\n\
                     pub fn stage() -> u32 {{\n    {n}\n}}\n\n\
                     /// Stage {n}'s placeholder task: returns `x + {n}`.\n///\n\
                     /// Replace it with the stage's real work (and its tests).\n\
                     pub fn solve(x: u64) -> u64 {{\n    {body}\n}}\n"
                    ),
                )?;
            }
        }
        Ok(())
    }

    /// Visible tests, one file per stage.
    fn visible_tests(&mut self) -> Result<()> {
        let name = &self.spec.name.clone();
        let lib = name.replace('-', "_");
        // Visible tests, one file per stage.
        for (n, (id, stage_title)) in self.spec.stages.iter().enumerate() {
            let n = n + 1;
            self.write(
                format!("exercises/{name}/tests/stage{n}_{id}.rs"),
                format!(
                    "//! Visible tests of stage {n}, {stage_title}:\n\
                 //! `cargo test -p {name} --test stage{n}_{id}`.\n\n\
                 use {lib}::{id}::solve;\n\n#[test]\nfn solve_adds_{n}() {{\n    \
                 assert_eq!(solve(40), 40 + {n});\n}}\n"
                ),
            )?;
        }

        Ok(())
    }

    /// The hidden suite.
    fn hidden_suite(&mut self) -> Result<()> {
        let name = &self.spec.name.clone();
        // The hidden suite.
        let hidden = format!("checker/hidden/{name}");
        self.write(
        format!("{hidden}/Cargo.toml"),
        format!(
            "[package]\nname = \"hidden-{name}\"\nversion = \"0.1.0\"\ndescription = {}\n\
             edition.workspace = true\nrust-version.workspace = true\nlicense.workspace = true\n\
             publish.workspace = true\nautobins = false\nautotests = false\nautobenches = false\n\
             autoexamples = false\n\n\
             # Inside the workspace the suite runs against the reference solution; the\n\
             # checker compiles the same sources with `learner` pointing at the crate it grades.\n\
             [dependencies]\nlearner = {{ package = \"{name}-solution\", path = \"../../../solutions/{name}\" }}\n\n\
             [lib]\npath = \"src/lib.rs\"\n\n[[test]]\nname = \"hidden\"\npath = \"tests/hidden.rs\"\n\n\
             [lints]\nworkspace = true\n",
            toml_string(&format!(
                "oslings hidden tests for the {} (compiled against the learner's crate by the checker)",
                self.spec.title.to_lowercase()
            ))
        ),
    )?;
        self.write(
            format!("{hidden}/src/lib.rs"),
            format!(
                "//! Helpers shared by the hidden tests of the {} (none yet).\n",
                self.spec.title.to_lowercase()
            ),
        )?;
        let mut hidden_rs = format!(
            "//! Hidden tests of the {}, one module per stage. The first path segment\n\
         //! of every test name is the id of the stage it belongs to.\n",
            self.spec.title.to_lowercase()
        );
        for (id, _) in &self.spec.stages {
            let _ = write!(hidden_rs, "\n#[path = \"hidden/{id}.rs\"]\nmod {id};\n");
        }
        self.write(format!("{hidden}/tests/hidden.rs"), hidden_rs)?;
        for (n, (id, stage_title)) in self.spec.stages.iter().enumerate() {
            let n = n + 1;
            self.write(
            format!("{hidden}/tests/hidden/{id}.rs"),
            format!(
                "//! Stage {n}: {stage_title}.\n\nuse learner::{id}::solve;\n\n\
                 // Catches: a `solve` that does not add {n} (the placeholder task: replace it).\n\
                 #[test]\nfn solve_adds_{n}() {{\n    let got = solve(2);\n    \
                 assert_eq!(got, 2 + {n}, \"solve(2) returned {{got}}; stage {n} wants 2 + {n}\");\n}}\n"
            ),
        )?;
        }

        Ok(())
    }

    /// The chapter: a section per stage (appended if the chapter exists);
    /// the ids mdBook gives the stages' headings.
    fn chapter(&mut self) -> Result<Vec<String>> {
        let name = &self.spec.name.clone();
        // The chapter: a section per stage (appended if the chapter exists).
        let chapter_path = self.root.join("book").join(&self.spec.chapter);
        let existed = chapter_path.exists();
        let mut chapter = if existed {
            let mut text = std::fs::read_to_string(&chapter_path)
                .with_context(|| format!("cannot read {}", chapter_path.display()))?;
            if !text.ends_with('\n') {
                text.push('\n');
            }
            text
        } else {
            format!(
                "# {}\n\nPlaceholder: what this chapter teaches, from the ground up, and why it\n\
             matters.\n\n## The exercise\n\nThe crate `exercises/{name}` has a `todo!()` for each stage. \
             `cargo test -p {name}`\nruns its visible tests; `cargo run -p checker -- {name}` grades it.\n",
                self.spec.title
            )
        };
        let mut stage_headings = Vec::new();
        for (n, (_, stage_title)) in self.spec.stages.iter().enumerate() {
            let heading = format!("Stage {}: {stage_title}", n + 1);
            let _ = write!(
                chapter,
                "\n## {heading}\n\nPlaceholder: the idea behind this stage, and what the learner builds.\n"
            );
            stage_headings.push(heading);
        }
        if !existed {
            // The ending every chapter has (checker/tests/book.rs checks it).
            chapter.push_str(
                "\n## Summary\n\n- Placeholder: the chapter's ideas a reader must keep, one a line \
             (5 to 9).\n\n## Check yourself\n",
            );
            for n in 1..=4 {
                let _ = write!(
                    chapter,
                    "\n**{n}.** Placeholder question {n}?\n\n<details>\n<summary>Answer</summary>\n\n\
                 Placeholder answer {n}.\n\n</details>\n"
                );
            }
        }
        // The ids mdBook gives the new headings: the last heading of each title.
        let titles: Vec<&str> = book::headings(&chapter)
            .into_iter()
            .map(|(_, _, t)| t)
            .collect();
        let ids = book::heading_ids(&chapter);
        let sections: Vec<String> = stage_headings
            .iter()
            .map(|heading| {
                let at = titles
                    .iter()
                    .rposition(|t| t == heading)
                    .expect("the heading just written");
                ids[at].clone()
            })
            .collect();
        std::fs::write(&chapter_path, &chapter)
            .with_context(|| format!("cannot write {}", chapter_path.display()))?;
        let chapter_relative = PathBuf::from("book").join(&self.spec.chapter);
        if existed {
            self.made.changed.push(chapter_relative);
        } else {
            self.made.created.push(chapter_relative);
        }

        Ok(sections)
    }

    /// SUMMARY.md: after the last numbered chapter, if not listed.
    fn summary(&mut self) -> Result<()> {
        let name = &self.spec.name.clone();
        // SUMMARY.md: after the last numbered chapter, if not listed.
        let summary_path = self.root.join("book").join("SUMMARY.md");
        let summary = std::fs::read_to_string(&summary_path)
            .with_context(|| format!("cannot read {}", summary_path.display()))?;
        if !summary.contains(&format!("]({})", self.spec.chapter)) {
            let mut lines: Vec<String> = summary.lines().map(str::to_string).collect();
            let at = lines
                .iter()
                .rposition(|l| l.trim_start().starts_with("- ["))
                .map_or(lines.len(), |i| i + 1);
            lines.insert(
                at,
                format!(
                    "- [{} — exercise: {}]({})",
                    self.spec.title, name, self.spec.chapter
                ),
            );
            std::fs::write(&summary_path, lines.join("\n") + "\n")
                .with_context(|| format!("cannot write {}", summary_path.display()))?;
            self.made.changed.push(PathBuf::from("book/SUMMARY.md"));
        }

        Ok(())
    }

    /// The workspace's path dependencies, after the last solution's.
    fn workspace_dependencies(&mut self, workspace_text: &str) -> Result<()> {
        let name = &self.spec.name.clone();
        let workspace = self.root.join("Cargo.toml");
        // The workspace's path dependencies, after the last solution's.
        let mut lines: Vec<String> = workspace_text.lines().map(str::to_string).collect();
        let at = lines
            .iter()
            .rposition(|l| l.contains("= { path = \"solutions/"))
            .map_or(lines.len(), |i| i + 1);
        lines.insert(
            at,
            format!("{name}-solution = {{ path = \"solutions/{name}\" }}"),
        );
        lines.insert(at, format!("{name} = {{ path = \"exercises/{name}\" }}"));
        std::fs::write(&workspace, lines.join("\n") + "\n")
            .with_context(|| format!("cannot write {}", workspace.display()))?;
        self.made.changed.push(PathBuf::from("Cargo.toml"));

        Ok(())
    }

    /// The stage manifest, last: it records the stub's tree hash.
    fn manifest(&mut self, order: u32, sections: &[String]) -> Result<()> {
        let name = &self.spec.name.clone();
        let hidden = format!("checker/hidden/{name}");
        // The stage manifest, last: it records the stub's tree hash.
        let pristine = super::check::working_tree_hash(self.root, name).ok();
        self.made.pristine = pristine.is_some();
        let mut manifest = format!(
            "name = \"{name}\"\ntitle = {}\norder = {order}\nchapter = \"{}\"\npackage = \"{name}\"\n\
         solution_package = \"{name}-solution\"\n\
         # `reset` restores this git tree (exercises/{name} as shipped); a test says how to update it.\n",
            toml_string(&self.spec.title),
            self.spec.chapter
        );
        match &pristine {
            Some(hash) => {
                let _ = writeln!(manifest, "pristine_tree = \"{hash}\"");
            }
            None => {
                let _ = writeln!(
                    manifest,
                    "# pristine_tree = \"<git rev-parse HEAD:exercises/{name}>\" (add it once committed)"
                );
            }
        }
        let count = self.spec.stages.len() as u32;
        for (n, ((id, stage_title), section)) in self.spec.stages.iter().zip(sections).enumerate() {
            let points = 100 / count + if n == 0 { 100 % count } else { 0 };
            let number = n + 1;
            let _ = write!(
                manifest,
                "\n[[stages]]\nid = \"{id}\"\ntitle = {}\nsection = \"{section}\"\npoints = {points}\nhints = [\n  \
             {},\n  {},\n]\n",
                toml_string(stage_title),
                toml_string(&format!(
                    "Placeholder hint for stage {number}: a nudge, the first thing a stuck learner should look at."
                )),
                toml_string(&format!(
                    "Placeholder hint for stage {number}: more of the answer, the step they are most likely missing."
                )),
            );
        }
        self.write(format!("{hidden}/exercise.toml"), manifest)?;
        Ok(())
    }
}

/// Writes a new file of the scaffold and records it.
fn put(root: &Path, created: &mut Vec<PathBuf>, relative: String, text: String) -> Result<()> {
    let path = root.join(&relative);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    created.push(PathBuf::from(relative));
    Ok(())
}

/// A TOML basic string.
fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}
