//! The syscall boundary, lab 3: time a plain function call, `getppid` made
//! with the bare `syscall` instruction, `Instant::now()` (the C library's
//! `clock_gettime`, answered by the vDSO) and `clock_gettime` forced into the
//! kernel with `syscall`. Argument: iterations (default 2,000,000). Run it
//! with `--release`; the raw system calls need x86-64 Linux.

// ANCHOR: program
use std::hint::black_box;
use std::time::Instant;

#[inline(never)]
fn plain_function(x: u64) -> u64 {
    black_box(x) + 1
}

/// getppid() through the bare `syscall` instruction.
#[cfg(target_arch = "x86_64")]
fn raw_getppid() -> isize {
    const SYS_GETPPID: isize = 110; // x86-64 numbers: asm/unistd_64.h
    let ret: isize;
    // SAFETY: getppid takes no arguments and touches no memory; the
    // instruction itself overwrites rcx and r11, declared as clobbered.
    unsafe {
        std::arch::asm!("syscall",
            inlateout("rax") SYS_GETPPID => ret,
            out("rcx") _, out("r11") _,
            options(nostack));
    }
    ret
}

/// clock_gettime(CLOCK_MONOTONIC), made as a real system call.
#[cfg(target_arch = "x86_64")]
fn raw_clock_gettime() -> [i64; 2] {
    const SYS_CLOCK_GETTIME: isize = 228;
    const CLOCK_MONOTONIC: usize = 1;
    let mut ts = [0i64; 2]; // struct timespec: seconds, nanoseconds
    let ret: isize;
    // SAFETY: the kernel writes one timespec (two i64) to `ts`, which is
    // ours and exactly that size; rcx and r11 are declared as clobbered.
    unsafe {
        std::arch::asm!("syscall",
            inlateout("rax") SYS_CLOCK_GETTIME => ret,
            in("rdi") CLOCK_MONOTONIC, in("rsi") ts.as_mut_ptr(),
            out("rcx") _, out("r11") _,
            options(nostack));
    }
    assert_eq!(ret, 0, "clock_gettime failed with errno {}", -ret);
    ts
}

fn measure(name: &str, iterations: u32, mut f: impl FnMut()) {
    let start = Instant::now();
    for _ in 0..iterations {
        f();
    }
    let ns = start.elapsed().as_nanos() as f64 / iterations as f64;
    println!("{name:<38} {ns:>9.1} ns per call");
}

fn main() {
    let arg = std::env::args().nth(1);
    let n: u32 = arg.map_or(2_000_000, |s| s.parse().expect("iterations"));
    measure("function call", n, || {
        black_box(plain_function(black_box(7)));
    });
    #[cfg(target_arch = "x86_64")]
    measure("getppid (syscall instruction)", n, || {
        black_box(raw_getppid());
    });
    measure("Instant::now (vDSO clock_gettime)", n, || {
        black_box(Instant::now());
    });
    #[cfg(target_arch = "x86_64")]
    measure("clock_gettime (syscall instruction)", n, || {
        black_box(raw_clock_gettime());
    });
}
// ANCHOR_END: program
