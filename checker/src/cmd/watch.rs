//! `--watch`: regrade the exercise being edited on every save, on a short,
//! calm screen, with keys for the next hint, a regrade, and quitting.
//!
//! On a terminal the keys are read in raw mode (restored on every way out:
//! `q`, Ctrl-C, SIGTERM, SIGHUP, panics); otherwise lines of stdin (`h`, `r`, `q`) do the same and
//! each screen is printed below the last, so scripts and tests can drive it.

use anyhow::{Context, Result};
use crossterm::event::{self, Event as TermEvent, KeyCode, KeyEventKind, KeyModifiers};
use notify_debouncer_full::notify::event::{EventKind, ModifyKind};
use notify_debouncer_full::notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};
use std::fmt::Write as _;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

use crate::cli::GradeArgs;
use crate::cmd::hints::{self, HintState, Request};
use crate::cmd::setup::{learner, select};
use crate::course::manifest::Exercise;
use crate::grade::Grader;
use crate::grade::news::News;
use crate::report::model::{ExerciseReport, Outcome};

/// How long a burst of file events must settle before it counts as one save.
const SETTLE: Duration = Duration::from_millis(300);
/// Most lines of a failing test's message on the screen.
const MESSAGE_LINES: usize = 8;
/// Most lines of the compiler's first error on the screen.
const ERROR_LINES: usize = 16;

/// What the learner asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Hint,
    Regrade,
    Quit,
}

/// Everything the main loop waits for.
#[derive(Debug)]
enum Event {
    Key(Key),
    Saved(Vec<PathBuf>),
    WatchFailed(String),
    /// The stage the learner is on, graded first, before the rest is done.
    Verdict(String),
    Graded(Box<Graded>),
}

#[derive(Debug)]
struct Graded {
    index: usize,
    why: String,
    report: Result<ExerciseReport, String>,
}

/// Why a grade runs when the learner pressed `r`.
const REGRADE_ASKED: &str = "regrade asked for";

/// What the grading thread is asked to do.
#[derive(Debug)]
enum Job {
    /// Grade this exercise (`true`: run every test even if nothing
    /// changed, as when the learner asks for a regrade).
    One(usize, String, bool),
    /// Grade in course order until an exercise is not complete.
    FirstIncomplete,
}

/// Keeps the terminal in raw mode while alive.
#[derive(Debug)]
struct RawMode;

impl RawMode {
    fn enable() -> Result<RawMode> {
        crossterm::terminal::enable_raw_mode().context("cannot put the terminal in raw mode")?;
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let _ = crossterm::terminal::disable_raw_mode();
            previous(info);
        }));
        Ok(RawMode)
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = crossterm::terminal::disable_raw_mode();
    }
}

/// `--watch [EXERCISE]`, with the jobs and time limit `args` give.
pub fn command(args: &GradeArgs) -> Result<ExitCode> {
    let (grader, course) = learner(&args.tree)?;
    let start = select(&course, args.exercise.as_deref())?;
    let start = args.exercise.as_ref().map(|_| start[0].name.as_str());
    let grader = Grader {
        jobs: args.jobs.unwrap_or(grader.jobs),
        timeout: Some(Duration::from_secs_f64(args.timeout.clamp(0.1, 3600.0))),
        ..grader
    };
    run(&grader, &course, start)
}

/// Runs watch mode until the learner quits. `start` is the exercise to
/// grade first (default: the first one that is not complete).
pub fn run(grader: &Grader, course: &[Exercise], start: Option<&str>) -> Result<ExitCode> {
    let watched = watched_dir(grader, course)?;
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let (tx, rx) = mpsc::channel::<Event>();

    let _debouncer = watch_saves(&watched, tx.clone())?;

    let jobs = spawn_grader(grader.clone(), course.to_vec(), tx.clone());
    // Ctrl-C when stdin is not a terminal, and SIGTERM or SIGHUP in any
    // case: quit through the main loop, so that raw mode is switched off.
    let signalled = tx.clone();
    let _ = ctrlc::set_handler(move || {
        let _ = signalled.send(Event::Key(Key::Quit));
    });
    let _raw = if interactive {
        Some(RawMode::enable()?)
    } else {
        None
    };
    spawn_keys(interactive, tx);

    let mut screen = Screen {
        interactive,
        grader,
        course,
        watched: watched.clone(),
        hints: HintState::load(&hints::state_path(&grader.root)),
        current: None,
        grades: 0,
    };
    match start.and_then(|name| course.iter().position(|e| e.name == name)) {
        Some(index) => {
            screen.status(&format!("grading {}…", course[index].name))?;
            let _ = jobs.send(Job::One(index, "first grade".to_string(), false));
        }
        None => {
            screen.status("grading, to find the exercise you are on…")?;
            let _ = jobs.send(Job::FirstIncomplete);
        }
    }

    event_loop(&mut screen, rx, &jobs, &watched)?;
    screen.goodbye()?;
    Ok(ExitCode::SUCCESS)
}

