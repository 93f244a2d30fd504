//! Turning how a test process ended into an outcome and a message a learner
//! can act on.

use crate::exec::sandbox::{KEEP_BYTES, Limits, RunResult};
use crate::report::model::Outcome;
use crate::util::snippet;

/// Classifies one sandboxed run of a single libtest test, run under `limits`.
pub fn classify(run: &RunResult, limits: &Limits) -> (Outcome, String) {
    let timeout_secs = limits.timeout.as_secs_f64();
    let status = &run.status;
    let (outcome, mut message) = if status.timed_out {
        (
            Outcome::TimedOut,
            format!(
                "did not finish within {}: {}{}",
                seconds(timeout_secs),
                why_it_hung(status.threads_at_timeout),
                last_words(&run.stderr)
            ),
        )
    } else if let Some(signal) = status.signal {
        (Outcome::Crashed, crash_message(signal, &run.stderr, limits))
    } else {
        exit_verdict(run)
    };
    if status.task_limit_hit && outcome != Outcome::Passed {
        let cap = status.task_limit.unwrap_or_default();
        message = format!(
            "it tried to run more than {cap} processes and threads at once (a fork bomb? \
             a loop that forks without waiting?), so fork or thread creation failed \
             (EAGAIN) once the checker's limit was reached\n{message}"
        );
    }
    if status.leaked_processes > 0 {
        let note = format!(
            "left {} process{} running after it finished (killed by the checker): \
             wait for every child you start",
            status.leaked_processes,
            if status.leaked_processes == 1 {
                ""
            } else {
                "es"
            }
        );
        if outcome == Outcome::Passed {
            return (Outcome::Leaked, note);
        }
        message.push_str(&format!("\n{note}"));
    }
    if run.truncated() {
        if !message.is_empty() {
            message.push('\n');
        }
        message.push_str(&format!(
            "(the test wrote {} to stdout and {} to stderr; only the first and last {} \
             of each were kept)",
            bytes(status.stdout_bytes),
            bytes(status.stderr_bytes),
            bytes(KEEP_BYTES)
        ));
    }
    (outcome, message)
}

/// The outcome of a run that exited by itself (no timeout, no signal),
/// from its exit code.
fn exit_verdict(run: &RunResult) -> (Outcome, String) {
    match run.status.exit_code {
        Some(0) if completed(run) => (Outcome::Passed, String::new()),
        Some(0) if imitates_a_pass(&run.stdout) => (
            Outcome::Failed,
            "the test printed text that imitates the test harness's pass report \
             (`test ... ok` / `test result: ok`), then its process exited with status 0 \
             before the harness recorded the test as finished; a pass is read from \
             the harness's own record, never from printed text: does the code call \
             std::process::exit?"
                .to_string(),
        ),
        Some(0) => (
            Outcome::Failed,
            "the test process exited with status 0 before the test finished: \
             does the code call std::process::exit?"
                .to_string(),
        ),
        Some(101) => (Outcome::Failed, panic_message(&run.stderr)),
        Some(code) => (
            Outcome::Failed,
            format!(
                "the test process exited with status {code} before the test finished: \
                 does the code call std::process::exit?{}",
                last_words(&run.stderr)
            ),
        ),
        None => (
            Outcome::Crashed,
            "the test process ended in an unknown way".to_string(),
        ),
    }
}

/// What the test's threads were doing when its time ran out.
fn why_it_hung(threads: Option<crate::exec::sandbox::ThreadStates>) -> String {
    match threads {
        Some(t) if t.running == 0 => format!(
            "all {} of its threads were asleep, waiting (for a lock, a condition variable, a \
             channel, a join or a child process) — a deadlock or a lost wake-up: something \
             waits for a signal or a release that never comes",
            t.asleep
        ),
        Some(t) => format!(
            "{} of its {} threads were still running — an infinite loop or a busy wait \
             (or threads spinning on each other)",
            t.running,
            t.running + t.asleep
        ),
        None => "possible deadlock or infinite loop".to_string(),
    }
}

