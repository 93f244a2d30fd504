//! Stage 7 visible tests: `RedisGcra` keeps one GCRA limit per key in a
//! real Redis, decided there by your `SCRIPT` with EVALSHA, on the server's
//! clock; keys expire when their bucket is full again; and when Redis is
//! gone, the policy decides, quickly, and says so.
//!
//! Each test starts its own `redis-server` (install it with
//! `apt-get install redis-server`) on a Unix socket in a temporary
//! directory, with persistence off, and stops it at the end, even when the
//! test fails. Run only this stage with
//! `cargo test -p rate-limiter --test stage7_distributed`.

use std::time::{Duration, Instant};

use oslings_harness::redis_server::RedisServer;
use rate_limiter::{Decision, Failure, OnError, Policy, Rate, RedisGcra};

const HOUR: Duration = Duration::from_secs(3600);

fn start_redis() -> RedisServer {
    RedisServer::start().unwrap_or_else(|e| panic!("cannot start a private redis-server: {e}"))
}

fn limiter(
    server: &RedisServer,
    capacity: u64,
    per_token: Duration,
    on_error: OnError,
) -> RedisGcra {
    let client = rate_limiter::redis::Client::open(server.unix_url().as_str())
        .expect("the test's own Redis URL");
    let policy = Policy {
        on_error,
        deadline: Duration::from_millis(500),
    };
    RedisGcra::new(
        client,
        "visible:",
        capacity,
        Rate::new(1, per_token),
        policy,
    )
}

/// The test's own connection to the server, to look at the keys.
fn inspector(server: &RedisServer) -> rate_limiter::redis::Connection {
    rate_limiter::redis::Client::open(server.unix_url().as_str())
        .and_then(|client| client.get_connection_with_timeout(Duration::from_secs(5)))
        .expect("the test connects to its own redis-server")
}

#[test]
fn a_fresh_key_admits_the_capacity_then_refuses() {
    let server = start_redis();
    let mut limiter = limiter(&server, 3, HOUR, OnError::FailClosed);
    for i in 1..=3 {
        assert_eq!(
            limiter.try_acquire("alice", 1),
            Decision::Admitted,
            "request {i} of 3 on a key Redis has never seen (a full bucket)"
        );
    }
    let refused = limiter.try_acquire("alice", 1);
    assert!(
        matches!(
            refused,
            Decision::Refused {
                retry_after: Some(_)
            }
        ),
        "the 4th request within the hour must be refused, with a retry_after; got {refused:?}"
    );
    assert_eq!(
        limiter.try_acquire("bob", 3),
        Decision::Admitted,
        "bob's key has its own bucket"
    );
    assert_eq!(
        limiter.try_acquire("carol", 4),
        Decision::Refused { retry_after: None },
        "4 tokens of a capacity of 3 can never be admitted"
    );
}

#[test]
fn two_limiters_share_one_limit() {
    let server = start_redis();
    // Two limiters, two connections: as two processes would be.
    let mut first = limiter(&server, 4, HOUR, OnError::FailClosed);
    let mut second = limiter(&server, 4, HOUR, OnError::FailClosed);
    let mut admitted = 0;
    for _ in 0..5 {
        admitted += u64::from(first.try_acquire("shared", 1).is_admitted());
        admitted += u64::from(second.try_acquire("shared", 1).is_admitted());
    }
    assert_eq!(
        admitted, 4,
        "two clients of one Redis, one key of capacity 4 (a token per hour), asked 10 \
         times in all: the limit is shared, so exactly 4 are admitted"
    );
}

#[test]
fn the_key_holds_the_tat_and_expires_when_full_again() {
    let server = start_redis();
    let mut limiter = limiter(&server, 5, Duration::from_secs(1), OnError::FailClosed);
    assert_eq!(limiter.try_acquire("k", 2), Decision::Admitted);
    let mut redis = inspector(&server);
    let (secs, micros): (u64, u64) = rate_limiter::redis::cmd("TIME")
        .query(&mut redis)
        .expect("TIME");
    let now = secs * 1_000_000 + micros;
    let tat: String = rate_limiter::redis::cmd("GET")
        .arg("visible:k")
        .query(&mut redis)
        .expect("the key holds the TAT");
    let tat: u64 = tat
        .parse()
        .unwrap_or_else(|_| panic!("the TAT must be whole microseconds, got {tat:?}"));
    assert!(
        tat > now && tat <= now + 2_000_000,
        "2 tokens at one per second: the TAT is 2 s after the request, by the \
         server's clock (now {now} us), got {tat}"
    );
    let ttl: i64 = rate_limiter::redis::cmd("PTTL")
        .arg("visible:k")
        .query(&mut redis)
        .expect("PTTL");
    assert!(
        (1..=2_000).contains(&ttl),
        "the key must expire when its bucket is full again, in at most 2,000 ms; PTTL \
         says {ttl}"
    );
}

#[test]
fn a_stopped_redis_is_decided_by_the_policy_quickly() {
    let mut server = start_redis();
    let mut open = limiter(&server, 3, HOUR, OnError::FailOpen);
    let mut closed = limiter(&server, 3, HOUR, OnError::FailClosed);
    assert_eq!(open.try_acquire("k", 1), Decision::Admitted);
    assert_eq!(closed.try_acquire("k", 1), Decision::Admitted);
    server.stop();
    let start = Instant::now();
    let decision = open.try_acquire("k", 1);
    assert!(
        matches!(decision, Decision::FailedOpen(Failure::Unreachable(_))),
        "FailOpen with Redis stopped: got {decision:?}"
    );
    let decision = closed.try_acquire("k", 1);
    assert!(
        matches!(decision, Decision::FailedClosed(Failure::Unreachable(_))),
        "FailClosed with Redis stopped: got {decision:?}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "a stopped Redis refuses connections at once: deciding took {:?}",
        start.elapsed()
    );
}

#[test]
fn a_forgotten_script_is_loaded_again() {
    let server = start_redis();
    let mut limiter = limiter(&server, 10, HOUR, OnError::FailClosed);
    assert_eq!(limiter.try_acquire("k", 1), Decision::Admitted);
    let mut redis = inspector(&server);
    let () = rate_limiter::redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query(&mut redis)
        .expect("SCRIPT FLUSH");
    assert_eq!(
        limiter.try_acquire("k", 1),
        Decision::Admitted,
        "after SCRIPT FLUSH, EVALSHA answers NOSCRIPT: load the script again and retry"
    );
}