/// Handles events until the learner quits: keys, saves (each regrades the
/// exercise saved, one grade at a time), and grades to show.
fn event_loop(
    screen: &mut Screen<'_>,
    rx: mpsc::Receiver<Event>,
    jobs: &mpsc::Sender<Job>,
    watched: &Path,
) -> Result<()> {
    let course = screen.course;
    // The first grade is under way.
    let mut busy = true;
    let mut pending: Option<(usize, String)> = None;
    for event in rx {
        let next = match event {
            Event::Key(Key::Quit) => break,
            Event::Key(Key::Hint) => {
                screen.next_hint()?;
                None
            }
            Event::Key(Key::Regrade) => screen
                .current
                .as_ref()
                .map(|(index, _)| (*index, REGRADE_ASKED.to_string())),
            Event::Saved(paths) => changed_exercise(watched, course, &paths, screen.index())
                .map(|(index, file)| (index, format!("after a save to {file}"))),
            Event::WatchFailed(err) => {
                screen.status(&format!("watching files failed: {err}"))?;
                None
            }
            Event::Verdict(line) => {
                screen.status(&format!("{line}…"))?;
                None
            }
            Event::Graded(graded) => {
                busy = false;
                screen.show(*graded)?;
                pending.take()
            }
        };
        if let Some((index, why)) = next {
            if busy {
                pending = Some((index, why));
            } else {
                screen.status(&format!("grading {} ({why})…", course[index].name))?;
                let fresh = why == REGRADE_ASKED;
                busy = jobs.send(Job::One(index, why, fresh)).is_ok();
            }
        }
    }
    Ok(())
}

/// Watches `watched` for saves, each burst of events sent on `tx` as one
/// [`Event::Saved`] (or a failure to watch as [`Event::WatchFailed`]);
/// watching stops when the returned debouncer is dropped.
fn watch_saves(
    watched: &Path,
    tx: mpsc::Sender<Event>,
) -> Result<Debouncer<RecommendedWatcher, RecommendedCache>> {
    let mut debouncer = new_debouncer(SETTLE, None, move |result: DebounceEventResult| {
        let event = match result {
            Ok(events) => {
                let paths: Vec<PathBuf> = events
                    .into_iter()
                    .filter(|e| is_change(&e.kind))
                    .flat_map(|e| e.event.paths)
                    .collect();
                if paths.is_empty() {
                    return;
                }
                Event::Saved(paths)
            }
            Err(errors) => Event::WatchFailed(
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
        };
        let _ = tx.send(event);
    })
    .context("cannot start watching files")?;
    debouncer
        .watch(watched, RecursiveMode::Recursive)
        .with_context(|| format!("cannot watch {} for changes", watched.display()))?;
    Ok(debouncer)
}

/// Whether a file event changed contents: reads (cargo and rustc open the
/// sources on every build) and metadata changes do not count.
fn is_change(kind: &EventKind) -> bool {
    match kind {
        EventKind::Create(_) | EventKind::Remove(_) => true,
        EventKind::Modify(ModifyKind::Metadata(_)) => false,
        EventKind::Modify(_) => true,
        EventKind::Any | EventKind::Access(_) | EventKind::Other => false,
    }
}

/// The folder that holds the graded crates (e.g. `exercises/`).
fn watched_dir(grader: &Grader, course: &[Exercise]) -> Result<PathBuf> {
    let mut last_error = None;
    for exercise in course {
        let crate_dir = grader.source_dir(exercise);
        match grader.subject(exercise) {
            Ok(_) => {
                if let Some(parent) = crate_dir.parent() {
                    return Ok(parent.to_path_buf());
                }
            }
            Err(err) => last_error = Some(err),
        }
    }
    Err(last_error.unwrap_or_else(|| anyhow::anyhow!("the course has no exercises")))
        .context("there is nothing to watch")
}

/// Which exercise a burst of file events is about, and a file it touched.
/// Build output (`target/`), hidden files and files that are neither Rust
/// nor TOML are ignored; when several exercises changed, `current` wins.
fn changed_exercise(
    watched: &Path,
    course: &[Exercise],
    paths: &[PathBuf],
    current: Option<usize>,
) -> Option<(usize, String)> {
    let mut found: Vec<(usize, String)> = Vec::new();
    for path in paths {
        let Ok(relative) = path.strip_prefix(watched) else {
            continue;
        };
        let parts: Vec<String> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let (Some(first), Some(file)) = (parts.first(), parts.last()) else {
            continue;
        };
        if parts.len() < 2
            || parts.iter().any(|p| p == "target" || p.starts_with('.'))
            || !(file.ends_with(".rs") || file.ends_with(".toml"))
        {
            continue;
        }
        if let Some(index) = course.iter().position(|e| &e.name == first) {
            found.push((index, parts[1..].join("/")));
        }
    }
    found.sort();
    match current.and_then(|c| found.iter().find(|(i, _)| *i == c)) {
        Some(hit) => Some(hit.clone()),
        None => found.into_iter().next(),
    }
}

fn spawn_grader(
    grader: Grader,
    course: Vec<Exercise>,
    tx: mpsc::Sender<Event>,
) -> mpsc::Sender<Job> {
    let (jobs, inbox) = mpsc::channel::<Job>();
    std::thread::spawn(move || {
        let verdicts = tx.clone();
        let progress = move |news: News<'_>| {
            if let News::Verdict(line) = news {
                let _ = verdicts.send(Event::Verdict(line.to_string()));
            }
        };
        for job in inbox {
            let graded = match job {
                Job::One(index, why, fresh) => Graded {
                    index,
                    why,
                    report: Grader {
                        fresh: grader.fresh || fresh,
                        ..grader.clone()
                    }
                    .grade(&course[index], &progress)
                    .map_err(|e| format!("{e:#}")),
                },
                Job::FirstIncomplete => first_incomplete(&grader, &course),
            };
            if tx.send(Event::Graded(Box::new(graded))).is_err() {
                break;
            }
        }
    });
    jobs
}

