//! What grading tells the user while it runs.

/// Something to tell the user while grading runs.
#[derive(Debug, Clone, Copy)]
pub enum News<'a> {
    /// What grading is doing now (a spinner's message: the next one
    /// replaces it).
    Doing(&'a str),
    /// A verdict worth keeping on the screen before the report arrives:
    /// the stage the learner is working on, graded first.
    Verdict(&'a str),
}

/// Where grading sends its [`News`].
pub type Progress<'a> = &'a dyn Fn(News<'_>);
