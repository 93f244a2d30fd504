//! The data-driven cases of oslings instructor test packs: one TOML format
//! per exercise, shared by the checker (which parses and validates every
//! case file when it loads a pack, so a mistake is the instructor's error up
//! front) and the hidden suites (which parse the same text again and run it
//! against the graded crate).
//!
//! | exercise | kind | format |
//! |---|---|---|
//! | bump-allocator | allocation trace | [`alloc::AllocTrace`] |
//! | rate-limiter | event trace | [`rate::RateTrace`] |
//! | page-table-walker | page-table scenario | [`paging::PageScenario`] |
//! | shell | session script | [`session::Session`] |
//!
//! With the feature `oracle`, [`oracle`] is the page-table walker's
//! independent oracle (the `x86_64` crate), shared by the hidden suite, the
//! reference solution's property tests and benchmark, and the fuzzer.

pub mod alloc;
#[cfg(feature = "oracle")]
pub mod oracle;
pub mod paging;
pub mod rate;
pub mod session;

use serde::de::DeserializeOwned;
use std::ops::Range;

/// The kinds of case file. An exercise names the one its packs may use in
/// its manifest (`cases = "alloc-trace"` in `exercise.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// [`alloc::AllocTrace`], for the bump allocator.
    AllocTrace,
    /// [`rate::RateTrace`], for the rate limiter.
    RateTrace,
    /// [`paging::PageScenario`], for the page-table walker.
    PageScenario,
    /// [`session::Session`], for the shell.
    ShellSession,
}

impl Kind {
    /// What the pack guide calls this kind.
    pub fn describe(self) -> &'static str {
        match self {
            Kind::AllocTrace => "an allocation trace",
            Kind::RateTrace => "a rate-limiter event trace",
            Kind::PageScenario => "a page-table scenario",
            Kind::ShellSession => "a shell session script",
        }
    }

    /// Parses and validates `text` as a case of this kind; the error says
    /// where (line and column) and what to write instead.
    pub fn check(self, text: &str) -> Result<(), String> {
        match self {
            Kind::AllocTrace => parse::<alloc::AllocTrace>(text).map(drop),
            Kind::RateTrace => parse::<rate::RateTrace>(text).map(drop),
            Kind::PageScenario => parse::<paging::PageScenario>(text).map(drop),
            Kind::ShellSession => parse::<session::Session>(text).map(drop),
        }
    }
}

/// A case format: its own checks beyond the shape the parser enforces.
pub trait Case: DeserializeOwned {
    /// Checks what the types cannot say.
    fn validate(&self) -> Result<(), Invalid>;
}

/// A case that parses but cannot be right: what is wrong, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// Byte range in the file of the step (or value) at fault, if known.
    pub span: Option<Range<usize>>,
    /// What is wrong and what to write instead.
    pub message: String,
}

impl Invalid {
    /// An error about the whole file.
    pub fn file(message: impl Into<String>) -> Invalid {
        Invalid {
            span: None,
            message: message.into(),
        }
    }

    /// An error about the step (or value) at `span`.
    pub fn at(span: Range<usize>, message: impl Into<String>) -> Invalid {
        Invalid {
            span: Some(span),
            message: message.into(),
        }
    }
}

/// Parses and validates one case file's text. The error starts with the
/// line it is about when there is one (`line 7: ...`).
pub fn parse<T: Case>(text: &str) -> Result<T, String> {
    let case: T = toml::from_str(text).map_err(|err| err.to_string().trim_end().to_string())?;
    case.validate().map_err(|invalid| match invalid.span {
        Some(span) => format!("line {}: {}", line_of(text, span.start), invalid.message),
        None => invalid.message,
    })?;
    Ok(case)
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).unwrap_or(text).matches('\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_name_the_kinds_in_kebab_case() {
        #[derive(serde::Deserialize)]
        struct Manifest {
            cases: Kind,
        }
        for (name, kind) in [
            ("alloc-trace", Kind::AllocTrace),
            ("rate-trace", Kind::RateTrace),
            ("page-scenario", Kind::PageScenario),
            ("shell-session", Kind::ShellSession),
        ] {
            let manifest: Manifest = toml::from_str(&format!("cases = {name:?}")).unwrap();
            assert_eq!(manifest.cases, kind, "{name}");
        }
        assert!(toml::from_str::<Manifest>("cases = \"thread-pool\"").is_err());
    }

    #[test]
    fn a_parse_error_names_the_line() {
        let err = Kind::AllocTrace
            .check("capacity = 64\n\n[[steps]]\nop = \"alloc\"\nsize = \"big\"\n")
            .unwrap_err();
        assert!(err.contains("line 5"), "{err}");
    }
}
