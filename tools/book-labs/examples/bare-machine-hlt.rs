//! The bare machine, lab 3: execute `hlt`, an instruction reserved for ring
//! 0, in user mode. The processor refuses with a general protection fault and
//! the kernel turns that into SIGSEGV, so this lab dies by design (it is only
//! compiled by the tests, never run). x86-64 only.

#[cfg(target_arch = "x86_64")]
// ANCHOR: program
fn main() {
    println!("about to execute hlt in user mode...");
    // SAFETY: not safe to run, on purpose: `hlt` is privileged, so at CPL 3
    // the processor faults before it does anything, and the kernel ends
    // the process with SIGSEGV. No memory is touched.
    unsafe { std::arch::asm!("hlt") };
    println!("still here?");
}
// ANCHOR_END: program

#[cfg(not(target_arch = "x86_64"))]
fn main() {
    eprintln!("this lab executes an x86-64 instruction: run it on x86-64");
}
