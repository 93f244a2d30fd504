//! The learner's loop on copies of the repository: watch mode driven through
//! stdin, remembered hints, `list`, `progress`, `reset` with its backup, and
//! the one-sentence messages for a missing cargo, a held lock and an
//! unreadable folder. Every wait is bounded.

mod common;

use common::{Tree, checker_with_env, processes_inside, repo};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

const BUILD_LIMIT: Duration = Duration::from_secs(600);
const QUICK: Duration = Duration::from_secs(60);
const EXERCISE: &str = "bump-allocator";
const HEADER: &str = "oslings watch — ";

static SHARED: OnceLock<Tree> = OnceLock::new();

/// One pristine copy shared by the tests that grade, so its crates are
/// compiled once. Statics are never dropped, so it is removed at exit.
fn shared() -> &'static Tree {
    SHARED.get_or_init(|| {
        // SAFETY: registers a plain function with no arguments; it only
        // touches a static that is fully initialised before it can run.
        let registered = unsafe { libc::atexit(remove_shared) };
        assert_eq!(registered, 0, "atexit failed");
        Tree::pristine()
    })
}

extern "C" fn remove_shared() {
    if let Some(tree) = SHARED.get() {
        let _ = std::fs::remove_dir_all(tree.path());
    }
}

/// Held by the tests that grade the shared copy, so that two checkers never
/// write the same scratch project at once.
static SHARED_GRADING: Mutex<()> = Mutex::new(());

fn grading_shared() -> std::sync::MutexGuard<'static, ()> {
    SHARED_GRADING.lock().unwrap_or_else(|e| e.into_inner())
}

/// The shared build directory, so that graded copies reuse compiled crates.
fn build_dir() -> PathBuf {
    repo().join("target").join("oslings").join("build")
}

fn run(args: &[&str], root: &Path, limit: Duration) -> common::Run {
    let build = build_dir();
    checker_with_env(
        args,
        &[("OSLINGS_ROOT", root), ("OSLINGS_TARGET_DIR", &build)],
        limit,
    )
}

fn course() -> Vec<checker::course::manifest::Exercise> {
    checker::course::manifest::load_course(&repo().join("checker").join("hidden")).unwrap()
}

#[test]
fn every_stage_and_performance_section_has_at_least_two_hint_levels() {
    let course = course();
    let short = checker::cmd::hints::too_few_levels(&course, 2);
    assert!(
        short.is_empty(),
        "every stage needs a nudge and a stronger hint (exercise.toml `hints`):\n{}",
        short.join("\n")
    );
    // The check itself notices a stage cut down to one level.
    let mut cut = course.clone();
    cut[0].stages[1].hints.truncate(1);
    assert_eq!(checker::cmd::hints::too_few_levels(&cut, 2).len(), 1);
}

/// The git tree of `exercises/<name>` as it is in the working tree, from a
/// temporary index (the real index is not touched).
fn working_tree_hash(name: &str) -> Result<String, String> {
    let root = repo();
    let git = |args: &[&str], index: Option<&Path>| {
        let mut command = Command::new("git");
        command.arg("-C").arg(&root).args(args);
        if let Some(index) = index {
            command.env("GIT_INDEX_FILE", index);
        }
        command
            .output()
            .map_err(|e| format!("git cannot run: {e}"))
            .and_then(|out| {
                if out.status.success() {
                    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
                } else {
                    Err(String::from_utf8_lossy(&out.stderr).into_owned())
                }
            })
    };
    git(&["rev-parse", "--git-dir"], None).map_err(|e| format!("not a git checkout: {e}"))?;
    let scratch = tempfile::tempdir().unwrap();
    let index = scratch.path().join("index");
    let path = format!("exercises/{name}");
    git(&["add", "-A", "--", &path], Some(&index)).map_err(|e| format!("git add: {e}"))?;
    git(&["write-tree", &format!("--prefix={path}/")], Some(&index))
}

