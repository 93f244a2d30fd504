//! The measurements: each probe times one kind of operation and says how.

use std::ffi::CString;
use std::fs::OpenOptions;
use std::hint::black_box;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Barrier, Mutex, OnceLock, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::sys::statfs;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, fork};
use serde::Serialize;

use crate::timing::{Budget, median, ns_per_call, ns_per_op};

/// One measured figure.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Figure {
    /// A stable name, for scripts and the book.
    pub(crate) key: &'static str,
    /// What was measured, for a person.
    pub(crate) what: &'static str,
    /// Median nanoseconds per operation.
    pub(crate) ns: f64,
    /// How it was measured.
    pub(crate) method: &'static str,
}

/// A measurement: takes the time budget, returns the figure.
pub(crate) type Probe = fn(Budget) -> Result<Figure>;

/// Every probe by key, in the order they are printed.
pub(crate) const PROBES: &[(&str, Probe)] = &[
    ("call", function_call),
    ("l1", memory_l1),
    ("l2", memory_l2),
    ("l3", memory_l3),
    ("dram", memory_dram),
    ("cas", atomic_cas),
    ("cas-contended", atomic_contended),
    ("mutex", mutex_uncontended),
    ("mutex-contended", mutex_contended),
    ("clock", vdso_clock),
    ("syscall", syscall),
    ("page-fault", page_fault),
    ("ping-pong", ping_pong),
    ("thread", thread_spawn),
    ("fork", fork_exit),
    ("fork-exec", fork_exec),
    ("spawn", posix_spawn),
    ("fsync", durable_write),
];

/// Where the `fsync` probe writes its file (`--dir`); the current
/// directory if unset.
pub(crate) static SCRATCH_DIR: OnceLock<PathBuf> = OnceLock::new();

#[inline(never)]
fn callee(x: u64) -> u64 {
    black_box(x).wrapping_add(1)
}

fn function_call(budget: Budget) -> Result<Figure> {
    let f: fn(u64) -> u64 = black_box(callee);
    let ns = ns_per_call(budget, || {
        black_box(f(black_box(1)));
    });
    Ok(Figure {
        key: "call",
        what: "function call",
        ns,
        method: "an indirect call of a non-inlined function, in a loop (loop overhead included)",
    })
}

/// A random cycle through `bytes` of memory, one pointer per 64-byte line,
/// so that every load depends on the previous one and lands on a new line.
fn chase(budget: Budget, bytes: usize) -> f64 {
    const LINE: usize = 64 / std::mem::size_of::<usize>();
    let lines = (bytes / 64).max(2);
    let mut order: Vec<usize> = (0..lines).collect();
    // Sattolo's shuffle: one cycle through every line.
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    for i in (1..lines).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let j = (seed % i as u64) as usize;
        order.swap(i, j);
    }
    let mut next = vec![0usize; lines * LINE];
    for w in 0..lines {
        next[order[w] * LINE] = order[(w + 1) % lines] * LINE;
    }
    let mut at = 0;
    ns_per_op(budget, |n| {
        let start = Instant::now();
        for _ in 0..n {
            at = next[at];
        }
        let took = start.elapsed();
        black_box(at);
        took
    })
}

fn memory_l1(budget: Budget) -> Result<Figure> {
    Ok(Figure {
        key: "l1",
        what: "memory load, 16 KiB working set (L1 cache)",
        ns: chase(budget, 16 << 10),
        method: "dependent loads chasing a random cycle of 64-byte lines",
    })
}

fn memory_l2(budget: Budget) -> Result<Figure> {
    Ok(Figure {
        key: "l2",
        what: "memory load, 256 KiB working set (L2 cache)",
        ns: chase(budget, 256 << 10),
        method: "dependent loads chasing a random cycle of 64-byte lines",
    })
}

fn memory_l3(budget: Budget) -> Result<Figure> {
    Ok(Figure {
        key: "l3",
        what: "memory load, 4 MiB working set (L3 cache)",
        ns: chase(budget, 4 << 20),
        method: "dependent loads chasing a random cycle of 64-byte lines",
    })
}

fn memory_dram(budget: Budget) -> Result<Figure> {
    let bytes = if budget.rounds < 5 {
        32 << 20
    } else {
        256 << 20
    };
    Ok(Figure {
        key: "dram",
        what: "memory load, 256 MiB working set (main memory)",
        ns: chase(budget, bytes),
        method: "dependent loads chasing a random cycle of 64-byte lines (TLB misses included)",
    })
}

fn atomic_cas(budget: Budget) -> Result<Figure> {
    let cell = AtomicU64::new(0);
    let ns = ns_per_call(budget, || {
        let v = cell.load(Ordering::Relaxed);
        let _ = black_box(cell.compare_exchange(v, v + 1, Ordering::AcqRel, Ordering::Relaxed));
    });
    Ok(Figure {
        key: "cas",
        what: "atomic compare-and-swap, one thread",
        ns,
        method: "load then compare_exchange on one AtomicU64 (a locked instruction)",
    })
}