/// Whether libtest recorded the selected test as passed, in the log file
/// only it knows the name of.
fn completed(run: &RunResult) -> bool {
    run.libtest_log
        .as_deref()
        .is_some_and(|log| log.lines().any(|l| l.starts_with("ok ")))
}

/// Whether `stdout` contains lines that look like libtest reporting a pass.
fn imitates_a_pass(stdout: &str) -> bool {
    stdout.lines().any(|l| {
        l.starts_with("test result: ok") || (l.starts_with("test ") && l.ends_with(" ... ok"))
    })
}

/// A byte count for people: `10.0 GiB`, `300.0 MiB`, `64 KiB`, `12 bytes`.
fn bytes(n: u64) -> String {
    const KIB: u64 = 1 << 10;
    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;
    if n >= GIB {
        format!("{:.1} GiB", n as f64 / GIB as f64)
    } else if n >= MIB {
        format!("{:.1} MiB", n as f64 / MIB as f64)
    } else if n >= KIB && n % KIB == 0 {
        format!("{} KiB", n / KIB)
    } else {
        format!("{n} bytes")
    }
}

fn seconds(secs: f64) -> String {
    if secs.fract() == 0.0 {
        format!("{secs:.0} s")
    } else {
        format!("{secs:.1} s")
    }
}

/// The panic message libtest printed, without the backtrace note.
pub fn panic_message(stderr: &str) -> String {
    let Some(start) = stderr.find("panicked at ") else {
        return snippet::tail(stderr, 20);
    };
    let text = &stderr[start + "panicked at ".len()..];
    let mut lines = text.lines();
    let location = lines.next().unwrap_or("").trim_end_matches(':');
    let body: Vec<&str> = lines
        .take_while(|l| {
            !l.starts_with("note: run with `RUST_BACKTRACE") && !l.starts_with("stack backtrace:")
        })
        .collect();
    let body = body.join("\n");
    let body = body.trim();
    let location = shorten_location(location);
    if body.contains("not yet implemented") || body.contains("not implemented") {
        // A hidden test that runs the learner's program (the shell) panics in
        // the checker's file; the program's own panic, quoted in the message,
        // names the learner's line.
        let blank = learner_location(body).unwrap_or(location);
        return format!("{body}\n  (a todo!() is still in the code: {blank})");
    }
    format!("{body}\n  at {location}")
}

/// The first `exercises/<exercise>/….rs:LINE:COLUMN` quoted in `text`.
fn learner_location(text: &str) -> Option<String> {
    let is_path_char = |c: char| c.is_alphanumeric() || "/._-".contains(c);
    text.match_indices("exercises/").find_map(|(start, _)| {
        let rest = &text[start..];
        let path_end = rest.find(|c: char| !is_path_char(c))?;
        let path = rest[..path_end]
            .strip_suffix(':')
            .unwrap_or(&rest[..path_end]);
        let after = rest.strip_prefix(path)?.strip_prefix(':')?;
        let digits = |s: &str| s.chars().take_while(char::is_ascii_digit).count();
        let line = digits(after);
        let column = after.get(line + 1..).map(digits).unwrap_or(0);
        (path.ends_with(".rs") && line > 0 && column > 0 && after[line..].starts_with(':'))
            .then(|| format!("{path}:{}", &after[..line + 1 + column]))
    })
}

/// `checker/hidden/x/tests/a.rs:3:9` stays as is; absolute paths lose their prefix.
fn shorten_location(location: &str) -> String {
    for marker in ["/checker/hidden/", "/exercises/", "/solutions/"] {
        if let Some(i) = location.find(marker) {
            return location[i + 1..].to_string();
        }
    }
    location.to_string()
}

