//! Helpers shared by the thread pool's hidden tests: bounded waits that turn
//! a stuck pool into a readable failure, a barrier round that proves N jobs
//! run at once, gates that hold a worker busy, and readers of the kernel's
//! view of this process's threads (`/proc/self/task`, per-thread CPU time).
//!
//! The tests run one at a time in the checker, but many at once under
//! `cargo test`, so nothing here counts *all* the threads of the process:
//! a test names the worker threads it cares about by their thread ids.

use std::collections::BTreeSet;
use std::ops::Deref;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Condvar, Mutex, PoisonError, mpsc};
use std::time::{Duration, Instant};

use learner::ThreadPool;
use oslings_harness::procs::{self, State, Thread};

/// How long a test waits for something a working pool does at once (a job
/// running, a worker waking up) before it calls it lost. Generous, because
/// the checker runs tests side by side on small, busy machines.
pub const PATIENCE: Duration = Duration::from_secs(2);

/// The kernel's id of the calling thread (as listed in `/proc/self/task`).
pub fn tid() -> i32 {
    // SAFETY: gettid has no preconditions and cannot fail.
    unsafe { libc::gettid() }
}

/// The ids of every thread of this process right now, from `/proc/self/task`.
pub fn live_threads() -> BTreeSet<i32> {
    procs::own_threads()
}

