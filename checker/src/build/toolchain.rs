//! What the checker says when cargo itself is the problem: not installed, or
//! waiting on a lock that another cargo holds.

use std::io::{BufRead, BufReader, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// What cargo prints on stderr while another cargo holds a lock it needs.
const BLOCKING: &str = "Blocking waiting for file lock";

/// How long cargo may wait on a lock before the checker explains.
const NOTICE_AFTER: Duration = Duration::from_secs(10);

/// The error for a cargo that could not be started.
pub fn spawn_error(program: &std::ffi::OsStr, err: std::io::Error) -> anyhow::Error {
    if err.kind() == std::io::ErrorKind::NotFound {
        anyhow::anyhow!(
            "cargo was not found (looked for `{}` on PATH): install Rust from \
             https://rustup.rs, then open a new terminal so that ~/.cargo/bin is on PATH \
             and run the checker again",
            program.to_string_lossy()
        )
    } else {
        anyhow::Error::new(err).context(format!(
            "cannot run cargo (`{}`): check that the Rust toolchain from https://rustup.rs works \
             (`cargo --version`)",
            program.to_string_lossy()
        ))
    }
}

/// Signs of life from a running cargo, shared with the lock watcher.
#[derive(Debug, Default)]
pub struct Liveness {
    messages: AtomicUsize,
    finished: AtomicBool,
}

impl Liveness {
    /// Records one message from cargo's stdout (the build is moving).
    pub fn message(&self) {
        self.messages.fetch_add(1, Ordering::Relaxed);
    }
}

/// Reads cargo's stderr to the end on a thread and returns it. If cargo
/// reports that it is blocked on a file lock and makes no progress for a
/// while, explains on the checker's stderr what is going on.
pub fn read_stderr(
    stderr: impl Read + Send + 'static,
    liveness: Arc<Liveness>,
) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let mut warned = false;
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if !warned && line.contains(BLOCKING) {
                warned = true;
                watch_lock(line.trim().to_string(), liveness.clone());
            }
            if !is_status(&line) {
                text.push_str(&line);
                text.push('\n');
            }
        }
        liveness.finished.store(true, Ordering::Relaxed);
        text
    })
}

/// Whether `line` is one of cargo's progress lines ("   Compiling x v0.1.0"),
/// which say nothing when a build fails.
fn is_status(line: &str) -> bool {
    const WORDS: &[&str] = &[
        "Adding",
        "Blocking",
        "Building",
        "Checking",
        "Compiling",
        "Downgrading",
        "Downloaded",
        "Downloading",
        "Executable",
        "Finished",
        "Fresh",
        "Locking",
        "Removed",
        "Running",
        "Unpacking",
        "Updating",
        "Upgrading",
    ];
    let trimmed = line.trim_start();
    line.len() > trimmed.len()
        && WORDS.iter().any(|w| {
            trimmed
                .strip_prefix(w)
                .is_some_and(|rest| rest.starts_with(' '))
        })
}

fn watch_lock(line: String, liveness: Arc<Liveness>) {
    let seen = liveness.messages.load(Ordering::Relaxed);
    std::thread::spawn(move || {
        std::thread::sleep(NOTICE_AFTER);
        if liveness.finished.load(Ordering::Relaxed)
            || liveness.messages.load(Ordering::Relaxed) != seen
        {
            return;
        }
        eprintln!(
            "\nnote: cargo has waited {} s on a lock (\"{line}\"): another cargo or checker is \
             using the same build directory or package cache, perhaps a `--watch` or an editor's \
             rust-analyzer. Let it finish or stop it; cargo's locks go away with the process \
             that holds them, so if nothing seems to be running, look for it with \
             `ps aux | grep -E 'cargo|checker'`.",
            NOTICE_AFTER.as_secs()
        );
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_lines_are_dropped_and_errors_kept() {
        assert!(is_status("   Compiling bump-allocator v0.1.0 (/x)"));
        assert!(is_status(
            "    Blocking waiting for file lock on build directory"
        ));
        assert!(!is_status(
            "error: failed to parse manifest at `/x/Cargo.toml`"
        ));
        assert!(!is_status("Caused by:"));
        assert!(!is_status("  Compilingx"));
    }

    #[test]
    fn a_missing_cargo_says_where_to_get_rust() {
        let err = spawn_error(
            std::ffi::OsStr::new("cargo"),
            std::io::Error::from(std::io::ErrorKind::NotFound),
        );
        assert!(format!("{err:#}").contains("install Rust from https://rustup.rs"));
    }
}
