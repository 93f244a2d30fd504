//! Progressive hints, and how far the learner has asked: remembered per graded
//! tree, exercise and stage in `target/oslings/hints.json`, never in the
//! exercise sources.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::cli::TreeArgs;
use crate::cmd::setup::{learner, select};
use crate::course::manifest::Exercise;
use crate::grade::Grader;
use crate::report::model::ExerciseReport;

/// The key under which the performance stage's hints are remembered.
pub const PERF_KEY: &str = "performance";

/// What `hint` was asked to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// Every level revealed so far (at least the first).
    Revealed,
    /// One more level than revealed so far.
    Next,
    /// Exactly this level.
    Level(usize),
}

/// The hints of one stage (or of the performance section).
#[derive(Debug, Clone)]
pub struct Topic<'a> {
    /// Stage id, or [`PERF_KEY`].
    pub key: String,
    /// E.g. "stage 2 — The layout of a struct".
    pub heading: String,
    /// From a nudge to nearly the answer.
    pub hints: &'a [String],
    /// Where the book teaches it: `chapter.md#anchor`.
    pub section: String,
}

/// The stage `number` (from 1) of `exercise` as a hint topic.
pub fn stage_topic(exercise: &Exercise, number: usize) -> Option<Topic<'_>> {
    let stage = exercise.stages.get(number.checked_sub(1)?)?;
    Some(Topic {
        key: stage.id.clone(),
        heading: format!("stage {number} — {}", stage.title),
        hints: &stage.hints,
        section: format!("{}#{}", exercise.chapter, stage.section),
    })
}

/// The performance section of `exercise` as a hint topic, if it has hints.
pub fn perf_topic(exercise: &Exercise) -> Option<Topic<'_>> {
    let perf = exercise.perf.as_ref().filter(|p| !p.hints.is_empty())?;
    Some(Topic {
        key: PERF_KEY.to_string(),
        heading: format!("performance — {}", perf.title),
        hints: &perf.hints,
        section: format!("{}#{}", exercise.chapter, perf.section),
    })
}

/// What the learner should get a hint about, given a grade: the first failing
/// stage, or the performance section when only that is missing points.
pub fn topic_for<'a>(exercise: &'a Exercise, report: &ExerciseReport) -> Option<Topic<'a>> {
    match report.first_failing_stage() {
        Some(stage) => stage_topic(exercise, stage.number),
        None if !report.complete() => perf_topic(exercise),
        None => None,
    }
}

/// The stage a learner named with `--stage` (its id or its number).
pub fn named_topic<'a>(exercise: &'a Exercise, stage: &str) -> Result<Topic<'a>> {
    if stage == PERF_KEY || stage == "perf" {
        return perf_topic(exercise)
            .with_context(|| format!("{} has no performance hints", exercise.name));
    }
    let number = exercise
        .stages
        .iter()
        .position(|s| s.id == stage)
        .map(|i| i + 1)
        .or_else(|| stage.parse::<usize>().ok());
    number
        .and_then(|n| stage_topic(exercise, n))
        .with_context(|| {
            let ids: Vec<&str> = exercise.stages.iter().map(|s| s.id.as_str()).collect();
            format!(
                "{} has no stage `{stage}`; its stages are {} (or a number from 1 to {}, or `{PERF_KEY}`)",
                exercise.name,
                ids.join(", "),
                ids.len()
            )
        })
}

/// The remembered hint levels, as stored on disk.
#[derive(Debug, Default, Serialize, Deserialize)]
struct StateFile {
    version: u32,
    /// Graded tree label → exercise → stage key → highest level revealed.
    trees: BTreeMap<String, BTreeMap<String, BTreeMap<String, usize>>>,
}

/// How far the learner has asked for hints, loaded from and saved to one file.
#[derive(Debug)]
pub struct HintState {
    path: PathBuf,
    data: StateFile,
}

/// Where the hint levels are remembered for the repository at `root`.
pub fn state_path(root: &Path) -> PathBuf {
    root.join("target").join("oslings").join("hints.json")
}

