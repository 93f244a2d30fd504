//! Lab (Files and durability): kill a writer mid-update, then read the file.
//!
//! A parent forks a child that updates one file over and over, kills it
//! with SIGKILL at a random moment, and reads the file back: many times
//! for each of three ways of updating. In place, the file is often empty,
//! cut short or a mix of two versions; with write-temp, fsync, rename it is
//! always one whole version.
//!
//! Usage: `persistence-crash [DIR] [TRIALS]`. DIR defaults to the system's
//! temporary directory.
// book-labs: run in tests

use std::env;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, fork};

/// One version of the file is `CHUNKS` chunks of `CHUNK` bytes, written
/// one `write` call per chunk, as a program writing through a buffer does.
const CHUNK: usize = 4096;
const CHUNKS: usize = 16;
const SIZE: usize = CHUNK * CHUNKS;
/// Each version is made of 16-byte lines `version 0000042\n`.
const LINE: usize = 16;
/// The child is killed after a random delay up to this long.
const MAX_DELAY_US: u64 = 4000;

/// The bytes of version `v`.
fn contents(v: u64) -> Vec<u8> {
    let line = format!("version {v:07}\n");
    assert_eq!(line.len(), LINE);
    line.as_bytes().repeat(SIZE / LINE)
}

/// The three ways of updating the file.
#[derive(Debug, Clone, Copy)]
enum Method {
    Truncate,
    Overwrite,
    Rename,
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::Truncate => "in place: truncate, write",
            Method::Overwrite => "in place: overwrite",
            Method::Rename => "temp, fsync, rename",
        }
    }
}

// ANCHOR: in_place
/// Replaces the file's contents where they are: `O_TRUNC` empties it, then
/// the new version is written chunk by chunk.
fn update_truncate(path: &Path, new: &[u8]) -> io::Result<()> {
    let mut file = File::create(path)?; // O_WRONLY | O_CREAT | O_TRUNC
    for chunk in new.chunks(CHUNK) {
        file.write_all(chunk)?;
    }
    Ok(())
}

/// Writes the new version over the old one from offset 0, no truncation.
fn update_overwrite(path: &Path, new: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new().write(true).open(path)?;
    for chunk in new.chunks(CHUNK) {
        file.write_all(chunk)?;
    }
    Ok(())
}
// ANCHOR_END: in_place

// ANCHOR: replace
/// Replaces the file atomically: write a temporary file in the same
/// directory, make it durable, rename it over the old name, and make the
/// rename durable by syncing the directory.
fn update_rename(path: &Path, new: &[u8]) -> io::Result<()> {
    let dir = path.parent().expect("the file is in a directory");
    let tmp = path.with_extension("tmp");
    let mut file = File::create(&tmp)?;
    for chunk in new.chunks(CHUNK) {
        file.write_all(chunk)?;
    }
    file.sync_all()?; // 1. the new bytes are on disk
    drop(file);
    fs::rename(&tmp, path)?; // 2. the name now means the new inode
    File::open(dir)?.sync_all()?; // 3. the directory change is on disk
    Ok(())
}
// ANCHOR_END: replace

/// The child: update the file to version 1, 2, 3, ... until killed.
fn writer(path: &Path, method: Method) -> ! {
    let mut v = 1;
    loop {
        let new = contents(v);
        let done = match method {
            Method::Truncate => update_truncate(path, &new),
            Method::Overwrite => update_overwrite(path, &new),
            Method::Rename => update_rename(path, &new),
        };
        if done.is_err() {
            // SAFETY: ends the child at once, without unwinding into the
            // parent's code or running its atexit handlers.
            unsafe { libc::_exit(1) }
        }
        v += 1;
    }
}

/// What a reader finds in the file after the kill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found {
    /// Version 0, whole: no update finished (or none started).
    Old,
    /// A later version, whole.
    New,
    /// No bytes at all.
    Empty,
    /// The start of one version, and nothing after it.
    CutShort,
    /// Whole size, but lines from two versions.
    Mixed,
    /// No file, or bytes that are no version at all.
    Other,
}