/// Waits up to `patience` for every thread in `tids` to be gone from
/// `/proc/self/task`; returns the ones still there. (A thread that has been
/// joined can linger for a few microseconds while the kernel tidies it up.)
pub fn threads_still_alive(tids: &BTreeSet<i32>, patience: Duration) -> BTreeSet<i32> {
    let deadline = Instant::now() + patience;
    loop {
        let alive: BTreeSet<i32> = live_threads().intersection(tids).copied().collect();
        if alive.is_empty() || Instant::now() >= deadline {
            return alive;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// How many times the calling thread has waited (blocked in the kernel, its
/// voluntary context switches); being switched out for another thread, or
/// `yield_now`, does not count.
pub fn thread_waits() -> usize {
    // SAFETY: an all-zero rusage is a valid value for getrusage to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes only into the valid out-pointer.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) };
    assert_eq!(rc, 0, "getrusage(RUSAGE_THREAD) failed");
    usage.ru_nvcsw as usize
}

/// A pool under test. It derefs to the learner's `ThreadPool` and drops it
/// normally when the test ends well; when the test fails, it leaks the pool
/// instead, so that a worker stuck in a job (or a learner's drop that waits
/// for it) cannot turn a clear failure message into a time-out.
#[derive(Debug)]
pub struct Pool(Option<ThreadPool>);

impl Pool {
    /// `ThreadPool::new(workers)`.
    pub fn new(workers: usize) -> Pool {
        Pool(Some(counting_threads(workers, || ThreadPool::new(workers))))
    }

    /// `ThreadPool::with_capacity(workers, capacity)`.
    pub fn with_capacity(workers: usize, capacity: usize) -> Pool {
        Pool(Some(counting_threads(workers, || {
            ThreadPool::with_capacity(workers, capacity)
        })))
    }

    /// The pool itself, e.g. to call `shutdown` or to drop it on purpose.
    pub fn into_inner(mut self) -> ThreadPool {
        self.0.take().expect("the pool is there until into_inner")
    }

    /// Ends a test of stage 1 without dropping the pool: dropping it is
    /// stage 2, which a learner may not have written yet. The idle workers
    /// stay asleep until the test process exits.
    pub fn leak(mut self) {
        std::mem::forget(self.0.take());
    }
}

impl Deref for Pool {
    type Target = ThreadPool;
    fn deref(&self) -> &ThreadPool {
        self.0.as_ref().expect("the pool is there until into_inner")
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        if std::thread::panicking() {
            std::mem::forget(self.0.take());
        }
    }
}

/// A count that tests can wait on.
#[derive(Debug, Default)]
pub struct Tally {
    count: Mutex<usize>,
    changed: Condvar,
}

impl Tally {
    /// A tally at zero, ready to share with jobs.
    pub fn new() -> Arc<Tally> {
        Arc::new(Tally::default())
    }

    /// Adds one.
    pub fn add(&self) {
        *self.count.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        self.changed.notify_all();
    }

    /// The count now.
    pub fn get(&self) -> usize {
        *self.count.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits up to `patience` for the count to reach `n`; `Err(count)` if it
    /// did not.
    pub fn wait_for(&self, n: usize, patience: Duration) -> Result<(), usize> {
        let count = self.count.lock().unwrap_or_else(PoisonError::into_inner);
        let (count, _) = self
            .changed
            .wait_timeout_while(count, patience, |count| *count < n)
            .unwrap_or_else(PoisonError::into_inner);
        if *count >= n { Ok(()) } else { Err(*count) }
    }
}

/// A gate that jobs wait at until the test opens it: a way to keep workers
/// busy for exactly as long as a test needs.
#[derive(Debug, Default)]
pub struct Gate {
    open: Mutex<bool>,
    opened: Condvar,
}

impl Gate {
    /// A closed gate, ready to share with jobs.
    pub fn new() -> Arc<Gate> {
        Arc::new(Gate::default())
    }

    /// Lets every waiting (and future) job through.
    pub fn open(&self) {
        *self.open.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.opened.notify_all();
    }

    /// Blocks until the gate is open.
    pub fn wait(&self) {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let _open = self
            .opened
            .wait_while(open, |open| !*open)
            .unwrap_or_else(PoisonError::into_inner);
    }
}

/// Occupies every one of the pool's `workers` with a job that waits at
/// `gate`, and returns once all of them are running (so the queue is empty
/// and every worker busy). Fails the test if they do not all start.
pub fn occupy_workers(pool: &ThreadPool, workers: usize, gate: &Arc<Gate>) {
    let started = Tally::new();
    // One at a time: each job is taken before the next is queued, so that
    // even a queue of capacity 1 never makes execute wait here.
    for i in 0..workers {
        let (gate, job_started) = (Arc::clone(gate), Arc::clone(&started));
        pool.execute(move || {
            job_started.add();
            gate.wait();
        });
        if started.wait_for(i + 1, PATIENCE).is_err() {
            break;
        }
    }
    if let Err(k) = started.wait_for(workers, PATIENCE) {
        panic!(
            "{workers} jobs were queued on a pool of {workers} workers, but only {k} of them \
             started within {PATIENCE:?}: every idle worker should take a job"
        );
    }
}

/// Runs `n` jobs that must all be running at the same time to pass a
/// `Barrier` of `n`, and returns the ids of the threads they ran on; or
/// `Err(k)` when only `k` of them arrived at the barrier within `PATIENCE`.
/// (A serial pool leaves its one job stuck at the barrier for good; the
/// test then fails, and `Pool` leaks the pool instead of waiting for it.)
pub fn barrier_round(pool: &ThreadPool, n: usize) -> Result<BTreeSet<i32>, usize> {
    let barrier = Arc::new(Barrier::new(n));
    let arrived = Arc::new(AtomicUsize::new(0));
    let (sender, receiver) = mpsc::channel();
    for _ in 0..n {
        let (barrier, arrived, sender) =
            (Arc::clone(&barrier), Arc::clone(&arrived), sender.clone());
        pool.execute(move || {
            arrived.fetch_add(1, Ordering::SeqCst);
            barrier.wait();
            let _ = sender.send(tid());
        });
    }
    let deadline = Instant::now() + PATIENCE;
    let mut tids = BTreeSet::new();
    for _ in 0..n {
        match receiver.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(tid) => {
                tids.insert(tid);
            }
            Err(_) => return Err(arrived.load(Ordering::SeqCst)),
        }
    }
    Ok(tids)
}

/// Workers asked of the last pool a test made, and threads the process
/// gained while it was made (each test runs in a process of its own under
/// the checker, so nothing else starts threads meanwhile).
static LAST_POOL: Mutex<Option<(usize, usize)>> = Mutex::new(None);

/// The threads of this process now.
fn threads_now() -> usize {
    procs::own_threads().len()
}

/// Makes a pool with `make` and remembers how many threads it started.
fn counting_threads(workers: usize, make: impl FnOnce() -> ThreadPool) -> ThreadPool {
    let before = threads_now();
    let pool = make();
    let started = threads_now().saturating_sub(before);
    *LAST_POOL.lock().unwrap_or_else(PoisonError::into_inner) = Some((workers, started));
    pool
}

/// A sentence for a failure message when the last pool made started fewer
/// threads than it has workers (a `1..workers` loop, say); empty otherwise.
pub fn threads_started_note() -> String {
    match *LAST_POOL.lock().unwrap_or_else(PoisonError::into_inner) {
        Some((workers, started)) if started < workers => format!(
            " (ThreadPool::new({workers}) had started {started} thread{} when it returned: \
             `new` starts one worker thread per worker asked for)",
            if started == 1 { "" } else { "s" }
        ),
        _ => String::new(),
    }
}

/// [`barrier_round`], failing the test with an explanation when the `n`
/// jobs do not all run at once. `context` says what the test did before.
pub fn expect_parallel(pool: &ThreadPool, n: usize, context: &str) -> BTreeSet<i32> {
    match barrier_round(pool, n) {
        Ok(tids) => tids,
        Err(k) => panic!(
            "{context}: only {k} of {n} jobs ran at once on a pool of {n} workers (each job \
             waits at a Barrier of {n}, so all {n} must run at the same time to finish; \
             none finished within {PATIENCE:?}). Is the queue's lock held while a job runs, \
             or has a worker stopped taking jobs?{}",
            threads_started_note()
        ),
    }
}

/// Starts `f` (e.g. dropping a pool) on a helper thread and returns at
/// once; the receiver gets `f`'s result when it returns.
pub fn in_background<R: Send + 'static>(
    f: impl FnOnce() -> R + Send + 'static,
) -> mpsc::Receiver<R> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(f());
    });
    receiver
}

