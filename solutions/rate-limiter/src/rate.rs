//! A rate: so many tokens per so much time, kept as an exact fraction.

use std::fmt;
use std::time::Duration;

// ANCHOR: rate
/// `tokens` tokens every `period_nanos` nanoseconds, stored in lowest terms
/// (`Rate::new(10, 1 s)` and `Rate::new(1, 100 ms)` are the same rate).
///
/// Nothing here is rounded: one token takes `period_nanos / tokens`
/// nanoseconds, which is rarely a whole number (3 per second is 333,333,333⅓
/// ns each), so the limiters count in *units* instead. One nanosecond earns
/// `tokens()` units and one token costs `period_nanos()` units; both are
/// integers, and no remainder is ever lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate {
    tokens: u64,
    period_nanos: u64,
}
// ANCHOR_END: rate

impl Rate {
    /// `tokens` tokens every `period`.
    ///
    /// # Panics
    /// If `tokens` is zero, or `period` is zero or longer than `u64::MAX` ns.
    pub fn new(tokens: u64, period: Duration) -> Rate {
        assert!(tokens > 0, "a rate of zero tokens admits nothing");
        let period_nanos = u64::try_from(period.as_nanos())
            .ok()
            .filter(|&p| p > 0)
            .expect("a rate's period must be between 1 ns and about 584 years");
        let g = gcd(tokens, period_nanos);
        Rate {
            tokens: tokens / g,
            period_nanos: period_nanos / g,
        }
    }

    /// `tokens` tokens per second.
    pub fn per_second(tokens: u64) -> Rate {
        Rate::new(tokens, Duration::from_secs(1))
    }

    /// Units earned per nanosecond (the numerator, in lowest terms).
    pub fn tokens(&self) -> u64 {
        self.tokens
    }

    /// Units one token costs (the denominator, in lowest terms).
    pub fn period_nanos(&self) -> u64 {
        self.period_nanos
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} per {:?}",
            self.tokens,
            Duration::from_nanos(self.period_nanos)
        )
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}
