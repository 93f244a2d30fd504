//! Helpers shared by the rate limiters' hidden tests: independent models of
//! what each limiter must admit, random traces of (advance the clock,
//! request n tokens) events, and a runner that feeds a trace to a model and
//! to the learner's limiter side by side and reports the first divergence.
//!
//! The models are written here from the definitions, not from the
//! reference solution, and as plainly as possible: a token bucket whose
//! level is an exact fraction, a window log that keeps every admitted time
//! forever, a window counter recomputed from the full history.
//!
//! Every trace is seeded; a failure prints the seed and the events that led
//! to it. `OSLINGS_SEED=<n>` runs one seed instead of the built-in ones.

pub mod cases;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use learner::ManualClock;
use oslings_harness::procs::{State, Thread};

/// How long a test waits for threads to do something a working limiter
/// lets them do at once, before it calls them stuck.
pub const PATIENCE: Duration = Duration::from_secs(2);

/// The seeds a differential test runs: `OSLINGS_SEED` alone when it is set,
/// otherwise `count` fixed seeds (so that a failure can be reproduced).
pub fn seeds(count: u64) -> Vec<u64> {
    match std::env::var("OSLINGS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        Some(seed) => vec![seed],
        None => (0..count).map(|i| 0x5eed_0000 + i * 7919).collect(),
    }
}

/// A token bucket as a plain fraction: `num / den` tokens, earning
/// `tokens / period` tokens per nanosecond, where `tokens / period` is the
/// rate exactly as the test wrote it (not reduced). Only whole nanoseconds
/// are ever multiplied, so nothing is rounded.
#[derive(Debug, Clone)]
pub struct BucketModel {
    capacity: u128,
    tokens: u128,
    period: u128,
    /// Level in tokens is `level / period`.
    level: u128,
    last: u64,
}

impl BucketModel {
    /// A full bucket of `capacity` tokens earning `tokens` per `period_nanos`,
    /// created at time `now`.
    pub fn new(capacity: u64, tokens: u64, period_nanos: u64, now: u64) -> BucketModel {
        BucketModel {
            capacity: capacity.into(),
            tokens: tokens.into(),
            period: period_nanos.into(),
            level: u128::from(capacity) * u128::from(period_nanos),
            last: now,
        }
    }

    fn catch_up(&mut self, now: u64) {
        if now > self.last {
            let earned = u128::from(now - self.last) * self.tokens;
            self.level = (self.level + earned).min(self.capacity * self.period);
            self.last = now;
        }
    }

    /// Whether a request for `n` tokens at `now` is admitted (and takes them).
    pub fn request(&mut self, now: u64, n: u64) -> bool {
        self.catch_up(now);
        let cost = u128::from(n) * self.period;
        if self.level >= cost {
            self.level -= cost;
            true
        } else {
            false
        }
    }

    /// Whole tokens at `now`.
    pub fn available(&mut self, now: u64) -> u64 {
        self.catch_up(now);
        (self.level / self.period) as u64
    }

    /// Nanoseconds from `now` until the bucket holds `n` tokens, rounded up.
    pub fn wait(&mut self, now: u64, n: u64) -> u64 {
        self.catch_up(now);
        let cost = u128::from(n) * self.period;
        if self.level >= cost {
            0
        } else {
            let missing = cost - self.level;
            missing.div_ceil(self.tokens) as u64
        }
    }
}

/// Every admitted time, kept forever: the sliding-window log by definition.
#[derive(Debug, Clone)]
pub struct LogModel {
    limit: u64,
    window: u64,
    admitted: Vec<u64>,
}

impl LogModel {
    /// At most `limit` in any window of `window` ns.
    pub fn new(limit: u64, window: u64) -> LogModel {
        LogModel {
            limit,
            window,
            admitted: Vec::new(),
        }
    }

    /// Whether a request at `now` is admitted.
    pub fn request(&mut self, now: u64) -> bool {
        // Inside the window ending at `now`: now - window < t <= now. The
        // traces only move the clock forward, so the times are in order and
        // the ones inside are at the end.
        let inside = self
            .admitted
            .iter()
            .rev()
            .take_while(|&&t| u128::from(t) + u128::from(self.window) > u128::from(now))
            .filter(|&&t| t <= now)
            .count() as u64;
        if inside < self.limit {
            self.admitted.push(now);
            true
        } else {
            false
        }
    }
}