// ANCHOR: classify
fn classify(bytes: Option<Vec<u8>>) -> Found {
    let Some(bytes) = bytes else {
        return Found::Other;
    };
    if bytes.is_empty() {
        return Found::Empty;
    }
    if bytes.len() % LINE != 0 {
        return Found::Other;
    }
    let mut versions: Vec<u64> = Vec::new();
    for line in bytes.chunks(LINE) {
        let Some(v) = std::str::from_utf8(line)
            .ok()
            .and_then(|l| l.strip_prefix("version "))
            .and_then(|l| l.trim_end().parse().ok())
        else {
            return Found::Other;
        };
        if !versions.contains(&v) {
            versions.push(v);
        }
    }
    match (versions.as_slice(), bytes.len() == SIZE) {
        ([_, _, ..], _) => Found::Mixed,
        (_, false) => Found::CutShort,
        ([0], true) => Found::Old,
        _ => Found::New,
    }
}
// ANCHOR_END: classify

/// A small random number generator (xorshift), seeded from the clock.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// What the file held, and whether a temporary file was left behind.
type Outcome = (Found, bool);

// ANCHOR: trial
/// One trial: version 0 in place, a writer forked, a random wait, SIGKILL,
/// then a look at the file.
fn trial(path: &Path, how: Method, rng: &mut Rng) -> io::Result<Outcome> {
    let tmp = path.with_extension("tmp");
    let _ = fs::remove_file(&tmp);
    fs::write(path, contents(0))?;
    io::stdout().flush()?;
    // SAFETY: this program has one thread, so the child may do anything
    // the parent could; it never returns from `writer`.
    match unsafe { fork() }.map_err(io::Error::from)? {
        ForkResult::Child => writer(path, how),
        ForkResult::Parent { child } => {
            thread::sleep(Duration::from_micros(rng.next() % MAX_DELAY_US));
            kill(child, Signal::SIGKILL).map_err(io::Error::from)?;
            waitpid(child, None).map_err(io::Error::from)?;
        }
    }
    Ok((classify(fs::read(path).ok()), tmp.exists()))
}
// ANCHOR_END: trial

fn main() -> io::Result<()> {
    let args: Vec<String> = env::args().skip(1).collect();
    let base = args.first().map_or_else(env::temp_dir, PathBuf::from);
    let trials: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(50);
    let dir = tempfile::Builder::new()
        .prefix("crash-lab-")
        .tempdir_in(&base)?;
    let path = dir.path().join("data");
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    let mut rng = Rng(seed | 1);

    println!(
        "{trials} trials per method; {SIZE}-byte file in {} writes; \
         SIGKILL after 0-{} ms",
        CHUNKS,
        MAX_DELAY_US / 1000
    );
    println!();
    println!(
        "{:<26} {:>5} {:>5} {:>6} {:>6} {:>6} {:>6}",
        "method", "old", "new", "empty", "short", "mixed", "other"
    );
    for method in [Method::Truncate, Method::Overwrite, Method::Rename] {
        let mut counts = [0usize; 6];
        let mut leftovers = 0;
        for _ in 0..trials {
            let (found, tmp_left) = trial(&path, method, &mut rng)?;
            let slot = match found {
                Found::Old => 0,
                Found::New => 1,
                Found::Empty => 2,
                Found::CutShort => 3,
                Found::Mixed => 4,
                Found::Other => 5,
            };
            counts[slot] += 1;
            leftovers += usize::from(tmp_left);
        }
        println!(
            "{:<26} {:>5} {:>5} {:>6} {:>6} {:>6} {:>6}",
            method.name(),
            counts[0],
            counts[1],
            counts[2],
            counts[3],
            counts[4],
            counts[5]
        );
        if let Method::Rename = method {
            println!("  (a temporary file was left behind {leftovers} times)");
        }
    }
    Ok(())
}
