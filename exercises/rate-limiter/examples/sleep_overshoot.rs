//! Lab: how long does a short sleep really take? Asks `thread::sleep` for
//! 1 µs, 50 µs and 1 ms many times and prints the median time it actually
//! took and the overshoot. A sleep wakes on a timer interrupt no earlier
//! than asked, and Linux adds *timer slack* (50 µs by default for ordinary
//! threads) so that nearby wake-ups can share one interrupt. The lab then
//! sets this thread's slack to 1 ns with `prctl(PR_SET_TIMERSLACK)` and
//! measures again.
//!
//! Run it with `cargo run --release -p rate-limiter --example sleep_overshoot`.
//! It does not use any of the exercise's blanks.

use std::thread;
use std::time::{Duration, Instant};

/// The sleeps asked for, and how many times each is measured.
const REQUESTS: [(Duration, usize); 3] = [
    (Duration::from_micros(1), 1_000),
    (Duration::from_micros(50), 1_000),
    (Duration::from_millis(1), 300),
];

// ANCHOR: overshoot
/// How long `thread::sleep(asked)` took, `runs` times, sorted.
fn sleep_times(asked: Duration, runs: usize) -> Vec<Duration> {
    let mut took: Vec<Duration> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            thread::sleep(asked);
            started.elapsed()
        })
        .collect();
    took.sort_unstable();
    took
}
// ANCHOR_END: overshoot

// ANCHOR: timer_slack
/// This thread's timer slack in nanoseconds, as `prctl` reports it.
fn timer_slack() -> i32 {
    // SAFETY: PR_GET_TIMERSLACK takes no further arguments (the unused ones
    // are passed as zero) and only returns a number.
    unsafe { libc::prctl(libc::PR_GET_TIMERSLACK, 0, 0, 0, 0) }
}

/// Sets this thread's timer slack to `nanos` nanoseconds.
fn set_timer_slack(nanos: libc::c_ulong) {
    // SAFETY: PR_SET_TIMERSLACK takes the slack as an unsigned long and
    // changes only the calling thread's timer slack; no memory is passed.
    let rc = unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, nanos, 0, 0, 0) };
    assert_eq!(
        rc,
        0,
        "prctl(PR_SET_TIMERSLACK): {}",
        std::io::Error::last_os_error()
    );
}
// ANCHOR_END: timer_slack

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn table(title: &str) {
    println!("{title}");
    println!(
        "{:>10} {:>6} {:>14} {:>16} {:>12} {:>12}",
        "asked", "runs", "median took", "median overshoot", "fastest", "90th pct"
    );
    for (asked, runs) in REQUESTS {
        let took = sleep_times(asked, runs);
        let median = took[runs / 2];
        println!(
            "{:>7.0} µs {runs:>6} {:>11.1} µs {:>13.1} µs {:>9.1} µs {:>9.1} µs",
            micros(asked),
            micros(median),
            micros(median.saturating_sub(asked)),
            micros(took[0]),
            micros(took[runs * 9 / 10]),
        );
    }
    println!();
}

fn main() {
    println!(
        "method: thread::sleep(asked) timed with Instant::now() before and after, the runs \
         sorted; overshoot = took - asked\n"
    );
    let default_slack = timer_slack();
    table(&format!(
        "Default timer slack ({default_slack} ns, from prctl(PR_GET_TIMERSLACK))"
    ));
    set_timer_slack(1);
    table(&format!(
        "Timer slack set to {} ns with prctl(PR_SET_TIMERSLACK)",
        timer_slack()
    ));
    println!(
        "What is left with 1 ns of slack is the cost of the sleep itself: the syscall, \
         arming the high-resolution timer, the interrupt, and the scheduler switching back."
    );
}
