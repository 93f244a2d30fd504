//! Every thread of the process on one CPU while a workload runs
//! ([`Workload::on_one_cpu`](super::Workload::on_one_cpu)), and back
//! where it was allowed to run afterwards.
//!
//! Threads that hand tiny jobs to each other across two CPUs beside busy
//! neighbours meet in a different order in every batch (who spins, who
//! sleeps, who waits for a lock whose holder was preempted), and their CPU
//! time moved by ±12 % from run to run. On one CPU they take turns, and the
//! same code measured the same within a few percent.

/// The CPUs each thread was allowed on before [`pin_all`]; restores them
/// when dropped.
#[derive(Debug)]
pub(super) struct Pinned {
    before: Vec<(libc::pid_t, libc::cpu_set_t)>,
}

/// Pins every thread of this process (and so every thread they start) to
/// the CPU the calling thread is on. `None` if the CPU or a mask cannot be
/// read (the workload then runs as it is).
pub(super) fn pin_all() -> Option<Pinned> {
    // SAFETY: sched_getcpu has no preconditions.
    let cpu = unsafe { libc::sched_getcpu() };
    let cpu = usize::try_from(cpu).ok()?;
    // SAFETY: an all-zero cpu_set_t is the empty set, a valid value.
    let mut one: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: CPU_SET writes bit `cpu` of a set it was given by reference;
    // `cpu` comes from the kernel, below CPU_SETSIZE.
    unsafe { libc::CPU_SET(cpu, &mut one) };
    let mut before = Vec::new();
    for tid in super::threads::all() {
        let Some(mask) = mask_of(tid) else { continue };
        if set_mask(tid, &one) {
            before.push((tid, mask));
        }
    }
    Some(Pinned { before })
}

impl Drop for Pinned {
    fn drop(&mut self) {
        for (tid, mask) in &self.before {
            set_mask(*tid, mask);
        }
    }
}

fn mask_of(tid: libc::pid_t) -> Option<libc::cpu_set_t> {
    // SAFETY: an all-zero cpu_set_t is a valid value for the kernel to fill.
    let mut mask: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: the kernel writes at most `size_of::<cpu_set_t>()` bytes into
    // the valid, exclusively borrowed set.
    let status =
        unsafe { libc::sched_getaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &mut mask) };
    (status == 0).then_some(mask)
}

fn set_mask(tid: libc::pid_t, mask: &libc::cpu_set_t) -> bool {
    // SAFETY: the kernel reads `size_of::<cpu_set_t>()` bytes from the valid
    // set; a thread that has ended is an error, not a fault.
    unsafe { libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), mask) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpus_allowed() -> usize {
        // SAFETY: gettid has no preconditions.
        let me = unsafe { libc::gettid() };
        let mask = mask_of(me).unwrap();
        // SAFETY: CPU_COUNT only reads the set.
        unsafe { libc::CPU_COUNT(&mask) as usize }
    }

    #[test]
    fn threads_are_pinned_while_pinned_and_freed_after() {
        let allowed = cpus_allowed();
        let pinned = pin_all().expect("the CPU masks can be read here");
        assert_eq!(cpus_allowed(), 1, "pinned to one CPU");
        let inherited = std::thread::spawn(cpus_allowed).join().unwrap();
        assert_eq!(inherited, 1, "a thread started meanwhile inherits the pin");
        drop(pinned);
        assert_eq!(cpus_allowed(), allowed, "restored");
    }
}
