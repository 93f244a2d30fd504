//! Lab (Interrupts and time, stage 7): what a shared limit costs.
//!
//! Starts a private `redis-server` (Unix socket and TCP loopback, in a
//! temporary directory, stopped at the end) and measures, side by side in
//! one run, taking turns in short rounds: the in-process `Gcra`, the
//! reference `RedisGcra` over the Unix socket and over TCP, a pipeline of
//! 16 keys per round trip, and a lease of 16 tokens per round trip. Prints
//! decisions per second, the median and 99th percentile latency per
//! decision, and round trips and EVALSHAs per decision (counted by Redis in
//! `INFO commandstats`).
//!
//! Usage: `interrupts-and-time-redis-limiter [SECONDS]` (default 2: the
//! time all modes share). Without `redis-server` it says how to install it
//! and exits successfully.
// book-labs: run in tests

use std::time::{Duration, Instant};

use oslings_harness::redis_server::{self, RedisServer};
use rate_limiter_solution::redis::Connection;
use rate_limiter_solution::{Gcra, MonotonicClock, OnError, Policy, Rate, RedisGcra};

/// Keys (or tokens) per round trip in the batch modes.
const BATCH: usize = 16;

/// A limit nobody reaches here: a million tokens, one more every
/// microsecond, so every decision is an admission and costs the same.
const CAPACITY: u64 = 1_000_000;

/// One way to decide.
enum Mode {
    Local(Gcra<MonotonicClock>),
    Single(RedisGcra),
    Pipelined(RedisGcra),
    Lease(RedisGcra),
}

/// What one mode measured.
struct Measured {
    name: &'static str,
    /// Per-decision latency of every operation (an operation's time
    /// divided by the decisions it made).
    latencies: Vec<Duration>,
    decisions: u64,
    round_trips: u64,
    /// `EVALSHA`s Redis ran for this mode.
    evalsha: u64,
    busy: Duration,
}

// ANCHOR: step
impl Mode {
    /// One operation; returns how many decisions (or tokens) it made and
    /// how many round trips to Redis it took.
    fn step(&mut self, i: u64) -> (u64, u64) {
        match self {
            Mode::Local(gcra) => {
                // Too fast to time one at a time: a batch of 1,000.
                let admitted = (0..1_000).filter(|_| gcra.try_acquire(1)).count();
                (admitted as u64, 0)
            }
            Mode::Single(limiter) => {
                let key = format!("user:{}", i % 64);
                (u64::from(limiter.try_acquire(&key, 1).is_admitted()), 1)
            }
            Mode::Pipelined(limiter) => {
                let keys: Vec<_> = (0..BATCH).map(|k| format!("user:{k}")).collect();
                let requests: Vec<_> = keys.iter().map(|k| (k.as_str(), 1)).collect();
                let decisions = limiter.try_acquire_many(&requests);
                let admitted = decisions.iter().filter(|d| d.is_admitted()).count();
                (admitted as u64, 1)
            }
            Mode::Lease(limiter) => {
                // One request for 16 tokens, spent locally afterwards.
                let lease = limiter.try_acquire("leased", BATCH as u64);
                (if lease.is_admitted() { BATCH as u64 } else { 0 }, 1)
            }
        }
    }
}
// ANCHOR_END: step

fn redis_limiter(url: &str) -> Result<RedisGcra, String> {
    let client = rate_limiter_solution::redis::Client::open(url).map_err(|e| e.to_string())?;
    let policy = Policy {
        on_error: OnError::FailClosed,
        deadline: Duration::from_secs(1),
    };
    let rate = Rate::new(1, Duration::from_micros(1));
    Ok(RedisGcra::new(client, "lab:", CAPACITY, rate, policy))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// How many `EVALSHA`s Redis ran so far (`INFO commandstats`).
fn evalsha_calls(connection: &mut Connection) -> Result<u64, String> {
    let info: String = rate_limiter_solution::redis::cmd("INFO")
        .arg("commandstats")
        .query(connection)
        .map_err(|e| e.to_string())?;
    Ok(info
        .lines()
        .find_map(|line| line.strip_prefix("cmdstat_evalsha:calls="))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0))
}

