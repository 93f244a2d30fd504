//! Fixtures for the checker's integration tests: copies of the repository
//! with a learner's tree in `exercises/`, and a runner for the real binary.

#![allow(dead_code, unreachable_pub)] // each test binary uses a different part

pub mod fixture;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Whether `OSLINGS_BLESS=1` is set: the one switch that makes the tests
/// rewrite what they compare with (insta snapshots, the report formats'
/// fixtures, the recorded pristine trees) instead of comparing.
pub fn blessing() -> bool {
    std::env::var_os("OSLINGS_BLESS").is_some_and(|v| !v.is_empty() && v != "0")
}

/// The command that re-blesses what the test file `test` compares with.
pub fn bless_command(test: &str) -> String {
    format!("OSLINGS_BLESS=1 cargo test -p checker --test {test}")
}

/// Call before the first insta assertion of a test: under `OSLINGS_BLESS=1`
/// insta writes the snapshots in place (`INSTA_UPDATE=always`, insta's own
/// switch, which it reads once, at its first assertion), so that one switch
/// blesses everything.
pub fn bless_snapshots() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if blessing() {
            // SAFETY: only Rust code of this test binary reads the
            // environment, through std, whose lock makes the write atomic
            // for them; no C code reads it concurrently.
            unsafe { std::env::set_var("INSTA_UPDATE", "always") };
        }
    });
}

/// The repository the checker belongs to.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A copy of the repository (sources only) in a temporary directory.
pub struct Tree {
    pub dir: tempfile::TempDir,
}

impl Tree {
    /// The repository as it is: the pristine exercises.
    pub fn pristine() -> Tree {
        let dir = tempfile::Builder::new()
            .prefix("oslings-fixture-")
            .tempdir()
            .unwrap();
        copy_dir(&repo(), dir.path());
        Tree { dir }
    }

    /// A learner who has finished `exercise`: the solution's sources in the
    /// exercise crate.
    pub fn completed(exercise: &str) -> Tree {
        let tree = Tree::pristine();
        let src = repo().join("solutions").join(exercise).join("src");
        let dst = tree.path().join("exercises").join(exercise).join("src");
        std::fs::remove_dir_all(&dst).unwrap();
        copy_dir(&src, &dst);
        let solution_lib = format!("{}_solution", exercise.replace('-', "_"));
        let lib = exercise.replace('-', "_");
        for file in rust_files(&dst) {
            let text = std::fs::read_to_string(&file).unwrap();
            std::fs::write(&file, text.replace(&solution_lib, &lib)).unwrap();
        }
        tree
    }

    /// A finished `exercise` with `code` inserted at the start of the body of
    /// the function whose signature line starts with `signature`.
    pub fn mutated(exercise: &str, file: &str, signature: &str, code: &str) -> Tree {
        let tree = Tree::completed(exercise);
        tree.insert(exercise, file, signature, code);
        tree
    }

    /// Adds a second exercise, `<exercise>-twin`, a renamed copy of
    /// `exercise` with its own crates and hidden suite, so that a test can
    /// break one exercise and watch the other still being graded. Grade such
    /// a tree with `OSLINGS_ROOT` pointing at it.
    pub fn add_twin(&self, exercise: &str) -> String {
        add_twin_at(self.path(), exercise)
    }

    /// Inserts `code` at the start of the body of the function whose
    /// signature starts with `signature`, in `exercises/<exercise>/src/<file>`.
    pub fn insert(&self, exercise: &str, file: &str, signature: &str, code: &str) {
        let path = self
            .path()
            .join("exercises")
            .join(exercise)
            .join("src")
            .join(file);
        insert_into(&path, signature, code);
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Adds a second exercise to the course at `root`, `<exercise>-twin`, a
/// renamed copy of `exercise` with its own crates and hidden suite, so that
/// a test can break one exercise and watch the other still being graded.
/// Grade such a tree with `OSLINGS_ROOT` pointing at it.
pub fn add_twin_at(root: &Path, exercise: &str) -> String {
    let twin = format!("{exercise}-twin");
    for (dir, from, to) in [
        ("exercises", exercise.to_string(), twin.clone()),
        (
            "solutions",
            format!("{exercise}-solution"),
            format!("{twin}-solution"),
        ),
        (
            "checker/hidden",
            format!("hidden-{exercise}"),
            format!("hidden-{twin}"),
        ),
    ] {
        let src = root.join(dir).join(exercise);
        let dst = root.join(dir).join(&twin);
        copy_dir(&src, &dst);
        let manifest = dst.join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest).unwrap();
        let text = text.replacen(
            &format!("name = \"{from}\""),
            &format!("name = \"{to}\""),
            1,
        );
        let text = text.replace(
            &format!("package = \"{exercise}-solution\", path = \"../../../solutions/{exercise}\""),
            &format!("package = \"{twin}-solution\", path = \"../../../solutions/{twin}\""),
        );
        std::fs::write(&manifest, text).unwrap();
    }
    let stages = root
        .join("checker/hidden")
        .join(&twin)
        .join("exercise.toml");
    let text = std::fs::read_to_string(&stages).unwrap();
    let text = text
        .replacen(
            &format!("name = \"{exercise}\""),
            &format!("name = \"{twin}\""),
            1,
        )
        .replacen(
            &format!("package = \"{exercise}\""),
            &format!("package = \"{twin}\""),
            1,
        )
        .replacen(
            &format!("solution_package = \"{exercise}-solution\""),
            &format!("solution_package = \"{twin}-solution\""),
            1,
        );
    std::fs::write(&stages, text).unwrap();
    twin
}

/// Inserts `code` at the start of the body of the function whose signature
/// starts with `signature`, in the file at `path`.
pub fn insert_into(path: &Path, signature: &str, code: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    let at = text
        .find(signature)
        .unwrap_or_else(|| panic!("`{signature}` not found in {}", path.display()));
    let brace = at + text[at..].find('{').unwrap() + 1;
    let mutated = format!("{}\n{code}\n{}", &text[..brace], &text[brace..]);
    std::fs::write(path, mutated).unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "target" || name == ".git" {
            continue;
        }
        let kind = entry.file_type().unwrap();
        let dst = to.join(&name);
        if kind.is_dir() {
            copy_dir(&entry.path(), &dst);
        } else if kind.is_symlink() {
            let link = std::fs::read_link(entry.path()).unwrap();
            std::os::unix::fs::symlink(link, dst).unwrap();
        } else {
            std::fs::copy(entry.path(), dst).unwrap();
        }
    }
}

