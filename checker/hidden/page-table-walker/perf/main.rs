oslings_harness::perf_main!();