fn main() -> Result<(), String> {
    let seconds: f64 = std::env::args()
        .nth(1)
        .map(|s| {
            s.parse()
                .map_err(|_| format!("not a number of seconds: {s}"))
        })
        .transpose()?
        .unwrap_or(2.0);
    if !redis_server::available() {
        println!("skipped: {}", redis_server::MISSING);
        return Ok(());
    }
    let server = RedisServer::start_with_tcp().map_err(|e| e.to_string())?;
    let unix = server.unix_url();
    let tcp = server.tcp_url().ok_or("the server has no TCP port")?;
    let mut modes = [
        (
            "in-process Gcra",
            Mode::Local(Gcra::new(
                CAPACITY,
                Rate::new(1, Duration::from_nanos(1)),
                MonotonicClock::new(),
            )),
        ),
        ("Redis, Unix socket", Mode::Single(redis_limiter(&unix)?)),
        ("Redis, TCP loopback", Mode::Single(redis_limiter(&tcp)?)),
        (
            "Redis, 16 keys pipelined",
            Mode::Pipelined(redis_limiter(&unix)?),
        ),
        (
            "Redis, lease of 16 tokens",
            Mode::Lease(redis_limiter(&unix)?),
        ),
    ];
    let mut measured: Vec<Measured> = modes
        .iter()
        .map(|(name, _)| Measured {
            name,
            latencies: Vec::new(),
            decisions: 0,
            round_trips: 0,
            evalsha: 0,
            busy: Duration::ZERO,
        })
        .collect();
    // Warm up: connect, load the script.
    for (_, mode) in modes.iter_mut() {
        mode.step(0);
    }
    let mut counter = rate_limiter_solution::redis::Client::open(unix.as_str())
        .and_then(|client| client.get_connection_with_timeout(Duration::from_secs(2)))
        .map_err(|e| e.to_string())?;
    // Short rounds, every mode in turn, so that they share the machine's
    // moods; each mode gets the same wall time.
    let rounds = 20;
    let slice = Duration::from_secs_f64(seconds / rounds as f64 / modes.len() as f64);
    let mut i = 0;
    for round in 0..rounds {
        for k in 0..modes.len() {
            // Take turns to go first.
            let k = (k + round) % modes.len();
            let (mode, m) = (&mut modes[k].1, &mut measured[k]);
            let before = evalsha_calls(&mut counter)?;
            let start = Instant::now();
            while start.elapsed() < slice {
                let t = Instant::now();
                let (decisions, trips) = mode.step(i);
                let took = t.elapsed();
                i += 1;
                m.latencies.push(took / decisions.max(1) as u32);
                m.decisions += decisions;
                m.round_trips += trips;
            }
            m.busy += start.elapsed();
            m.evalsha += evalsha_calls(&mut counter)? - before;
        }
    }
    println!("latency, round trips and EVALSHAs are per decision (per token for the lease)");
    println!(
        "{:<26} {:>12} {:>10} {:>10} {:>12} {:>8}",
        "mode", "decisions/s", "median", "p99", "round trips", "EVALSHA"
    );
    for m in &mut measured {
        m.latencies.sort();
        let per_second = m.decisions as f64 / m.busy.as_secs_f64();
        let decisions = m.decisions.max(1) as f64;
        println!(
            "{:<26} {:>12.0} {:>10.2?} {:>10.2?} {:>12.3} {:>8.3}",
            m.name,
            per_second,
            percentile(&m.latencies, 0.5),
            percentile(&m.latencies, 0.99),
            m.round_trips as f64 / decisions,
            m.evalsha as f64 / decisions,
        );
    }
    Ok(())
}
