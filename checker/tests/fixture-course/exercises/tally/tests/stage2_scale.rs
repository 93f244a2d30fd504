use tally::scale::scale;

#[test]
fn scales() {
    assert_eq!(scale(4, 5), Some(20));
}