fn first_incomplete(grader: &Grader, course: &[Exercise]) -> Graded {
    let mut last = None;
    for (index, exercise) in course.iter().enumerate() {
        let report = grader
            .grade(exercise, &|_| {})
            .map_err(|e| format!("{e:#}"));
        let done = report.as_ref().is_ok_and(|r| r.complete());
        last = Some(Graded {
            index,
            why: "first grade".to_string(),
            report,
        });
        if !done {
            break;
        }
    }
    last.unwrap_or(Graded {
        index: 0,
        why: String::new(),
        report: Err("the course has no exercises".to_string()),
    })
}

fn spawn_keys(interactive: bool, tx: mpsc::Sender<Event>) {
    std::thread::spawn(move || {
        if interactive {
            while let Ok(event) = event::read() {
                let TermEvent::Key(key) = event else { continue };
                if key.kind == KeyEventKind::Release {
                    continue;
                }
                let ctrl_c = key.modifiers.contains(KeyModifiers::CONTROL)
                    && matches!(key.code, KeyCode::Char('c') | KeyCode::Char('d'));
                let mapped = match key.code {
                    _ if ctrl_c => Some(Key::Quit),
                    KeyCode::Char('q') | KeyCode::Esc => Some(Key::Quit),
                    KeyCode::Char('h') => Some(Key::Hint),
                    KeyCode::Char('r') | KeyCode::Enter => Some(Key::Regrade),
                    _ => None,
                };
                if let Some(key) = mapped {
                    if tx.send(Event::Key(key)).is_err() || key == Key::Quit {
                        break;
                    }
                }
            }
        } else {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                let key = match line.trim() {
                    "h" => Key::Hint,
                    "r" => Key::Regrade,
                    "q" => Key::Quit,
                    _ => continue,
                };
                if tx.send(Event::Key(key)).is_err() || key == Key::Quit {
                    break;
                }
            }
        }
    });
}

/// What is on the screen, and how to draw it.
struct Screen<'a> {
    interactive: bool,
    grader: &'a Grader,
    course: &'a [Exercise],
    watched: PathBuf,
    hints: HintState,
    /// The exercise shown and its last grade.
    current: Option<(usize, Graded)>,
    grades: usize,
}