/// The sliding-window counter's documented formula, recomputed each time
/// from the number admitted in every fixed window so far.
#[derive(Debug, Clone)]
pub struct CounterModel {
    limit: u64,
    window: u64,
    per_window: HashMap<u64, u64>,
}

impl CounterModel {
    /// About `limit` in any window of `window` ns.
    pub fn new(limit: u64, window: u64) -> CounterModel {
        CounterModel {
            limit,
            window,
            per_window: HashMap::new(),
        }
    }

    /// Whether a request at `now` is admitted.
    pub fn request(&mut self, now: u64) -> bool {
        let k = now / self.window;
        let elapsed = now - k * self.window;
        let current = self.per_window.get(&k).copied().unwrap_or(0);
        let previous = match k.checked_sub(1) {
            Some(p) => self.per_window.get(&p).copied().unwrap_or(0),
            None => 0,
        };
        let w = u128::from(self.window);
        let estimate = u128::from(previous) * (w - u128::from(elapsed)) + u128::from(current) * w;
        if estimate < u128::from(self.limit) * w {
            *self.per_window.entry(k).or_insert(0) += 1;
            true
        } else {
            false
        }
    }
}

/// One event of a trace: move the clock forward by `advance` ns, then ask
/// for `n` tokens (for `key`, if the limiter is keyed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// Nanoseconds to move the clock forward first.
    pub advance: u64,
    /// Tokens requested.
    pub n: u64,
    /// The key, for keyed limiters (0 otherwise).
    pub key: u32,
}

/// Random steps for a bucket of `capacity` earning a token every
/// `tokens_per`/`period` ns: a mix of no time at all (bursts), a few ns,
/// about one token's worth, several tokens' worth, and long idles; most
/// requests are for one token, some for zero, many, the capacity or more.
pub fn random_steps(
    rng: &mut fastrand::Rng,
    len: usize,
    capacity: u64,
    tokens: u64,
    period_nanos: u64,
    keys: u32,
) -> Vec<Step> {
    let per_token = (period_nanos / tokens).max(1);
    (0..len)
        .map(|_| {
            let advance = match rng.u32(0..100) {
                0..=29 => 0,
                30..=49 => rng.u64(1..=7),
                50..=79 => rng.u64(per_token / 2..=per_token + per_token / 2 + 1),
                80..=94 => rng.u64(0..=per_token.saturating_mul(capacity.min(64)) + 1),
                _ => {
                    per_token.saturating_mul(capacity.saturating_add(1).min(1 << 20))
                        + rng.u64(0..1000)
                }
            };
            let n = match rng.u32(0..100) {
                0..=64 => 1,
                65..=69 => 0,
                70..=89 => rng.u64(1..=capacity.min(1 << 20)),
                90..=94 => capacity,
                _ => capacity.saturating_add(rng.u64(1..=3)),
            };
            let key = rng.u32(0..keys.max(1));
            Step { advance, n, key }
        })
        .collect()
}

fn verdict(admitted: bool) -> &'static str {
    if admitted { "allow" } else { "deny" }
}

/// Feeds `steps` to `model` and `subject` in lockstep on `clock`, starting
/// from the clock's current time, and panics at the first request they
/// decide differently. `what` names the limiter and its parameters.
pub fn run_trace(
    what: &str,
    seed: u64,
    clock: &ManualClock,
    steps: &[Step],
    mut model: impl FnMut(u64, &Step) -> bool,
    mut subject: impl FnMut(&Step) -> bool,
) {
    use learner::Clock;
    let keyed = what.contains("Keyed");
    let key_of = |step: &Step| {
        if keyed {
            format!(" for key {}", step.key)
        } else {
            String::new()
        }
    };
    // The last few requests and their (agreed) answers, for the report.
    let mut recent: std::collections::VecDeque<String> = std::collections::VecDeque::new();
    for (i, step) in steps.iter().enumerate() {
        clock.advance_nanos(step.advance);
        let now = clock.now();
        let expected = model(now, step);
        let got = subject(step);
        if expected != got {
            let mut history = String::new();
            for line in &recent {
                let _ = write!(history, "\n    {line}");
            }
            if history.is_empty() {
                history.push_str("\n    (none)");
            }
            panic!(
                "at t={now} ns, request of {}{}: expected {}, got {} ({what}; seed {seed}, \
                 step {i} of {}). The requests just before it, answered alike by both:{history}",
                step.n,
                key_of(step),
                verdict(expected),
                verdict(got),
                steps.len(),
            );
        }
        if recent.len() == 8 {
            recent.pop_front();
        }
        recent.push_back(format!(
            "t={now} ns: request of {}{}: {}",
            step.n,
            key_of(step),
            verdict(got)
        ));
    }
}

