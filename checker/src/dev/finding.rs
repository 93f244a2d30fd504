//! What `dev check` reports: one thing wrong in the course.

/// Something `dev check` found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The file to look at, relative to the course's root.
    pub file: String,
    /// What is wrong, and what to do about it.
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.file, self.message)
    }
}
