//! Engine tests, on the fixture course (`tests/fixture-course/`): hostile
//! learner code, graded by the real checker: a panic in `Drop`
//! during a panic, a 10 GB allocation, an output flood, closed standard
//! descriptors, writes into the repository and the checker's generated
//! project, printed imitations of a pass,
//! an early `exit(0)`, a checker started with SIGINT ignored, a checker
//! started from a messy session (the test still starts hermetic), code that
//! spawns and spins or signals its own group beside busy neighbours, and a
//! checker killed while a test runs. Every case must get the right outcome and a precise
//! diagnosis in bounded time, and leave no process, no temporary file and no
//! changed file behind.
//!
//! All cases live in one fixture tree (a copy of the fixture course, its
//! tally finished, whose `add` first does what `OSLINGS_HOSTILE` names,
//! once per process), so it compiles once; each case grades one hidden
//! test with `--test`.

mod common;

use common::fixture::{Course, EXERCISE};
use common::{Start, checker_started, files_of, processes_matching, repo};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

const TEST: &str = "add::adds_two_numbers";
/// Generous: a case may compile the fixture, or wait for cargo's lock.
const LIMIT: Duration = Duration::from_secs(600);
/// What the graded test itself may take, as the report says.
const TEST_LIMIT: Duration = Duration::from_secs(20);

/// The hostile behaviours, planted at the start of `add`.
const HOSTILE: &str = r#"
static HOSTILE: std::sync::Once = std::sync::Once::new();
HOSTILE.call_once(|| match std::env::var("OSLINGS_HOSTILE").as_deref() {
    Ok("drop") => {
        struct Bomb;
        impl Drop for Bomb {
            fn drop(&mut self) {
                panic!("the fixture's destructor panics too");
            }
        }
        let _bomb = Bomb;
        panic!("the fixture's first panic");
    }
    Ok("alloc") => {
        let huge = vec![0u8; 10 << 30];
        std::hint::black_box(&huge);
    }
    Ok("flood") => {
        use std::io::Write;
        let block = vec![b'x'; 1 << 20];
        for _ in 0..300 {
            std::io::stdout().write_all(&block).unwrap();
            std::io::stderr().write_all(&block).unwrap();
        }
    }
    Ok("fds") => {
        use std::os::fd::FromRawFd;
        // Standard output goes to /dev/null; input and error are closed.
        #[allow(clippy::undocumented_unsafe_blocks)]
        unsafe { drop(std::fs::File::from_raw_fd(1)) };
        std::mem::forget(std::fs::OpenOptions::new().write(true).open("/dev/null").unwrap());
        #[allow(clippy::undocumented_unsafe_blocks)]
        unsafe { drop(std::fs::File::from_raw_fd(0)); drop(std::fs::File::from_raw_fd(2)) };
    }
    Ok("forge") | Ok("forge-fail") => {
        println!("test add::adds_two_numbers ... ok\n\n\
                  test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; \
                  0 filtered out; finished in 0.00s\n");
        if std::env::var("OSLINGS_HOSTILE").as_deref() == Ok("forge") {
            std::process::exit(0);
        }
        panic!("the fixture fails after printing a pass");
    }
    Ok("exit0") => std::process::exit(0),
    Ok("spawn-spin") => {
        for _ in 0..400 {
            let _ = std::process::Command::new("sleep").arg("14.1423").spawn();
        }
        loop { std::hint::spin_loop(); }
    }
    Ok("kill0") => {
        let _ = std::process::Command::new("sh")
            .args(["-c", "sleep 14.1424 & sleep 14.1424 & setsid sleep 14.1424 & kill -TERM 0"])
            .status();
        loop { std::hint::spin_loop(); }
    }
    Ok("close-stdout") => {
        let _ = std::process::Command::new("sh")
            .args(["-c", "exec >&- 2>&-; sleep 14.1425 & sleep 14.1425"])
            .spawn();
        loop { std::hint::spin_loop(); }
    }
    Ok("environment") => {
        // What every test must start with, whatever the checker was started with.
        let fds: Vec<String> = std::fs::read_dir("/proc/self/fd").unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        // This thread's own status: the signal mask is per thread, and the
        // harness's main thread blocks every signal for a moment whenever
        // it starts a thread.
        let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
        let field = |name: &str| status.lines().find_map(|l| l.strip_prefix(name)).unwrap().trim().to_string();
        // The fixture has no dependencies: the rest is read from /proc too.
        let umask = u32::from_str_radix(&field("Umask:"), 8).unwrap();
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
        // After the command's name: state, parent, group, session.
        let session: u32 = stat.rsplit_once(") ").unwrap().1.split(' ').nth(3).unwrap().parse().unwrap();
        let pid = std::process::id();
        let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
        let stack = limits.lines().find_map(|l| l.strip_prefix("Max stack size")).unwrap()
            .split_whitespace().next().unwrap().to_string();
        let vars: Vec<String> = std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
        let found = format!(
            "descriptors {} | umask {umask:03o} | own session {} | tty {} | blocked {} | ignored {} | stack {} | env {}",
            // The listing itself holds one more descriptor open.
            fds.len() - 1,
            session == pid,
            std::fs::File::open("/dev/tty").is_ok(),
            field("SigBlk:"),
            field("SigIgn:"),
            stack,
            vars.join(" "),
        );
        // A failure, so that the report shows it.
        panic!("ENVIRONMENT {found} END");
    }
    Ok("spin") => loop { std::hint::spin_loop(); },
    Ok("signals") => {
        use std::os::unix::process::ExitStatusExt;
        let status = std::process::Command::new("sh").args(["-c", "kill -INT $$"]).status().unwrap();
        assert_eq!(status.signal(), Some(2), "SIGINT does not kill a child here: {status}");
    }
    Ok("write") => {
        let graded = env!("CARGO_MANIFEST_DIR");
        let hidden = format!("{graded}/../../checker/hidden/tally");
        std::fs::write(format!("{graded}/planted.txt"), "planted by a test\n").unwrap();
        std::fs::write(format!("{hidden}/planted.txt"), "planted by a test\n").unwrap();
        let manifest = format!("{hidden}/exercise.toml");
        let text = std::fs::read_to_string(&manifest).unwrap();
        std::fs::write(&manifest, format!("{text}\n# planted by a test\n")).unwrap();
        // The checker's generated project, where its cached results live.
        let scratch = format!("{graded}/../../target/oslings/grade/exercises/tally");
        std::fs::write(format!("{scratch}/planted.txt"), "planted by a test\n").unwrap();
    }
    _ => {}
});
"#;