/// Runs `f` (e.g. dropping or shutting down a pool) on a helper thread and
/// waits up to `patience` for it to return; `None` if it did not (the
/// helper thread is then left blocked, and the test fails anyway).
pub fn finishes_within<R: Send + 'static>(
    patience: Duration,
    f: impl FnOnce() -> R + Send + 'static,
) -> Option<R> {
    in_background(f).recv_timeout(patience).ok()
}

/// Fails the test if a panic that a test expected (e.g. from
/// `ThreadPool::new(0)`) came from a `todo!()` rather than the check.
pub fn expect_not_a_todo(payload: &(dyn std::any::Any + Send), call: &str) {
    let message = payload_text(payload);
    if message.starts_with("not yet implemented") {
        panic!("{call} reached a todo!() ({message}): fill in that blank first");
    }
}

/// Message of a panic payload, for assertions about what panicked.
pub fn payload_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&'static str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "<non-string panic payload>".to_string()
    }
}

/// The CPUs this thread may run on.
fn affinity() -> Option<libc::cpu_set_t> {
    // SAFETY: an all-zero cpu_set_t is a valid, empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: sched_getaffinity writes at most `size_of::<cpu_set_t>()` bytes into `set`.
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    (rc == 0).then_some(set)
}

fn set_affinity(set: &libc::cpu_set_t) {
    // SAFETY: sched_setaffinity only reads the set; failure leaves the affinity alone.
    unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), set) };
}

/// Two different CPUs this thread may run on, if it has two.
pub fn two_cpus() -> Option<(usize, usize)> {
    let set = affinity()?;
    // SAFETY: CPU_ISSET only reads the set, and the index is below CPU_SETSIZE.
    let mut cpus =
        (0..libc::CPU_SETSIZE as usize).filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) });
    Some((cpus.next()?, cpus.next()?))
}

/// Restricts the calling thread to one CPU until the guard is dropped, so a
/// race test can make sure two threads really run at the same time.
pub struct Pinned(Option<libc::cpu_set_t>);

impl std::fmt::Debug for Pinned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pinned")
    }
}

/// Pins the calling thread to `cpu`; dropping the guard restores its old CPUs.
pub fn pin_to(cpu: usize) -> Pinned {
    let old = affinity();
    // SAFETY: an all-zero cpu_set_t is a valid, empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: CPU_SET writes one bit of the set; `cpu` comes from `two_cpus`.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    set_affinity(&set);
    Pinned(old)
}

