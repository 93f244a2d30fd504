//! Lab: why freeing memory does not shrink a process. Fills glibc's `brk`
//! heap with small blocks, frees all but the last one, and prints the program
//! break, VSZ and RSS after each step, then asks glibc to give memory back
//! with `malloc_trim`.
// book-labs: run in tests

/// One line of `/proc/self/status`, such as `VmRSS`, in KiB.
fn status_kib(field: &str) -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The current program break: the end of the `brk` heap.
fn program_break() -> usize {
    // SAFETY: `sbrk(0)` only reports the break; it moves nothing.
    unsafe { libc::sbrk(0) as usize }
}

fn report(step: &str, first_break: usize) {
    let grown = program_break().saturating_sub(first_break);
    println!(
        "{step:<28} heap {:>6} KiB  VSZ {:>7} KiB  RSS {:>6} KiB",
        grown / 1024,
        status_kib("VmSize"),
        status_kib("VmRSS"),
    );
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() {
    // SAFETY: `malloc_trim` only changes glibc's own bookkeeping and the
    // pages of free chunks; no live block is touched.
    unsafe { libc::malloc_trim(0) };
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {
    println!("(malloc_trim is a glibc function: nothing to do here)");
}

// ANCHOR: steps
const BLOCKS: usize = 200_000;

fn main() {
    println!("page size {} bytes", page_size());
    let first_break = program_break();
    report("at start", first_break);

    // 200,000 blocks of 100 bytes: far below the mmap threshold, so
    // malloc carves them out of the brk heap, raising the break as it goes.
    let mut blocks: Vec<Box<[u8; 100]>> = Vec::with_capacity(BLOCKS);
    for i in 0..BLOCKS {
        blocks.push(Box::new([i as u8; 100]));
    }
    report("200,000 blocks allocated", first_break);

    // One more block, allocated last, so it sits at the top of the heap.
    let pin = Box::new([7u8; 100]);
    let pin_addr = &*pin as *const [u8; 100] as usize;
    println!(
        "the last block is {} bytes below the break",
        program_break() - pin_addr
    );

    drop(blocks);
    report("all but the last freed", first_break);

    trim();
    report("malloc_trim(0)", first_break);

    drop(pin);
    trim();
    report("last freed, malloc_trim(0)", first_break);
}
// ANCHOR_END: steps

fn page_size() -> usize {
    // SAFETY: sysconf only reads a configuration value.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).unwrap_or(4096)
}
