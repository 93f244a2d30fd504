//! The program runs, measures every figure, and reports plausible values.

use std::process::Command;

#[test]
fn every_figure_is_measured_and_positive() {
    let out = Command::new(env!("CARGO_BIN_EXE_key-numbers"))
        .args(["--quick", "--json", "--dir", env!("CARGO_TARGET_TMPDIR")])
        .output()
        .expect("the key-numbers binary runs");
    assert!(
        out.status.success(),
        "key-numbers failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let figures: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON output");
    let figures = figures.as_array().expect("a list of figures");
    assert!(figures.len() >= 15, "only {} figures", figures.len());
    for f in figures {
        let ns = f["ns"].as_f64().expect("ns is a number");
        assert!(ns.is_finite() && ns > 0.0, "{f}");
        assert!(!f["method"].as_str().unwrap_or("").is_empty(), "{f}");
    }
    let ns = |key: &str| {
        figures
            .iter()
            .find(|f| f["key"] == key)
            .and_then(|f| f["ns"].as_f64())
            .unwrap_or_else(|| panic!("no figure {key}"))
    };
    // Orders of magnitude that hold on any machine, even unoptimised.
    assert!(
        ns("fork-exec") > ns("syscall"),
        "fork+exec cheaper than a syscall?"
    );
    assert!(ns("dram") > ns("l1"), "main memory faster than L1?");
}

#[test]
fn an_unknown_figure_is_named_with_the_known_ones() {
    let out = Command::new(env!("CARGO_BIN_EXE_key-numbers"))
        .args(["--quick", "no-such-figure"])
        .output()
        .expect("the key-numbers binary runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no figure called `no-such-figure`"), "{err}");
    assert!(err.contains("syscall"), "{err}");
}
