//! Event traces for the rate limiters: one limiter on a manual clock, and a
//! list of requests at given times (nanoseconds) with the answer each must get.

use serde::Deserialize;
use toml::Spanned;

use crate::{Case, Invalid};

/// An event trace.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateTrace {
    /// Which limiter is built.
    pub limiter: Limiter,
    /// Bucket size (token bucket, shared, GCRA) or requests per window (windows).
    pub capacity: u64,
    /// Token buckets and GCRA: the refill rate.
    pub rate: Option<RateSpec>,
    /// Windows: the window's length in nanoseconds.
    pub window_ns: Option<u64>,
    /// The clock's reading when the limiter is built (default 0).
    #[serde(default)]
    pub start_ns: u64,
    /// The requests, in time order.
    pub events: Vec<Spanned<Event>>,
}

/// The limiter a trace drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Limiter {
    /// `TokenBucket::new(capacity, rate, clock)` (stage 1).
    TokenBucket,
    /// `SharedTokenBucket::new(capacity, rate, clock)` (stages 2 and 4).
    Shared,
    /// `Gcra::new(capacity, rate, clock)` (stage 3).
    Gcra,
    /// `FixedWindow::new(capacity, window, clock)` (stage 5).
    FixedWindow,
    /// `SlidingWindowLog::new(capacity, window, clock)` (stage 5).
    SlidingWindowLog,
    /// `SlidingWindowCounter::new(capacity, window, clock)` (stage 5).
    SlidingWindowCounter,
}

impl Limiter {
    fn is_window(self) -> bool {
        matches!(
            self,
            Limiter::FixedWindow | Limiter::SlidingWindowLog | Limiter::SlidingWindowCounter
        )
    }
}

/// `Rate::new(tokens, Duration::from_nanos(period_ns))`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateSpec {
    /// Tokens added per period.
    pub tokens: u64,
    /// The period in nanoseconds.
    pub period_ns: u64,
}

/// What a request must get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    /// `try_acquire` returns `true`.
    Allow,
    /// `try_acquire` returns `false`.
    Deny,
    /// `acquire` (shared bucket only) sleeps `wait_ns` in total on the clock, then succeeds.
    Wait,
    /// `acquire` (shared bucket only) refuses at once: more than the capacity.
    Error,
}

/// One request.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// When it happens: the clock is set to this reading first.
    pub at_ns: u64,
    /// Tokens asked for (default 1; windows take one request at a time).
    #[serde(default = "one")]
    pub n: u64,
    /// The answer.
    pub expect: Expect,
    /// With `expect = "wait"`: the nanoseconds `acquire` must sleep in total.
    pub wait_ns: Option<u64>,
}

fn one() -> u64 {
    1
}

impl Case for RateTrace {
    fn validate(&self) -> Result<(), Invalid> {
        if self.capacity == 0 {
            return Err(Invalid::file("capacity must be at least 1"));
        }
        if self.limiter.is_window() {
            if self.window_ns.is_none_or(|w| w == 0) || self.rate.is_some() {
                return Err(Invalid::file(
                    "a window limiter takes `window_ns = N` (N > 0) and no `rate`",
                ));
            }
        } else {
            let Some(rate) = self.rate.filter(|r| r.tokens > 0 && r.period_ns > 0) else {
                return Err(Invalid::file(
                    "this limiter needs a refill rate, e.g. `rate = { tokens = 1, period_ns = 1_000_000 }` \
                     (both above zero), and no `window_ns`",
                ));
            };
            if self.window_ns.is_some() {
                return Err(Invalid::file(format!(
                    "`window_ns` is for window limiters; this one refills at {} per {} ns",
                    rate.tokens, rate.period_ns
                )));
            }
        }
        if self.events.is_empty() {
            return Err(Invalid::file(
                "a trace needs at least one [[events]] table (at_ns, n, expect)",
            ));
        }
        let mut earliest = self.start_ns;
        for (i, spanned) in self.events.iter().enumerate() {
            let event = spanned.get_ref();
            let at = |message: String| {
                Invalid::at(spanned.span(), format!("event {}: {message}", i + 1))
            };
            if event.at_ns < earliest {
                return Err(at(format!(
                    "at_ns = {} is earlier than the clock already reads ({earliest} ns: \
                     the start, an earlier event or the sleeps of a wait); events go in time order",
                    event.at_ns
                )));
            }
            earliest = event.at_ns;
            if self.limiter.is_window() && event.n != 1 {
                return Err(at(
                    "window limiters take one request at a time: leave out `n` (or write n = 1)"
                        .into(),
                ));
            }
            match event.expect {
                Expect::Allow | Expect::Deny if event.wait_ns.is_some() => {
                    return Err(at("`wait_ns` goes with expect = \"wait\"".into()));
                }
                Expect::Wait | Expect::Error if self.limiter != Limiter::Shared => {
                    return Err(at(
                        "expect = \"wait\" and \"error\" call the blocking `acquire`, which only \
                         limiter = \"shared\" has; use \"allow\" or \"deny\""
                            .into(),
                    ));
                }
                Expect::Wait => {
                    let Some(wait) = event.wait_ns else {
                        return Err(at(
                            "expect = \"wait\" needs `wait_ns = N` (0 when the tokens \
                             are already there)"
                                .into(),
                        ));
                    };
                    earliest = event.at_ns.saturating_add(wait);
                }
                Expect::Error if event.n <= self.capacity || event.wait_ns.is_some() => {
                    return Err(at(format!(
                        "expect = \"error\" is for a request larger than the capacity ({}), \
                         without `wait_ns`",
                        self.capacity
                    )));
                }
                _ => {}
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
    fn a_good_trace_parses() {
        let trace: RateTrace = parse(
            "limiter = \"shared\"\ncapacity = 2\nrate = { tokens = 1, period_ns = 100 }\n\
             [[events]]\nat_ns = 0\nn = 2\nexpect = \"allow\"\n\
             [[events]]\nat_ns = 0\nexpect = \"wait\"\nwait_ns = 100\n\
             [[events]]\nat_ns = 100\nn = 3\nexpect = \"error\"\n",
        )
        .unwrap();
        assert_eq!(trace.events.len(), 3);
    }

    #[test]
    fn time_goes_forward() {
        let err = parse::<RateTrace>(
            "limiter = \"token_bucket\"\ncapacity = 2\nrate = { tokens = 1, period_ns = 100 }\n\
             [[events]]\nat_ns = 50\nexpect = \"allow\"\n\
             [[events]]\nat_ns = 10\nexpect = \"allow\"\n",
        )
        .unwrap_err();
        assert!(err.starts_with("line 7: event 2:"), "{err}");
    }

    #[test]
    fn waits_need_the_shared_bucket() {
        let err = parse::<RateTrace>(
            "limiter = \"gcra\"\ncapacity = 2\nrate = { tokens = 1, period_ns = 100 }\n\
             [[events]]\nat_ns = 0\nexpect = \"wait\"\nwait_ns = 0\n",
        )
        .unwrap_err();
        assert!(err.contains("only limiter = \"shared\""), "{err}");
    }

    #[test]
    fn windows_need_a_window() {
        let err = parse::<RateTrace>(
            "limiter = \"fixed_window\"\ncapacity = 2\n[[events]]\nat_ns = 0\nexpect = \"allow\"\n",
        )
        .unwrap_err();
        assert!(err.contains("window_ns"), "{err}");
    }
}
