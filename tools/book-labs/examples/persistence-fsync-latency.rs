//! Lab (Files and durability): what a durable write costs, measured.
//!
//! Appends small records to a file with no sync, with `fdatasync` or
//! `fsync` after each, with one `fsync` per batch, and overwrites a
//! preallocated file with `fdatasync`; prints each mode's per-record
//! latency and records per second.
//!
//! Usage: `persistence-fsync-latency [DIR] [RECORDS] [BATCH]`. DIR defaults
//! to the system's temporary directory; point it at the disk you care about.
// book-labs: run in tests

use std::env;
use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::statfs;

/// Bytes per record: about one log line, or one small database commit.
const RECORD: usize = 128;

/// No mode runs longer than this, so that a slow disk still finishes in
/// about a second; a mode that hits it reports fewer records.
const BUDGET: Duration = Duration::from_millis(250);

/// How each record is made durable.
#[derive(Debug, Clone, Copy)]
enum Mode {
    /// `write` only: the record is in the page cache.
    NoSync,
    /// `write`, then `fdatasync`.
    DataSyncEach,
    /// `write`, then `fsync`.
    FullSyncEach,
    /// `write`; `fsync` after every `n`th record (and after the last).
    FullSyncEvery(usize),
    /// `write` over bytes that are already on disk, then `fdatasync`.
    OverwriteDataSync,
}

impl Mode {
    fn name(self) -> String {
        match self {
            Mode::NoSync => "append, no sync".to_string(),
            Mode::DataSyncEach => "append + fdatasync".to_string(),
            Mode::FullSyncEach => "append + fsync".to_string(),
            Mode::FullSyncEvery(n) => format!("append, fsync every {n}"),
            Mode::OverwriteDataSync => "overwrite + fdatasync".to_string(),
        }
    }
}

/// What one mode measured.
#[derive(Debug)]
struct Run {
    /// The time of each record's `write` (and sync, if it had one).
    latencies: Vec<Duration>,
    /// Wall time for all of them, the final sync included.
    total: Duration,
}

/// A file that is removed when dropped.
#[derive(Debug)]
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Writes `records` records of `RECORD` bytes to a new file in `dir` in
/// the given mode, stopping early once `BUDGET` has passed.
fn run(dir: &Path, mode: Mode, records: usize) -> io::Result<Run> {
    let scratch = Scratch(dir.join("records.log"));
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&scratch.0)?;
    if let Mode::OverwriteDataSync = mode {
        preallocate(&mut file, records * RECORD)?;
    }
    let record = [b'r'; RECORD];
    let mut latencies = Vec::with_capacity(records);
    let start = Instant::now();
    // ANCHOR: loop
    for i in 0..records {
        let t = Instant::now();
        file.write_all(&record)?; // copies into the page cache, no more
        match mode {
            Mode::NoSync => {}
            Mode::DataSyncEach | Mode::OverwriteDataSync => file.sync_data()?,
            Mode::FullSyncEach => file.sync_all()?,
            Mode::FullSyncEvery(n) => {
                if (i + 1) % n == 0 {
                    file.sync_all()?;
                }
            }
        }
        latencies.push(t.elapsed());
        if start.elapsed() > BUDGET {
            break;
        }
    }
    if let Mode::FullSyncEvery(_) = mode {
        file.sync_all()?; // the last, partial batch
    }
    // ANCHOR_END: loop
    let total = start.elapsed();
    Ok(Run { latencies, total })
}

// ANCHOR: preallocate
/// Gives the file `len` bytes of real, written blocks and makes them and
/// the file's size durable, then rewinds: later writes of these bytes
/// change data only, not metadata. (`fallocate` would not do: it leaves
/// "unwritten" extents, and the first write to one changes metadata.)
fn preallocate(file: &mut File, len: usize) -> io::Result<()> {
    file.write_all(&vec![0u8; len])?;
    file.sync_all()?;
    file.seek(SeekFrom::Start(0))?;
    Ok(())
}
// ANCHOR_END: preallocate

/// The file system `dir` is on, by name, and whether it is in memory.
fn file_system(dir: &Path) -> (String, bool) {
    match statfs::statfs(dir) {
        Ok(fs) => {
            let kind = fs.filesystem_type();
            let name = match kind {
                statfs::EXT4_SUPER_MAGIC => "ext2/3/4",
                statfs::XFS_SUPER_MAGIC => "xfs",
                statfs::BTRFS_SUPER_MAGIC => "btrfs",
                statfs::TMPFS_MAGIC => "tmpfs",
                statfs::OVERLAYFS_SUPER_MAGIC => "overlayfs",
                statfs::NFS_SUPER_MAGIC => "nfs",
                statfs::F2FS_SUPER_MAGIC => "f2fs",
                _ => "other",
            };
            let label = format!("{name}, magic {:#x}", kind.0);
            (label, kind == statfs::TMPFS_MAGIC)
        }
        Err(e) => (format!("unknown: {e}"), false),
    }
}

fn human(d: Duration) -> String {
    let ns = d.as_nanos() as f64;
    if ns < 1_000_000.0 {
        format!("{:.1} µs", ns / 1_000.0)
    } else {
        format!("{:.2} ms", ns / 1_000_000.0)
    }
}

/// Argument `i` as a number, or `default`.
fn number(args: &[String], i: usize, default: usize) -> usize {
    args.get(i).and_then(|s| s.parse().ok()).unwrap_or(default)
}

fn main() -> io::Result<()> {
    let args: Vec<String> = env::args().skip(1).collect();
    let base = args.first().map_or_else(env::temp_dir, PathBuf::from);
    let records = number(&args, 1, 500).max(1);
    let batch = number(&args, 2, 16).max(1);

    let dir = tempfile::Builder::new()
        .prefix("fsync-lab-")
        .tempdir_in(&base)?;
    let (fs, in_memory) = file_system(dir.path());
    println!(
        "{records} records of {RECORD} bytes per mode, in {}",
        dir.path().display()
    );
    println!("file system: {fs}");
    if in_memory {
        println!("note: tmpfs lives in RAM; a sync has no disk to wait for.");
        println!("      Give a directory on a disk as the first argument.");
    }
    println!();
    println!(
        "{:<24} {:>7} {:>10} {:>10} {:>11}",
        "mode", "records", "median", "99th pct", "records/s"
    );
    let modes = [
        Mode::NoSync,
        Mode::DataSyncEach,
        Mode::FullSyncEach,
        Mode::FullSyncEvery(batch),
        Mode::OverwriteDataSync,
    ];
    for mode in modes {
        let Run {
            mut latencies,
            total,
        } = run(dir.path(), mode, records)?;
        latencies.sort();
        let n = latencies.len();
        let median = latencies[n / 2];
        let p99 = latencies[(n * 99 / 100).min(n - 1)];
        let rate = n as f64 / total.as_secs_f64();
        println!(
            "{:<24} {:>7} {:>10} {:>10} {:>11.0}",
            mode.name(),
            n,
            human(median),
            human(p99),
            rate
        );
    }
    Ok(())
}
