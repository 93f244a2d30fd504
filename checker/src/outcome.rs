//! Turning how a test process ended into an outcome and a message a learner
//! can act on.

use crate::model::Outcome;
use crate::sandbox::RunResult;
use crate::snippet;

/// Classifies one sandboxed run of a single libtest test.
pub fn classify(run: &RunResult, timeout_secs: f64) -> (Outcome, String) {
    let status = &run.status;
    let (outcome, mut message) = if status.timed_out {
        (
            Outcome::TimedOut,
            format!(
                "did not finish within {}: possible deadlock or infinite loop{}",
                seconds(timeout_secs),
                last_words(&run.stderr)
            ),
        )
    } else if let Some(signal) = status.signal {
        (Outcome::Crashed, crash_message(signal, &run.stderr))
    } else {
        match status.exit_code {
            Some(0) if completed(&run.stdout) => (Outcome::Passed, String::new()),
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
    if run.output_bytes > 16 << 20 {
        message.push_str(&format!(
            "\n(the test wrote {} MiB of output; only the start was kept)",
            run.output_bytes >> 20
        ));
    }
    (outcome, message)
}

/// Whether libtest reported the single selected test as passed.
fn completed(stdout: &str) -> bool {
    stdout
        .lines()
        .any(|l| l.starts_with("test result: ok. 1 passed"))
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
        return format!("{body}\n  (a todo!() is still in the code: {location})");
    }
    format!("{body}\n  at {location}")
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

fn crash_message(signal: i32, stderr: &str) -> String {
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
        return format!(
            "out of memory: {line} (the test may use at most its memory limit; killed by {name})"
        );
    }
    let why = match signal {
        libc::SIGSEGV => {
            "segmentation fault: the code read or wrote memory it does not own \
                          (a dangling, null or out-of-bounds pointer)"
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
    use crate::sandbox::Status;

    fn run(status: Status, stdout: &str, stderr: &str) -> RunResult {
        RunResult {
            status,
            stdout: stdout.to_string(),
            stderr: stderr.to_string(),
            output_bytes: (stdout.len() + stderr.len()) as u64,
        }
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