impl Drop for Pinned {
    fn drop(&mut self) {
        if let Some(old) = &self.0 {
            set_affinity(old);
        }
    }
}

/// The kernel's scheduling state of thread `tid` of this process (`R`
/// running, `S` asleep, ...), from `/proc/self/task/<tid>/stat`; `None` once
/// the thread is gone.
pub fn thread_state(tid: i32) -> Option<State> {
    Thread::own(tid).state()
}

/// How a thread stands after [`settle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Asleep in the kernel (blocked on a futex, a pipe, ...).
    Asleep,
    /// Gone from `/proc/self/task` (it returned).
    Gone,
    /// Still running or runnable when the patience ran out.
    Busy,
}

/// Waits up to `patience` for thread `tid` to be asleep in the kernel (state
/// `S` at three looks in a row, 2 ms apart: a thread only passing through a
/// short sleep is not taken for one that waits) or gone. An event, not a
/// guess: a pool's idle worker, a blocked submitter or a `join` that waits
/// all end up asleep, whatever the machine's load.
pub fn settle(tid: i32, patience: Duration) -> Settled {
    let deadline = Instant::now() + patience;
    let mut asleep_in_a_row = 0;
    loop {
        match thread_state(tid) {
            None => return Settled::Gone,
            Some(State::Sleeping) => asleep_in_a_row += 1,
            Some(_) => asleep_in_a_row = 0,
        }
        if asleep_in_a_row >= 3 {
            return Settled::Asleep;
        }
        if Instant::now() >= deadline {
            return Settled::Busy;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// [`settle`] for each of `tids`; the ones that are not asleep (or gone)
/// within `patience` in all.
pub fn not_asleep(tids: &BTreeSet<i32>, patience: Duration) -> BTreeSet<i32> {
    let deadline = Instant::now() + patience;
    tids.iter()
        .copied()
        .filter(|&t| settle(t, deadline.saturating_duration_since(Instant::now())) == Settled::Busy)
        .collect()
}

/// What thread `tid` has done so far: its CPU time in clock ticks (user +
/// system) and its context switches (voluntary + involuntary). A thread
/// asleep on a condition variable adds to neither; one that polls adds to
/// one or the other, whatever the load (on an idle CPU it burns ticks, on a
/// busy one it is switched out over and over).
pub fn activity(tid: i32) -> (u64, u64) {
    let thread = Thread::own(tid);
    let ticks = thread
        .cpu_ticks()
        .unwrap_or_else(|e| panic!("cannot read /proc/self/task/{tid}/stat: {e}"));
    let switches = thread
        .context_switches()
        .unwrap_or_else(|e| panic!("cannot read /proc/self/task/{tid}/status: {e}"));
    (ticks, switches)
}

/// Starts `f` on a helper thread like [`in_background`], and also returns
/// the helper's thread id, so that a test can wait for it to block.
pub fn in_background_with_tid<R: Send + 'static>(
    f: impl FnOnce() -> R + Send + 'static,
) -> (i32, mpsc::Receiver<R>) {
    let (tid_sender, tid_receiver) = mpsc::channel();
    let receiver = in_background(move || {
        let _ = tid_sender.send(tid());
        f()
    });
    let helper = tid_receiver
        .recv_timeout(PATIENCE)
        .expect("a helper thread did not start");
    (helper, receiver)
}

/// A thread held in a signal handler (see [`freeze`]) until the guard is
/// dropped: while frozen, it can neither take a lock nor return from a
/// `Condvar::wait`, so a test decides who gets there first instead of
/// hoping for it.
#[derive(Debug)]
pub struct Frozen {
    _one_at_a_time: std::sync::MutexGuard<'static, ()>,
}

/// The pipes the handler of `SIGUSR1` writes its "I am frozen" to and reads
/// its release from, created (and the handler installed) once.
fn freezer() -> (i32, i32) {
    static PIPES: std::sync::OnceLock<(i32, i32)> = std::sync::OnceLock::new();
    *PIPES.get_or_init(|| {
        let mut ack = [0; 2];
        let mut release = [0; 2];
        // SAFETY: pipe2 writes two descriptors into each valid array.
        let ok = unsafe {
            libc::pipe2(ack.as_mut_ptr(), libc::O_CLOEXEC) == 0
                && libc::pipe2(release.as_mut_ptr(), libc::O_CLOEXEC) == 0
        };
        assert!(ok, "cannot create the freezer's pipes");
        ACK.store(ack[1], Ordering::SeqCst);
        RELEASE.store(release[0], Ordering::SeqCst);
        // SAFETY: an all-zero sigaction is valid; the handler only calls
        // write and read, which are async-signal-safe.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = frozen_in_handler as extern "C" fn(libc::c_int) as usize;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            assert_eq!(
                libc::sigaction(libc::SIGUSR1, &action, std::ptr::null_mut()),
                0,
                "cannot install the freezer's SIGUSR1 handler"
            );
        }
        (ack[0], release[1])
    })
}

