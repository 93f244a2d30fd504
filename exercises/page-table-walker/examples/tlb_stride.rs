//! Lab: TLB reach. Strides through arrays from 16 KiB to 1 GiB, one load
//! every 64 bytes (64 loads per 4 KiB page) or one every 4 KiB (a new page
//! on every load), and prints the nanoseconds per load.
//! Each load's address depends on the value the previous one read, so the
//! loads cannot overlap and the time is their latency.
//!
//! Once the array's pages outnumber the TLB's entries, every 4 KiB step
//! needs a page walk; a 64-byte stride pays for one walk per 64 loads. The
//! same runs over memory backed by 2 MiB pages (`madvise(MADV_HUGEPAGE)`)
//! show the TLB reaching 512 times further.
//!
//! Run it with `cargo run --release -p page-table-walker --example tlb_stride`.
//! It does not use any of the exercise's blanks. It needs about 1 GiB of RAM
//! and runs for a few seconds.

use std::fs;
use std::ptr;
use std::time::Instant;

/// The largest array: 1 GiB.
const MAX: usize = 1 << 30;
/// Huge-page size on x86-64.
const HUGE: usize = 2 << 20;
/// The "one page per load" stride: 4 KiB plus one cache line, so that
/// successive loads also land in different cache sets (with exactly 4 KiB,
/// every load would compete for the same few sets, and over physically
/// contiguous 2 MiB pages that cache conflict would hide the TLB effect).
const PAGE_STRIDE: usize = 4096 + 64;
/// Loads per measurement.
const LOADS: usize = 1_000_000;

