//! Hidden tests that install the learner's allocator as this binary's global allocator.
