//! Hidden tests of the bump allocator, one module per stage.

mod align {
    use learner::align_up;

    #[test]
    fn rounds_up_to_the_next_multiple() {
        assert_eq!(align_up(13, 8), Ok(16));
    }
}
