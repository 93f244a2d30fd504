//! Lab: watch demand paging happen. Maps a large anonymous region, touches
//! more and more of its pages, and prints what the kernel reports as resident
//! after each step.
//!
//! Run it with `cargo run -p bump-allocator --example demand_paging`.
//! It does not use any of the exercise's blanks.

use std::ffi::c_void;
use std::num::NonZeroUsize;
use std::ptr::NonNull;

use nix::sys::mman::{MapFlags, ProtFlags, mmap_anonymous, munmap};
use oslings_harness::procfs;

const REGION: usize = 256 << 20;

fn page_size() -> usize {
    // SAFETY: sysconf only reads a configuration value of the system.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).expect("sysconf(_SC_PAGESIZE) failed")
}

fn kib(bytes: usize) -> usize {
    bytes >> 10
}

fn report(step: &str, region: NonNull<c_void>) {
    let process = procfs::process_rss().expect("read /proc/self/status");
    let mapping =
        procfs::resident_bytes_of(region.as_ptr() as usize).expect("read /proc/self/smaps");
    println!(
        "{step:<22} {:>12} KiB {:>12} KiB",
        kib(process),
        kib(mapping)
    );
}

/// Writes one byte in every page of `[from, to)` bytes into the region.
fn touch(region: NonNull<c_void>, from: usize, to: usize, page: usize) {
    let base = region.as_ptr().cast::<u8>();
    // ANCHOR: touch
    for offset in (from..to).step_by(page) {
        // SAFETY: `offset` is below REGION, so the byte lies inside the mapping,
        // which is readable and writable and used by nothing else.
        unsafe { base.add(offset).write_volatile(1) };
    }
    // ANCHOR_END: touch
}

fn main() {
    let page = page_size();
    let length = NonZeroUsize::new(REGION).expect("REGION is not zero");

    // ANCHOR: map
    // SAFETY: a fresh anonymous private mapping at an address the kernel
    // chooses cannot overlap anything this program already uses.
    let region = unsafe {
        mmap_anonymous(
            None,
            length,
            ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
            MapFlags::MAP_PRIVATE,
        )
    }
    .expect("mmap of an anonymous region failed");
    // ANCHOR_END: map

    println!(
        "mapped {} MiB at {:p} (page size {page} bytes, {} pages)
",
        REGION >> 20,
        region.as_ptr(),
        REGION / page
    );
    println!(
        "{:<28} {:>14} {:>16}",
        "step", "process RSS", "region resident"
    );
    report("just mapped", region);

    touch(region, 0, 1, page);
    report("touched 1 page", region);

    touch(region, 0, REGION / 4, page);
    report("touched a quarter", region);

    touch(region, 0, REGION, page);
    report("touched every page", region);

    // SAFETY: `region` is the mapping made above, with its full length, and no
    // reference into it outlives this call.
    unsafe { munmap(region, REGION) }.expect("munmap failed");
    let process = procfs::process_rss().expect("read /proc/self/status");
    println!("{:<22} {:>12} KiB", "after munmap", kib(process));
}