/// Runs `op` `n` times on each of two threads started together; returns
/// the wall time until both are done.
fn two_threads(n: u64, op: impl Fn() + Sync) -> Duration {
    let barrier = Barrier::new(3);
    thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                barrier.wait();
                for _ in 0..n {
                    op();
                }
            });
        }
        barrier.wait();
        let start = Instant::now();
        // The scope joins both threads before it returns.
        start
    })
    .elapsed()
}

fn atomic_contended(budget: Budget) -> Result<Figure> {
    let cell = AtomicU64::new(0);
    let ns = ns_per_op(budget, |n| {
        two_threads(n.div_ceil(2), || {
            cell.fetch_add(1, Ordering::AcqRel);
        })
    });
    Ok(Figure {
        key: "cas-contended",
        what: "atomic add, two threads on one counter",
        ns,
        method: "fetch_add on one AtomicU64 from two threads; wall time / total adds",
    })
}

fn mutex_uncontended(budget: Budget) -> Result<Figure> {
    let m = Mutex::new(0u64);
    let ns = ns_per_call(budget, || {
        *m.lock().unwrap_or_else(|e| e.into_inner()) += 1;
    });
    Ok(Figure {
        key: "mutex",
        what: "mutex lock + unlock, uncontended",
        ns,
        method: "std::sync::Mutex locked and released by one thread",
    })
}

fn mutex_contended(budget: Budget) -> Result<Figure> {
    let m = Mutex::new(0u64);
    let ns = ns_per_op(budget, |n| {
        two_threads(n.div_ceil(2), || {
            *m.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        })
    });
    Ok(Figure {
        key: "mutex-contended",
        what: "mutex lock + unlock, two threads",
        ns,
        method: "two threads incrementing under one std::sync::Mutex; wall time / total increments",
    })
}

fn vdso_clock(budget: Budget) -> Result<Figure> {
    let ns = ns_per_call(budget, || {
        black_box(Instant::now());
    });
    Ok(Figure {
        key: "clock",
        what: "read the monotonic clock",
        ns,
        method: "Instant::now(): clock_gettime(CLOCK_MONOTONIC) through the vDSO, no kernel entry",
    })
}

fn syscall(budget: Budget) -> Result<Figure> {
    let ns = ns_per_call(budget, || {
        // SAFETY: getppid takes no arguments, touches no memory and cannot fail.
        black_box(unsafe { libc::syscall(libc::SYS_getppid) });
    });
    Ok(Figure {
        key: "syscall",
        what: "system call",
        ns,
        method: "syscall(SYS_getppid): the cheapest real trip into the kernel and back",
    })
}

fn page_fault(budget: Budget) -> Result<Figure> {
    const PAGE: usize = 4096;
    let pages: usize = if budget.rounds < 5 { 1024 } else { 16384 };
    let len = pages * PAGE;
    let mut rounds = Vec::new();
    for _ in 0..budget.rounds {
        // SAFETY: a fresh private anonymous mapping; nothing else refers to it.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            bail!(
                "mmap of {len} bytes failed: {}",
                std::io::Error::last_os_error()
            );
        }
        let base = ptr.cast::<u8>();
        let start = Instant::now();
        for i in 0..pages {
            // SAFETY: `i * PAGE < len`, inside the mapping made above.
            unsafe { base.add(i * PAGE).write_volatile(1) };
        }
        rounds.push(start.elapsed().as_nanos() as f64 / pages as f64);
        // SAFETY: unmaps exactly the mapping made above, no longer used.
        unsafe { libc::munmap(ptr, len) };
    }
    Ok(Figure {
        key: "page-fault",
        what: "page fault, first touch of a page",
        ns: median(rounds),
        method: "write one byte to each page of a fresh anonymous mmap (a minor fault and a zeroed 4 KiB frame each)",
    })
}

fn ping_pong(budget: Budget) -> Result<Figure> {
    let ns = ns_per_op(budget, |n| {
        let (to_echo, echo_in) = mpsc::channel::<u64>();
        let (to_main, main_in) = mpsc::channel::<u64>();
        let echo = thread::spawn(move || {
            while let Ok(v) = echo_in.recv() {
                if to_main.send(v).is_err() {
                    break;
                }
            }
        });
        let start = Instant::now();
        for i in 0..n {
            let _ = to_echo.send(i);
            let _ = main_in.recv();
        }
        let took = start.elapsed();
        drop(to_echo);
        let _ = echo.join();
        took
    });
    Ok(Figure {
        key: "ping-pong",
        what: "round trip between two threads",
        ns,
        method: "a message to another thread and its reply over std mpsc channels (each side sleeps and is woken)",
    })
}

