use learner::scale::scale;

#[test]
fn scales() {
    let got = scale(4, 5);
    assert_eq!(got, Some(20), "scale(4, 5) returned {got:?}, not Some(20)");
}

#[test]
fn an_overflow_is_none() {
    let got = scale(u64::MAX, 2);
    assert_eq!(
        got, None,
        "scale(u64::MAX, 2) returned {got:?}: it overflows"
    );
}
