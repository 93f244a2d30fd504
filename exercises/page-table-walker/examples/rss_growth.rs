//! Lab: demand paging, seen from user space. Maps 256 MiB of anonymous
//! memory with `mmap` and prints the process's resident set (`VmRSS` in
//! `/proc/self/status`) and its minor page faults (`ru_minflt` from
//! `getrusage`) after each step: just mapped, every 64th page touched, every
//! page touched, and a second mapping made with `MAP_POPULATE`, which the
//! kernel fills in before `mmap` returns.
//!
//! Run it with `cargo run --release -p page-table-walker --example rss_growth`.
//! It does not use any of the exercise's blanks.

use std::fs;
use std::ptr;
use std::time::Instant;

const REGION: usize = 256 << 20;

fn page_size() -> usize {
    // SAFETY: sysconf only reads a configuration value of the system.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).expect("sysconf(_SC_PAGESIZE) failed")
}

// ANCHOR: counters
/// `VmRSS` from `/proc/self/status`, in KiB.
fn rss_kib() -> u64 {
    let status = fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .expect("VmRSS in /proc/self/status")
}

/// Minor page faults of this process so far: faults the kernel handled
/// without I/O (here, handing out a zeroed frame).
fn minor_faults() -> u64 {
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable `rusage` for getrusage to fill.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    assert_eq!(rc, 0, "getrusage failed");
    usage.ru_minflt as u64
}
// ANCHOR_END: counters

// ANCHOR: map
/// A fresh private anonymous mapping of `len` bytes, with `extra` flags.
fn map(len: usize, extra: libc::c_int) -> *mut u8 {
    // SAFETY: an anonymous private mapping at an address the kernel picks
    // overlaps nothing this program uses; the result is checked below.
    let p = unsafe {
        libc::mmap(
            ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | extra,
            -1,
            0,
        )
    };
    assert_ne!(p, libc::MAP_FAILED, "mmap of {len} bytes failed");
    p.cast()
}
// ANCHOR_END: map

// ANCHOR: touch
/// Writes one byte in every `stride`-th page of the region.
fn touch(base: *mut u8, len: usize, page: usize, stride: usize) {
    for offset in (0..len).step_by(page * stride) {
        // SAFETY: `offset < len`, so the byte lies inside the mapping, which
        // is readable, writable and used by nothing else.
        unsafe { base.add(offset).write_volatile(1) };
    }
}
// ANCHOR_END: touch

struct Row {
    rss: u64,
    faults: u64,
}

impl Row {
    fn now() -> Row {
        Row {
            rss: rss_kib(),
            faults: minor_faults(),
        }
    }
}

fn print(step: &str, row: &Row, before: &Row, millis: f64) {
    println!(
        "{step:<38} {:>10} {:>+10} {:>10} {:>9.1}",
        row.rss,
        row.rss as i64 - before.rss as i64,
        row.faults - before.faults,
        millis
    );
}

fn main() {
    let page = page_size();
    let pages = REGION / page;
    println!(
        "an anonymous mapping of {} MiB = {pages} pages of {page} bytes\n",
        REGION >> 20
    );
    println!(
        "{:<38} {:>10} {:>10} {:>10} {:>9}",
        "step", "VmRSS KiB", "RSS delta", "minflt", "ms"
    );
    println!(
        "{:<38} {:>10} {:>10} {:>10} {:>9}",
        "", "(status)", "(KiB)", "(rusage)", "(clock)"
    );

    let start = Row::now();
    print("before mmap", &start, &start, 0.0);

    let t = Instant::now();
    let base = map(REGION, 0);
    let mapped = Row::now();
    print(
        "mmap 256 MiB",
        &mapped,
        &start,
        t.elapsed().as_secs_f64() * 1e3,
    );

    let t = Instant::now();
    touch(base, REGION, page, 64);
    let sparse = Row::now();
    print(
        "write 1 byte in every 64th page",
        &sparse,
        &mapped,
        t.elapsed().as_secs_f64() * 1e3,
    );

    let t = Instant::now();
    touch(base, REGION, page, 1);
    let all = Row::now();
    print(
        "write 1 byte in every page",
        &all,
        &sparse,
        t.elapsed().as_secs_f64() * 1e3,
    );

    let t = Instant::now();
    touch(base, REGION, page, 1);
    let again = Row::now();
    print(
        "write every page again",
        &again,
        &all,
        t.elapsed().as_secs_f64() * 1e3,
    );

    // SAFETY: `base` is the mapping made above, with its full length, and no
    // pointer into it is used after this call.
    let rc = unsafe { libc::munmap(base.cast(), REGION) };
    assert_eq!(rc, 0, "munmap failed");
    let unmapped = Row::now();
    print("munmap", &unmapped, &again, 0.0);

    // ANCHOR: populate
    let t = Instant::now();
    let populated = map(REGION, libc::MAP_POPULATE);
    let pop = Row::now();
    print(
        "mmap 256 MiB with MAP_POPULATE",
        &pop,
        &unmapped,
        t.elapsed().as_secs_f64() * 1e3,
    );
    // ANCHOR_END: populate

    let t = Instant::now();
    touch(populated, REGION, page, 1);
    let after = Row::now();
    print(
        "write every page of it",
        &after,
        &pop,
        t.elapsed().as_secs_f64() * 1e3,
    );
    // SAFETY: as above, for the second mapping.
    let rc = unsafe { libc::munmap(populated.cast(), REGION) };
    assert_eq!(rc, 0, "munmap failed");

    println!(
        "\nmmap only reserves addresses: RSS grows when a page is first written, one minor \
         fault per page (fewer if the kernel backs the region with 2 MiB pages). \
         MAP_POPULATE takes the faults' work up front inside mmap, so the later writes \
         fault no more."
    );
}
