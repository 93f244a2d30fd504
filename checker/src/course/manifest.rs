//! The stage manifests (`checker/hidden/<exercise>/exercise.toml`) and the course they make up.

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// One exercise as its manifest describes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exercise {
    /// Directory name under `exercises/` and `solutions/`, e.g. `bump-allocator`.
    pub name: String,
    /// Human title, e.g. "Bump allocator".
    pub title: String,
    /// Position in the course (lower first); ties break by name.
    #[serde(default = "default_order")]
    pub order: u32,
    /// The chapter's file under `book/`.
    pub chapter: String,
    /// Package name of the exercise crate as shipped (`exercises/<name>`).
    /// Grading does not read it: it takes the graded crate's name from that
    /// crate's own `Cargo.toml` (or, for another tree, from the sealed
    /// copy's); `checker dev check` holds the shipped crate to it, so the
    /// manifest says what every exercise crate is called.
    pub package: String,
    /// Package name of the reference solution crate.
    pub solution_package: String,
    /// Git tree hash of `exercises/<name>` as shipped (`git rev-parse
    /// HEAD:exercises/<name>`): what `reset` restores.
    #[serde(default)]
    pub pristine_tree: Option<String>,
    /// Correctness stages, in order; each gates the next.
    pub stages: Vec<Stage>,
    /// Per-test limit overrides.
    #[serde(default)]
    pub tests: Vec<TestOverride>,
    /// The performance stage, credited only when every stage passes.
    pub perf: Option<PerfStage>,
    /// The kind of data-driven case file instructors' packs may add for
    /// this exercise (`cases/<stage>/<name>.toml`); none if it takes none.
    #[serde(default)]
    pub cases: Option<oslings_cases::Kind>,
    /// Directory holding the manifest and the hidden suite (filled in on load).
    #[serde(skip)]
    pub dir: PathBuf,
}

fn default_order() -> u32 {
    100
}

/// A correctness stage.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    /// Identifier, and the first module segment of the stage's test names.
    pub id: String,
    /// Human title.
    pub title: String,
    /// Heading anchor of the stage's section in the chapter.
    pub section: String,
    /// Points for passing the stage.
    #[serde(default = "default_points")]
    pub points: u32,
    /// Progressive hints, from a nudge to nearly the answer.
    pub hints: Vec<String>,
    /// Programs the stage's tests start (looked up on `PATH`), e.g.
    /// `redis-server`. Where one is missing the stage is shown as needing
    /// it: not run, not failed, and not in the way of the stages after it.
    #[serde(default)]
    pub requires: Vec<String>,
}

fn default_points() -> u32 {
    10
}

/// Limits for one test that differ from the defaults.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestOverride {
    /// Full test name, e.g. `global::many_threads_never_overlap`.
    pub name: String,
    /// Wall-clock limit in seconds.
    pub timeout_secs: Option<f64>,
    /// Address-space limit in MiB.
    pub memory_mb: Option<u64>,
}

/// The performance stage of an exercise.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerfStage {
    /// Human title.
    pub title: String,
    /// Heading anchor of the stage's section in the chapter.
    pub section: String,
    /// Points for a fast enough candidate.
    #[serde(default = "default_points")]
    pub points: u32,
    /// Candidate/reference time ratio at or under which the stage earns full points.
    pub full_credit_ratio: f64,
    /// Ratio at or under which it earns half the points.
    pub partial_credit_ratio: f64,
    /// Progressive hints.
    #[serde(default)]
    pub hints: Vec<String>,
}

impl Exercise {
    /// Reads and checks one manifest.
    pub fn load(path: &Path) -> Result<Exercise> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the stage manifest {}", path.display()))?;
        let mut exercise: Exercise = toml::from_str(&text)
            .with_context(|| format!("{} is not a valid stage manifest", path.display()))?;
        exercise.dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        if exercise.stages.is_empty() {
            bail!("{}: an exercise needs at least one stage", path.display());
        }
        for stage in &exercise.stages {
            if stage.hints.is_empty() {
                bail!("{}: stage `{}` has no hint", path.display(), stage.id);
            }
        }
        Ok(exercise)
    }

    /// The stage whose tests start with `test_name`'s first path segment.
    pub fn stage_of(&self, test_name: &str) -> Option<usize> {
        let first = test_name.split("::").next()?;
        self.stages.iter().position(|s| s.id == first)
    }

    /// The limit overrides for one test, if any.
    pub fn override_for(&self, test_name: &str) -> Option<&TestOverride> {
        self.tests.iter().find(|t| t.name == test_name)
    }

    /// Maximum score: every stage plus the performance stage.
    pub fn max_score(&self) -> u32 {
        self.stages.iter().map(|s| s.points).sum::<u32>()
            + self.perf.as_ref().map_or(0, |p| p.points)
    }
}

/// Every exercise under `hidden_root` (one directory each), in course order.
pub fn load_course(hidden_root: &Path) -> Result<Vec<Exercise>> {
    let entries = std::fs::read_dir(hidden_root)
        .with_context(|| format!("cannot list the hidden suites in {}", hidden_root.display()))?;
    let mut exercises = Vec::new();
    for entry in entries {
        let manifest = entry?.path().join("exercise.toml");
        if manifest.is_file() {
            exercises.push(Exercise::load(&manifest)?);
        }
    }
    exercises.sort_by(|a, b| (a.order, &a.name).cmp(&(b.order, &b.name)));
    Ok(exercises)
}