impl Screen<'_> {
    fn index(&self) -> Option<usize> {
        self.current.as_ref().map(|(i, _)| *i)
    }

    /// Writes `text`; on a terminal in raw mode, lines need a carriage return.
    fn write(&self, text: &str, clear: bool) -> Result<()> {
        let mut out = anstream::stdout();
        if self.interactive {
            if clear {
                crossterm::execute!(
                    out,
                    crossterm::terminal::Clear(crossterm::terminal::ClearType::All),
                    crossterm::cursor::MoveTo(0, 0)
                )?;
            }
            write!(out, "{}", text.replace('\n', "\r\n"))?;
        } else {
            write!(out, "{text}")?;
        }
        out.flush()?;
        Ok(())
    }

    /// A one-line note (e.g. "grading…") below what is shown.
    fn status(&self, text: &str) -> Result<()> {
        self.write(&format!("{text}\n"), false)
    }

    fn show(&mut self, graded: Graded) -> Result<()> {
        self.grades += 1;
        self.current = Some((graded.index, graded));
        let text = self.render();
        self.write(&text, true)
    }

    fn topic(&self) -> Option<hints::Topic<'_>> {
        let (index, graded) = self.current.as_ref()?;
        let report = graded.report.as_ref().ok()?;
        hints::topic_for(&self.course[*index], report)
    }

    fn next_hint(&mut self) -> Result<()> {
        let Some((index, _)) = &self.current else {
            return self.status("no grade yet: the hint comes with the first grade");
        };
        let exercise = &self.course[*index];
        let Some(topic) = self.topic() else {
            return self.status("nothing to hint at: every stage passes");
        };
        let tree = self.grader.tree.label();
        let mut hints = HintState::load(&hints::state_path(&self.grader.root));
        let levels = hints.apply(&tree, &exercise.name, &topic, Request::Next);
        if let Err(err) = hints.save() {
            self.status(&format!("(the hint level is not remembered: {err:#})"))?;
        }
        let last = levels.last().copied().unwrap_or(1);
        let max = topic.hints.len();
        let text = if self.interactive {
            None
        } else {
            Some(format!(
                "Hint {last} of {max} for {}, {}:\n{}",
                exercise.name,
                topic.heading,
                hints::render(&topic, &[last], width())
            ))
        };
        self.hints = hints;
        match text {
            Some(text) => self.write(&text, false),
            None => {
                let text = self.render();
                self.write(&text, true)
            }
        }
    }

    /// The whole screen for the current grade.
    fn render(&self) -> String {
        let Some((index, graded)) = &self.current else {
            return String::new();
        };
        let exercise = &self.course[*index];
        let mut out = String::new();
        let report = match &graded.report {
            Ok(report) => report,
            Err(err) => {
                let _ = writeln!(
                    out,
                    "oslings watch — {}: could not grade ({})\n\n{err}\n",
                    exercise.name, graded.why
                );
                out.push_str(&self.keys());
                return out;
            }
        };
        let _ = writeln!(
            out,
            "oslings watch — {}: {}/{} (grade {}, {})\n",
            exercise.name, report.score, report.max_score, self.grades, graded.why
        );
        if let Some(error) = &report.compile_error {
            if error.missing {
                let _ = writeln!(out, "{}\n", error.message);
            } else {
                let _ = writeln!(
                    out,
                    "{} does not compile yet. The compiler's first error:\n\n{}\n\n\
                     Fix it and save; the checker regrades on its own.\n",
                    exercise.name,
                    indent(&first_error(&error.message), ERROR_LINES)
                );
            }
            out.push_str(&self.keys());
            return out;
        }
        self.standing(&mut out, *index, report);
        self.revealed_hints(&mut out, exercise);
        if !out.ends_with("\n\n") {
            out.push('\n');
        }
        out.push_str(&self.keys());
        out
    }

    /// Where the learner stands in exercise `index`, graded as `report`:
    /// the first failing stage and its first failing test, or what is left.
    fn standing(&self, out: &mut String, index: usize, report: &ExerciseReport) {
        let exercise = &self.course[index];
        match report.first_failing_stage() {
            Some(stage) => {
                let _ = writeln!(
                    out,
                    "Stage {} of {} — {}: {} of {} tests pass.",
                    stage.number,
                    report.stages.len(),
                    stage.title,
                    stage.tests_passed,
                    stage.tests_total
                );
                if let Some(test) = report.tests.iter().find(|t| {
                    t.stage == stage.name && !matches!(t.outcome, Outcome::Passed | Outcome::NotRun)
                }) {
                    let _ = writeln!(out, "\n✗ {} ({})", test.name, test.outcome.label());
                    if !test.message.is_empty() {
                        let _ = writeln!(out, "{}", indent(&test.message, MESSAGE_LINES));
                    }
                }
                let _ = writeln!(out, "\nRead: book/{}", stage.section);
            }
            None if report.stages.iter().any(|s| s.unavailable()) => {
                for stage in report.stages.iter().filter(|s| s.unavailable()) {
                    let _ = writeln!(
                        out,
                        "Every stage this machine can grade passes, but stage {} ({}) {}.",
                        stage.number,
                        stage.title,
                        stage.needs_advice()
                    );
                }
            }
            None if !report.complete() => {
                let message = report
                    .performance
                    .as_ref()
                    .map(|p| p.message.clone())
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "Every stage passes; the benchmark is short of full credit.\n{}",
                    indent(&message, MESSAGE_LINES)
                );
            }
            None => {
                let _ = writeln!(out, "Every stage of {} passes. Well done!", exercise.name);
                if let Some(next) = self.course.get(index + 1) {
                    let _ = writeln!(
                        out,
                        "Next up: {} — save a file in {}/{}/ to grade it.",
                        next.name,
                        self.watched.display(),
                        next.name
                    );
                }
            }
        }
    }

    /// The hints of the learner's stage revealed so far.
    fn revealed_hints(&self, out: &mut String, exercise: &Exercise) {
        if let Some(topic) = self.topic() {
            let revealed = self
                .hints
                .revealed(&self.grader.tree.label(), &exercise.name, &topic.key)
                .min(topic.hints.len());
            if revealed > 0 {
                let levels: Vec<usize> = (1..=revealed).collect();
                let _ = write!(
                    out,
                    "\nHints ({revealed} of {}):\n{}",
                    topic.hints.len(),
                    hints::render(&topic, &levels, width())
                );
            }
        }
    }

    fn keys(&self) -> String {
        let quit = if self.interactive { "q or Ctrl-C" } else { "q" };
        format!(
            "h next hint · r regrade · {quit} quit — watching {} for saves\n",
            self.watched.display()
        )
    }

    fn goodbye(&self) -> Result<()> {
        self.status("Stopped watching.")
    }
}

