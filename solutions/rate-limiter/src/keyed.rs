//! Stage 6: one limit per key (per user, per IP address), with idle keys
//! evicted so that memory stays bounded.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::gcra::admit;
use crate::{Clock, Rate};

/// Below this many keys, [`KeyedLimiter`] never sweeps.
pub const MIN_SWEEP: usize = 64;

// ANCHOR: keyed_state
/// The keys and their GCRA state, behind the limiter's lock.
#[derive(Debug)]
pub(crate) struct Keys<K> {
    /// Each key's theoretical arrival time, in ticks (see [`crate::Gcra`]).
    /// A key that is absent behaves exactly like a key whose bucket is full.
    pub(crate) tat: HashMap<K, u64>,
    /// How many keys were left after the last sweep.
    pub(crate) after_sweep: usize,
}
// ANCHOR_END: keyed_state

impl<K: Hash + Eq> Keys<K> {
    /// Forgets every key whose TAT is not after `now` (in ticks); returns
    /// how many, and remembers how many are left for the next trigger.
    fn sweep(&mut self, now: u64) -> usize {
        let before = self.tat.len();
        self.tat.retain(|_, tat| *tat > now);
        self.after_sweep = self.tat.len();
        before - self.after_sweep
    }
}

// ANCHOR: keyed
/// Gives every key its own bucket of `capacity` tokens refilling at `rate`,
/// as if each had its own [`crate::Gcra`].
///
/// A key whose bucket has filled up again (its TAT is not after now) is
/// indistinguishable from a key never seen, so it can be forgotten. A sweep
/// forgets all such keys; it runs inside [`try_acquire`](Self::try_acquire)
/// whenever the map holds at least [`MIN_SWEEP`] keys and twice as many as
/// after the previous sweep. That keeps the cost per call constant on
/// average, and the map never holds more than
/// `max(MIN_SWEEP, 2 × the keys left by the previous sweep)` keys.
#[derive(Debug)]
pub struct KeyedLimiter<K, C> {
    pub(crate) clock: C,
    pub(crate) capacity: u64,
    pub(crate) ticks_per_nano: u64,
    pub(crate) emission: u64,
    pub(crate) tolerance: u64,
    pub(crate) keys: Mutex<Keys<K>>,
}
// ANCHOR_END: keyed

impl<K: Hash + Eq + Clone, C: Clock> KeyedLimiter<K, C> {
    /// A limiter giving each key `capacity` tokens at `rate`.
    ///
    /// # Panics
    /// If `capacity` is zero, or `capacity * rate.period_nanos()` overflows.
    pub fn new(capacity: u64, rate: Rate, clock: C) -> Self {
        assert!(capacity > 0, "a limiter of capacity zero admits nothing");
        let tolerance = capacity
            .checked_mul(rate.period_nanos())
            .expect("capacity times the rate's period must fit in 64 bits");
        KeyedLimiter {
            clock,
            capacity,
            ticks_per_nano: rate.tokens(),
            emission: rate.period_nanos(),
            tolerance,
            keys: Mutex::new(Keys {
                tat: HashMap::new(),
                after_sweep: 0,
            }),
        }
    }

    // ANCHOR: keyed_try_acquire
    /// Takes `n` tokens from `key`'s bucket if they are there; returns
    /// whether it did. May sweep idle keys first (see the type's docs).
    pub fn try_acquire(&self, key: &K, n: u64) -> bool {
        if n > self.capacity {
            return false;
        }
        let cost = n * self.emission;
        let now = self.now();
        let mut keys = self.lock();
        let held = keys.tat.len();
        if held >= MIN_SWEEP && held >= 2 * keys.after_sweep {
            keys.sweep(now);
        }
        match keys.tat.get_mut(key) {
            Some(tat) => match admit(*tat, now, cost, self.tolerance) {
                Some(new_tat) => {
                    *tat = new_tat;
                    true
                }
                None => false,
            },
            // An absent key has a full bucket: its TAT is now.
            None => match admit(now, now, cost, self.tolerance) {
                Some(new_tat) => {
                    // A bucket still full (n = 0) need not be remembered.
                    if new_tat > now {
                        keys.tat.insert(key.clone(), new_tat);
                    }
                    true
                }
                None => false,
            },
        }
    }
    // ANCHOR_END: keyed_try_acquire

    // ANCHOR: sweep
    /// Forgets every key whose bucket is full again; returns how many.
    pub fn sweep(&self) -> usize {
        let now = self.now();
        self.lock().sweep(now)
    }
    // ANCHOR_END: sweep

    /// The clock's reading, in ticks.
    fn now(&self) -> u64 {
        self.clock.now().saturating_mul(self.ticks_per_nano)
    }

    /// The keys, locked. Every update under the lock is a few assignments
    /// or a map operation, so a poisoned lock is still good to use.
    fn lock(&self) -> MutexGuard<'_, Keys<K>> {
        self.keys.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keys held in memory now.
    pub fn len(&self) -> usize {
        self.keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .tat
            .len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
