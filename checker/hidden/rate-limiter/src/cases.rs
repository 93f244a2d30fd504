//! Runs the event traces of instructor test packs (`oslings_cases::rate`)
//! against the learner's limiters on a `ManualClock`. The checker generates
//! one `#[test]` per case file, calling [`run_case!`](crate::run_case).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use learner::{
    FixedWindow, Gcra, ManualClock, Rate, SharedTokenBucket, SlidingWindowCounter,
    SlidingWindowLog, TokenBucket,
};
use oslings_cases::rate::{Event, Expect, Limiter, RateTrace};

/// Runs the case file at `path` (absolute; the checker validated it when it
/// loaded the pack) as a test; `name` is how the failure message names it.
#[macro_export]
macro_rules! run_case {
    ($name:literal, $path:literal) => {
        $crate::cases::run($name, include_str!($path))
    };
}

/// The limiter under test, one request at a time.
enum Subject<'c> {
    Bucket(TokenBucket<&'c ManualClock>),
    Shared(SharedTokenBucket<&'c ManualClock>),
    Gcra(Gcra<&'c ManualClock>),
    Fixed(FixedWindow<&'c ManualClock>),
    Log(SlidingWindowLog<&'c ManualClock>),
    Counter(SlidingWindowCounter<&'c ManualClock>),
}

impl Subject<'_> {
    fn try_acquire(&mut self, n: u64) -> bool {
        match self {
            Subject::Bucket(l) => l.try_acquire(n),
            Subject::Shared(l) => l.try_acquire(n),
            Subject::Gcra(l) => l.try_acquire(n),
            Subject::Fixed(l) => l.try_acquire(),
            Subject::Log(l) => l.try_acquire(),
            Subject::Counter(l) => l.try_acquire(),
        }
    }
}

/// Runs one event trace; panics with the first request that got the wrong answer.
pub fn run(name: &str, text: &str) {
    let trace: RateTrace = oslings_cases::parse(text)
        .unwrap_or_else(|err| panic!("the case file {name} is not valid: {err}"));
    let clock = ManualClock::at(trace.start_ns);
    let rate = trace
        .rate
        .map(|r| Rate::new(r.tokens, Duration::from_nanos(r.period_ns)));
    let window = Duration::from_nanos(trace.window_ns.unwrap_or(1));
    let cap = trace.capacity;
    let setup = match (trace.limiter, rate) {
        (Limiter::TokenBucket, Some(rate)) => {
            format!("TokenBucket::new({cap}, {rate}, clock)")
        }
        (Limiter::Shared, Some(rate)) => format!("SharedTokenBucket::new({cap}, {rate}, clock)"),
        (Limiter::Gcra, Some(rate)) => format!("Gcra::new({cap}, {rate}, clock)"),
        (limiter, _) => format!("{limiter:?}::new({cap}, {window:?}, clock)"),
    };
    let mut subject = guard(name, &setup, None, || match (trace.limiter, rate) {
        (Limiter::TokenBucket, Some(rate)) => Subject::Bucket(TokenBucket::new(cap, rate, &clock)),
        (Limiter::Shared, Some(rate)) => Subject::Shared(SharedTokenBucket::new(cap, rate, &clock)),
        (Limiter::Gcra, Some(rate)) => Subject::Gcra(Gcra::new(cap, rate, &clock)),
        (Limiter::FixedWindow, _) => Subject::Fixed(FixedWindow::new(cap, window, &clock)),
        (Limiter::SlidingWindowLog, _) => Subject::Log(SlidingWindowLog::new(cap, window, &clock)),
        (Limiter::SlidingWindowCounter, _) => {
            Subject::Counter(SlidingWindowCounter::new(cap, window, &clock))
        }
        (limiter, None) => panic!("{limiter:?} needs a rate (the case was validated)"),
    });
    let mut history = Vec::new();
    for (i, event) in trace.events.iter().map(|e| e.get_ref()).enumerate() {
        clock.set(event.at_ns);
        let context = Context {
            name,
            setup: &setup,
            index: i,
            history: &history,
        };
        let got = match event.expect {
            Expect::Allow | Expect::Deny => {
                let call = format!("try_acquire({})", event.n);
                let allowed = guard(name, &call, Some(&context), || subject.try_acquire(event.n));
                let expected = event.expect == Expect::Allow;
                if allowed != expected {
                    context.fail(
                        event,
                        &format!("{call} returned {allowed}; expected {expected}"),
                    );
                }
                format!("{call} = {allowed}")
            }
            Expect::Wait | Expect::Error => {
                let Subject::Shared(bucket) = &subject else {
                    panic!("the case was validated: only the shared bucket waits")
                };
                let call = format!("acquire({})", event.n);
                let slept_before: u64 = clock.sleeps().iter().sum();
                let result = guard(name, &call, Some(&context), || bucket.acquire(event.n));
                let slept = clock.sleeps().iter().sum::<u64>() - slept_before;
                match (result, event.expect, event.wait_ns) {
                    (Ok(()), Expect::Wait, Some(wait)) if slept != wait => context.fail(
                        event,
                        &format!(
                            "{call} slept {slept} ns on the clock in total; expected {wait} ns"
                        ),
                    ),
                    (Ok(()), Expect::Error, _) => context.fail(
                        event,
                        &format!(
                            "{call} succeeded (after sleeping {slept} ns); expected an \
                             AcquireError at once: {} is more than the capacity {cap}",
                            event.n
                        ),
                    ),
                    (Err(err), Expect::Wait, _) => {
                        context.fail(event, &format!("{call} returned Err({err}); expected Ok"))
                    }
                    (Err(_), Expect::Error, _) if slept > 0 => context.fail(
                        event,
                        &format!("{call} slept {slept} ns before refusing; it must refuse at once"),
                    ),
                    (Ok(()), ..) => format!("{call} = Ok after sleeping {slept} ns"),
                    (Err(_), ..) => format!("{call} = Err"),
                }
            }
        };
        history.push(format!("at {} ns: {got}", event.at_ns));
    }
}

/// Where a trace is, for its failure message.
struct Context<'a> {
    name: &'a str,
    setup: &'a str,
    index: usize,
    history: &'a [String],
}

impl Context<'_> {
    fn fail(&self, event: &Event, what: &str) -> ! {
        let before = if self.history.is_empty() {
            "  (nothing: this is the first request)".to_string()
        } else {
            self.history
                .iter()
                .map(|h| format!("  {h}"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        panic!(
            "case {}, event {} (at {} ns) on {}:\n{what}\nthe requests before it:\n{before}",
            self.name,
            self.index + 1,
            event.at_ns,
            self.setup
        )
    }
}

/// Runs `f`, turning a panic of the learner's code into a message that says
/// which call of which case panicked.
fn guard<R>(name: &str, call: &str, context: Option<&Context<'_>>, f: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(value) => value,
        Err(payload) => {
            let reason = oslings_harness::panic_reason(&*payload);
            let at = context.map_or(String::new(), |c| format!(", event {}", c.index + 1));
            if reason.starts_with("not yet implemented") {
                panic!(
                    "case {name}{at}: {call} reached a todo!() ({reason}): fill in that blank first"
                );
            }
            panic!("case {name}{at}: {call} panicked ({reason}); it must not panic");
        }
    }
}
