//! Shell session scripts: a script fed to the shell on its standard input
//! (not a terminal), in a fresh directory holding the given files, with the
//! standard output and exit status it must produce.

use serde::Deserialize;
use std::collections::BTreeMap;

use crate::{Case, Invalid};

/// A session script.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Session {
    /// The lines the shell reads.
    pub script: String,
    /// Files created in the shell's directory first: name → contents.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    /// Everything the shell must print on standard output.
    pub stdout: Option<String>,
    /// The shell's exit status.
    pub status: Option<i32>,
    /// `true`: standard error must be empty; `false`: it must not be.
    pub stderr_empty: Option<bool>,
}

impl Case for Session {
    fn validate(&self) -> Result<(), Invalid> {
        if self.script.trim().is_empty() {
            return Err(Invalid::file(
                "`script` is empty: write the lines the shell should read",
            ));
        }
        if self.stdout.is_none() && self.status.is_none() && self.stderr_empty.is_none() {
            return Err(Invalid::file(
                "a session needs at least one expectation: `stdout = \"...\"`, `status = N` \
                 or `stderr_empty = true`",
            ));
        }
        if let Some(status) = self.status.filter(|s| !(0..=255).contains(s)) {
            return Err(Invalid::file(format!(
                "status = {status}: an exit status is 0 to 255"
            )));
        }
        for name in self.files.keys() {
            if name.is_empty() || name.contains('/') || name == "." || name == ".." {
                return Err(Invalid::file(format!(
                    "[files] \"{name}\": give a plain file name (no `/`), created in the shell's directory"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    #[test]
    fn a_good_session_parses() {
        let session: Session = parse(
            "script = \"cat in.txt\\n\"\nstdout = \"a\\n\"\nstatus = 0\n[files]\n\"in.txt\" = \"a\\n\"\n",
        )
        .unwrap();
        assert_eq!(session.files["in.txt"], "a\n");
    }

    #[test]
    fn a_session_needs_an_expectation() {
        let err = parse::<Session>("script = \"true\"\n").unwrap_err();
        assert!(err.contains("at least one expectation"), "{err}");
    }
}