/// One case at a time: the flood keeps a CPU busy, and bounds on time mean
/// more when nothing else of this suite runs beside them.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The fixture tree, under `target/` so that it does not outlive the suite
/// in the temporary directory (statics are never dropped); a new run
/// replaces the last one's.
fn fixture() -> &'static Path {
    static TREE: OnceLock<PathBuf> = OnceLock::new();
    TREE.get_or_init(|| {
        let dir = repo().join("target/oslings/hostile-fixture-course");
        if dir.exists() {
            std::fs::remove_dir_all(&dir).unwrap();
        }
        let course = Course::planted(HOSTILE);
        common::copy_tree(course.path(), &dir);
        dir
    })
}

/// What grading the fixture's one test under `case` produced.
struct Graded {
    /// `passed`, `failed`, `crashed`, ... from the report's first line.
    outcome: String,
    /// How long the test ran, from the same line.
    duration: Duration,
    /// The rest of the report: the diagnosis and what the test printed.
    report: String,
    /// Highest peak memory of the checker and of the sandbox's processes.
    peak_rss_kib: u64,
    /// Most bytes seen in the checker's temporary directory.
    peak_tmp_bytes: u64,
}

/// Grades the fixture's test with `OSLINGS_HOSTILE=case` and a time limit
/// of `timeout_secs`, and checks that the tree is unchanged.
fn grade(case: &str, timeout_secs: u32) -> Graded {
    grade_started(Start::Plain, case, timeout_secs)
}

