//! Lab: why `fork` gets slower as the parent grows, and `posix_spawn` does
//! not. The program starts `/bin/true` many times in three ways and takes the
//! median time of each:
//!
//! - `fork` + `_exit` + `waitpid`: the cost of `fork` alone, no new program;
//! - `fork` + `execv` + `waitpid`: what a classic shell does for every command;
//! - `std::process::Command`: Rust's standard library, which on Linux uses
//!   `posix_spawn` (a `clone` with `CLONE_VM | CLONE_VFORK`, no copy of the
//!   parent's page tables).
//!
//! It measures once while the process is small, then again after touching
//! every page of a large anonymous mapping (512 MiB by default: the kind of
//! mapping `malloc` makes for a big allocation), and prints each method's
//! time beside its name, with its ratio to `Command` at the same size.
//!
//! Run it with `cargo run --release -p shell --example fork_vs_spawn`, or
//! `cargo run --release -p shell --example fork_vs_spawn -- 1024` to touch
//! 1 GiB (the size is capped to what the machine has available). It does not
//! use any of the exercise's blanks.

use std::ffi::CString;
use std::num::NonZeroUsize;
use std::process::Command;
use std::ptr::NonNull;
use std::time::{Duration, Instant};

use nix::sys::mman::{MapFlags, MmapAdvise, ProtFlags, madvise, mmap_anonymous, munmap};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, execv, fork};

const PROGRAM: &str = "/bin/true";
const DEFAULT_MIB: usize = 512;
/// Runs of each method while the process is small, and while it is large
/// (fewer: each `fork` of a large process takes milliseconds).
const SMALL_RUNS: usize = 300;
const LARGE_RUNS: usize = 60;

/// One way of running `/bin/true` to completion.
#[derive(Clone, Copy)]
enum Method {
    ForkExit,
    ForkExec,
    Spawn,
}

impl Method {
    const ALL: [Method; 3] = [Method::ForkExit, Method::ForkExec, Method::Spawn];

    fn name(self) -> &'static str {
        match self {
            Method::ForkExit => "fork + _exit + waitpid",
            Method::ForkExec => "fork + execv + waitpid",
            Method::Spawn => "Command (posix_spawn)",
        }
    }
}

/// The program's path and `argv`, built before any fork: the child of a
/// `fork` should not allocate.
struct Target {
    path: CString,
    argv: Vec<CString>,
}

// ANCHOR: fork_exec
/// What a classic shell does for each command: fork a copy of itself, turn
/// the copy into the program with `execv`, wait for it.
fn fork_exec_wait(target: &Target) {
    // SAFETY: this program has a single thread, so the child is a complete
    // copy of a consistent process; it only calls execv and _exit anyway.
    match unsafe { fork() }.expect("fork failed") {
        ForkResult::Child => {
            let _ = execv(&target.path, &target.argv);
            // SAFETY: _exit ends the child at once, without running the
            // parent's exit handlers or flushing buffers it copied.
            unsafe { libc::_exit(127) }
        }
        ForkResult::Parent { child } => match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, 0)) => {}
            other => panic!("{PROGRAM} did not exit with 0: {other:?}"),
        },
    }
}
// ANCHOR_END: fork_exec

/// `fork` alone: the child exits at once, so no program is loaded.
fn fork_exit_wait() {
    // SAFETY: single-threaded, as above; the child only calls _exit.
    match unsafe { fork() }.expect("fork failed") {
        // SAFETY: _exit ends the child at once, as above.
        ForkResult::Child => unsafe { libc::_exit(0) },
        ForkResult::Parent { child } => match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, 0)) => {}
            other => panic!("the forked child did not exit with 0: {other:?}"),
        },
    }
}

// ANCHOR: spawn
/// The standard library's way: no copy of this process is ever made. The
/// child borrows the parent's memory (the parent waits) until it execs.
fn spawn_wait() {
    let status = Command::new(PROGRAM).status().expect("spawn failed");
    assert!(status.success(), "{PROGRAM} did not exit with 0: {status}");
}
// ANCHOR_END: spawn

fn run(method: Method, target: &Target) {
    match method {
        Method::ForkExit => fork_exit_wait(),
        Method::ForkExec => fork_exec_wait(target),
        Method::Spawn => spawn_wait(),
    }
}

/// Runs every method `runs` times, interleaved (each round runs all three,
/// in an order that rotates), and returns each method's median time.
fn measure(runs: usize, target: &Target) -> [Duration; 3] {
    let mut samples: [Vec<Duration>; 3] = Default::default();
    for round in 0..runs {
        for i in 0..Method::ALL.len() {
            let which = (round + i) % Method::ALL.len();
            let start = Instant::now();
            run(Method::ALL[which], target);
            samples[which].push(start.elapsed());
        }
    }
    samples.map(|mut times| {
        times.sort_unstable();
        times[times.len() / 2]
    })
}

