//! Overcommit, measured: maps far more memory than the machine has and
//! touches almost none of it, printing what the kernel promised
//! (`Committed_AS`) and what it spent (the process's RSS).
// book-labs: run in tests
//
// Run it with `cargo run -p book-labs --example oom-and-cgroups-overcommit`.
// Nothing here uses real memory beyond a few pages: every mapping is
// unmapped before the program ends, and a refused `mmap` is reported, not
// fatal (under strict overcommit, or with `ulimit -v`, refusals are the
// lesson).

use std::fs;
use std::ptr;

const KIB: u64 = 1024;
const GIB: u64 = 1024 * 1024 * 1024;

/// A field of `/proc/meminfo` (`name:   123 kB`), in bytes.
fn meminfo(name: &str) -> Option<u64> {
    let text = fs::read_to_string("/proc/meminfo").ok()?;
    field(&text, name)
}

/// A field of `/proc/self/status` (`VmRSS:   123 kB`), in bytes.
fn status(name: &str) -> Option<u64> {
    let text = fs::read_to_string("/proc/self/status").ok()?;
    field(&text, name)
}

fn field(text: &str, name: &str) -> Option<u64> {
    let rest = text
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))?;
    let kib: u64 = rest.split_whitespace().next()?.parse().ok()?;
    Some(kib * KIB)
}

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / GIB as f64)
}

fn kib(bytes: u64) -> String {
    format!("{} KiB", bytes / KIB)
}

/// `ENOMEM` for the usual refusal, the whole error otherwise.
fn why(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::ENOMEM) => "ENOMEM".to_string(),
        _ => e.to_string(),
    }
}

// ANCHOR: map
/// Maps `len` bytes of private anonymous memory, readable and writable, as
/// `malloc` does for a big block. Touches nothing. `extra` is added to the
/// flags (`MAP_NORESERVE` below).
fn map(len: u64, extra: libc::c_int) -> Result<*mut u8, std::io::Error> {
    let len = usize::try_from(len).expect("fits the address space");
    // SAFETY: a fresh anonymous mapping at an address the kernel chooses;
    // no existing memory is affected.
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
    if p == libc::MAP_FAILED {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(p.cast())
    }
}
// ANCHOR_END: map

fn unmap(p: *mut u8, len: u64) {
    let len = usize::try_from(len).expect("fits the address space");
    // SAFETY: `p` and `len` are exactly a mapping made by `map`, and nothing
    // refers to it any more.
    let rc = unsafe { libc::munmap(p.cast(), len) };
    assert_eq!(rc, 0, "munmap: {}", std::io::Error::last_os_error());
}

/// One line of the table: this process's virtual size and resident set,
/// and how far the machine's total of promises moved since the start.
fn report(what: &str, committed_at_start: u64) {
    let committed = meminfo("Committed_AS").unwrap_or(0);
    let delta = committed as i64 - committed_at_start as i64;
    let sign = if delta < 0 { "-" } else { "+" };
    let delta = format!("{sign}{}", gib(delta.unsigned_abs()));
    println!(
        "{what:<28}{:>11}{:>11}{delta:>14}",
        gib(status("VmSize").unwrap_or(0)),
        kib(status("VmRSS").unwrap_or(0)),
    );
}

fn main() {
    let policy = fs::read_to_string("/proc/sys/vm/overcommit_memory")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "?".into());
    let (Some(ram), Some(limit)) = (meminfo("MemTotal"), meminfo("CommitLimit")) else {
        println!("no /proc/meminfo here: this lab needs Linux");
        return;
    };
    let swap = meminfo("SwapTotal").unwrap_or(0);
    let committed_at_start = meminfo("Committed_AS").unwrap_or(0);
    println!("overcommit_memory = {policy}");
    println!("MemTotal {}, SwapTotal {}", gib(ram), gib(swap));
    println!(
        "CommitLimit {}, Committed_AS {}",
        gib(limit),
        gib(committed_at_start)
    );
    println!();
    println!(
        "{:<28}{:>11}{:>11}{:>14}",
        "", "VmSize", "VmRSS", "Committed_AS"
    );
    report("at start", committed_at_start);

    // ANCHOR: absurd
    // 1. One request larger than RAM and swap together.
    let absurd = 2 * (ram + swap);
    match map(absurd, 0) {
        Ok(p) => {
            println!("one mapping of {}: granted", gib(absurd));
            unmap(p, absurd);
        }
        Err(e) => println!("one mapping of {}: refused ({})", gib(absurd), why(&e)),
    }
    // ANCHOR_END: absurd

    // ANCHOR: many
    // 2. Many requests, each of half the RAM, up to four times the RAM.
    let chunk = (ram / 2).next_multiple_of(4096);
    let mut chunks = Vec::new();
    while chunks.len() < 8 {
        match map(chunk, 0) {
            Ok(p) => chunks.push(p),
            Err(e) => {
                println!(
                    "mapping number {} of {}: refused ({})",
                    chunks.len() + 1,
                    gib(chunk),
                    why(&e)
                );
                break;
            }
        }
        let what = format!("{} × {} mapped", chunks.len(), gib(chunk));
        report(&what, committed_at_start);
    }
    // ANCHOR_END: many

    // ANCHOR: touch
    // 3. Cash in a little of the promise: one byte in each mapping.
    for &p in &chunks {
        // SAFETY: `p` is the start of a live, writable mapping of `chunk`
        // bytes.
        unsafe { p.write_volatile(1) };
    }
    report("one byte written in each", committed_at_start);
    // ANCHOR_END: touch

    // 4. A mapping that asks not to be counted.
    match map(chunk, libc::MAP_NORESERVE) {
        Ok(p) => {
            report("plus one with MAP_NORESERVE", committed_at_start);
            unmap(p, chunk);
        }
        Err(e) => println!("a mapping with MAP_NORESERVE: refused ({})", why(&e)),
    }

    for p in chunks {
        unmap(p, chunk);
    }
    report("all unmapped", committed_at_start);
}
