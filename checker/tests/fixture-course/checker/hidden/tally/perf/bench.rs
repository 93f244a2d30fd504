//! The tally's benchmark: `sum` of the learner's crate (`candidate`) and of
//! the reference solution over the same slice.

use std::hint::black_box;
use std::time::Duration;

use oslings_harness::perf::{Workload, WorkloadResult, run_main};

use crate::{candidate, reference};

fn sum_workload(budget: Duration) -> WorkloadResult {
    let numbers: Vec<u64> = (0..1024).collect();
    let (a, b) = (numbers.clone(), numbers);
    Workload::new("sum-1k", "sum")
        .candidate(move |iters| {
            for _ in 0..iters {
                black_box(candidate::sum::sum(black_box(&a)));
            }
        })
        .reference(move |iters| {
            for _ in 0..iters {
                black_box(reference::sum::sum(black_box(&b)));
            }
        })
        .run(budget)
}

pub(crate) fn main() {
    run_main(vec![Box::new(sum_workload)]);
}