// ANCHOR: region
/// A private anonymous mapping of `len` bytes starting on a 2 MiB boundary,
/// advised to use huge pages (`MADV_HUGEPAGE`) or not to
/// (`MADV_NOHUGEPAGE`), with every page written once so it is resident.
/// Returns the aligned start and what to `munmap` afterwards.
fn region(len: usize, huge: bool) -> (*mut u8, (*mut libc::c_void, usize)) {
    let map_len = len + HUGE;
    // SAFETY: an anonymous private mapping at an address the kernel picks
    // overlaps nothing this program uses; the result is checked below.
    let raw = unsafe {
        libc::mmap(
            ptr::null_mut(),
            map_len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(raw, libc::MAP_FAILED, "mmap of {map_len} bytes failed");
    let aligned = (raw as usize).next_multiple_of(HUGE);
    let advice = if huge {
        libc::MADV_HUGEPAGE
    } else {
        libc::MADV_NOHUGEPAGE
    };
    // SAFETY: `[aligned, aligned + len)` lies inside the mapping just made
    // (it was made `HUGE` bytes longer than `len` for the alignment).
    let rc = unsafe { libc::madvise(aligned as *mut libc::c_void, len, advice) };
    if rc != 0 {
        eprintln!(
            "madvise failed ({}); going on without the advice",
            std::io::Error::last_os_error()
        );
    }
    let base = aligned as *mut u8;
    // Make every page resident now: MADV_POPULATE_WRITE (Linux 5.14) does it
    // in one call, following the advice above; else write to each page.
    // SAFETY: as for the madvise above.
    let populated =
        unsafe { libc::madvise(aligned as *mut libc::c_void, len, libc::MADV_POPULATE_WRITE) };
    if populated != 0 {
        for offset in (0..len).step_by(4096) {
            // SAFETY: `offset < len`, inside the mapping, which only this
            // function uses so far.
            unsafe { base.add(offset).write_volatile(0) };
        }
    }
    (base, (raw, map_len))
}
// ANCHOR_END: region

// ANCHOR: stride
/// Nanoseconds per load, striding by `stride` bytes through the first
/// `size` bytes at `base` (a power of two), wrapping around at the end.
/// The memory holds zeros, so adding the loaded byte to the index changes
/// nothing but makes every load wait for the one before.
fn ns_per_load(base: *const u8, size: usize, stride: usize) -> f64 {
    let mask = size - 1;
    let mut i = 0;
    let mut run = |loads: usize| {
        for _ in 0..loads {
            // SAFETY: `i` is masked below `size`, and the first `size` bytes
            // at `base` are mapped, resident and initialised.
            let byte = unsafe { base.add(i).read_volatile() };
            i = (i + stride + usize::from(byte)) & mask;
        }
    };
    run(LOADS / 4); // warm the caches and the TLB
    // The best of three runs: the one least disturbed by other work.
    (0..3)
        .map(|_| {
            let start = Instant::now();
            run(LOADS);
            start.elapsed().as_nanos() as f64 / LOADS as f64
        })
        .fold(f64::INFINITY, f64::min)
}
// ANCHOR_END: stride

/// `AnonHugePages` of the mapping that contains `addr`, in KiB, from
/// `/proc/self/smaps`.
fn anon_huge_kib(addr: usize) -> Option<u64> {
    let smaps = fs::read_to_string("/proc/self/smaps").ok()?;
    let mut in_region = false;
    for line in smaps.lines() {
        let header = line
            .split_whitespace()
            .next()
            .and_then(|range| range.split_once('-'))
            .and_then(|(s, e)| {
                Some((
                    usize::from_str_radix(s, 16).ok()?,
                    usize::from_str_radix(e, 16).ok()?,
                ))
            });
        if let Some((start, end)) = header {
            in_region = (start..end).contains(&addr);
        } else if in_region {
            if let Some(rest) = line.strip_prefix("AnonHugePages:") {
                return rest.split_whitespace().next()?.parse().ok();
            }
        }
    }
    None
}

fn human(bytes: usize) -> String {
    if bytes >= 1 << 30 {
        format!("{} GiB", bytes >> 30)
    } else if bytes >= 1 << 20 {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{} KiB", bytes >> 10)
    }
}

fn main() {
    let sizes: Vec<usize> = (0..)
        .map(|k| (16 << 10) << (2 * k))
        .take_while(|&s| s <= MAX)
        .collect();
    let mut columns = Vec::new();
    let mut huge_backing = Vec::new();
    for huge in [false, true] {
        let (base, (raw, map_len)) = region(MAX, huge);
        huge_backing.push(anon_huge_kib(base as usize).unwrap_or(0));
        let mut column = Vec::new();
        for &size in &sizes {
            column.push((
                ns_per_load(base, size, 64),
                ns_per_load(base, size, PAGE_STRIDE),
            ));
        }
        columns.push(column);
        // SAFETY: `raw` and `map_len` are the mapping `region` made; nothing
        // points into it any more.
        let rc = unsafe { libc::munmap(raw, map_len) };
        assert_eq!(rc, 0, "munmap failed");
    }

    println!(
        "ns per dependent load (Instant over {LOADS} loads, best of 3, after a warm-up); \
         \"stride 4 KiB\" is {PAGE_STRIDE} bytes: a new page on every load\n"
    );
    println!(
        "{:>9} {:>9}  {:>13} {:>13}  {:>13} {:>13}",
        "array", "4K pages", "4 KiB pages", "", "2 MiB pages", ""
    );
    println!(
        "{:>9} {:>9}  {:>13} {:>13}  {:>13} {:>13}",
        "", "", "stride 64 B", "stride 4 KiB", "stride 64 B", "stride 4 KiB"
    );
    for (row, &size) in sizes.iter().enumerate() {
        let (small64, small4k) = columns[0][row];
        let (huge64, huge4k) = columns[1][row];
        println!(
            "{:>9} {:>9}  {small64:>13.1} {small4k:>13.1}  {huge64:>13.1} {huge4k:>13.1}",
            human(size),
            size / 4096
        );
    }
    println!(
        "\nAnonHugePages of the 1 GiB array (/proc/self/smaps): {} MiB with MADV_NOHUGEPAGE, \
         {} MiB with MADV_HUGEPAGE",
        huge_backing[0] >> 10,
        huge_backing[1] >> 10
    );
    println!(
        "\nA 64-byte stride shares each page's translation among 64 loads, so the TLB \
         hardly matters; one page per load needs a new translation each time once the \
         array has more pages than the TLB has entries (typically 64 in the L1 TLB and \
         1-2 thousand in the L2 TLB: 256 KiB and a few MiB of 4 KiB pages). With 2 MiB \
         pages the same entries reach 512 times further. The stride is regular, so the \
         hardware prefetchers hide part of the memory latency: the differences are what \
         is left."
    );
    if huge_backing[1] == 0 {
        println!("(no huge pages were granted: see /sys/kernel/mm/transparent_hugepage/enabled)");
    }
}