#[test]
fn the_recorded_pristine_trees_match_the_exercises() {
    let update = common::blessing();
    let mut stale = Vec::new();
    for exercise in course() {
        let actual = match working_tree_hash(&exercise.name) {
            Ok(hash) => hash,
            Err(why) => {
                eprintln!("skipped: cannot compute the tree of exercises/ ({why})");
                return;
            }
        };
        if exercise.pristine_tree.as_deref() == Some(actual.as_str()) {
            continue;
        }
        let manifest = exercise.dir.join("exercise.toml");
        if update {
            let text = std::fs::read_to_string(&manifest).unwrap();
            let line = text
                .lines()
                .find(|l| l.starts_with("pristine_tree = "))
                .expect("a pristine_tree line to update");
            let text = text.replacen(line, &format!("pristine_tree = \"{actual}\""), 1);
            std::fs::write(&manifest, text).unwrap();
        } else {
            stale.push(format!(
                "{}: records {:?}, exercises/{} is {actual}",
                manifest.display(),
                exercise.pristine_tree,
                exercise.name
            ));
        }
    }
    assert!(
        stale.is_empty(),
        "an exercise stub changed, so `reset` would restore an old one:\n{}\n\
         Update the hashes with\n  OSLINGS_BLESS=1 cargo test -p checker --test learner pristine\n\
         and commit the exercise.toml files with the stub.",
        stale.join("\n")
    );
}

#[test]
fn hints_are_revealed_level_by_level_and_remembered() {
    let tree = Tree::pristine();
    let root = tree.path();
    let hint = |extra: &[&str]| {
        let mut args = vec!["hint", EXERCISE, "--stage", "align"];
        args.extend_from_slice(extra);
        run(&args, root, QUICK)
    };
    let first = hint(&[]);
    assert_eq!(first.code, Some(0), "{first:?}");
    assert!(first.stdout.contains("(level 1 of 3)"), "{}", first.stdout);
    assert!(first.stdout.contains("  1. "), "{}", first.stdout);
    assert!(
        first
            .stdout
            .contains("Next level: cargo run -p checker -- hint bump-allocator --next"),
        "{}",
        first.stdout
    );
    let next = hint(&["--next"]);
    assert!(next.stdout.contains("(levels 1–2 of 3)"), "{}", next.stdout);
    assert!(next.stdout.contains("  2. "), "{}", next.stdout);
    // Remembered: a plain `hint` now shows both levels.
    let again = hint(&[]);
    assert!(
        again.stdout.contains("(levels 1–2 of 3)"),
        "{}",
        again.stdout
    );
    let state = root.join("target/oslings/hints.json");
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert_eq!(saved["trees"]["exercises"][EXERCISE]["align"], 2, "{saved}");
    // --level shows one level directly.
    let third = hint(&["--level", "3"]);
    assert!(third.stdout.contains("(level 3 of 3)"), "{}", third.stdout);
    assert!(!third.stdout.contains("  1. "), "{}", third.stdout);
    // A corrupt state file is replaced, with a warning, not a crash.
    std::fs::write(&state, "{\"trees\": [oops").unwrap();
    let after = hint(&[]);
    assert_eq!(after.code, Some(0), "{after:?}");
    assert!(after.stderr.contains("not valid hint state"), "{after:?}");
    assert!(after.stdout.contains("(level 1 of 3)"), "{}", after.stdout);
    // Nothing was written into the exercise sources.
    let status = Command::new("diff")
        .args(["-r", "-q"])
        .arg(repo().join("exercises").join(EXERCISE))
        .arg(root.join("exercises").join(EXERCISE))
        .status()
        .unwrap();
    assert!(status.success(), "hint changed the exercise sources");
}

#[test]
fn unknown_exercise_names_suggest_the_closest_in_every_command() {
    let root = repo();
    for args in [
        &["hint", "bump-alocator"][..],
        &["reset", "bump-alocator", "--yes"][..],
        &["list", "bump-alocator"][..],
        &["progress", "bump-alocator"][..],
        &["--watch", "bump-alocator"][..],
    ] {
        let run = run(args, &root, QUICK);
        assert_eq!(run.code, Some(2), "{args:?}: {run:?}");
        assert!(
            run.stderr.contains("Did you mean `bump-allocator`?"),
            "{args:?}: {}",
            run.stderr
        );
    }
}