/// Every `.rs` file under `dir`, recursively.
pub fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// What one run of the checker produced.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!("not JSON ({e}):\n{}\nstderr:\n{}", self.stdout, self.stderr)
        })
    }
}

/// Runs the real checker binary with `args`, a private TMPDIR, and a hard
/// limit of `limit`; then checks that nothing it started is still running
/// and that it left no temporary files.
pub fn checker(args: &[&str], limit: Duration) -> Run {
    checker_with_env(args, &[], limit)
}

/// [`checker`] with extra environment variables.
pub fn checker_with_env(args: &[&str], env: &[(&str, &Path)], limit: Duration) -> Run {
    checker_observed(args, env, limit, &mut |_, _| {})
}

/// [`checker_with_env`] that calls `observe(checker_pid, tmpdir)` every few
/// milliseconds while the checker runs (to sample its memory, say).
pub fn checker_observed(
    args: &[&str],
    env: &[(&str, &Path)],
    limit: Duration,
    observe: &mut dyn FnMut(u32, &Path),
) -> Run {
    checker_started(Start::Plain, args, env, limit, observe)
}

/// How the checker is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// As this test process runs.
    Plain,
    /// The way a learner's messy session might start it: 50 extra open
    /// descriptors, umask 077, a Turkish locale (where `i` upper-cases to
    /// `İ`), SIGINT, SIGPIPE and SIGHUP ignored (`nohup`, `&`), `TERM=dumb`,
    /// in a session of its own (`setsid`).
    Perturbed,
}

/// Makes `command` start the way [`Start::Perturbed`] says.
fn perturb(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    command
        .env("LANG", "tr_TR.UTF-8")
        .env("LC_ALL", "tr_TR.UTF-8")
        .env("TERM", "dumb")
        .env(
            "PATH",
            format!(
                "/tmp/not-a-dir:{}",
                std::env::var("PATH").unwrap_or_default()
            ),
        );
    // SAFETY: between fork and exec the closure only calls async-signal-safe
    // functions (setsid, umask, open, signal) with valid arguments.
    unsafe {
        command.pre_exec(|| {
            libc::setsid();
            libc::umask(0o077);
            for _ in 0..50 {
                libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY);
            }
            for signal in [libc::SIGINT, libc::SIGPIPE, libc::SIGHUP] {
                libc::signal(signal, libc::SIG_IGN);
            }
            Ok(())
        });
    }
}

/// [`checker_observed`], started as `start` says.
pub fn checker_started(
    start: Start,
    args: &[&str],
    env: &[(&str, &Path)],
    limit: Duration,
    observe: &mut dyn FnMut(u32, &Path),
) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_checker"));
    if start == Start::Perturbed {
        perturb(&mut command);
    }
    watched(command, args, env, limit, observe)
}

/// [`checker`] started with its working directory in `cwd` (a fork, say,
/// whose `.cargo/config.toml` it must not read). `OSLINGS_CHECKER` names
/// another checker binary to run instead (an older build, to see what an
/// attack did to it).
pub fn checker_in(cwd: &Path, args: &[&str], limit: Duration) -> Run {
    checker_in_with_env(cwd, args, &[], limit)
}

/// [`checker_in`] with extra environment variables.
pub fn checker_in_with_env(
    cwd: &Path,
    args: &[&str],
    env: &[(&str, &Path)],
    limit: Duration,
) -> Run {
    let program =
        std::env::var_os("OSLINGS_CHECKER").unwrap_or_else(|| env!("CARGO_BIN_EXE_checker").into());
    let mut command = Command::new(program);
    command.current_dir(cwd);
    watched(command, args, env, limit, &mut |_, _| {})
}

