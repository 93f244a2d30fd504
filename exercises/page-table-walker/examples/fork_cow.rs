//! Lab: copy-on-write after `fork`. The parent fills a 128 MiB buffer, then
//! forks twice. The first child reads every page of the buffer; the second
//! writes one byte in every page. Each child counts its own minor page
//! faults (`getrusage`) and times the loop: reading shared pages costs
//! almost nothing, while the first write to each page faults and makes the
//! kernel copy it.
//!
//! Run it with `cargo run --release -p page-table-walker --example fork_cow`.
//! It does not use any of the exercise's blanks.

use std::hint::black_box;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Instant;

use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, fork};

const BUFFER: usize = 128 << 20;

fn page_size() -> usize {
    // SAFETY: sysconf only reads a configuration value of the system.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).expect("sysconf(_SC_PAGESIZE) failed")
}

fn minor_faults() -> u64 {
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable `rusage` for getrusage to fill.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    assert_eq!(rc, 0, "getrusage failed");
    usage.ru_minflt as u64
}

// ANCHOR: child_work
/// What a child does: read or write one byte of every page, and report
/// (minor faults, milliseconds) for the loop.
fn in_child(buffer: &mut [u8], page: usize, write: bool) -> (u64, f64) {
    let faults = minor_faults();
    let start = Instant::now();
    let mut sum = 0u64;
    for offset in (0..buffer.len()).step_by(page) {
        if write {
            buffer[offset] = buffer[offset].wrapping_add(1);
        } else {
            sum += u64::from(buffer[offset]);
        }
    }
    black_box(sum);
    let millis = start.elapsed().as_secs_f64() * 1e3;
    (minor_faults() - faults, millis)
}
// ANCHOR_END: child_work

/// Forks a child that runs `in_child` and sends its result back over a
/// socket; returns that result.
fn measure(buffer: &mut [u8], page: usize, write: bool) -> (u64, f64) {
    let (mut parent_end, mut child_end) = UnixStream::pair().expect("socketpair");
    // ANCHOR: fork
    // SAFETY: this program has only one thread, so the child may run any
    // code; it leaves with `_exit`, running no destructor of the parent's.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            drop(parent_end);
            let (faults, millis) = in_child(buffer, page, write);
            let report = format!("{faults} {millis}");
            let _ = child_end.write_all(report.as_bytes());
            drop(child_end);
            // SAFETY: `_exit` ends the child at once, as a forked child should.
            unsafe { libc::_exit(0) }
        }
        ForkResult::Parent { child } => {
            drop(child_end);
            let mut report = String::new();
            parent_end
                .read_to_string(&mut report)
                .expect("read the child's report");
            let status = waitpid(child, None).expect("waitpid");
            assert!(
                matches!(status, WaitStatus::Exited(_, 0)),
                "the child failed: {status:?}"
            );
            let (faults, millis) = report.split_once(' ').expect("two numbers");
            (
                faults.parse().expect("faults"),
                millis.parse().expect("millis"),
            )
        }
    }
    // ANCHOR_END: fork
}

fn main() {
    let page = page_size();
    let pages = BUFFER / page;
    let mut buffer = vec![0u8; BUFFER];
    // Touch every page, so the parent owns real frames before the fork.
    for offset in (0..BUFFER).step_by(page) {
        buffer[offset] = 1;
    }

    println!(
        "the parent filled {} MiB ({pages} pages of {page} bytes), then forked\n",
        BUFFER >> 20
    );
    println!(
        "{:<40} {:>12} {:>12} {:>10}",
        "in the child", "minflt", "per page", "ms"
    );
    println!("{:<40} {:>12} {:>12} {:>10}", "", "(rusage)", "", "(clock)");
    for (label, write) in [
        ("read 1 byte of every page", false),
        ("write 1 byte of every page (CoW)", true),
    ] {
        let (faults, millis) = measure(&mut buffer, page, write);
        println!(
            "{label:<40} {faults:>12} {:>12.3} {millis:>10.1}",
            faults as f64 / pages as f64
        );
    }
    println!(
        "\nAfter fork, parent and child share every frame read-only. A read needs no copy \
         (few faults: at most one per page whose mapping the child has not set up yet); \
         the first write to each page faults and the kernel copies the 4 KiB frame, \
         about one fault per page."
    );
    black_box(&buffer);
}