fn width() -> usize {
    terminal_size::terminal_size().map_or(88, |(w, _)| w.0 as usize)
}

/// `text` indented by four spaces, at most `lines` lines of it.
fn indent(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.trim_end().lines().collect();
    let mut out: Vec<String> = all.iter().take(lines).map(|l| format!("    {l}")).collect();
    if all.len() > lines {
        out.push(format!("    … ({} more lines)", all.len() - lines));
    }
    out.join("\n")
}

/// The first of the compiler errors in `message`.
fn first_error(message: &str) -> String {
    let mut lines = message.lines();
    let mut out: Vec<&str> = lines.next().into_iter().collect();
    for line in lines {
        if line.starts_with("error") || line.starts_with("… and ") {
            break;
        }
        out.push(line);
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn course() -> Vec<Exercise> {
        let hidden = Path::new(env!("CARGO_MANIFEST_DIR")).join("hidden");
        crate::course::manifest::load_course(&hidden).unwrap()
    }

    #[test]
    fn a_save_is_about_the_exercise_whose_source_changed() {
        let course = course();
        let root = Path::new("/w/exercises");
        let shell = course.iter().position(|e| e.name == "shell").unwrap();
        let saved = |paths: &[&str], current| {
            let paths: Vec<PathBuf> = paths.iter().map(|p| root.join(p)).collect();
            changed_exercise(root, &course, &paths, current)
        };
        assert_eq!(
            saved(
                &[
                    "shell/src/.lib.rs.swp",
                    "shell/src/lib.rs~",
                    "shell/src/lib.rs"
                ],
                None
            ),
            Some((shell, "src/lib.rs".to_string()))
        );
        assert_eq!(saved(&["shell/target/debug/x.rs"], None), None);
        assert_eq!(saved(&["shell/src/4913"], None), None);
        assert_eq!(saved(&["README.md", "shell"], None), None);
        let first = saved(
            &["shell/src/lib.rs", "bump-allocator/src/lib.rs"],
            Some(shell),
        );
        assert_eq!(first, Some((shell, "src/lib.rs".to_string())));
    }

    #[test]
    fn only_the_first_compiler_error_is_shown() {
        let message = "error[E0308]: mismatched types\n --> src/lib.rs:3:5\n\nerror: second\n";
        assert_eq!(
            first_error(message),
            "error[E0308]: mismatched types\n --> src/lib.rs:3:5\n"
        );
        assert_eq!(indent("a\nb\nc", 2), "    a\n    b\n    … (1 more lines)");
    }
}
