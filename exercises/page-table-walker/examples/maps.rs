//! Lab: the map of this very process. Prints `/proc/self/maps` (every region
//! of the address space: the program's own code and data, the heap, the
//! shared libraries, the stack, the vDSO) with a line saying what each region
//! is, then the `Size`, `Rss` and `Pss` that `/proc/self/smaps` reports for
//! the heap and the stack: how much is mapped versus how much is really in
//! RAM.
//!
//! Run it with `cargo run --release -p page-table-walker --example maps`.
//! It does not use any of the exercise's blanks.

use std::fs;
use std::hint::black_box;

/// One line of `/proc/self/maps`.
#[derive(Debug)]
struct Region {
    start: u64,
    end: u64,
    perms: String,
    offset: u64,
    path: String,
}

// ANCHOR: parse
/// Parses `/proc/self/maps`: `start-end perms offset dev inode path`.
fn regions() -> Vec<Region> {
    let maps = fs::read_to_string("/proc/self/maps").expect("read /proc/self/maps");
    maps.lines()
        .map(|line| {
            let mut fields = line.split_whitespace();
            let range = fields.next().expect("address range");
            let perms = fields.next().expect("permissions").to_string();
            let offset = u64::from_str_radix(fields.next().expect("offset"), 16).expect("hex");
            let _dev = fields.next();
            let _inode = fields.next();
            let path = fields.collect::<Vec<_>>().join(" ");
            let (start, end) = range.split_once('-').expect("start-end");
            Region {
                start: u64::from_str_radix(start, 16).expect("hex start"),
                end: u64::from_str_radix(end, 16).expect("hex end"),
                perms,
                offset,
                path,
            }
        })
        .collect()
}
// ANCHOR_END: parse

// ANCHOR: explain
/// What a region is, judged from its path and permissions.
fn explain(r: &Region, exe: &str) -> String {
    let kind = match r.perms.get(..3).unwrap_or("") {
        "r-x" => "code",
        "rw-" => "writable data",
        "r--" => "read-only data",
        "---" => "guard (no access)",
        _ => "other",
    };
    match r.path.as_str() {
        "[heap]" => "the heap: grown by brk() for small mallocs".into(),
        "[stack]" => "the main thread's stack: grows down on demand".into(),
        "[vdso]" => "vDSO: kernel code, so clock_gettime needs no syscall".into(),
        "[vvar]" | "[vvar_vclock]" => "vvar: clock data the vDSO reads".into(),
        "[vsyscall]" => "vsyscall: old fixed-address page (kernel half)".into(),
        "" => format!("anonymous {kind}: mmap'd (big allocations, thread stacks)"),
        p if p == exe => format!("this program's {kind} (offset {:#x})", r.offset),
        p if p.contains(".so") => {
            let name = p.rsplit('/').next().unwrap_or(p);
            format!("shared library {name}: {kind}")
        }
        _ => format!("a mapped file: {kind}"),
    }
}
// ANCHOR_END: explain

// ANCHOR: smaps
/// The `Size`, `Rss` and `Pss` lines (in KiB) of the smaps entry of the
/// region named `name`.
fn smaps_of(name: &str) -> Option<(u64, u64, u64)> {
    let smaps = fs::read_to_string("/proc/self/smaps").expect("read /proc/self/smaps");
    let mut lines = smaps.lines();
    // A region's header line ends with its path; its fields follow.
    lines.find(|line| line.ends_with(name))?;
    let mut field = |key: &str| -> Option<u64> {
        let line = lines.find(|line| line.starts_with(key))?;
        line.split_whitespace().nth(1)?.parse().ok()
    };
    // The fields come in this order: Size, KernelPageSize, MMUPageSize, Rss, Pss.
    let size = field("Size:")?;
    let rss = field("Rss:")?;
    let pss = field("Pss:")?;
    Some((size, rss, pss))
}
// ANCHOR_END: smaps

fn main() {
    // A few small allocations land on the heap; a large one would be mmap'd.
    let small: Vec<Box<[u8; 64]>> = (0..1000).map(|_| Box::new([1; 64])).collect();
    let big = vec![7u8; 8 << 20];
    black_box((&small, &big));
    let on_stack = [0u8; 64];

    let exe = fs::read_link("/proc/self/exe")
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    println!("/proc/self/maps of {exe}\n");
    println!(
        "{:<27} {:>10}  {:<4}  what it is",
        "virtual range", "size", "perm"
    );
    for r in regions() {
        let size = r.end - r.start;
        let size = if size >= 1 << 20 {
            format!("{} MiB", size >> 20)
        } else {
            format!("{} KiB", size >> 10)
        };
        println!(
            "{:012x}-{:012x}  {size:>10}  {:<4}  {}",
            r.start,
            r.end,
            r.perms,
            explain(&r, &exe)
        );
    }

    println!("\nwhere some of this program's data lives:");
    println!("  a small Box      {:p}  (heap)", &*small[0]);
    println!("  an 8 MiB Vec     {:p}  (anonymous mmap)", big.as_ptr());
    println!("  a local array    {:p}  (stack)", on_stack.as_ptr());
    println!("  main()           {:p}  (code)", main as fn() as *const ());

    println!("\nfrom /proc/self/smaps (KiB):");
    println!("{:<9} {:>10} {:>10} {:>10}", "region", "Size", "Rss", "Pss");
    for name in ["[heap]", "[stack]"] {
        match smaps_of(name) {
            Some((size, rss, pss)) => {
                println!("{name:<9} {size:>10} {rss:>10} {pss:>10}");
            }
            None => println!("{name:<9} (not found)"),
        }
    }
    println!(
        "\nSize: virtual memory the region spans. Rss: how much of it is in RAM now \
         (pages touched at least once). Pss: Rss with each shared page divided among \
         the processes that share it."
    );
    black_box(on_stack);
}