/// Bucket parameters that the differential tests cycle through:
/// `(capacity, tokens, period in ns)`. Among them, rates whose token
/// takes a fraction of a nanosecond, rates of 3 per second, and a
/// capacity of one.
pub const BUCKET_CASES: [(u64, u64, u64); 7] = [
    (1, 1, 1_000),
    (5, 3, 1_000_000_000),
    (10, 7, 1_000_000),
    (3, 10, 9),
    (100, 1, 3),
    (20, 1_000, 3),
    (7, 2, 999_999_937),
];

/// A limiter-shaped closure shared by many threads.
pub type Admit<'a> = &'a (dyn Fn(u64) -> bool + Sync);

/// `threads` threads, lined up with a Barrier, hammer `admit(1)` on a
/// limiter of `(capacity, tokens, period_nanos)` while this thread moves
/// `clock` forward in `steps` steps of `step` ns, each only once the
/// limiter has been emptied (every wait bounded by `PATIENCE`). Returns (admitted, expected):
/// a limiter that is exact admits `capacity` plus every whole token earned,
/// no more and no less.
pub fn hammer_with_moving_clock(
    threads: usize,
    (capacity, tokens, period_nanos): (u64, u64, u64),
    clock: &ManualClock,
    step: u64,
    steps: u64,
    admit: Admit<'_>,
) -> (u64, u64) {
    let admitted = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let barrier = Barrier::new(threads + 1);
    let earned_until = |elapsed: u64| -> u64 {
        (u128::from(elapsed) * u128::from(tokens) / u128::from(period_nanos)) as u64
    };
    let wait_for = |target: u64| -> bool {
        let deadline = Instant::now() + DEADLINE;
        while admitted.load(Ordering::SeqCst) < target {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::yield_now();
        }
        true
    };
    // Calls made by each thread, so that the end can wait for every thread
    // to have tried again (an event), not for a fixed time.
    let calls: Vec<AtomicU64> = (0..threads).map(|_| AtomicU64::new(0)).collect();
    std::thread::scope(|scope| {
        for calls in &calls {
            let (admitted, stop, barrier) = (&admitted, &stop, &barrier);
            scope.spawn(move || {
                barrier.wait();
                while !stop.load(Ordering::SeqCst) {
                    let got = admit(1);
                    calls.fetch_add(1, Ordering::SeqCst);
                    if got {
                        admitted.fetch_add(1, Ordering::SeqCst);
                    } else {
                        // Let the driver run: it moves the clock only once
                        // the limiter is empty.
                        std::thread::yield_now();
                    }
                }
            });
        }
        barrier.wait();
        let mut elapsed = 0;
        let mut ok = wait_for(capacity);
        for _ in 0..steps {
            if !ok {
                break;
            }
            elapsed += step;
            clock.advance_nanos(step);
            ok = wait_for(capacity + earned_until(elapsed));
        }
        // Let every thread try again, many times, at the final time: a racy
        // limiter admits more here. Counted in calls, not in time.
        let before: Vec<u64> = calls.iter().map(|c| c.load(Ordering::SeqCst)).collect();
        let deadline = Instant::now() + DEADLINE;
        // (The deadline only ends the extra chances early; the verdict is
        // the count either way.)
        while ok
            && Instant::now() < deadline
            && calls
                .iter()
                .zip(&before)
                .any(|(c, b)| c.load(Ordering::SeqCst) < b + 200)
        {
            std::thread::yield_now();
        }
        stop.store(true, Ordering::SeqCst);
        (
            admitted.load(Ordering::SeqCst),
            capacity + earned_until(elapsed),
        )
    })
}