/// [`grade`] with the checker started as `start` says.
fn grade_started(start: Start, case: &str, timeout_secs: u32) -> Graded {
    let root = fixture();
    let before = files_of(root);
    let target = common::fixture::target_dir();
    let timeout = timeout_secs.to_string();
    let (mut peak_rss_kib, mut peak_tmp_bytes) = (0, 0);
    let run = checker_started(
        start,
        &[EXERCISE, "--test", TEST, "--timeout", &timeout],
        &[
            ("OSLINGS_ROOT", root),
            ("OSLINGS_TARGET_DIR", &target),
            ("OSLINGS_HOSTILE", Path::new(case)),
        ],
        LIMIT,
        &mut |checker, tmp| {
            let pids = std::iter::once(checker).chain(common::pids_inside(tmp));
            for pid in pids {
                peak_rss_kib = peak_rss_kib.max(common::peak_rss_kib(pid).unwrap_or(0));
            }
            peak_tmp_bytes = peak_tmp_bytes.max(common::bytes_under(tmp));
        },
    );
    let first = run.stdout.lines().next().unwrap_or_default();
    let prefix = format!("{TEST} — ");
    let (outcome, duration) = first
        .strip_prefix(&prefix)
        .and_then(|rest| rest.rsplit_once(" ("))
        .and_then(|(outcome, ms)| {
            let ms = ms.strip_suffix(" ms)")?.parse().ok()?;
            Some((outcome.to_string(), Duration::from_millis(ms)))
        })
        .unwrap_or_else(|| panic!("no outcome line:\n{run:?}"));
    if case != "write" {
        assert!(
            before == files_of(root),
            "case {case} changed files in the fixture tree"
        );
    }
    let report = run.stdout.clone();
    eprintln!(
        "\ncase {case}: {outcome} in {duration:?} (checker {:?}), peak RSS {peak_rss_kib} KiB, \
         peak TMPDIR {peak_tmp_bytes} bytes",
        run.elapsed
    );
    let expected_code = if outcome == "passed" { 0 } else { 1 };
    assert_eq!(run.code, Some(expected_code), "{run:?}");
    Graded {
        outcome,
        duration,
        report,
        peak_rss_kib,
        peak_tmp_bytes,
    }
}

/// The graded test ended well within its bound.
fn quick(graded: &Graded) {
    assert!(
        graded.duration < TEST_LIMIT,
        "the test ran for {:?}",
        graded.duration
    );
}

#[test]
fn the_fixture_itself_passes() {
    let _one = serial();
    let graded = grade("none", 5);
    assert_eq!(graded.outcome, "passed", "{}", graded.report);
}

#[test]
fn a_panic_in_drop_during_a_panic_is_a_crash_naming_both_panics() {
    let _one = serial();
    let graded = grade("drop", 5);
    quick(&graded);
    assert_eq!(graded.outcome, "crashed", "{}", graded.report);
    for needle in [
        "panicked while panicking",
        "`Drop`",
        "SIGABRT",
        "the first panic: the fixture's first panic",
        "then, in a destructor: the fixture's destructor panics too",
    ] {
        assert!(
            graded.report.contains(needle),
            "{needle}:\n{}",
            graded.report
        );
    }
}

#[test]
fn a_10_gb_allocation_is_out_of_memory_with_its_size_and_the_limit() {
    let _one = serial();
    let graded = grade("alloc", 5);
    quick(&graded);
    assert_eq!(graded.outcome, "crashed", "{}", graded.report);
    for needle in [
        "tried to allocate 10.0 GiB at once",
        "more than the 4.0 GiB of address space",
    ] {
        assert!(
            graded.report.contains(needle),
            "{needle}:\n{}",
            graded.report
        );
    }
}

#[test]
fn an_output_flood_is_truncated_bounded_and_still_graded() {
    let _one = serial();
    let graded = grade("flood", 60);
    quick(&graded);
    assert_eq!(graded.outcome, "passed", "{}", graded.report);
    assert!(
        graded
            .report
            .contains("wrote 300.0 MiB to stdout and 300.0 MiB to stderr"),
        "{}",
        graded.report
    );
    assert!(
        graded.report.contains("only the first and last 64 KiB"),
        "{}",
        graded.report
    );
    assert!(
        graded.peak_rss_kib < 128 << 10,
        "the checker or its sandbox used {} KiB",
        graded.peak_rss_kib
    );
    assert!(
        graded.peak_tmp_bytes < 4 << 20,
        "the checker's temporary files grew to {} bytes",
        graded.peak_tmp_bytes
    );
}