fn crash_message(signal: i32, stderr: &str, limits: &Limits) -> String {
    let name = signal_name(signal);
    if stderr.contains("has overflowed its stack") {
        return "stack overflow: unbounded recursion, or a very large value on the stack \
                (killed by SIGABRT)"
            .to_string();
    }
    if let Some(line) = stderr
        .lines()
        .find(|l| l.starts_with("memory allocation of"))
    {
        return out_of_memory(line, limits, &name);
    }
    if let Some((what, advice)) = undefined_behaviour_check(stderr) {
        return format!(
            "{what}: Rust's debug build checks this in `unsafe` code and aborts at once, \
             without unwinding ({name}); {advice}\n  {}",
            snippet::indent(&panic_message(stderr), "  ").trim_start()
        );
    }
    if stderr.contains("panic in a destructor during cleanup")
        || stderr.contains("panicked while processing panic")
        || stderr.contains("thread caused non-unwinding panic")
    {
        return panic_while_panicking(stderr, &name);
    }
    let why = match signal {
        libc::SIGSEGV => {
            "segmentation fault: the code read or wrote memory it does not own \
                          (a dangling, null or out-of-bounds pointer), or wrote to memory \
                          mapped without write permission (check mmap's PROT_ flags)"
        }
        libc::SIGBUS => "bus error: a misaligned or unmapped memory access",
        libc::SIGABRT => {
            "aborted: a panic that could not unwind (for example inside the \
                          global allocator or during another panic), or an explicit abort"
        }
        libc::SIGILL => {
            "illegal instruction: often `std::process::abort`, `unreachable_unchecked` \
                         or a failed `debug_assert` in unsafe code"
        }
        libc::SIGFPE => "arithmetic exception",
        libc::SIGKILL => "killed: most likely out of memory",
        libc::SIGXCPU => "CPU time limit exceeded: an infinite loop or a busy-wait",
        libc::SIGXFSZ => "wrote too much output or too large a file",
        libc::SIGPIPE => "wrote to a closed pipe",
        _ => "killed by a signal",
    };
    format!("{why} ({name}){}", last_words(stderr))
}

/// What a debug-build check on `unsafe` code found, and what to look at,
/// if one stopped the test: these panics cannot unwind, so the process
/// aborts.
fn undefined_behaviour_check(stderr: &str) -> Option<(&'static str, &'static str)> {
    [
        (
            "misaligned pointer dereference",
            "a misaligned pointer was dereferenced (its address is not a multiple of the \
             type's alignment)",
            "align the address the pointer holds: an offset aligned within a buffer is \
             only an aligned address when the buffer's start is aligned too",
        ),
        (
            "null pointer dereference",
            "a null pointer was dereferenced",
            "check the pointer for null (or use `NonNull`) before reading through it",
        ),
        (
            "unsafe precondition(s) violated",
            "an `unsafe` function was called without its safety precondition",
            "read the function's `# Safety` section and check each condition before the call",
        ),
    ]
    .into_iter()
    .find(|(needle, _, _)| stderr.contains(needle))
    .map(|(_, what, advice)| (what, advice))
}

/// `memory allocation of N bytes failed`, said with sizes and the limit.
fn out_of_memory(line: &str, limits: &Limits, signal: &str) -> String {
    let limit = bytes(limits.memory_bytes);
    let requested = line
        .strip_prefix("memory allocation of ")
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse::<u64>().ok());
    match requested {
        Some(n) if n > limits.memory_bytes => format!(
            "out of memory: the test tried to allocate {} at once ({line}), more than the \
             {limit} of address space a test may use, so Rust aborted it ({signal}); is a \
             size or a length computed wrongly?",
            bytes(n)
        ),
        Some(n) => format!(
            "out of memory: the test tried to allocate {} ({line}) and, with what it \
             already held, went over the {limit} of address space a test may use, so Rust \
             aborted it ({signal}); does something grow without bound?",
            bytes(n)
        ),
        None => format!(
            "out of memory: {line} (a test may use {limit} of address space; killed by {signal})"
        ),
    }
}

