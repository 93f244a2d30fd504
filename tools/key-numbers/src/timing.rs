//! How every figure is taken: a batch of operations is timed as a whole,
//! many rounds are run, and the median round is reported.

use std::time::{Duration, Instant};

/// How long to spend measuring each figure.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budget {
    /// Rounds per figure; the median is reported.
    pub(crate) rounds: usize,
    /// Target wall time of one round.
    pub(crate) round: Duration,
}

impl Budget {
    /// The default: 15 rounds of about 20 ms.
    pub(crate) fn full() -> Budget {
        Budget {
            rounds: 15,
            round: Duration::from_millis(20),
        }
    }

    /// A smoke run: 3 rounds of about 1 ms (numbers are noisy).
    pub(crate) fn quick() -> Budget {
        Budget {
            rounds: 3,
            round: Duration::from_millis(1),
        }
    }
}

/// The median of `values` (which must not be empty).
pub(crate) fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

// ANCHOR: ns_per_op
/// Nanoseconds per operation of `run(n)`, which performs `n` operations
/// and returns the time they took (so that setup can stay outside it).
///
/// The batch size is doubled until one batch fills a round's target time;
/// then `budget.rounds` batches are timed and the median is returned.
pub(crate) fn ns_per_op(budget: Budget, mut run: impl FnMut(u64) -> Duration) -> f64 {
    let mut n = 1u64;
    loop {
        let took = run(n);
        if took >= budget.round || n >= 1 << 40 {
            break;
        }
        let scale = if took.is_zero() {
            16.0
        } else {
            (budget.round.as_secs_f64() / took.as_secs_f64()).clamp(1.5, 16.0)
        };
        n = ((n as f64) * scale).ceil() as u64;
    }
    let rounds = (0..budget.rounds)
        .map(|_| run(n).as_nanos() as f64 / n as f64)
        .collect();
    median(rounds)
}
// ANCHOR_END: ns_per_op

/// [`ns_per_op`] for a closure that performs one operation, timed in a
/// plain loop.
pub(crate) fn ns_per_call(budget: Budget, mut op: impl FnMut()) -> f64 {
    ns_per_op(budget, |n| {
        let start = Instant::now();
        for _ in 0..n {
            op();
        }
        start.elapsed()
    })
}
