//! Readers of `/proc/self` for tests and labs that watch what the kernel sees.

use std::fs;
use std::io;

/// One line of `/proc/self/maps` (or one entry of `/proc/self/smaps`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// First address of the mapping.
    pub start: usize,
    /// One past the last address of the mapping.
    pub end: usize,
    /// Permissions as the kernel prints them, e.g. `rw-p`.
    pub perms: String,
    /// Resident set size of this mapping in bytes (only from `smaps`).
    pub rss: Option<usize>,
}

fn parse_range(line: &str) -> Option<(usize, usize, String)> {
    let mut fields = line.split_whitespace();
    let (start, end) = fields.next()?.split_once('-')?;
    let perms = fields.next()?.to_string();
    let start = usize::from_str_radix(start, 16).ok()?;
    let end = usize::from_str_radix(end, 16).ok()?;
    Some((start, end, perms))
}

/// Every mapping of this process, from `/proc/self/maps`.
pub fn mappings() -> io::Result<Vec<Mapping>> {
    let text = fs::read_to_string("/proc/self/maps")?;
    Ok(text
        .lines()
        .filter_map(parse_range)
        .map(|(start, end, perms)| Mapping {
            start,
            end,
            perms,
            rss: None,
        })
        .collect())
}

/// The mapping that contains `addr`, with its resident size, from
/// `/proc/self/smaps`; `None` if `addr` is not mapped.
pub fn mapping_of(addr: usize) -> io::Result<Option<Mapping>> {
    let text = fs::read_to_string("/proc/self/smaps")?;
    let mut current: Option<Mapping> = None;
    for line in text.lines() {
        if let Some((start, end, perms)) = parse_range(line) {
            if current.is_some() {
                break;
            }
            if (start..end).contains(&addr) {
                current = Some(Mapping {
                    start,
                    end,
                    perms,
                    rss: None,
                });
            }
        } else if let Some(mapping) = current.as_mut() {
            if let Some(kb) = line.strip_prefix("Rss:") {
                let kb: usize = kb.trim().trim_end_matches("kB").trim().parse().unwrap_or(0);
                mapping.rss = Some(kb * 1024);
            }
        }
    }
    Ok(current)
}

/// Whether any mapping of this process contains `addr`.
pub fn is_mapped(addr: usize) -> io::Result<bool> {
    Ok(mappings()?.iter().any(|m| (m.start..m.end).contains(&addr)))
}

/// Resident bytes of the mapping that contains `addr` (0 if unmapped).
pub fn resident_bytes_of(addr: usize) -> io::Result<usize> {
    Ok(mapping_of(addr)?.and_then(|m| m.rss).unwrap_or(0))
}

/// This process's resident set size in bytes (`VmRSS` in `/proc/self/status`).
pub fn process_rss() -> io::Result<usize> {
    let text = fs::read_to_string("/proc/self/status")?;
    let kb: usize = text
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| io::Error::other("no VmRSS line in /proc/self/status"))?;
    Ok(kb * 1024)
}

/// Number of open file descriptors of this process, from `/proc/self/fd`.
pub fn open_fd_count() -> io::Result<usize> {
    // The directory handle itself is one of the entries.
    Ok(fs::read_dir("/proc/self/fd")?.count().saturating_sub(1))
}
