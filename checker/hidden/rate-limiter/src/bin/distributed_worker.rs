//! One client process of the distributed limiter's multi-process tests
//! (`distributed::*`): several threads, each with its own `RedisGcra` (its
//! own connection), all released at once by a start line, each asking for
//! one token at a time and counting the answers.
//!
//! Usage: `distributed-worker URL KEY CAPACITY EMISSION_MICROS THREADS
//! ATTEMPTS SKEW_SECS`. It connects every thread and loads the script
//! (a request on a key of its own), prints `ready`, waits for a line on
//! standard input, runs the burst, and prints
//! `admitted A refused R failed F`.
//!
//! `SKEW_SECS` moves this process's wall clock (`CLOCK_REALTIME`, what
//! `SystemTime::now` reads) by that many seconds, as if the machine's clock
//! were wrong: this binary defines `clock_gettime` itself, and the linker
//! binds the standard library's calls to it rather than to the C library's.

use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use learner::{Decision, OnError, Policy, Rate, RedisGcra};

/// Nanoseconds added to every `CLOCK_REALTIME` reading of this process.
static SKEW_NANOS: AtomicI64 = AtomicI64::new(0);

/// `clock_gettime(2)` with this process's wall clock skewed by
/// [`SKEW_NANOS`]; every other clock is the kernel's.
///
/// # Safety
/// As the C function: `tp` points to a writable `timespec`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn clock_gettime(
    clock: libc::clockid_t,
    tp: *mut libc::timespec,
) -> libc::c_int {
    // SAFETY: the caller passes a valid timespec pointer, as for the real call.
    let result = unsafe { libc::syscall(libc::SYS_clock_gettime, clock, tp) } as libc::c_int;
    let skew = SKEW_NANOS.load(Ordering::Relaxed);
    if result == 0
        && skew != 0
        && (clock == libc::CLOCK_REALTIME || clock == libc::CLOCK_REALTIME_COARSE)
    {
        // SAFETY: the system call succeeded, so `tp` is valid and written.
        let ts = unsafe { &mut *tp };
        let nanos =
            i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec) + i128::from(skew);
        ts.tv_sec = (nanos.div_euclid(1_000_000_000)) as libc::time_t;
        ts.tv_nsec = (nanos.rem_euclid(1_000_000_000)) as libc::c_long;
    }
    result
}

fn arg<T: std::str::FromStr>(args: &[String], i: usize, name: &str) -> T {
    args.get(i)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| fail(&format!("argument {i} ({name}) missing or malformed")))
}

fn fail(message: &str) -> ! {
    eprintln!("distributed-worker: {message}");
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let url: String = arg(&args, 1, "URL");
    let key: String = arg(&args, 2, "KEY");
    let capacity: u64 = arg(&args, 3, "CAPACITY");
    let emission: u64 = arg(&args, 4, "EMISSION_MICROS");
    let threads: usize = arg(&args, 5, "THREADS");
    let attempts: u64 = arg(&args, 6, "ATTEMPTS");
    let skew: i64 = arg(&args, 7, "SKEW_SECS");
    SKEW_NANOS.store(skew.saturating_mul(1_000_000_000), Ordering::Relaxed);

    let rate = Rate::new(1, Duration::from_micros(emission));
    let policy = Policy {
        on_error: OnError::FailClosed,
        deadline: Duration::from_secs(5),
    };
    // Every thread, then main: once when all are connected, once to start.
    let ready = Arc::new(Barrier::new(threads + 1));
    let start = Arc::new(Barrier::new(threads + 1));
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (url, key, ready, start) = (url.clone(), key.clone(), ready.clone(), start.clone());
            std::thread::spawn(move || {
                let client = learner::redis::Client::open(url.as_str())
                    .unwrap_or_else(|e| fail(&format!("bad URL {url}: {e}")));
                let mut limiter = RedisGcra::new(client, "", capacity, rate, policy);
                let warm_up = format!("{key}:warm-up:{}:{t}", std::process::id());
                let first = limiter.try_acquire(&warm_up, 1);
                if first != Decision::Admitted {
                    fail(&format!("the first request on a fresh key was {first:?}"));
                }
                ready.wait();
                start.wait();
                let (mut admitted, mut refused, mut failed) = (0u64, 0u64, 0u64);
                for _ in 0..attempts {
                    match limiter.try_acquire(&key, 1) {
                        Decision::Admitted => admitted += 1,
                        Decision::Refused { .. } => refused += 1,
                        Decision::FailedOpen(_) | Decision::FailedClosed(_) => failed += 1,
                    }
                }
                (admitted, refused, failed)
            })
        })
        .collect();
    ready.wait();
    println!("ready");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).is_err() || line.trim() != "go" {
        fail("no start line (the test went away)");
    }
    start.wait();
    let (mut admitted, mut refused, mut failed) = (0, 0, 0);
    for worker in workers {
        let (a, r, f) = worker.join().unwrap_or_else(|_| fail("a thread panicked"));
        admitted += a;
        refused += r;
        failed += f;
    }
    println!("admitted {admitted} refused {refused} failed {failed}");
}