fn thread_spawn(budget: Budget) -> Result<Figure> {
    let ns = ns_per_call(budget, || {
        let _ = thread::spawn(|| black_box(1)).join();
    });
    Ok(Figure {
        key: "thread",
        what: "thread spawn + join",
        ns,
        method: "std::thread::spawn of an empty closure, then join",
    })
}

/// Forks; the child runs `child` (which must not allocate, and should end
/// the process; if it returns, the child exits with 127) and the parent
/// waits for it.
fn fork_and_wait(child: impl Fn()) -> Result<()> {
    // SAFETY: the child only calls async-signal-safe functions (execv,
    // _exit) before it ends, as required after fork in a threaded process.
    match unsafe { fork() }.context("fork failed")? {
        ForkResult::Child => {
            child();
            // SAFETY: ends the child at once, without unwinding or atexit handlers.
            unsafe { libc::_exit(127) }
        }
        ForkResult::Parent { child } => match waitpid(child, None).context("waitpid failed")? {
            WaitStatus::Exited(_, 0) => Ok(()),
            other => bail!("the child ended unexpectedly: {other:?}"),
        },
    }
}

fn fork_exit(budget: Budget) -> Result<Figure> {
    let mut failure = None;
    let ns = ns_per_call(budget, || {
        if let Err(e) = fork_and_wait(|| {
            // SAFETY: _exit ends the child at once, without running atexit handlers.
            unsafe { libc::_exit(0) }
        }) {
            failure.get_or_insert(e);
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(Figure {
        key: "fork",
        what: "fork + exit + wait",
        ns,
        method: "fork(); the child calls _exit(0); the parent waits for it",
    })
}

fn fork_exec(budget: Budget) -> Result<Figure> {
    let path = CString::new("/bin/true").expect("no NUL in a literal");
    let argv = [path.as_ptr(), std::ptr::null()];
    let mut failure = None;
    let ns = ns_per_call(budget, || {
        if let Err(e) = fork_and_wait(|| {
            // SAFETY: `path` and `argv` were built before the fork and are a
            // NUL-terminated string and a NULL-terminated array of pointers.
            unsafe {
                libc::execv(path.as_ptr(), argv.as_ptr());
            }
        }) {
            failure.get_or_insert(e);
        }
    });
    if let Some(e) = failure {
        return Err(e).context("running /bin/true");
    }
    Ok(Figure {
        key: "fork-exec",
        what: "fork + exec + wait",
        ns,
        method: "fork(); the child execs /bin/true; the parent waits for it",
    })
}

fn posix_spawn(budget: Budget) -> Result<Figure> {
    let mut failure = None;
    let ns = ns_per_call(budget, || {
        match std::process::Command::new("/bin/true").status() {
            Ok(status) if status.success() => {}
            Ok(status) => {
                failure.get_or_insert(anyhow::anyhow!("/bin/true exited with {status}"));
            }
            Err(e) => {
                failure.get_or_insert(anyhow::Error::new(e).context("cannot run /bin/true"));
            }
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(Figure {
        key: "spawn",
        what: "spawn + wait (posix_spawn)",
        ns,
        method: "std::process::Command running /bin/true (vfork-style clone, no page-table copy)",
    })
}

/// A file removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn durable_write(budget: Budget) -> Result<Figure> {
    let dir = SCRATCH_DIR
        .get()
        .cloned()
        .unwrap_or_else(|| PathBuf::from("."));
    let on_tmpfs = statfs::statfs(&dir).is_ok_and(|fs| fs.filesystem_type() == statfs::TMPFS_MAGIC);
    if on_tmpfs {
        eprintln!(
            "note: {} is on tmpfs (RAM), so the fsync figure has no disk to wait for; \
             choose a directory on a disk with --dir",
            dir.display()
        );
    }
    let scratch = Scratch(dir.join(format!(".key-numbers-fsync-{}", std::process::id())));
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&scratch.0)
        .with_context(|| format!("cannot create a file in {}", dir.display()))?;
    // Real blocks, already on disk: later writes change data, not metadata.
    let block = [0x5a_u8; 4096];
    file.write_all(&block)?;
    file.sync_all()?;
    let mut failure = None;
    let ns = ns_per_call(budget, || {
        if let Err(e) = file.write_all_at(&block, 0).and_then(|()| file.sync_data()) {
            failure.get_or_insert(e);
        }
    });
    if let Some(e) = failure {
        return Err(e).context("writing and syncing the scratch file");
    }
    Ok(Figure {
        key: "fsync",
        what: "durable 4 KiB write (pwrite + fdatasync)",
        ns,
        method: "overwrite 4 KiB of a file in --dir (default: the current directory), then fdatasync: the device's write and cache flush",
    })
}
