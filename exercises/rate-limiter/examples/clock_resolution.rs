//! Lab: how fine is a clock? Asks the kernel with `clock_getres` what
//! resolution it claims for `CLOCK_MONOTONIC`, `CLOCK_REALTIME` and
//! `CLOCK_MONOTONIC_COARSE`, then reads each clock (and `Instant::now()`)
//! over and over in a tight loop and reports the smallest nonzero step
//! between two consecutive readings, and how often two readings in a row
//! were equal. The coarse clock only moves once per timer interrupt (a
//! "jiffy"), which is what makes it cheap.
//!
//! Run it with `cargo run --release -p rate-limiter --example clock_resolution`.
//! It does not use any of the exercise's blanks.

use std::hint::black_box;
use std::time::{Duration, Instant};

/// Each clock is read in a tight loop for at least this long...
const MIN_SPAN: Duration = Duration::from_millis(200);
/// ...and at least this many times.
const MIN_READINGS: usize = 1_000_000;

/// The clocks the lab asks about, with the name the kernel's headers use.
const CLOCKS: [(&str, libc::clockid_t); 3] = [
    ("CLOCK_MONOTONIC", libc::CLOCK_MONOTONIC),
    ("CLOCK_REALTIME", libc::CLOCK_REALTIME),
    ("CLOCK_MONOTONIC_COARSE", libc::CLOCK_MONOTONIC_COARSE),
];

// ANCHOR: getres
/// What the kernel says one tick of `clock` is, in nanoseconds.
fn claimed_resolution(clock: libc::clockid_t) -> u64 {
    let mut res = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `res` is a valid, writable timespec that outlives the call,
    // and `clock` is one of the clock ids Linux defines.
    let rc = unsafe { libc::clock_getres(clock, &mut res) };
    assert_eq!(
        rc,
        0,
        "clock_getres failed: {}",
        std::io::Error::last_os_error()
    );
    res.tv_sec as u64 * 1_000_000_000 + res.tv_nsec as u64
}
// ANCHOR_END: getres

/// One reading of `clock`, in nanoseconds since its epoch.
fn read(clock: libc::clockid_t) -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec that outlives the call,
    // and `clock` is one of the clock ids Linux defines.
    let rc = unsafe { libc::clock_gettime(clock, &mut now) };
    debug_assert_eq!(rc, 0);
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

// ANCHOR: smallest_step
/// What a tight loop of readings shows: the smallest and the median nonzero
/// step between consecutive readings, how many readings were taken, and how
/// many were equal to the one before.
#[derive(Debug)]
struct Steps {
    smallest: u64,
    median: u64,
    readings: usize,
    repeats: usize,
}

/// Calls `now` (which returns nanoseconds) back to back until both
/// `MIN_SPAN` and `MIN_READINGS` are reached, keeping every nonzero step.
fn observe(mut now: impl FnMut() -> u64) -> Steps {
    let started = Instant::now();
    let mut steps = Vec::new();
    let (mut readings, mut repeats) = (1, 0);
    let mut previous = now();
    while readings < MIN_READINGS || started.elapsed() < MIN_SPAN {
        let current = black_box(now());
        readings += 1;
        if current == previous {
            repeats += 1;
        } else {
            steps.push(current.saturating_sub(previous));
        }
        previous = current;
    }
    steps.sort_unstable();
    Steps {
        smallest: steps.first().copied().unwrap_or(0),
        median: steps.get(steps.len() / 2).copied().unwrap_or(0),
        readings,
        repeats,
    }
}
// ANCHOR_END: smallest_step

/// `1234567` as `1,234,567`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn main() {
    let clocksource =
        std::fs::read_to_string("/sys/devices/system/clocksource/clocksource0/current_clocksource")
            .map_or_else(|_| "unknown".to_string(), |s| s.trim().to_string());
    println!("clock source (/sys/devices/system/clocksource/clocksource0): {clocksource}\n");

    println!("What the kernel claims (method: clock_getres(2))");
    println!("{:<24} {:>14}", "clock", "resolution");
    for (name, id) in CLOCKS {
        println!("{name:<24} {:>11} ns", grouped(claimed_resolution(id)));
    }

    println!(
        "\nWhat consecutive readings show (method: read back to back for at least {} ms and \
         {} readings; a step is the difference between two consecutive readings)",
        MIN_SPAN.as_millis(),
        grouped(MIN_READINGS as u64)
    );
    println!(
        "{:<38} {:>14} {:>14} {:>12} {:>16}",
        "source", "smallest step", "median step", "readings", "equal to prev."
    );
    let origin = Instant::now();
    let mut sources: Vec<(String, Steps)> = CLOCKS
        .iter()
        .map(|&(name, id)| (format!("clock_gettime({name})"), observe(|| read(id))))
        .collect();
    sources.push((
        "Instant::now() (CLOCK_MONOTONIC)".to_string(),
        observe(|| origin.elapsed().as_nanos() as u64),
    ));
    for (name, s) in &sources {
        println!(
            "{name:<38} {:>11} ns {:>11} ns {:>12} {:>15.2}%",
            grouped(s.smallest),
            grouped(s.median),
            grouped(s.readings as u64),
            100.0 * s.repeats as f64 / s.readings as f64
        );
    }
    println!(
        "\nA fine clock's smallest step is about the cost of one reading (the loop cannot \
         read faster than that); the coarse clock's step is one timer tick (1/CONFIG_HZ s), \
         and almost every reading repeats the one before."
    );
}