// ANCHOR: touch
/// Maps `bytes` of anonymous memory and writes one byte in every page, so
/// that each page is really allocated and has an entry in the page tables.
/// Transparent huge pages are refused for the mapping: with 2 MiB pages, 512
/// times fewer entries would need copying, which hides the effect.
fn touch(bytes: usize) -> (NonNull<libc::c_void>, usize) {
    let length = NonZeroUsize::new(bytes).expect("size must not be zero");
    let protection = ProtFlags::PROT_READ | ProtFlags::PROT_WRITE;
    let flags = MapFlags::MAP_PRIVATE;
    // SAFETY: a new private anonymous mapping, at an address the kernel
    // chooses, aliases nothing that already exists.
    let mapped = unsafe { mmap_anonymous(None, length, protection, flags) };
    let base = mapped.expect("mmap failed");
    // SAFETY: `base` and `bytes` are exactly the mapping made above. The
    // advice is only a preference, so its failure (THP not built into the
    // kernel) is harmless.
    let _ = unsafe { madvise(base, bytes, MmapAdvise::MADV_NOHUGEPAGE) };
    let page = page_size();
    let first = base.cast::<u8>().as_ptr();
    for offset in (0..bytes).step_by(page) {
        // SAFETY: `offset < bytes`, so the byte lies inside the mapping,
        // which is readable and writable and used by nothing else.
        unsafe { first.add(offset).write_volatile(1) };
    }
    (base, bytes)
}
// ANCHOR_END: touch

fn page_size() -> usize {
    // SAFETY: sysconf only reads a configuration value of the system.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).expect("sysconf(_SC_PAGESIZE) failed")
}

/// A field of `/proc/self/status` (`VmRSS`, `VmPTE`) in KiB, or 0.
fn status_kib(field: &str) -> u64 {
    read_kib("/proc/self/status", field)
}

/// A `Name:   1234 kB` line of a `/proc` file, in KiB, or 0 if absent.
fn read_kib(file: &str, field: &str) -> u64 {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    text.lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn show(time: Duration) -> String {
    let micros = time.as_secs_f64() * 1e6;
    if micros >= 10_000.0 {
        format!("{:.1} ms", micros / 1e3)
    } else if micros >= 1_000.0 {
        format!("{:.2} ms", micros / 1e3)
    } else {
        format!("{micros:.0} µs")
    }
}

fn print_rows(label: &str, medians: &[Duration; 3]) {
    let spawn = medians[2].as_secs_f64();
    println!(
        "{label}  (resident {} MiB, page tables {} KiB)",
        status_kib("VmRSS") / 1024,
        status_kib("VmPTE")
    );
    for (method, time) in Method::ALL.iter().zip(medians) {
        println!(
            "  {:<24} {:>10}   {:>6.1}× Command",
            method.name(),
            show(*time),
            time.as_secs_f64() / spawn
        );
    }
}

fn main() {
    let asked: usize = match std::env::args().nth(1) {
        Some(arg) => arg
            .parse()
            .expect("the argument is the size to touch, in MiB (e.g. 1024)"),
        None => DEFAULT_MIB,
    };
    // Leave room for the rest of the machine: touch at most half of what is
    // available now.
    let available = usize::try_from(read_kib("/proc/meminfo", "MemAvailable") / 1024).unwrap_or(0);
    let mib = if available > 0 {
        asked.min(available / 2)
    } else {
        asked
    };
    if mib < asked {
        println!("only {available} MiB available: touching {mib} MiB instead of {asked} MiB\n");
    }
    let mib = mib.max(1);

    let target = Target {
        path: CString::new(PROGRAM).unwrap(),
        argv: vec![CString::new(PROGRAM).unwrap()],
    };

    println!("median time to run {PROGRAM} to completion, each method beside its figure\n");
    let small = measure(SMALL_RUNS, &target);
    print_rows("small process", &small);
    println!();

    let (base, bytes) = touch(mib << 20);
    let large = measure(LARGE_RUNS, &target);
    print_rows(&format!("after touching {mib} MiB"), &large);
    // SAFETY: `base` and `bytes` are the mapping `touch` made; nothing uses
    // it after this point.
    unsafe { munmap(base, bytes) }.expect("munmap failed");

    println!();
    for (i, method) in Method::ALL.iter().enumerate() {
        println!(
            "{:<24} {:>6.1}× slower with the large process",
            method.name(),
            large[i].as_secs_f64() / small[i].as_secs_f64()
        );
    }
}