impl HintState {
    /// Loads the state at `path`. A missing file is an empty state; an
    /// unreadable or corrupt one is replaced (with a warning on stderr).
    pub fn load(path: &Path) -> HintState {
        let data = match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text).unwrap_or_else(|err| {
                eprintln!(
                    "warning: {} is not valid hint state ({err}); starting afresh, \
                     so hints begin again at level 1",
                    path.display()
                );
                StateFile::default()
            }),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => StateFile::default(),
            Err(err) => {
                eprintln!(
                    "warning: cannot read {} ({err}); hints begin again at level 1",
                    path.display()
                );
                StateFile::default()
            }
        };
        HintState {
            path: path.to_path_buf(),
            data,
        }
    }

    /// The highest level revealed so far (0 when none).
    pub fn revealed(&self, tree: &str, exercise: &str, key: &str) -> usize {
        self.data
            .trees
            .get(tree)
            .and_then(|t| t.get(exercise))
            .and_then(|e| e.get(key))
            .copied()
            .unwrap_or(0)
    }

    /// Remembers that `level` was revealed (levels only ever go up).
    pub fn reveal(&mut self, tree: &str, exercise: &str, key: &str, level: usize) {
        let slot = self
            .data
            .trees
            .entry(tree.to_string())
            .or_default()
            .entry(exercise.to_string())
            .or_default()
            .entry(key.to_string())
            .or_default();
        *slot = (*slot).max(level);
    }

    /// Writes the state back (to a temporary file, then renamed over it).
    pub fn save(&mut self) -> Result<()> {
        self.data.version = 1;
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let text = serde_json::to_string_pretty(&self.data)?;
        let mut file = tempfile::NamedTempFile::new_in(dir)
            .with_context(|| format!("cannot write in {}", dir.display()))?;
        file.write_all(text.as_bytes())?;
        file.persist(&self.path)
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        Ok(())
    }

    /// Applies `request` to `topic`: remembers what it reveals and returns the
    /// levels (from 1) to show.
    pub fn apply(
        &mut self,
        tree: &str,
        exercise: &str,
        topic: &Topic<'_>,
        request: Request,
    ) -> Vec<usize> {
        let max = topic.hints.len();
        let before = self.revealed(tree, exercise, &topic.key).min(max);
        let levels: Vec<usize> = match request {
            Request::Revealed => (1..=before.max(1)).collect(),
            Request::Next => (1..=(before + 1).min(max)).collect(),
            Request::Level(n) => vec![n.clamp(1, max)],
        };
        if let Some(&last) = levels.last() {
            self.reveal(tree, exercise, &topic.key, last);
        }
        levels
    }
}

/// The text of the hint levels `levels` of `topic`, wrapped to `width`.
pub fn render(topic: &Topic<'_>, levels: &[usize], width: usize) -> String {
    let options = textwrap::Options::new(width.clamp(40, 100))
        .initial_indent("  ")
        .subsequent_indent("     ");
    let mut out = String::new();
    for &level in levels {
        if let Some(text) = topic.hints.get(level - 1) {
            let numbered = format!("{level}. {text}");
            out.push_str(&textwrap::fill(&numbered, options.clone()));
            out.push_str("\n\n");
        }
    }
    out
}

/// `hint EXERCISE [--level N | --next] [--stage STAGE]` in the tree `tree`
/// selects.
pub fn command(
    exercise: &str,
    level: Option<usize>,
    next: bool,
    stage: Option<&str>,
    tree: &TreeArgs,
) -> Result<ExitCode> {
    let (grader, course) = learner(tree)?;
    let request = match (level, next) {
        (Some(n), _) => Request::Level(n),
        (None, true) => Request::Next,
        (None, false) => Request::Revealed,
    };
    let exercise = select(&course, Some(exercise))?[0];
    run(&grader, exercise, stage, request)
}

