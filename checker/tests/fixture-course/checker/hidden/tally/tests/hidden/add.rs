use learner::add::add;

#[test]
fn adds_two_numbers() {
    let got = add(2, 3);
    assert_eq!(got, 5, "add(2, 3) returned {got}, not 5");
}

#[test]
fn adds_zero() {
    let got = add(7, 0);
    assert_eq!(got, 7, "add(7, 0) returned {got}, not 7");
}
