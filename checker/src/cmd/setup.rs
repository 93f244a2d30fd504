//! What a command works on: the graded tree, the grader for it, and the
//! exercises it names.

use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::time::Duration;

use crate::cli::{Against, TreeArgs};
use crate::course::access::check_readable;
use crate::course::manifest::{self, Exercise};
use crate::course::paths::repo_root;
use crate::grade::{Grader, Tree};

/// The tree the command line selects, checked to be readable.
pub fn tree_of(args: &TreeArgs) -> Result<Tree> {
    if let Some(dir) = &args.exercises_from {
        if !dir.is_dir() {
            bail!(
                "--exercises-from {}: no such directory (give the root of a checkout, \
                 the folder that contains exercises/)",
                dir.display()
            );
        }
        let dir = dir
            .canonicalize()
            .with_context(|| format!("cannot read {}", dir.display()))?;
        check_readable(&dir)?;
        return Ok(Tree::Custom(dir));
    }
    Ok(match args.against {
        Against::Exercises => {
            check_readable(&repo_root(false))?;
            Tree::Exercises
        }
        Against::Solutions => Tree::Solutions,
    })
}

/// The grader of `tree`, with `jobs` tests at once (default: one per CPU)
/// and `timeout` seconds per test (clamped to 0.1 s – 1 h).
pub fn grader(tree: Tree, jobs: Option<usize>, timeout: f64) -> Grader {
    let root = repo_root(matches!(tree, Tree::Custom(_)));
    let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let target_dir = std::env::var_os("OSLINGS_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target").join("oslings").join("build"));
    Grader {
        target_dir,
        root,
        jobs,
        timeout: Some(Duration::from_secs_f64(timeout.clamp(0.1, 3600.0))),
        packs: Vec::new(),
        remeasure: false,
        fresh: false,
        build_ahead: matches!(tree, Tree::Exercises) && build_ahead_wanted(),
        tree,
    }
}

/// Whether to build the benchmark ahead, in the background
/// ([`crate::build::prebuild`]): for a learner at a terminal, unless
/// `OSLINGS_BUILD_AHEAD` says otherwise (`0` or `1`).
fn build_ahead_wanted() -> bool {
    match std::env::var("OSLINGS_BUILD_AHEAD").as_deref() {
        Ok("0") => false,
        Ok("1") => true,
        _ => std::io::IsTerminal::is_terminal(&std::io::stderr()),
    }
}

/// The exercise called `name` (with a suggestion when there is none), or
/// every exercise.
pub fn select<'a>(course: &'a [Exercise], name: Option<&str>) -> Result<Vec<&'a Exercise>> {
    let Some(name) = name else {
        return Ok(course.iter().collect());
    };
    if let Some(exercise) = course.iter().find(|e| e.name == name) {
        return Ok(vec![exercise]);
    }
    let names: Vec<&str> = course.iter().map(|e| e.name.as_str()).collect();
    let close = names
        .iter()
        .copied()
        .min_by_key(|candidate| strsim::levenshtein(candidate, name))
        .filter(|c| strsim::levenshtein(c, name) <= c.len() / 2);
    let suggestion = close
        .map(|c| format!(" Did you mean `{c}`?"))
        .unwrap_or_default();
    bail!(
        "there is no exercise called `{name}`.{suggestion} The exercises are: {}",
        names.join(", ")
    )
}

/// The grader (for `tree`) and the course, for the learner's commands.
pub fn learner(tree: &TreeArgs) -> Result<(Grader, Vec<Exercise>)> {
    let grader = grader(tree_of(tree)?, None, 5.0);
    let course = manifest::load_course(&grader.root.join("checker").join("hidden"))?;
    Ok((grader, course))
}
