//! Workloads of the bump allocator's benchmark.

pub(crate) fn main() {
    let _ = (
        crate::candidate::align_up(1, 1),
        crate::reference::align_up(1, 1),
    );
    oslings_harness::perf::run_main(Vec::new());
}
