//! Which threads belong to which subject, and the CPU time they used: the
//! readings behind [`Clock::Threads`](super::Clock::Threads).

use std::collections::BTreeSet;

/// The threads of this process now (`/proc/self/task`).
pub(super) fn all() -> BTreeSet<libc::pid_t> {
    crate::procs::own_threads()
}

/// Threads started since `known` was taken; `known` is brought up to date.
pub(super) fn started_since(known: &mut BTreeSet<libc::pid_t>) -> Vec<libc::pid_t> {
    let now = all();
    let new: Vec<libc::pid_t> = now.difference(known).copied().collect();
    *known = now;
    new
}

/// CPU time, in nanoseconds, of the calling thread and of `threads` (a
/// thread that has ended counts nothing).
pub(super) fn cpu(threads: &[libc::pid_t]) -> u128 {
    let own = read_clock(libc::CLOCK_THREAD_CPUTIME_ID).unwrap_or(0);
    own + threads
        .iter()
        .filter_map(|&tid| read_clock(thread_clock(tid)))
        .sum::<u128>()
}

/// The CPU-time clock of thread `tid` of this process, as the kernel
/// encodes it (what glibc's `pthread_getcpuclockid` returns): the inverted
/// id shifted left by 3, then "per thread" (4) and "scheduler time" (2).
fn thread_clock(tid: libc::pid_t) -> libc::clockid_t {
    (!tid << 3) | 4 | 2
}

fn read_clock(clock: libc::clockid_t) -> Option<u128> {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the valid pointer; an
    // unknown clock (a thread that has ended) is an error, not a fault.
    let status = unsafe { libc::clock_gettime(clock, &mut now) };
    (status == 0).then(|| now.tv_sec as u128 * 1_000_000_000 + now.tv_nsec as u128)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn a_started_thread_is_seen_and_its_cpu_time_counted() {
        let mut known = all();
        let (done, wait) = mpsc::channel::<()>();
        let (spun, spinning) = mpsc::channel::<libc::pid_t>();
        let worker = std::thread::spawn(move || {
            // Spins until it has used 30 ms of CPU, however long that takes.
            while read_clock(libc::CLOCK_THREAD_CPUTIME_ID).unwrap() < 30_000_000 {
                std::hint::black_box(0);
            }
            // SAFETY: gettid has no preconditions.
            spun.send(unsafe { libc::gettid() }).unwrap();
            let _ = wait.recv();
        });
        let tid = spinning.recv().unwrap();
        let new = started_since(&mut known);
        assert!(
            new.contains(&tid),
            "the worker {tid} is among the new threads {new:?}"
        );
        assert!(!started_since(&mut known).contains(&tid), "seen once");
        let worker_cpu = read_clock(thread_clock(tid)).unwrap();
        assert!(
            worker_cpu >= 30_000_000,
            "the worker used 30 ms, read {worker_cpu} ns"
        );
        assert!(
            cpu(&[tid]) >= worker_cpu,
            "counted with the measuring thread's"
        );
        done.send(()).unwrap();
        worker.join().unwrap();
        assert_eq!(
            read_clock(thread_clock(tid)),
            None,
            "an ended thread has no clock"
        );
    }
}
