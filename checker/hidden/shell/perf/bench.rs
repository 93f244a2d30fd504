//! The shell's benchmark: how long a shell takes per command when it runs a
//! script of `/bin/true` lines (one fork, one exec, one wait each: the
//! path keeps dash from running its builtin `true` instead), for the
//! learner's shell (`candidate`), the reference solution (`reference`) and
//! dash (`/bin/sh`), measured interleaved.
//!
//! - `true-script`: one batch is one shell process reading a script of N
//!   `/bin/true` lines from a file on its standard input (N is calibrated, a
//!   few hundred); the time per command includes the shell's start-up
//!   divided by N. Time is the CPU time of the shell and the programs it
//!   ran (they are all waited for), so a busy neighbour does not count.
//!
//! The candidate and reference shells are library functions (`main() ->
//! i32`), so this program runs them by starting itself again with
//! `OSLINGS_SHELL_BENCH=candidate` (or `reference`): the `main` below then
//! runs that shell on its standard input instead of the benchmark.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use oslings_harness::perf::{Clock, Workload, WorkloadResult, run_main};

use crate::{candidate, reference};

/// The variable that turns this program into one of the shells.
const SELECT: &str = "OSLINGS_SHELL_BENCH";

/// The smallest time budget for the workload: a batch must hold a few
/// hundred commands for the shells' start-up not to weigh in.
const MIN_BUDGET: Duration = Duration::from_secs(4);

/// Runs `shell` (a program and its environment choice) on a script of
/// `lines` `true` commands and checks it succeeded.
fn run_script(shell: &Path, select: Option<&str>, scripts: &Scripts, lines: u64) {
    let script = scripts.get(lines);
    let stdin = std::fs::File::open(&script).expect("cannot open the benchmark script");
    let mut command = Command::new(shell);
    command
        .stdin(stdin)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    match select {
        Some(which) => command.env(SELECT, which),
        None => command.env_remove(SELECT),
    };
    let status = command.status().expect("cannot start the shell");
    assert!(
        status.success(),
        "{} (with {SELECT}={select:?}) failed on a script of {lines} `true` lines: {status}",
        shell.display()
    );
}

/// Scripts of N `true` lines, written once each into a temporary directory.
struct Scripts {
    dir: PathBuf,
}

impl Scripts {
    fn new() -> Scripts {
        let dir = std::env::temp_dir().join(format!("osh-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("cannot create the benchmark's directory");
        Scripts { dir }
    }

    fn get(&self, lines: u64) -> PathBuf {
        let path = self.dir.join(format!("true-{lines}.sh"));
        if !path.exists() {
            let mut file = std::fs::File::create(&path).expect("cannot write a script");
            file.write_all("/bin/true\n".repeat(lines as usize).as_bytes())
                .expect("cannot write a script");
        }
        path
    }
}

impl Drop for Scripts {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn true_script(budget: Duration) -> WorkloadResult {
    let me = std::env::current_exe().expect("cannot find the benchmark's own program");
    let scripts = Scripts::new();
    let dash = Path::new("/bin/sh");
    Workload::new("true-script", "command")
        .clock(Clock::Children)
        .candidate(|iters| run_script(&me, Some("candidate"), &scripts, iters))
        .reference(|iters| run_script(&me, Some("reference"), &scripts, iters))
        .baseline("dash", |iters| run_script(dash, None, &scripts, iters))
        .run(budget.max(MIN_BUDGET))
}

pub(crate) fn main() {
    match std::env::var(SELECT).as_deref() {
        Ok("candidate") => std::process::exit(candidate::main()),
        Ok("reference") => std::process::exit(reference::main()),
        _ => run_main(vec![Box::new(true_script)]),
    }
}
