//! `reset <exercise>`: put back the exercise's stub as it was shipped, after
//! a backup of the learner's files under `target/oslings/backups/`.
//!
//! The shipped stub is the git tree recorded as `pristine_tree` in the
//! exercise's `exercise.toml` (HEAD is no good: the learner may have committed
//! their work). It is restored with `git archive <tree> | tar -x`.

use anyhow::{Context, Result, bail};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use crate::cli::TreeArgs;
use crate::cmd::setup::{learner, select};
use crate::course::manifest::Exercise;

/// `reset EXERCISE [--yes]`, in the repository's own exercises.
pub fn command(exercise: &str, yes: bool) -> Result<ExitCode> {
    let (grader, course) = learner(&TreeArgs::default())?;
    run(&grader.root, select(&course, Some(exercise))?[0], yes)
}

/// `reset`: restores `exercise` in the repository at `root`. Without `yes`,
/// asks first (and refuses when there is no terminal to ask on).
pub fn run(root: &Path, exercise: &Exercise, yes: bool) -> Result<ExitCode> {
    let crate_dir = root.join("exercises").join(&exercise.name);
    let relative = format!("exercises/{}", exercise.name);
    let tree = exercise.pristine_tree.as_deref().with_context(|| {
        format!(
            "{}/exercise.toml records no `pristine_tree`, so the checker does not know \
             what the shipped stub of {} was",
            exercise.dir.display(),
            exercise.name
        )
    })?;
    check_object(root, tree, &relative)?;
    if !yes {
        if !std::io::stdin().is_terminal() {
            bail!(
                "reset replaces your files in {relative}/ and needs a yes: run it in a \
                 terminal, or add --yes (a backup is kept either way)"
            );
        }
        print!(
            "Reset {relative}/ to the stub as shipped? Your files are copied to \
             target/oslings/backups/ first. [y/N] "
        );
        std::io::stdout().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes" | "Yes") {
            println!("Nothing changed.");
            return Ok(ExitCode::SUCCESS);
        }
    }
    let backup = backup(root, &crate_dir, &exercise.name)?;
    clear(&crate_dir)?;
    extract(root, tree, &crate_dir).with_context(|| {
        format!(
            "restoring {relative}/ failed half-way; your files are safe in {}",
            backup.display()
        )
    })?;
    println!(
        "Reset {relative}/ to the stub as shipped.\nYour previous files are in {}",
        backup.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Fails with what to do instead when `tree` cannot be read from git at `root`.
fn check_object(root: &Path, tree: &str, relative: &str) -> Result<()> {
    let instead = format!(
        "copy {relative}/ from a fresh download of the oslings repository over yours \
         (save your files first)"
    );
    let output = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["cat-file", "-e", &format!("{tree}^{{tree}}")])
        .stdin(Stdio::null())
        .output();
    match output {
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            bail!("reset needs git, which was not found on PATH: install git, or {instead}")
        }
        Err(err) => Err(err).context("cannot run git"),
        Ok(out) if out.status.success() => Ok(()),
        Ok(_) => bail!(
            "the shipped stub of {relative} (git tree {tree}) is not in {}'s git history \
             (a zip download, or a shallow clone?): {instead}",
            root.display()
        ),
    }
}

/// Copies `crate_dir` to a new `target/oslings/backups/<exercise>-<time>/`.
fn backup(root: &Path, crate_dir: &Path, exercise: &str) -> Result<PathBuf> {
    let stamp = jiff::Timestamp::now().strftime("%Y%m%d-%H%M%S").to_string();
    let backups = root.join("target").join("oslings").join("backups");
    let mut dir = backups.join(format!("{exercise}-{stamp}"));
    let mut n = 2;
    while dir.exists() {
        dir = backups.join(format!("{exercise}-{stamp}-{n}"));
        n += 1;
    }
    if crate_dir.exists() {
        copy_dir(crate_dir, &dir).with_context(|| {
            format!(
                "cannot back up {} to {}",
                crate_dir.display(),
                dir.display()
            )
        })?;
    } else {
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
    }
    Ok(dir)
}

/// Copies the tree `from` into `to`, `target/` directories left out and
/// links copied as links.
fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    let walk = walkdir::WalkDir::new(from).min_depth(1).into_iter();
    for entry in walk.filter_entry(|e| e.file_name() != "target") {
        let entry = entry.with_context(|| format!("cannot read {}", from.display()))?;
        let path = entry.path();
        let dst = to.join(path.strip_prefix(from)?);
        let kind = entry.file_type();
        if kind.is_dir() {
            std::fs::create_dir_all(&dst)
                .with_context(|| format!("cannot create {}", dst.display()))?;
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(path)?, &dst)?;
        } else {
            std::fs::copy(path, &dst).with_context(|| format!("cannot copy {}", path.display()))?;
        }
    }
    Ok(())
}

/// Removes everything in `crate_dir` except a `target/` directory.
fn clear(crate_dir: &Path) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(crate_dir) else {
        return Ok(());
    };
    for entry in entries {
        let entry = entry?;
        if entry.file_name() == "target" {
            continue;
        }
        let path = entry.path();
        let removed = if entry.file_type()?.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        removed.with_context(|| format!("cannot remove {}", path.display()))?;
    }
    Ok(())
}

/// `git archive <tree> | tar -x -C <crate_dir>`.
fn extract(root: &Path, tree: &str, crate_dir: &Path) -> Result<()> {
    std::fs::create_dir_all(crate_dir)
        .with_context(|| format!("cannot create {}", crate_dir.display()))?;
    let mut archive = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["archive", "--format=tar", tree])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot run git archive")?;
    let tar = Command::new("tar")
        .arg("-x")
        .arg("-C")
        .arg(crate_dir)
        .stdin(archive.stdout.take().context("no pipe from git archive")?)
        .status()
        .context("cannot run tar")?;
    let git = archive.wait()?;
    if !git.success() || !tar.success() {
        bail!("git archive {tree} | tar -x failed ({git}, tar {tar})");
    }
    Ok(())
}
