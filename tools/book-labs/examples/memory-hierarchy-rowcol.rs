//! Row walk versus column walk: same sums over one grid, different traffic.
//!
//! Run it with
//! `cargo run --release -p book-labs --example memory-hierarchy-rowcol`;
//! the optional arguments are the grid's side (default 4096) and which walk
//! to time (`rows`, `columns` or `both`, the default), so that `perf stat`
//! can measure one walk at a time.

// ANCHOR: main
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Sums an `n` x `n` grid stored row by row, visiting it in the given order.
fn sum(grid: &[u32], n: usize, along_rows: bool) -> (u64, Duration) {
    let start = Instant::now();
    let mut sum = 0u64;
    for outer in 0..n {
        for inner in 0..n {
            // Element (r, c) lives at index r * n + c.
            let (r, c) = if along_rows {
                (outer, inner) // next element: the neighbour
            } else {
                (inner, outer) // next element: a whole row away
            };
            sum += u64::from(grid[r * n + c]);
        }
    }
    (black_box(sum), start.elapsed())
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(4096, |a| a.parse().expect("a side"));
    let which = args.next().unwrap_or_else(|| "both".to_string());
    let grid: Vec<u32> = (0..n * n).map(|i| i as u32).collect();
    println!("{n} x {n} grid of u32: {} KiB", n * n * 4 / 1024);

    for round in 1..=3 {
        let mut parts = Vec::new();
        let mut rows = None;
        if which != "columns" {
            let (_, t) = sum(&grid, n, true);
            parts.push(format!("along rows {t:?}"));
            rows = Some(t);
        }
        if which != "rows" {
            let (_, t) = sum(&grid, n, false);
            parts.push(format!("down columns {t:?}"));
            if let Some(r) = rows {
                let ratio = t.as_secs_f64() / r.as_secs_f64();
                parts.push(format!("columns/rows = {ratio:.1}"));
            }
        }
        println!("round {round}: {}", parts.join(", "));
    }
}
// ANCHOR_END: main