/// The watch process, its stdout so far, and its stdin.
struct Watch {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    _tmp: tempfile::TempDir,
}

impl Watch {
    fn start(tree: &Path) -> Watch {
        let tmp = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_checker"))
            .args(["--watch", "--exercises-from"])
            .arg(tree)
            .args([EXERCISE, "--timeout", "2"])
            .env("OSLINGS_ROOT", tree)
            .env("OSLINGS_TARGET_DIR", build_dir())
            .env("TMPDIR", tmp.path())
            .env("NO_COLOR", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let collect = |pipe: Box<dyn std::io::Read + Send>| {
            let text = Arc::new(Mutex::new(String::new()));
            let sink = text.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    let mut text = sink.lock().unwrap();
                    text.push_str(&line);
                    text.push('\n');
                }
            });
            text
        };
        let stdout = collect(Box::new(child.stdout.take().unwrap()));
        let stderr = collect(Box::new(child.stderr.take().unwrap()));
        Watch {
            child,
            stdout,
            stderr,
            _tmp: tmp,
        }
    }

    fn output(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    fn grades(&self) -> usize {
        self.output().matches(HEADER).count()
    }

    /// Waits until `done` holds for the output, or fails saying `what`.
    fn wait_for(&mut self, what: &str, limit: Duration, done: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + limit;
        while !done(&self.output()) {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "watch mode ended ({status}) before {what}:\n{}",
                    self.transcript()
                );
            }
            assert!(
                Instant::now() < deadline,
                "no {what} within {limit:?}:\n{}",
                self.transcript()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn send(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    fn transcript(&self) -> String {
        format!(
            "--- stdout ---\n{}--- stderr ---\n{}",
            self.output(),
            self.stderr.lock().unwrap()
        )
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn watch_mode_regrades_once_per_save_reveals_hints_and_quits() {
    let _serial = grading_shared();
    let tree = shared().path().canonicalize().unwrap();
    let mut watch = Watch::start(&tree);
    watch.wait_for("first grade", BUILD_LIMIT, |out| out.contains(HEADER));
    let first = watch.output();
    for expected in [
        "bump-allocator: 0/100 (grade 1, first grade)",
        "Stage 1 of 6 — align_up and align_down",
        "✗ align::",
        "Read: book/how-programs-get-memory.md#stage-1-alignment-arithmetic",
        "h next hint · r regrade · q quit",
    ] {
        assert!(first.contains(expected), "missing {expected:?}:\n{first}");
    }

    // An editor's save: a temporary file renamed over the source, then a
    // second write, and build output that must not count.
    let src = tree.join("exercises").join(EXERCISE).join("src");
    let text = std::fs::read_to_string(src.join("align.rs")).unwrap();
    std::fs::write(src.join(".align.rs.swp"), &text).unwrap();
    std::fs::rename(src.join(".align.rs.swp"), src.join("align.rs")).unwrap();
    std::fs::write(src.join("align.rs"), format!("{text}\n// saved\n")).unwrap();
    let build_output = tree.join("exercises").join(EXERCISE).join("target");
    std::fs::create_dir_all(&build_output).unwrap();
    std::fs::write(build_output.join("out.rs"), "").unwrap();
    watch.wait_for("regrade after the save", BUILD_LIMIT, |out| {
        out.matches(HEADER).count() >= 2
    });
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        watch.grades(),
        2,
        "one save must cause one regrade:\n{}",
        watch.transcript()
    );
    assert!(
        watch
            .output()
            .contains("(grade 2, after a save to src/align.rs)"),
        "{}",
        watch.transcript()
    );
    std::fs::remove_dir_all(&build_output).unwrap();

    // `h` reveals the first level and remembers it.
    watch.send("h");
    watch.wait_for("a hint", QUICK, |out| {
        out.contains("Hint 1 of 3 for bump-allocator")
    });
    let state = tree.join("target/oslings/hints.json");
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    let key = tree.display().to_string();
    assert_eq!(saved["trees"][&key][EXERCISE]["align"], 1, "{saved}");

    // A save that breaks the build shows the compiler's first error.
    std::fs::write(src.join("align.rs"), format!("{text}\nfn broken( {{}}\n")).unwrap();
    watch.wait_for("the compile error", BUILD_LIMIT, |out| {
        out.matches(HEADER).count() >= 3
    });
    let last = watch.output();
    let last = &last[last.rfind(HEADER).unwrap()..];
    assert!(
        last.contains("bump-allocator does not compile yet. The compiler's first error:")
            && last.contains("--> ")
            && last.contains("src/align.rs:"),
        "{last}"
    );
    std::fs::write(src.join("align.rs"), &text).unwrap();

    // `q` quits promptly and cleanly.
    watch.send("q");
    let asked = Instant::now();
    let status = loop {
        if let Some(status) = watch.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            asked.elapsed() < Duration::from_secs(10),
            "watch mode did not quit within 10 s of `q`:\n{}",
            watch.transcript()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}:\n{}", watch.transcript());
    let left = processes_inside(watch._tmp.path());
    assert!(left.is_empty(), "left running: {left:?}");
}

#[test]
fn list_and_progress_show_each_stage_and_a_bar() {
    let _serial = grading_shared();
    // The repository's own exercises (of the copy): watch mode grades the
    // same copy through --exercises-from, in scratch space of its own.
    let tree = shared().path().canonicalize().unwrap();
    let list = run(&["list", EXERCISE], &tree, BUILD_LIMIT);
    assert_eq!(list.code, Some(0), "{list:?}");
    let lines: Vec<&str> = list.stdout.lines().collect();
    assert!(
        lines[0].starts_with("bump-allocator — Bump allocator  0/100"),
        "{}",
        list.stdout
    );
    assert!(
        lines[1].contains(" 1  failing ")
            && lines[1].contains("book/how-programs-get-memory.md#stage-1-alignment-arithmetic"),
        "{}",
        list.stdout
    );
    assert!(lines[2].contains(" 2  not run "), "{}", list.stdout);
    assert!(
        lines.iter().any(|l| l.contains("not run     Performance")),
        "{}",
        list.stdout
    );

    let bar = run(&["progress", EXERCISE], &tree, BUILD_LIMIT);
    assert_eq!(bar.code, Some(0), "{bar:?}");
    assert_eq!(
        bar.stdout, "bump-allocator  ░░░░░░░░░░    0/100  stage 1/6\n",
        "no colour codes when not a terminal"
    );
    let plain = run(&["progress", EXERCISE, "--plain"], &tree, BUILD_LIMIT);
    assert_eq!(plain.stdout, "bump-allocator 0/100 stage 1/6\n");
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?} failed");
}

#[test]
fn reset_restores_the_shipped_stub_and_keeps_a_backup() {
    if working_tree_hash(EXERCISE).is_err() {
        eprintln!("skipped: needs git and a git checkout");
        return;
    }
    let tree = Tree::pristine();
    let root = tree.path();
    git(root, &["init", "-q"]);
    git(root, &["add", "-A", "exercises"]);
    git(root, &["commit", "-q", "-m", "as shipped"]);
    // The learner's work, committed (so HEAD is not the stub any more).
    let src = root.join("exercises").join(EXERCISE).join("src");
    let shipped = std::fs::read_to_string(src.join("align.rs")).unwrap();
    std::fs::write(src.join("align.rs"), "// my work\n").unwrap();
    std::fs::write(src.join("extra.rs"), "// a new file\n").unwrap();
    git(root, &["add", "-A", "exercises"]);
    git(root, &["commit", "-q", "-m", "my work"]);

    // No terminal and no --yes: refused, nothing changed.
    let refused = run(&["reset", EXERCISE], root, QUICK);
    assert_eq!(refused.code, Some(2), "{refused:?}");
    assert!(refused.stderr.contains("add --yes"), "{}", refused.stderr);
    assert_eq!(
        std::fs::read_to_string(src.join("align.rs")).unwrap(),
        "// my work\n"
    );

    let reset = run(&["reset", EXERCISE, "--yes"], root, QUICK);
    assert_eq!(reset.code, Some(0), "{reset:?}");
    assert_eq!(
        std::fs::read_to_string(src.join("align.rs")).unwrap(),
        shipped
    );
    assert!(
        !src.join("extra.rs").exists(),
        "files the stub lacks are removed"
    );
    let backup = reset
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("Your previous files are in "))
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("no backup path in {}", reset.stdout));
    assert!(
        backup.starts_with(root.join("target/oslings/backups")),
        "{backup:?}"
    );
    assert_eq!(
        std::fs::read_to_string(backup.join("src/align.rs")).unwrap(),
        "// my work\n"
    );
    assert!(backup.join("src/extra.rs").is_file());
    assert!(backup.join("Cargo.toml").is_file());
}

