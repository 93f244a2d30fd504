//! CPU-time budgets for tests that repeat rounds until they have seen
//! enough: a loaded machine then runs as many rounds as a quiet one, and
//! only a wall-clock cap (far above a quiet run) bounds a starved test.

use std::time::{Duration, Instant};

/// Whose CPU time a [`CpuBudget`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpuClock {
    /// The calling thread's (the thread that checks the budget).
    Thread,
    /// Every thread of the process.
    Process,
}

impl CpuClock {
    /// The CPU time used so far.
    pub fn now(self) -> Duration {
        let id = match self {
            CpuClock::Thread => libc::CLOCK_THREAD_CPUTIME_ID,
            CpuClock::Process => libc::CLOCK_PROCESS_CPUTIME_ID,
        };
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes one timespec into the valid pointer;
        // both clock ids exist on every Linux the course runs on.
        unsafe { libc::clock_gettime(id, &mut now) };
        Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
    }
}

/// How long a repeated test may go on: `cpu` of its clock, and never more
/// than `wall_cap` of real time.
#[derive(Debug, Clone)]
pub struct CpuBudget {
    clock: CpuClock,
    cpu: Duration,
    wall_cap: Duration,
    cpu_at_start: Duration,
    started: Instant,
}

/// What a [`CpuBudget`] says about going on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spent {
    /// Time is left.
    No,
    /// The CPU time is used up: the code under test was given its due.
    Cpu,
    /// The wall-clock cap came first: the machine gave the test too
    /// little of its time.
    Wall,
}

impl CpuBudget {
    /// A budget starting now.
    pub fn new(clock: CpuClock, cpu: Duration, wall_cap: Duration) -> CpuBudget {
        CpuBudget {
            clock,
            cpu,
            wall_cap,
            cpu_at_start: clock.now(),
            started: Instant::now(),
        }
    }

    /// Whether the budget is spent, and which part of it.
    pub fn spent(&self) -> Spent {
        if self.clock.now().saturating_sub(self.cpu_at_start) >= self.cpu {
            Spent::Cpu
        } else if self.started.elapsed() >= self.wall_cap {
            Spent::Wall
        } else {
            Spent::No
        }
    }

    /// CPU time used since the budget started.
    pub fn cpu_used(&self) -> Duration {
        self.clock.now().saturating_sub(self.cpu_at_start)
    }

    /// Real time since the budget started.
    pub fn wall_used(&self) -> Duration {
        self.started.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spinning_spends_the_cpu_budget_first() {
        let budget = CpuBudget::new(
            CpuClock::Thread,
            Duration::from_millis(20),
            Duration::from_secs(60),
        );
        let mut spins = 0_u64;
        while budget.spent() == Spent::No {
            spins = std::hint::black_box(spins + 1);
        }
        assert_eq!(budget.spent(), Spent::Cpu);
        assert!(budget.cpu_used() >= Duration::from_millis(20));
    }

    #[test]
    fn sleeping_reaches_the_wall_cap_instead() {
        let budget = CpuBudget::new(
            CpuClock::Process,
            Duration::from_secs(60),
            Duration::from_millis(30),
        );
        while budget.spent() == Spent::No {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(budget.spent(), Spent::Wall);
    }
}
