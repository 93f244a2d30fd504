//! How long each phase of a grading takes, printed on standard error when
//! `OSLINGS_TIMINGS` is set (`.ci/loop-speed` reads it): where the learner's
//! wait goes.

use std::sync::LazyLock;
use std::time::Instant;

/// When the first timed phase began.
static START: LazyLock<Instant> = LazyLock::new(Instant::now);

/// Runs `phase` and, when timings are asked for, prints
/// `oslings timing: <exercise> <what> <seconds>`.
pub fn timed<T>(exercise: &str, what: &str, phase: impl FnOnce() -> T) -> T {
    if std::env::var_os("OSLINGS_TIMINGS").is_none() {
        return phase();
    }
    LazyLock::force(&START);
    let started = Instant::now();
    let result = phase();
    eprintln!(
        "oslings timing: {exercise} {what} {:.3}",
        started.elapsed().as_secs_f64()
    );
    result
}

/// When timings are asked for, prints `oslings timing: <exercise> <what>
/// <seconds>` with the seconds since the first timed phase began: when
/// something reached the learner.
pub fn mark(exercise: &str, what: &str) {
    if std::env::var_os("OSLINGS_TIMINGS").is_some() {
        eprintln!(
            "oslings timing: {exercise} {what} {:.3}",
            START.elapsed().as_secs_f64()
        );
    }
}

/// When timings are asked for, prints `oslings timing: <exercise> test
/// <name> <seconds>`: how long one hidden test ran.
pub fn note(exercise: &str, test: &str, took: std::time::Duration) {
    if std::env::var_os("OSLINGS_TIMINGS").is_some() {
        eprintln!(
            "oslings timing: {exercise} test {test} {:.3}",
            took.as_secs_f64()
        );
    }
}