#[test]
fn reset_without_git_history_says_what_to_do_instead() {
    let tree = Tree::pristine();
    let run = run(&["reset", EXERCISE, "--yes"], tree.path(), QUICK);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(
        run.stderr
            .contains("fresh download of the oslings repository"),
        "{}",
        run.stderr
    );
    assert!(
        tree.path()
            .join("exercises")
            .join(EXERCISE)
            .join("src")
            .is_dir()
    );
}

#[test]
fn a_missing_cargo_says_to_install_rust() {
    if Path::new("/usr/bin/cargo").exists() || Path::new("/bin/cargo").exists() {
        eprintln!("skipped: cargo is installed in /usr/bin or /bin");
        return;
    }
    let tree = Tree::pristine();
    let tree = tree.path();
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_checker"))
        .args([EXERCISE, "--exercises-from"])
        .arg(tree)
        .env("PATH", "/usr/bin:/bin")
        .env_remove("CARGO")
        .env("OSLINGS_ROOT", tree)
        .env("OSLINGS_TARGET_DIR", tmp.path().join("build"))
        .env("TMPDIR", tmp.path())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cargo was not found") && stderr.contains("https://rustup.rs"),
        "{stderr}"
    );
}

#[test]
fn an_unreadable_tree_gets_one_sentence() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let locked = tmp.path().join("exercises").join(EXERCISE);
    std::fs::create_dir_all(&locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    let readable_anyway = std::fs::read_dir(&locked).is_ok();
    let dir = tmp.path().to_str().unwrap().to_string();
    let result = run(&["--exercises-from", &dir, EXERCISE], &repo(), QUICK);
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    if readable_anyway {
        eprintln!("skipped: this user (root?) reads folders whatever their permissions");
        return;
    }
    assert_eq!(result.code, Some(2), "{result:?}");
    assert!(
        result.stderr.contains("permission denied") && result.stderr.contains("chmod -R u+rX"),
        "{}",
        result.stderr
    );
}