static ACK: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);
static RELEASE: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

extern "C" fn frozen_in_handler(_: libc::c_int) {
    let byte = [1_u8];
    let mut got = [0_u8];
    // SAFETY: write and read are async-signal-safe, on the freezer's own
    // pipes, with valid one-byte buffers.
    unsafe {
        libc::write(ACK.load(Ordering::SeqCst), byte.as_ptr().cast(), 1);
        while libc::read(RELEASE.load(Ordering::SeqCst), got.as_mut_ptr().cast(), 1) != 1 {}
    }
}

/// Holds thread `tid` (of this process) in a signal handler until the
/// returned guard is dropped. A thread asleep in `Condvar::wait` stays off
/// the condition variable meanwhile: a notification sent now wakes nobody,
/// but its wait returns as soon as it is let go (the condition variable has
/// changed), after whatever the test did in between.
pub fn freeze(tid: i32) -> Frozen {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let guard = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
    let (ack, _) = freezer();
    // SAFETY: tgkill only sends a signal; `tid` is a thread of this process.
    let rc = unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, libc::SIGUSR1) };
    assert_eq!(rc, 0, "cannot signal thread {tid}");
    let mut poll = libc::pollfd {
        fd: ack,
        events: libc::POLLIN,
        revents: 0,
    };
    let millis = PATIENCE.as_millis() as libc::c_int;
    // SAFETY: poll reads one valid pollfd; read fills a valid one-byte buffer.
    let frozen = unsafe {
        libc::poll(&mut poll, 1, millis) == 1 && {
            let mut byte = [0_u8];
            libc::read(ack, byte.as_mut_ptr().cast(), 1) == 1
        }
    };
    assert!(
        frozen,
        "thread {tid} did not enter the freezer's signal handler"
    );
    Frozen {
        _one_at_a_time: guard,
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        let (_, release) = freezer();
        let byte = [1_u8];
        // SAFETY: writes one byte from a valid buffer to the freezer's pipe.
        unsafe { libc::write(release, byte.as_ptr().cast(), 1) };
    }
}

/// Keeps the panics the tests provoke on purpose (a message that says "on
/// purpose" and is not an assertion, or an `i32` payload) out of the test's output, so that the
/// first panic the checker reports is the failure, not a planned one. Every
/// other panic is printed as usual.
pub fn quiet_intended_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let text = payload_text(info.payload());
            // (A failed assertion may quote a planned panic's text.)
            let planned = info.payload().is::<i32>()
                || (text.contains("on purpose") && !text.starts_with("assertion"));
            if !planned {
                previous(info);
            }
        }));
    });
}

/// Waits up to `patience` until none of `tids` has run or been switched in
/// or out for 100 ms (see [`activity`]): a thread that looked asleep may
/// only have been waiting for a lock that a preempted thread held. True if
/// they all went still.
pub fn wait_until_still(tids: &BTreeSet<i32>, patience: Duration) -> bool {
    let deadline = Instant::now() + patience;
    let snapshot = || tids.iter().map(|&t| activity(t)).collect::<Vec<_>>();
    let mut before = snapshot();
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let now = snapshot();
        if now == before {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        before = now;
    }
}
