//! Lab: what reading the clock costs. Times `Instant::now()`,
//! `SystemTime::now()`, `clock_gettime(CLOCK_MONOTONIC)`,
//! `clock_gettime(CLOCK_MONOTONIC_COARSE)` and a raw
//! `syscall(SYS_clock_gettime, CLOCK_MONOTONIC)`, which enters the kernel
//! instead of reading the time in user space through the vDSO. All are
//! measured in the same run, interleaved, and printed as nanoseconds per
//! call and as a ratio to `Instant::now()`.
//!
//! Run it with `cargo run --release -p rate-limiter --example clock_cost`.
//! It does not use any of the exercise's blanks.

use std::hint::black_box;
use std::time::{Instant, SystemTime};

/// Measurement rounds; each round times every reader once, in turn, so
/// that a disturbance (another process, a frequency change) hits them all.
const ROUNDS: usize = 7;
/// Calls per reader per round.
const CALLS: u32 = 200_000;

// ANCHOR: readers
fn instant_now() {
    black_box(Instant::now());
}

fn system_time_now() {
    black_box(SystemTime::now());
}

/// `clock_gettime` through glibc, which answers from the vDSO: a page of
/// kernel code and data mapped into every process, read without a syscall.
fn vdso_clock_gettime(clock: libc::clockid_t) {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid, writable timespec that outlives the call, and
    // `clock` is a clock id Linux defines.
    unsafe { libc::clock_gettime(clock, &mut t) };
    black_box(t);
}

/// The same question asked of the kernel itself: `syscall` traps into the
/// kernel whatever the vDSO could have done.
fn raw_syscall_clock_gettime() {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: SYS_clock_gettime takes a clock id and a pointer to a
    // timespec; `t` is valid and writable for the whole call.
    unsafe {
        libc::syscall(
            libc::SYS_clock_gettime,
            libc::CLOCK_MONOTONIC,
            &mut t as *mut libc::timespec,
        )
    };
    black_box(t);
}
// ANCHOR_END: readers

// ANCHOR: measure
/// Nanoseconds per call of `read`, over `CALLS` calls back to back.
fn ns_per_call(read: fn()) -> f64 {
    let started = Instant::now();
    for _ in 0..CALLS {
        read();
    }
    started.elapsed().as_nanos() as f64 / f64::from(CALLS)
}
// ANCHOR_END: measure

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn main() {
    let readers: [(&str, fn()); 5] = [
        ("Instant::now()", instant_now),
        ("SystemTime::now()", system_time_now),
        ("clock_gettime(CLOCK_MONOTONIC)", || {
            vdso_clock_gettime(libc::CLOCK_MONOTONIC)
        }),
        ("clock_gettime(CLOCK_MONOTONIC_COARSE)", || {
            vdso_clock_gettime(libc::CLOCK_MONOTONIC_COARSE)
        }),
        (
            "syscall(SYS_clock_gettime) (no vDSO)",
            raw_syscall_clock_gettime,
        ),
    ];
    let clocksource =
        std::fs::read_to_string("/sys/devices/system/clocksource/clocksource0/current_clocksource")
            .map_or_else(|_| "unknown".to_string(), |s| s.trim().to_string());
    println!(
        "clock source: {clocksource}; method: {CALLS} calls back to back timed with Instant, \
         {ROUNDS} interleaved rounds, median round\n"
    );

    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); readers.len()];
    for _ in 0..ROUNDS {
        for (i, &(_, read)) in readers.iter().enumerate() {
            samples[i].push(ns_per_call(read));
        }
    }
    let medians: Vec<f64> = samples.into_iter().map(median).collect();

    println!(
        "{:<40} {:>12} {:>22}",
        "reader", "ns per call", "ratio to Instant::now()"
    );
    for ((name, _), ns) in readers.iter().zip(&medians) {
        println!("{name:<40} {ns:>12.1} {:>21.2}x", ns / medians[0]);
    }
    println!(
        "\nThe vDSO readers never enter the kernel; the raw syscall does, every time. If the \
         clock source cannot be read from user space (no usable TSC, as in some virtual \
         machines), the vDSO itself falls back to the syscall and the rows look alike."
    );
}