#[test]
fn cargo_waiting_on_a_lock_is_explained() {
    use std::os::unix::process::CommandExt;
    let tree = Tree::pristine();
    let tree = tree.path();
    let tmp = tempfile::tempdir().unwrap();
    let build = tmp.path().join("build");
    std::fs::create_dir_all(build.join("debug")).unwrap();
    let lock_file = std::fs::File::create(build.join("debug").join(".cargo-lock")).unwrap();
    let _held = nix::fcntl::Flock::lock(lock_file, nix::fcntl::FlockArg::LockExclusiveNonblock)
        .map_err(|(_, e)| e)
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_checker"))
        .arg(EXERCISE)
        .env("OSLINGS_ROOT", tree)
        .env("OSLINGS_TARGET_DIR", &build)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let group = nix::unistd::Pid::from_raw(-(child.id() as i32));
    let stderr = Arc::new(Mutex::new(String::new()));
    let sink = stderr.clone();
    let pipe = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            sink.lock().unwrap().push_str(&format!("{line}\n"));
        }
    });
    let deadline = Instant::now() + QUICK;
    let explained = loop {
        let text = stderr.lock().unwrap().clone();
        if text.contains("note: cargo has waited") {
            break Some(text);
        }
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGKILL);
    let _ = child.wait();
    let text = explained.unwrap_or_else(|| {
        panic!(
            "no explanation of the lock within {QUICK:?}:\n{}",
            stderr.lock().unwrap()
        )
    });
    assert!(
        text.contains("another cargo or checker is using the same build directory"),
        "{text}"
    );
}

/// Watch mode on a pseudo-terminal, and what it has drawn so far.
struct OnTerminal {
    child: Child,
    terminal: oslings_harness::pty::Terminal,
    _tmp: tempfile::TempDir,
}