/// A clock that moves forward by `step` ns every time it is read (until it
/// is frozen), so that tokens keep arriving while threads race for them:
/// the limiter is at the edge between "one more" and "none" for the whole
/// race, not only for its last microsecond.
#[derive(Debug)]
pub struct TickingClock {
    now: AtomicU64,
    step: u64,
    frozen: AtomicBool,
}

impl TickingClock {
    /// A clock at zero that moves `step` ns at every read.
    pub fn new(step: u64) -> TickingClock {
        TickingClock {
            now: AtomicU64::new(0),
            step,
            frozen: AtomicBool::new(false),
        }
    }

    /// Stops the clock where it is.
    pub fn freeze(&self) {
        self.frozen.store(true, Ordering::SeqCst);
    }

    /// The time it reads (without moving it).
    pub fn elapsed(&self) -> u64 {
        self.now.load(Ordering::SeqCst)
    }
}

impl learner::Clock for TickingClock {
    fn now(&self) -> u64 {
        if self.frozen.load(Ordering::SeqCst) {
            self.now.load(Ordering::SeqCst)
        } else {
            self.now.fetch_add(self.step, Ordering::SeqCst) + self.step
        }
    }

    fn sleep(&self, nanos: u64) {
        self.now.fetch_add(nanos, Ordering::SeqCst);
    }
}

/// Takes every whole token left (at a clock that does not move), the
/// biggest requests first; returns how many.
pub fn drain(admit: Admit<'_>) -> u64 {
    let mut left = 0;
    for k in (0..63).rev() {
        while admit(1 << k) {
            left += 1 << k;
        }
    }
    left
}

/// What a ticking race found: tokens admitted during the race and left
/// after it, and the most a limiter may ever hand out over the race
/// (the capacity plus every whole token earned by the final time).
#[derive(Debug, Clone, Copy)]
pub struct Ledger {
    /// Tokens admitted while the threads raced.
    pub admitted: u64,
    /// Whole tokens left once the clock was frozen.
    pub left: u64,
    /// `capacity + floor(elapsed * tokens / period)`.
    pub supplied: u64,
    /// Nanoseconds the clock moved.
    pub elapsed: u64,
}

/// `threads` threads, lined up with a Barrier, each call `admit(1)` `calls`
/// times on `clock` (a [`TickingClock`]), so tokens keep trickling in and
/// the limiter stays at its edge for the whole race; then the clock is
/// frozen and the rest drained. A limiter that is exact never hands out
/// more than `supplied`: `admitted + left <= supplied`, whatever the
/// scheduling. A lost update or a check-then-act race breaks it: a thread
/// spends a token another thread already spent.
pub fn hammer_ticking(
    threads: usize,
    calls: usize,
    (capacity, tokens, period_nanos): (u64, u64, u64),
    clock: &TickingClock,
    admit: Admit<'_>,
) -> Ledger {
    let admitted = hammer_frozen(threads, calls, |_, _| 1, admit);
    clock.freeze();
    let elapsed = clock.elapsed();
    let left = drain(admit);
    let earned = (u128::from(elapsed) * u128::from(tokens) / u128::from(period_nanos)) as u64;
    Ledger {
        admitted,
        left,
        supplied: capacity + earned,
        elapsed,
    }
}

/// `threads` threads, lined up with a Barrier, each call `admit(n)` for the
/// sizes `sizes(thread, i)` as fast as they can on a clock that does not
/// move; returns the total of the sizes admitted.
pub fn hammer_frozen(
    threads: usize,
    calls_per_thread: usize,
    sizes: impl Fn(usize, usize) -> u64 + Sync,
    admit: Admit<'_>,
) -> u64 {
    let total = AtomicU64::new(0);
    let barrier = Arc::new(Barrier::new(threads));
    std::thread::scope(|scope| {
        for t in 0..threads {
            let (barrier, total, sizes) = (Arc::clone(&barrier), &total, &sizes);
            scope.spawn(move || {
                barrier.wait();
                for i in 0..calls_per_thread {
                    let n = sizes(t, i);
                    if admit(n) {
                        total.fetch_add(n, Ordering::SeqCst);
                    }
                }
            });
        }
    });
    total.load(Ordering::SeqCst)
}

