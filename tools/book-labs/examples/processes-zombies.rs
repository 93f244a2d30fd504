//! Processes, lab "a zombie factory": fork children that exit at once with
//! distinct statuses, and do not reap them for 30 s, so they stay zombies.
//! Argument: how many children (default 3). Takes a minute, so the tests
//! only compile it.

// ANCHOR: program
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, Pid, fork, getpid};
use std::{process::exit, thread::sleep, time::Duration};

fn main() {
    let arg = std::env::args().nth(1);
    let n: i32 = arg.and_then(|s| s.parse().ok()).unwrap_or(3);
    println!("parent {} making {n} zombies", getpid());
    let mut children: Vec<Pid> = Vec::new();
    for i in 0..n {
        // SAFETY: single-threaded, and the child only calls exit.
        match unsafe { fork() }.expect("fork failed") {
            // die at once, with a recognisable status
            ForkResult::Child => exit(10 + i),
            ForkResult::Parent { child } => children.push(child),
        }
    }
    println!("children {children:?} have exited; not reaping for 30 s");
    sleep(Duration::from_secs(30));
    for child in children {
        let status = waitpid(child, None).expect("waitpid failed");
        println!("reaped: {status:?}");
    }
    println!("all reaped; lingering 30 s more");
    sleep(Duration::from_secs(30));
}
// ANCHOR_END: program
