use learner::sum::sum;

#[test]
fn sums() {
    let got = sum(&(1..=100).collect::<Vec<u64>>());
    assert_eq!(got, 5050, "sum(1..=100) returned {got}, not 5050");
}

/// The stage `requires` `sh`: this test starts it.
#[test]
fn a_shell_agrees() {
    let out = std::process::Command::new("sh")
        .args(["-c", "echo $((1 + 2 + 3))"])
        .output()
        .expect("sh starts");
    let expected: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    let got = sum(&[1, 2, 3]);
    assert_eq!(
        got, expected,
        "sum([1, 2, 3]) returned {got}, sh says {expected}"
    );
}