#[test]
fn a_test_that_closes_or_redirects_fds_0_to_2_is_still_graded() {
    let _one = serial();
    let graded = grade("fds", 5);
    quick(&graded);
    assert_eq!(graded.outcome, "passed", "{}", graded.report);
}

#[test]
fn printing_a_pass_then_exiting_0_is_not_a_pass() {
    let _one = serial();
    let graded = grade("forge", 5);
    quick(&graded);
    assert_eq!(graded.outcome, "failed", "{}", graded.report);
    assert!(
        graded
            .report
            .contains("imitates the test harness's pass report"),
        "{}",
        graded.report
    );
}

#[test]
fn printing_a_pass_then_failing_is_the_failure() {
    let _one = serial();
    let graded = grade("forge-fail", 5);
    quick(&graded);
    assert_eq!(graded.outcome, "failed", "{}", graded.report);
    assert!(
        graded
            .report
            .contains("the fixture fails after printing a pass"),
        "{}",
        graded.report
    );
}

#[test]
fn exiting_0_early_is_not_a_pass() {
    let _one = serial();
    let graded = grade("exit0", 5);
    quick(&graded);
    assert_eq!(graded.outcome, "failed", "{}", graded.report);
    assert!(
        graded
            .report
            .contains("exited with status 0 before the test finished"),
        "{}",
        graded.report
    );
}

#[test]
fn writing_into_the_graded_crate_or_the_hidden_suite_is_reported_by_path() {
    let _one = serial();
    let root = fixture();
    let graded_crate = root.join("exercises").join(EXERCISE);
    let hidden = root.join("checker/hidden").join(EXERCISE);
    let manifest = hidden.join("exercise.toml");
    let original = std::fs::read(&manifest).unwrap();
    let before = files_of(root);
    let scratch = root.join("target/oslings/grade/exercises").join(EXERCISE);
    let graded = grade("write", 5);
    // The checker reports and never rewrites: put the fixture back first.
    let _ = std::fs::remove_file(scratch.join("planted.txt"));
    let _ = std::fs::remove_file(graded_crate.join("planted.txt"));
    let _ = std::fs::remove_file(hidden.join("planted.txt"));
    std::fs::write(&manifest, original).unwrap();
    assert!(
        before == files_of(root),
        "the fixture could not be restored"
    );
    quick(&graded);
    assert_eq!(graded.outcome, "failed", "{}", graded.report);
    for needle in [
        "the test changed files outside its working directory".to_string(),
        format!("{} (created)", graded_crate.join("planted.txt").display()),
        format!("{} (created)", hidden.join("planted.txt").display()),
        format!("{} (modified)", manifest.display()),
        format!("{} (created)", scratch.join("planted.txt").display()),
    ] {
        assert!(
            graded.report.contains(&needle),
            "{needle}:\n{}",
            graded.report
        );
    }
}

#[test]
fn a_checker_started_with_sigint_ignored_gives_tests_the_default() {
    // What `cmd &` in a script, or a CI runner, does to the checker; the
    // sandbox must not pass the ignored signal on to the tests.
    let _one = serial();
    // SAFETY: signal only swaps this process's disposition of SIGINT; every
    // other test of this file waits for the lock held here.
    let old = unsafe { libc::signal(libc::SIGINT, libc::SIG_IGN) };
    let graded = grade("signals", 5);
    // SAFETY: as above, putting the old disposition back.
    unsafe { libc::signal(libc::SIGINT, old) };
    quick(&graded);
    assert_eq!(graded.outcome, "passed", "{}", graded.report);
}

#[test]
fn killing_the_checker_mid_test_leaves_no_process_and_no_temporary_file() {
    let _one = serial();
    let root = fixture();
    let target = common::fixture::target_dir();
    let hostile = Path::new("spin");
    common::kill_checker_mid_test(
        &[EXERCISE, "--test", TEST, "--timeout", "60"],
        &[
            ("OSLINGS_ROOT", root),
            ("OSLINGS_TARGET_DIR", &target),
            ("OSLINGS_HOSTILE", hostile),
        ],
        LIMIT,
    );
}