/// Runs `command` as [`checker_observed`] says.
fn watched(
    mut command: Command,
    args: &[&str],
    env: &[(&str, &Path)],
    limit: Duration,
    observe: &mut dyn FnMut(u32, &Path),
) -> Run {
    let tmp = tempfile::Builder::new()
        .prefix("oslings-checker-tmp-")
        .tempdir()
        .unwrap();
    let started = Instant::now();
    let mut child = command
        .args(args)
        .env("TMPDIR", tmp.path())
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    let err = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("the checker did not finish within {limit:?}: {args:?}");
        }
        observe(child.id(), tmp.path());
        std::thread::sleep(Duration::from_millis(20));
    };
    let run = Run {
        code: status.code(),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
        elapsed: started.elapsed(),
    };
    let left = processes_inside(tmp.path());
    assert!(
        left.is_empty(),
        "processes left running inside the checker's TMPDIR: {left:?}\n{run:?}"
    );
    let files: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(
        files.is_empty(),
        "the checker left temporary files behind: {files:?}"
    );
    run
}

/// Starts the checker with `args` and `env` and a private TMPDIR, kills it
/// (SIGKILL) as soon as a hidden test is running inside that TMPDIR (the
/// supervisor and the test), then requires that within 5 s no process is
/// left there and no temporary file either.
pub fn kill_checker_mid_test(args: &[&str], env: &[(&str, &Path)], start_limit: Duration) {
    let tmp = tempfile::Builder::new()
        .prefix("oslings-kill-tmp-")
        .tempdir()
        .unwrap();
    let mut checker = Command::new(env!("CARGO_BIN_EXE_checker"))
        .args(args)
        .env("TMPDIR", tmp.path())
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while processes_inside(tmp.path()).len() < 2 {
        if started.elapsed() > start_limit || checker.try_wait().unwrap().is_some() {
            let _ = checker.kill();
            let _ = checker.wait();
            panic!("no hidden test started within {start_limit:?}: {args:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    checker.kill().unwrap();
    checker.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = processes_inside(tmp.path());
        let files: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        if left.is_empty() && files.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "5 s after the checker was killed: processes {left:?}, files {files:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every process as (pid, working directory, command line).
fn processes() -> Vec<(String, Option<PathBuf>, String)> {
    let mut found = Vec::new();
    for pid in oslings_harness::procs::all_pids() {
        let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).ok();
        let cmd = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        found.push((pid.to_string(), cwd, cmd.replace('\0', " ")));
    }
    found
}

/// Processes whose working directory is inside `dir`.
pub fn processes_inside(dir: &Path) -> Vec<String> {
    processes()
        .into_iter()
        .filter(|(_, cwd, _)| cwd.as_ref().is_some_and(|c| c.starts_with(dir)))
        .map(|(pid, _, cmd)| format!("{pid}: {cmd}"))
        .collect()
}

/// Processes whose command line contains `needle`.
pub fn processes_matching(needle: &str) -> Vec<String> {
    processes()
        .into_iter()
        .filter(|(_, _, cmd)| cmd.contains(needle))
        .map(|(pid, _, cmd)| format!("{pid}: {cmd}"))
        .collect()
}

/// A copy of `from` at `to` (sources only: no `target/`, no `.git/`).
pub fn copy_tree(from: &Path, to: &Path) {
    copy_dir(from, to);
}

/// Every file under `dir` but `target/`, with its contents, sorted.
pub fn files_of(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                if entry.file_name() != "target" {
                    stack.push(path);
                }
            } else {
                let bytes = std::fs::read(&path).unwrap_or_default();
                files.push((path, bytes));
            }
        }
    }
    files.sort();
    files
}

/// Peak resident memory (`VmHWM`) of process `pid` in KiB, if it still runs.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Pids of the processes whose working directory is inside `dir`.
pub fn pids_inside(dir: &Path) -> Vec<u32> {
    processes()
        .into_iter()
        .filter(|(_, cwd, _)| cwd.as_ref().is_some_and(|c| c.starts_with(dir)))
        .filter_map(|(pid, _, _)| pid.parse().ok())
        .collect()
}

/// Bytes in the files under `dir` (0 if it is gone).
pub fn bytes_under(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => bytes_under(&e.path()),
            _ => e.metadata().map(|m| m.len()).unwrap_or(0),
        })
        .sum()
}

/// The reports of one exercise's tests of `stage`, from a JSON report's exercise.
pub fn tests_of<'a>(ex: &'a serde_json::Value, stage: &str) -> Vec<&'a serde_json::Value> {
    ex["tests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["stage"] == stage)
        .collect()
}

/// The outcome of each test of `stage`, in report order.
pub fn outcomes(ex: &serde_json::Value, stage: &str) -> Vec<String> {
    tests_of(ex, stage)
        .iter()
        .map(|t| t["outcome"].as_str().unwrap().to_string())
        .collect()
}
