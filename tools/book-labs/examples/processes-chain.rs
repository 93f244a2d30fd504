//! Processes, lab "a chain of processes": each process forks one child, so
//! every link but the last is the parent of the next. Each prints its PID and
//! parent PID, exits with its depth, and each parent reports what it reaped.
//! Arguments: the depth (default 4) and how many seconds the last link
//! lingers (default 0).
// book-labs: run in tests

// ANCHOR: program
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, fork, getpid, getppid};
use std::process::exit;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let depth: u32 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(4);
    let linger: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut level = 0;
    loop {
        println!("level {level}: pid {} ppid {}", getpid(), getppid());
        if level == depth {
            // the last link: linger so the chain can be seen with pstree
            std::thread::sleep(std::time::Duration::from_secs(linger));
            exit(level as i32); // report our level as the exit status
        }
        // SAFETY: single-threaded here, so the child may run any code.
        match unsafe { fork() }.expect("fork failed") {
            ForkResult::Child => level += 1, // go round again as the next link
            ForkResult::Parent { child } => {
                let status = waitpid(child, None).expect("waitpid failed");
                if let WaitStatus::Exited(pid, code) = status {
                    println!("level {level}: child {pid} exited with {code}");
                } else {
                    println!("level {level}: child ended: {status:?}");
                }
                exit(level as i32);
            }
        }
    }
}
// ANCHOR_END: program