/// Three busy loops beside the checker for as long as this lives: the load
/// under which processes forked during the clean-up used to escape it.
struct BusyLoops(Vec<std::process::Child>);

impl BusyLoops {
    fn start() -> BusyLoops {
        BusyLoops(
            (0..3)
                .map(|_| {
                    std::process::Command::new("sh")
                        .args(["-c", "while :; do :; done"])
                        .spawn()
                        .unwrap()
                })
                .collect(),
        )
    }
}

impl Drop for BusyLoops {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Grades `case` (which starts `sleep <marker>` children and spins) beside
/// three busy loops and requires that not one of them survives.
fn leaves_nothing_under_load(case: &str, marker: &str, outcome: &str) {
    let _one = serial();
    let _load = BusyLoops::start();
    let graded = grade(case, 2);
    assert_eq!(graded.outcome, outcome, "{}", graded.report);
    let left = processes_matching(&format!("sleep {marker}"));
    assert!(
        left.is_empty(),
        "case {case}: {} children survived the clean-up: {left:?}",
        left.len()
    );
}

#[test]
fn spawning_hundreds_and_spinning_under_load_leaves_no_process() {
    leaves_nothing_under_load("spawn-spin", "14.1423", "timed out");
}

#[test]
fn signalling_its_own_group_or_leaving_the_session_leaves_no_process() {
    // `kill -TERM 0` reaches the test itself, in the same process group.
    leaves_nothing_under_load("kill0", "14.1424", "crashed");
}

#[test]
fn children_with_closed_output_are_cleaned_up_too() {
    leaves_nothing_under_load("close-stdout", "14.1425", "timed out");
}

/// The fixture's `ENVIRONMENT` line, with the run's own temporary paths
/// (which differ from run to run) blanked.
fn environment_of(graded: &Graded) -> String {
    let line = graded
        .report
        .lines()
        .find_map(|l| Some(l.split_once("ENVIRONMENT ")?.1.split_once(" END")?.0))
        .unwrap_or_else(|| panic!("the fixture printed no environment:\n{}", graded.report));
    line.split(' ')
        .map(|word| match word.split_once('=') {
            Some((key @ ("HOME" | "TMPDIR"), _)) => format!("{key}=<run>"),
            _ => word.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn every_test_starts_hermetic_whatever_the_checker_was_started_from() {
    let _one = serial();
    let plain = grade_started(Start::Plain, "environment", 5);
    let messy = grade_started(Start::Perturbed, "environment", 5);
    assert_eq!(plain.outcome, "failed", "{}", plain.report);
    assert_eq!(messy.outcome, "failed", "{}", messy.report);
    let (plain, messy) = (environment_of(&plain), environment_of(&messy));
    assert_eq!(
        plain, messy,
        "a checker started with 50 extra descriptors, umask 077, a Turkish locale, \
         signals ignored, TERM=dumb and setsid gives its tests another environment"
    );
    for expected in [
        // 0, 1, 2 and the harness's own log file; the listing's descriptor is not counted.
        "descriptors 4 |",
        "umask 022",
        "own session true",
        "tty false",
        "blocked 0000000000000000",
        // Rust's runtime ignores SIGPIPE in every program; nothing else is.
        "ignored 0000000000001000",
        "stack 8388608",
        "LC_ALL=C",
        "TERM=dumb",
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ] {
        assert!(plain.contains(expected), "{expected}: {plain}");
    }
    let names: Vec<&str> = plain
        .split(" | env ")
        .nth(1)
        .unwrap()
        .split(' ')
        .map(|v| v.split('=').next().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "HOME",
            "LANG",
            "LC_ALL",
            "NO_COLOR",
            "OSLINGS_HOSTILE",
            "OSLINGS_ROOT",
            "OSLINGS_TARGET_DIR",
            "PATH",
            "RUST_BACKTRACE",
            "TERM",
            "TMPDIR",
        ],
        "{plain}"
    );
}