/// How long a test waits for something that a working limiter must do
/// (a helper thread finishing, or getting stuck on a lock) before it gives
/// up. Generous: it only runs out when neither happens, and the verdict
/// never depends on it.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// Whether thread `tid` of this process is asleep in a `futex` wait (the
/// way a thread blocked on a `Mutex` sleeps), read from `/proc`.
pub fn asleep_in_futex(tid: libc::pid_t) -> bool {
    let thread = Thread::own(tid);
    thread.state() == Some(State::Sleeping) && thread.blocked_in() == Some(libc::SYS_futex)
}

/// What became of a call run on a helper thread by [`run_beside`].
#[derive(Debug, PartialEq, Eq)]
pub enum Beside<T> {
    /// It returned this.
    Finished(T),
    /// It is asleep on a lock (a futex wait) and has not returned.
    Stuck,
}

/// Runs `f` on a new thread and waits, by events, for one of two things:
/// the call returns (`Finished`), or the thread falls asleep in a futex
/// wait, which for a call that should never wait means a lock someone
/// holds (`Stuck`; the thread is left behind, blocked). Panics with
/// `what` if neither happens within [`DEADLINE`].
pub fn run_beside<T: Send + 'static>(
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Beside<T> {
    let (sender, receiver) = std::sync::mpsc::channel();
    let tid = Arc::new(AtomicU64::new(0));
    {
        let tid = Arc::clone(&tid);
        std::thread::spawn(move || {
            // SAFETY: gettid has no preconditions.
            let me = unsafe { libc::gettid() };
            tid.store(me as u64, Ordering::SeqCst);
            let _ = sender.send(f());
        });
    }
    let deadline = Instant::now() + DEADLINE;
    // A thread blocked on a lock stays asleep for good; a brief futex wait
    // (an allocator's lock, say) ends, and the thread is runnable again.
    // So "stuck" needs the same answer many polls in a row.
    let mut asleep_polls = 0;
    loop {
        if let Ok(value) = receiver.try_recv() {
            return Beside::Finished(value);
        }
        let t = tid.load(Ordering::SeqCst);
        if t != 0 && asleep_in_futex(t as libc::pid_t) {
            asleep_polls += 1;
            if asleep_polls >= 25 {
                // It may have finished just before the last look.
                return match receiver.try_recv() {
                    Ok(value) => Beside::Finished(value),
                    Err(_) => Beside::Stuck,
                };
            }
        } else {
            asleep_polls = 0;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: the helper thread neither returned nor blocked within {DEADLINE:?}"
        );
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Runs `f`, catching a panic without printing it: the checker reports
/// the first panic a test prints, and a test that catches one wants its
/// own message (which can quote the panic, returned here with where it
/// happened) to be that first one.
pub fn catch_quietly<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    let caught: Arc<std::sync::Mutex<Option<String>>> = Arc::default();
    let previous: Arc<dyn Fn(&std::panic::PanicHookInfo<'_>) + Send + Sync> =
        Arc::from(std::panic::take_hook());
    {
        let (caught, previous) = (Arc::clone(&caught), Arc::clone(&previous));
        std::panic::set_hook(Box::new(move |info| {
            let mut text = payload_text(info.payload());
            // A blank not filled in yet is reported as usual (where the
            // todo!() is), not as the mistake the test looks for.
            if text.starts_with("not yet implemented") {
                previous(info);
            }
            if let Some(at) = info.location() {
                let _ = write!(text, " (at {}:{})", at.file(), at.line());
            }
            let mut slot = caught.lock().unwrap_or_else(|e| e.into_inner());
            slot.get_or_insert(text);
        }));
    }
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    std::panic::set_hook(Box::new(move |info| previous(info)));
    result.map_err(|payload| {
        caught
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .unwrap_or_else(|| payload_text(&*payload))
    })
}

/// The message of a panic payload.
pub fn payload_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&'static str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "<non-string panic payload>".to_string()
    }
}