impl OnTerminal {
    fn start(tree: &Path) -> OnTerminal {
        let pty = oslings_harness::pty::open().unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_checker"));
        command
            .args(["--watch", EXERCISE, "--timeout", "2"])
            .env("OSLINGS_ROOT", tree)
            .env("OSLINGS_TARGET_DIR", build_dir())
            .env("TMPDIR", tmp.path())
            .env("TERM", "xterm");
        pty.connect(&mut command).unwrap();
        let child = command.spawn().unwrap();
        drop(command);
        let terminal = pty
            .into_terminal(oslings_harness::pty::CarriageReturns::Keep)
            .unwrap();
        OnTerminal {
            child,
            terminal,
            _tmp: tmp,
        }
    }

    fn wait_for(&mut self, what: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        while !self.terminal.shown().contains(what) {
            if Instant::now() > deadline || self.child.try_wait().unwrap().is_some() {
                panic!("no {what:?} on the terminal:\n{}", self.terminal.shown());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether the terminal is in its normal (line-by-line) mode.
    fn canonical(&self) -> bool {
        use nix::sys::termios::{LocalFlags, tcgetattr};
        tcgetattr(&self.terminal)
            .unwrap()
            .local_flags
            .contains(LocalFlags::ICANON)
    }

    fn press(&mut self, keys: &[u8]) {
        self.terminal.type_bytes(keys).unwrap();
    }

    /// Waits (10 s at most) for the checker to end; returns how.
    fn ended(&mut self, after: &str) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{after} did not quit:\n{}",
                self.terminal.shown()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for OnTerminal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn on_a_terminal_keys_work_in_raw_mode_and_ctrl_c_restores_it() {
    let _serial = grading_shared();
    let tree = shared().path().canonicalize().unwrap();
    let mut term = OnTerminal::start(&tree);
    term.wait_for("q or Ctrl-C quit", BUILD_LIMIT);
    assert!(!term.canonical(), "the terminal is not in raw mode");
    term.press(b"h");
    term.wait_for("Hints (1 of 3)", QUICK);
    term.press(b"\x03");
    let status = term.ended("Ctrl-C");
    assert!(status.success(), "{status}");
    assert!(term.canonical(), "raw mode was left on after Ctrl-C");
}

#[test]
fn a_termination_signal_restores_the_terminal_too() {
    let _serial = grading_shared();
    let tree = shared().path().canonicalize().unwrap();
    let mut term = OnTerminal::start(&tree);
    term.wait_for("q or Ctrl-C quit", BUILD_LIMIT);
    assert!(!term.canonical(), "the terminal is not in raw mode");
    let pid = nix::unistd::Pid::from_raw(term.child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = term.ended("SIGTERM");
    assert!(status.success(), "{status}");
    assert!(term.canonical(), "raw mode was left on after SIGTERM");
}

// Two checkouts sharing one CARGO_TARGET_DIR share one built checker: it
// must grade the checkout it is run in, not the one it was built in.
#[test]
fn the_course_is_found_from_the_current_directory() {
    let fake = tempfile::tempdir().unwrap();
    let hidden = fake
        .path()
        .join("checker")
        .join("hidden")
        .join("bump-allocator");
    std::fs::create_dir_all(&hidden).unwrap();
    std::fs::create_dir_all(fake.path().join("exercises")).unwrap();
    std::fs::write(fake.path().join("Cargo.toml"), "[workspace]\n").unwrap();
    let manifest =
        std::fs::read_to_string(repo().join("checker/hidden/bump-allocator/exercise.toml"))
            .unwrap()
            .replacen(
                "title = \"",
                "title = \"Found from the current directory: ",
                1,
            );
    std::fs::write(hidden.join("exercise.toml"), manifest).unwrap();
    let run = common::checker_in(
        &fake.path().join("exercises"),
        &["list"],
        Duration::from_secs(60),
    );
    assert!(
        run.stdout.contains("Found from the current directory"),
        "the checker did not grade the checkout it was run in:\n{}\n{}",
        run.stdout,
        run.stderr
    );
}