/// `hint <exercise>`: grades to find the stage (unless `stage` names one),
/// shows the requested levels and remembers them.
pub fn run(
    grader: &Grader,
    exercise: &Exercise,
    stage: Option<&str>,
    request: Request,
) -> Result<ExitCode> {
    let report;
    let topic = match stage {
        Some(stage) => named_topic(exercise, stage)?,
        None => {
            report = crate::cmd::status::grade_quietly(grader, exercise)?;
            match topic_for(exercise, &report) {
                Some(topic) => topic,
                None => {
                    println!(
                        "Every stage of {} passes. Nothing to hint at.",
                        exercise.name
                    );
                    return Ok(ExitCode::SUCCESS);
                }
            }
        }
    };
    let tree = grader.tree.label();
    let mut state = HintState::load(&state_path(&grader.root));
    let levels = state.apply(&tree, &exercise.name, &topic, request);
    if let Err(err) = state.save() {
        eprintln!("warning: the hint level is not remembered: {err:#}");
    }
    let max = topic.hints.len();
    let shown = levels.last().copied().unwrap_or(1);
    let what = if levels.len() == 1 {
        format!("level {shown} of {max}")
    } else {
        format!("levels 1–{shown} of {max}")
    };
    let width = terminal_size::terminal_size().map_or(88, |(w, _)| w.0 as usize);
    let mut stdout = anstream::stdout();
    writeln!(
        stdout,
        "Hints for {}, {} ({what}):\n",
        exercise.name, topic.heading
    )?;
    write!(stdout, "{}", render(&topic, &levels, width))?;
    writeln!(stdout, "Read: book/{}", topic.section)?;
    let stage_flag = if stage.is_some() {
        format!(" --stage {}", topic.key)
    } else {
        String::new()
    };
    let revealed = state.revealed(&tree, &exercise.name, &topic.key);
    if revealed < max {
        writeln!(
            stdout,
            "Next level: cargo run -p checker -- hint {} --next{stage_flag}{}",
            exercise.name,
            grader.tree.flags()
        )?;
    } else {
        writeln!(stdout, "That is every hint for this stage.")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Remembers that a report showed level 1 of `stage`'s hints, so that the
/// next `hint --next` shows level 2 (best effort: a failure only means
/// level 1 is shown again).
pub fn remember_shown(state_file: &Path, tree: &str, exercise: &str, stage: &str) {
    let mut state = HintState::load(state_file);
    if state.revealed(tree, exercise, stage) == 0 {
        state.reveal(tree, exercise, stage, 1);
        let _ = state.save();
    }
}

/// Stages (and performance sections with hints) that have fewer than
/// `minimum` hint levels, as "exercise: stage" strings.
pub fn too_few_levels(course: &[Exercise], minimum: usize) -> Vec<String> {
    let mut short = Vec::new();
    for exercise in course {
        for stage in &exercise.stages {
            if stage.hints.len() < minimum {
                short.push(format!(
                    "{}: stage `{}` has {} hint level(s)",
                    exercise.name,
                    stage.id,
                    stage.hints.len()
                ));
            }
        }
        if let Some(perf) = &exercise.perf {
            if perf.hints.len() < minimum {
                short.push(format!(
                    "{}: [perf] has {} hint level(s)",
                    exercise.name,
                    perf.hints.len()
                ));
            }
        }
    }
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(hints: &[String]) -> Topic<'_> {
        Topic {
            key: "align".into(),
            heading: "stage 1 — align".into(),
            hints,
            section: "book.md#x".into(),
        }
    }

    #[test]
    fn levels_are_revealed_one_at_a_time_and_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("target/oslings/hints.json");
        let hints = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        let mut state = HintState::load(&path);
        assert_eq!(
            state.apply("t", "ex", &topic(&hints), Request::Revealed),
            [1]
        );
        assert_eq!(
            state.apply("t", "ex", &topic(&hints), Request::Next),
            [1, 2]
        );
        state.save().unwrap();
        let mut state = HintState::load(&path);
        assert_eq!(
            state.apply("t", "ex", &topic(&hints), Request::Revealed),
            [1, 2]
        );
        assert_eq!(
            state.apply("t", "ex", &topic(&hints), Request::Next),
            [1, 2, 3]
        );
        assert_eq!(
            state.apply("t", "ex", &topic(&hints), Request::Next),
            [1, 2, 3],
            "past the last level stays at the last"
        );
        assert_eq!(state.revealed("other tree", "ex", "align"), 0);
    }

    #[test]
    fn the_first_next_after_a_report_that_showed_level_one_shows_level_two() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hints.json");
        let hints = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        remember_shown(&path, "t", "ex", "align");
        let mut state = HintState::load(&path);
        assert_eq!(
            state.apply("t", "ex", &topic(&hints), Request::Next),
            [1, 2],
            "the report already showed level 1"
        );
    }

    #[test]
    fn a_corrupt_state_file_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hints.json");
        std::fs::write(&path, "{ not json").unwrap();
        let mut state = HintState::load(&path);
        assert_eq!(state.revealed("t", "ex", "align"), 0);
        state.reveal("t", "ex", "align", 2);
        state.save().unwrap();
        assert_eq!(HintState::load(&path).revealed("t", "ex", "align"), 2);
    }
}