/// A panic during the unwinding of another (typically in a `Drop`), which
/// Rust answers by aborting: name both panics.
fn panic_while_panicking(stderr: &str, signal: &str) -> String {
    let panics: Vec<String> = stderr
        .match_indices("panicked at ")
        .map(|(i, _)| panic_message(&stderr[i..]))
        .filter(|p| !p.starts_with("panic in a destructor during cleanup"))
        .collect();
    let mut message = format!(
        "panicked while panicking: a destructor (a `Drop` implementation) panicked while \
         the thread was already unwinding from a panic, and Rust cannot unwind twice, so \
         it aborted the process ({signal}); a `drop` must not panic"
    );
    for (label, text) in ["the first panic", "then, in a destructor"]
        .iter()
        .zip(&panics)
    {
        message.push_str(&format!(
            "\n  {label}: {}",
            snippet::indent(text, "    ").trim_start()
        ));
    }
    message
}

/// The name of a signal, e.g. `SIGSEGV`.
pub fn signal_name(signal: i32) -> String {
    nix::sys::signal::Signal::try_from(signal)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|_| format!("signal {signal}"))
}

/// The last lines the test printed on stderr, indented, if any.
fn last_words(stderr: &str) -> String {
    let tail = snippet::tail(stderr, 8);
    if tail.is_empty() {
        String::new()
    } else {
        format!("\n  last output:\n{}", snippet::indent(&tail, "    "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::sandbox::Status;

    fn run(status: Status, stdout: &str, stderr: &str) -> RunResult {
        // What libtest logs when the test finished, which is the case for
        // every run here that printed its summary.
        let finished = stdout.contains("test result: ok. 1 passed");
        RunResult {
            status: Status {
                stdout_bytes: stdout.len() as u64,
                stderr_bytes: stderr.len() as u64,
                ..status
            },
            stdout: stdout.to_string(),
            stderr: stderr.to_string(),
            libtest_log: Some(if finished { "ok a::b\n" } else { "" }.to_string()),
        }
    }

    fn limits(timeout_secs: u64) -> Limits {
        Limits {
            timeout: std::time::Duration::from_secs(timeout_secs),
            ..Limits::default()
        }
    }

    fn classify(run: &RunResult, timeout_secs: f64) -> (Outcome, String) {
        super::classify(run, &limits(timeout_secs as u64))
    }

    fn exited(code: i32) -> Status {
        Status {
            exit_code: Some(code),
            ..Status::default()
        }
    }

    const PASS: &str =
        "\nrunning 1 test\ntest a::b ... ok\n\ntest result: ok. 1 passed; 0 failed; 0 ignored\n";

    #[test]
    fn a_completed_test_passes() {
        assert_eq!(classify(&run(exited(0), PASS, ""), 5.0).0, Outcome::Passed);
    }

    #[test]
    fn exiting_zero_without_libtests_summary_is_not_a_pass() {
        let (outcome, message) = classify(&run(exited(0), "running 1 test\n", ""), 5.0);
        assert_eq!(outcome, Outcome::Failed);
        assert!(message.contains("std::process::exit"), "{message}");
    }

    #[test]
    fn an_assertion_keeps_left_and_right_and_drops_the_backtrace_note() {
        let stderr = "\nthread 'align::x' (77) panicked at /home/u/oslings/checker/hidden/bump-allocator/tests/hidden.rs:10:5:\n\
                      assertion `left == right` failed: align_up(13, 8)\n  left: Ok(13)\n right: Ok(16)\n\
                      note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
        let (outcome, message) = classify(&run(exited(101), "", stderr), 5.0);
        assert_eq!(outcome, Outcome::Failed);
        assert!(
            message.starts_with("assertion `left == right` failed: align_up(13, 8)"),
            "{message}"
        );
        assert!(
            message.contains("left: Ok(13)") && message.contains("right: Ok(16)"),
            "{message}"
        );
        assert!(
            message.contains("at checker/hidden/bump-allocator/tests/hidden.rs:10:5"),
            "{message}"
        );
        assert!(!message.contains("RUST_BACKTRACE"), "{message}");
    }

    #[test]
    fn a_todo_points_at_the_blank() {
        let stderr = "thread 'a' panicked at /x/exercises/bump-allocator/src/align.rs:51:5:\nnot yet implemented: stage 1\n";
        let (_, message) = classify(&run(exited(101), "", stderr), 5.0);
        assert!(
            message.contains("todo!()")
                && message.contains("exercises/bump-allocator/src/align.rs:51:5"),
            "{message}"
        );
    }

    #[test]
    fn a_stack_overflow_is_recognised() {
        let status = Status {
            signal: Some(libc::SIGABRT),
            ..Status::default()
        };
        let stderr =
            "\nthread 'deep' has overflowed its stack\nfatal runtime error: stack overflow\n";
        let (outcome, message) = classify(&run(status, "", stderr), 5.0);
        assert_eq!(outcome, Outcome::Crashed);
        assert!(message.starts_with("stack overflow"), "{message}");
    }

    #[test]
    fn a_timeout_says_deadlock_or_infinite_loop() {
        let status = Status {
            timed_out: true,
            signal: Some(libc::SIGKILL),
            ..Status::default()
        };
        let (outcome, message) = classify(&run(status, "", ""), 2.0);
        assert_eq!(outcome, Outcome::TimedOut);
        assert!(
            message.contains("within 2 s: possible deadlock or infinite loop"),
            "{message}"
        );
    }

    #[test]
    fn printed_pass_text_without_the_harness_record_is_not_a_pass() {
        let forged = "running 1 test\ntest a::b ... ok\n\ntest result: ok. 1 passed; 0 failed\n";
        let mut forged_run = run(exited(0), forged, "");
        forged_run.libtest_log = Some(String::new());
        let (outcome, message) = classify(&forged_run, 5.0);
        assert_eq!(outcome, Outcome::Failed);
        assert!(message.contains("imitates"), "{message}");
    }

    #[test]
    fn a_finished_test_passes_even_with_its_stdout_closed() {
        let mut quiet = run(exited(0), "", "");
        quiet.libtest_log = Some("ok a::b\n".to_string());
        assert_eq!(classify(&quiet, 5.0).0, Outcome::Passed);
    }

    #[test]
    fn a_timeout_says_whether_the_threads_slept_or_ran() {
        let hung = |running, asleep| {
            let status = Status {
                timed_out: true,
                threads_at_timeout: Some(crate::exec::sandbox::ThreadStates { running, asleep }),
                ..Status::default()
            };
            classify(&run(status, "", ""), 5.0).1
        };
        insta::assert_snapshot!(hung(0, 3), @"did not finish within 5 s: all 3 of its threads were asleep, waiting (for a lock, a condition variable, a channel, a join or a child process) — a deadlock or a lost wake-up: something waits for a signal or a release that never comes");
        insta::assert_snapshot!(hung(1, 2), @"did not finish within 5 s: 1 of its 3 threads were still running — an infinite loop or a busy wait (or threads spinning on each other)");
    }

    #[test]
    fn a_todo_in_the_learners_program_points_at_the_learners_file() {
        let stderr = "thread 'pipelines::a' panicked at checker/hidden/shell/src/lib.rs:470:5:\n\
                      the shell did not print `b`\n  its stderr:\n    thread 'main' panicked at \
                      exercises/shell/src/exec.rs:158:5:\n    not yet implemented: stage 5\n";
        let (_, message) = classify(&run(exited(101), "", stderr), 5.0);
        insta::assert_snapshot!(message, @r"
        the shell did not print `b`
          its stderr:
            thread 'main' panicked at exercises/shell/src/exec.rs:158:5:
            not yet implemented: stage 5
          (a todo!() is still in the code: exercises/shell/src/exec.rs:158:5)
        ");
    }

    #[test]
    fn a_misaligned_dereference_is_named_not_taken_for_a_panicking_drop() {
        let status = Status {
            signal: Some(libc::SIGABRT),
            ..Status::default()
        };
        let stderr = "thread 'arena::values' (7) panicked at exercises/bump-allocator/src/arena.rs:88:18:\n\
                      misaligned pointer dereference: address must be a multiple of 0x8 but is 0x7f3a2c000c01\n\
                      note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n\
                      thread caused non-unwinding panic. aborting.\n";
        let (outcome, message) = classify(&run(status, "", stderr), 5.0);
        assert_eq!(outcome, Outcome::Crashed);
        insta::assert_snapshot!(message, @r"
        a misaligned pointer was dereferenced (its address is not a multiple of the type's alignment): Rust's debug build checks this in `unsafe` code and aborts at once, without unwinding (SIGABRT); align the address the pointer holds: an offset aligned within a buffer is only an aligned address when the buffer's start is aligned too
          misaligned pointer dereference: address must be a multiple of 0x8 but is 0x7f3a2c000c01
            at exercises/bump-allocator/src/arena.rs:88:18
        ");
    }

    #[test]
    fn a_panic_in_drop_during_a_panic_names_both() {
        let status = Status {
            signal: Some(libc::SIGABRT),
            ..Status::default()
        };
        let stderr = "thread 'a' (1) panicked at src/align.rs:2:33:\nfirst panic\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n\n\
                      thread 'a' (1) panicked at src/align.rs:1:56:\ndrop panics too\nstack backtrace:\n   0: x\n\n\
                      thread 'a' (1) panicked at /rustc/x/library/core/src/panicking.rs:233:5:\npanic in a destructor during cleanup\n\
                      thread caused non-unwinding panic. aborting.\n";
        let (outcome, message) = classify(&run(status, "", stderr), 5.0);
        assert_eq!(outcome, Outcome::Crashed);
        assert!(message.starts_with("panicked while panicking"), "{message}");
        assert!(
            message.contains("`Drop`") && message.contains("SIGABRT"),
            "{message}"
        );
        assert!(
            message.contains("the first panic: first panic")
                && message.contains("then, in a destructor: drop panics too"),
            "{message}"
        );
    }

    #[test]
    fn a_huge_allocation_says_how_much_and_the_limit() {
        let status = Status {
            signal: Some(libc::SIGABRT),
            ..Status::default()
        };
        let stderr = "memory allocation of 10737418240 bytes failed\n";
        let (outcome, message) = classify(&run(status, "", stderr), 5.0);
        assert_eq!(outcome, Outcome::Crashed);
        assert!(
            message.contains("tried to allocate 10.0 GiB at once")
                && message.contains("more than the 4.0 GiB of address space"),
            "{message}"
        );
    }

    #[test]
    fn truncated_output_is_reported_with_its_size_and_keeps_the_verdict() {
        let mut flood = run(exited(0), PASS, "");
        flood.status.stdout_bytes = 300 << 20;
        flood.status.stderr_bytes = 200 << 20;
        let (outcome, message) = classify(&flood, 5.0);
        assert_eq!(outcome, Outcome::Passed);
        assert!(
            message.contains("wrote 300.0 MiB to stdout and 200.0 MiB to stderr")
                && message.contains("first and last 64 KiB"),
            "{message}"
        );
    }

    #[test]
    fn a_pass_that_leaves_processes_is_a_leak() {
        let status = Status {
            exit_code: Some(0),
            leaked_processes: 2,
            ..Status::default()
        };
        let (outcome, message) = classify(&run(status, PASS, ""), 5.0);
        assert_eq!(outcome, Outcome::Leaked);
        assert!(message.contains("left 2 processes running"), "{message}");
    }
}
