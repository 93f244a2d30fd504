//! Stage 7: `RedisGcra`, one GCRA limit shared by many processes through a
//! real `redis-server` (each test starts its own, on a Unix socket in a
//! temporary directory, and always stops it).
//!
//! Every verdict is a count or a value read back from Redis, never a race
//! won by luck: the limits are slow (a token per hour) wherever requests
//! race, so no token can be earned during a burst and the right count is
//! exact. Durations are only ever bounded generously from above.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use learner::{Decision, Failure, OnError, Policy, Rate, RedisGcra};
use oslings_harness::redis_server::RedisServer;

const HOUR: Duration = Duration::from_secs(3600);

/// A deadline that no working limiter comes near on a local socket.
const DEADLINE: Duration = Duration::from_millis(500);

/// How much longer than the deadline a failing call may take, on a loaded
/// machine, before the test calls it a hang.
const SLACK: Duration = Duration::from_secs(2);

fn start_redis() -> RedisServer {
    RedisServer::start().unwrap_or_else(|e| panic!("cannot start a private redis-server: {e}"))
}

fn policy(on_error: OnError) -> Policy {
    Policy {
        on_error,
        deadline: DEADLINE,
    }
}

/// A limiter of `capacity` tokens, one every `per_token`, on `server`.
fn limiter(
    server: &RedisServer,
    capacity: u64,
    per_token: Duration,
    on_error: OnError,
) -> RedisGcra {
    let client = learner::redis::Client::open(server.unix_url().as_str())
        .unwrap_or_else(|e| panic!("the test's own Redis URL was refused: {e}"));
    RedisGcra::new(
        client,
        "test:",
        capacity,
        Rate::new(1, per_token),
        policy(on_error),
    )
}

/// The message of a first request of a key that Redis did not admit: `what`
/// is the limiter.
fn fresh_key_refused(what: &str, key: &str, n: u64) -> String {
    format!(
        "{what}: key \"{key}\" is new, so its bucket is full: a request of {n}, no more \
         than it holds, must be admitted"
    )
}

/// The test's own connection to the server, to look at what the limiter did.
struct Inspector(redis::Connection);

impl Inspector {
    fn new(server: &RedisServer) -> Inspector {
        let client = redis::Client::open(server.unix_url().as_str()).expect("the test's own URL");
        let connection = client
            .get_connection_with_timeout(Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("the test cannot connect to its own redis-server: {e}"));
        connection
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("a read timeout");
        Inspector(connection)
    }

    fn query<T: redis::FromRedisValue>(&mut self, command: &mut redis::Cmd) -> T {
        command
            .query(&mut self.0)
            .unwrap_or_else(|e| panic!("the test's own command to Redis failed: {e}"))
    }

    /// The server's clock, in microseconds.
    fn now_micros(&mut self) -> u64 {
        let (secs, micros): (u64, u64) = self.query(&mut redis::cmd("TIME"));
        secs * 1_000_000 + micros
    }

    /// How many times each command ran since the server started (or the
    /// last `CONFIG RESETSTAT`): `INFO commandstats`, which counts commands
    /// run by scripts too.
    fn calls(&mut self, command: &str) -> u64 {
        let info: String = self.query(redis::cmd("INFO").arg("commandstats"));
        let prefix = format!("cmdstat_{command}:calls=");
        info.lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .and_then(|rest| rest.split(',').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }

    fn get(&mut self, key: &str) -> Option<String> {
        self.query(redis::cmd("GET").arg(key))
    }

    fn pttl(&mut self, key: &str) -> i64 {
        self.query(redis::cmd("PTTL").arg(key))
    }

    fn exists(&mut self, key: &str) -> bool {
        self.query::<i64>(redis::cmd("EXISTS").arg(key)) == 1
    }
}

/// The calls of the commands a limiter may send, at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counts {
    evalsha: u64,
    eval: u64,
    script: u64,
    get: u64,
    set: u64,
}

fn counts(inspector: &mut Inspector) -> Counts {
    Counts {
        evalsha: inspector.calls("evalsha"),
        eval: inspector.calls("eval"),
        script: inspector.calls("script|load"),
        get: inspector.calls("get"),
        set: inspector.calls("set"),
    }
}

// Catches: any departure from GCRA on the server (an off-by-one at the
// capacity, no refusal), a wrong retry-after, and `n * emission` computed
// before refusing n above the capacity (it overflows for n = u64::MAX).
#[test]
fn admits_a_burst_of_the_capacity_then_refuses() {
    let server = start_redis();
    let mut limiter = limiter(&server, 3, Duration::from_secs(60), OnError::FailOpen);
    for i in 1..=3 {
        let decision = limiter.try_acquire("alice", 1);
        assert_eq!(
            decision,
            Decision::Admitted,
            "RedisGcra of capacity 3, one token per minute: request {i} of 1 token on a \
             fresh key must be admitted (a key Redis does not hold is a full bucket)"
        );
    }
    match limiter.try_acquire("alice", 1) {
        Decision::Refused {
            retry_after: Some(wait),
        } => assert!(
            wait <= Duration::from_secs(60) && wait >= Duration::from_secs(50),
            "RedisGcra of capacity 3, one token per minute: after 3 tokens the 4th is \
             refused, and the next token comes one minute after the first was taken: \
             retry_after must be just under 60 s, got {wait:?}"
        ),
        other => panic!(
            "RedisGcra of capacity 3, one token per minute: the 4th request within a \
             minute must be Refused {{ retry_after: Some(about 60 s) }}, got {other:?}"
        ),
    }
    assert_eq!(
        limiter.try_acquire("bob", 3),
        Decision::Admitted,
        "RedisGcra: bob's key is not alice's: 3 tokens at once must be admitted"
    );
    let mut inspector = Inspector::new(&server);
    let before = inspector.calls("evalsha");
    for n in [4, 1_000, u64::MAX] {
        let decision = limiter.try_acquire("carol", n);
        assert_eq!(
            decision,
            Decision::Refused { retry_after: None },
            "RedisGcra of capacity 3: a request for {n} tokens can never be admitted, \
             so it is refused at once with retry_after None (check n against the \
             capacity before multiplying it by the emission interval)"
        );
    }
    assert_eq!(
        inspector.calls("evalsha"),
        before,
        "RedisGcra: a request above the capacity needs no round trip to Redis"
    );
    assert_eq!(
        limiter.try_acquire("carol", 3),
        Decision::Admitted,
        "RedisGcra: the refused requests above the capacity must take nothing"
    );
}

// Catches: tokens that never come back, or come back by the client's idea
// of time rather than at the rate.
#[test]
fn tokens_come_back_at_the_rate() {
    let server = start_redis();
    let per_token = Duration::from_millis(100);
    let mut limiter = limiter(&server, 2, per_token, OnError::FailOpen);
    assert_eq!(
        limiter.try_acquire("k", 2),
        Decision::Admitted,
        "{}",
        fresh_key_refused("RedisGcra of capacity 2, one token per 100 ms", "k", 2)
    );
    let wait = match limiter.try_acquire("k", 1) {
        Decision::Refused {
            retry_after: Some(wait),
        } => wait,
        other => panic!(
            "RedisGcra of capacity 2, one token per 100 ms, just emptied: a request for 1 \
             must be refused with a retry_after, got {other:?}"
        ),
    };
    assert!(
        wait <= per_token,
        "RedisGcra, one token per 100 ms, just emptied: retry_after must be at most \
         100 ms, got {wait:?}"
    );
    std::thread::sleep(wait + Duration::from_millis(5));
    assert_eq!(
        limiter.try_acquire("k", 1),
        Decision::Admitted,
        "RedisGcra, one token per 100 ms: after waiting the retry_after ({wait:?}) the \
         token has come back and must be admitted"
    );
}

/// A running `distributed-worker`: one client process with several threads.
struct Worker {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
}

impl Worker {
    fn spawn(
        server: &RedisServer,
        key: &str,
        capacity: u64,
        emission_us: u64,
        threads: usize,
        attempts: u64,
        skew_secs: i64,
    ) -> Worker {
        let mut command = Command::new(env!("CARGO_BIN_EXE_distributed-worker"));
        command
            .args([
                server.unix_url(),
                key.to_string(),
                capacity.to_string(),
                emission_us.to_string(),
                threads.to_string(),
                attempts.to_string(),
                skew_secs.to_string(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        // SAFETY: prctl is async-signal-safe; it only sets this child's
        // death signal, so a killed test leaves no worker behind.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the test's worker process: {e}"));
        let stdin = child.stdin.take();
        let stdout: ChildStdout = child.stdout.take().expect("a piped stdout");
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Worker {
            child,
            stdin,
            lines,
        }
    }

    /// The worker's next line, waiting at most `patience`.
    fn line(&mut self, patience: Duration, what: &str) -> String {
        self.lines.recv_timeout(patience).unwrap_or_else(|_| {
            panic!(
                "a client process printed no `{what}` line within {patience:?}: its limiter \
                 hung or panicked (its standard error is above)"
            )
        })
    }

    fn go(&mut self) {
        if let Some(stdin) = self.stdin.as_mut() {
            let _ = stdin.write_all(b"go\n");
            let _ = stdin.flush();
        }
    }

    /// `(admitted, refused, failed)` of the burst.
    fn result(&mut self) -> (u64, u64, u64) {
        let line = self.line(Duration::from_secs(60), "admitted …");
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["admitted", a, "refused", r, "failed", f] => (
                a.parse().unwrap_or(0),
                r.parse().unwrap_or(0),
                f.parse().unwrap_or(0),
            ),
            _ => panic!("a client process printed {line:?} instead of its counts"),
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `processes` workers of `threads` threads at once on one key, all
/// released together; returns the admitted, refused and failed counts.
fn burst(
    server: &RedisServer,
    key: &str,
    capacity: u64,
    processes: usize,
    threads: usize,
    attempts: u64,
) -> (u64, u64, u64) {
    let mut workers: Vec<Worker> = (0..processes)
        .map(|_| {
            Worker::spawn(
                server,
                key,
                capacity,
                HOUR.as_micros() as u64,
                threads,
                attempts,
                0,
            )
        })
        .collect();
    for worker in &mut workers {
        let line = worker.line(Duration::from_secs(30), "ready");
        assert_eq!(
            line, "ready",
            "a client process said {line:?} instead of `ready`"
        );
    }
    for worker in &mut workers {
        worker.go();
    }
    workers
        .iter_mut()
        .map(Worker::result)
        .fold((0, 0, 0), |acc, r| (acc.0 + r.0, acc.1 + r.1, acc.2 + r.2))
}

// Catches: the check and the update as two round trips (GET, decide, then
// SET): two clients read the same TAT, both admit, and one write is lost.
// One token per hour, so no token is earned during the burst: exactly the
// capacity is the only right count.
#[test]
fn sixteen_clients_in_four_processes_admit_exactly_the_capacity() {
    let server = start_redis();
    let capacity = 100;
    let (processes, threads, attempts) = (4, 4, 50);
    let (admitted, refused, failed) = burst(
        &server,
        "test:burst",
        capacity,
        processes,
        threads,
        attempts,
    );
    let total = processes as u64 * threads as u64 * attempts;
    assert_eq!(
        failed, 0,
        "{processes} processes × {threads} threads on a healthy local Redis: {failed} of \
         {total} requests failed (the limiter did not get a decision from Redis)"
    );
    assert_eq!(
        admitted, capacity,
        "{processes} processes × {threads} threads, each with its own connection, asked \
         {attempts} times each for one token of a limit of capacity {capacity} at one \
         token per hour: exactly {capacity} must be admitted (nothing is earned during \
         the burst), got {admitted} (and {refused} refused). More than the capacity \
         means two clients decided from the same TAT: read, decide and write must be \
         one atomic step inside Redis, a script, not GET then SET"
    );
}

// Catches: `now` taken from the client's own clock (SystemTime) and passed
// to the script, instead of the server's TIME: a client whose clock is
// ahead sees a TAT written by a client whose clock is behind as long past.
#[test]
fn the_servers_clock_decides_not_the_clients() {
    let server = start_redis();
    let capacity = 5;
    let ten_days = 10 * 24 * 3600;
    let run = |skew: i64| {
        let mut worker = Worker::spawn(
            &server,
            "test:skew",
            capacity,
            HOUR.as_micros() as u64,
            1,
            capacity,
            skew,
        );
        let line = worker.line(Duration::from_secs(30), "ready");
        assert_eq!(
            line, "ready",
            "a client process said {line:?} instead of `ready`"
        );
        worker.go();
        worker.result()
    };
    let (behind, _, failed) = run(-ten_days);
    assert_eq!(
        (behind, failed),
        (capacity, 0),
        "a client whose wall clock is 10 days behind asked for {capacity} tokens, one \
         at a time, of a fresh key of capacity {capacity} (one token per hour): all \
         must be admitted"
    );
    let (ahead, _, _) = run(ten_days);
    assert_eq!(
        ahead, 0,
        "a client whose wall clock is 10 days behind took all {capacity} tokens (one per \
         hour), then a client whose wall clock is 10 days ahead asked {capacity} times: \
         it must get nothing, got {ahead}. The limiter used each machine's own clock; \
         take now from the server, with redis.call('TIME') inside the script"
    );
}

// Catches: keys that never expire (no PEXPIRE), PEXPIRE in the wrong unit
// or to the wrong time (the whole tolerance), a TAT stored as `1.7e+15`
// (tostring of a big Lua number) or in another unit or epoch than the
// server's microseconds.
#[test]
fn a_key_expires_when_its_bucket_is_full_again() {
    let server = start_redis();
    let mut inspector = Inspector::new(&server);
    let mut limiter = limiter(&server, 5, Duration::from_secs(1), OnError::FailClosed);
    let before = inspector.now_micros();
    assert_eq!(
        limiter.try_acquire("expiry", 2),
        Decision::Admitted,
        "{}",
        fresh_key_refused("RedisGcra of capacity 5, one token per second", "expiry", 2)
    );
    let after = inspector.now_micros();
    let ttl = inspector.pttl("test:expiry");
    let stored = inspector.get("test:expiry");
    let tat: u64 = match stored.as_deref().map(str::parse) {
        Some(Ok(tat)) => tat,
        _ => panic!(
            "RedisGcra: after an admission the key must hold the TAT as a whole number \
             of microseconds of the server's clock, got {stored:?} (a big Lua number \
             printed with tostring comes out as 1.7e+15; format it with '%d')"
        ),
    };
    assert!(
        (before + 2_000_000..=after + 2_000_000).contains(&tat),
        "RedisGcra of capacity 5, one token per second: 2 tokens taken from a full \
         bucket between server times {before} and {after} us must leave a TAT 2 s after \
         that, between {} and {}, got {tat}: is now the server's TIME, in microseconds?",
        before + 2_000_000,
        after + 2_000_000
    );
    assert!(
        ttl > 0,
        "RedisGcra: the key must expire when its bucket is full again (PEXPIRE), but \
         PTTL says {ttl} (-1: no expiry; a key that never expires costs memory for \
         every client ever seen)"
    );
    let full_again_ms = (tat - before).div_ceil(1000) as i64;
    let least_ms = (tat.saturating_sub(after) / 1000) as i64 - 1;
    assert!(
        (least_ms..=full_again_ms).contains(&ttl),
        "RedisGcra of capacity 5, one token per second: 2 tokens taken, so the bucket is \
         full again in 2 s: the key's time to live must be about 2,000 ms (between \
         {least_ms} and {full_again_ms}), got {ttl} ms. PEXPIRE takes milliseconds, and \
         the time is TAT - now, not the whole tolerance"
    );

    // An idle key vanishes by itself once its bucket is full.
    let mut fast = limiter_with_prefix(&server, "test:", 5, Duration::from_millis(20));
    assert_eq!(
        fast.try_acquire("idle", 1),
        Decision::Admitted,
        "{}",
        fresh_key_refused("RedisGcra of capacity 5, one token per 20 ms", "idle", 1)
    );
    let start = Instant::now();
    while inspector.exists("test:idle") {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "RedisGcra, one token per 20 ms: a key that took 1 token is full again 20 ms \
             later, so it must expire then, but it was still there after 5 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn limiter_with_prefix(
    server: &RedisServer,
    prefix: &str,
    capacity: u64,
    per_token: Duration,
) -> RedisGcra {
    let client =
        learner::redis::Client::open(server.unix_url().as_str()).expect("the test's own URL");
    RedisGcra::new(
        client,
        prefix,
        capacity,
        Rate::new(1, per_token),
        policy(OnError::FailClosed),
    )
}

// Catches: a script that writes the new TAT (or refreshes the expiry)
// before deciding, so a refused request still moves the TAT.
#[test]
fn a_refusal_writes_nothing() {
    let server = start_redis();
    let mut inspector = Inspector::new(&server);
    let mut limiter = limiter(&server, 2, HOUR, OnError::FailClosed);
    assert_eq!(
        limiter.try_acquire("r", 2),
        Decision::Admitted,
        "{}",
        fresh_key_refused("RedisGcra of capacity 2, one token per hour", "r", 2)
    );
    let stored = inspector.get("test:r");
    let ttl = inspector.pttl("test:r");
    for _ in 0..3 {
        assert!(
            matches!(limiter.try_acquire("r", 1), Decision::Refused { .. }),
            "RedisGcra of capacity 2, one token per hour: key \"r\" took both tokens, so a \
             request of 1 must be refused (Decision::Refused)"
        );
    }
    assert_eq!(
        inspector.get("test:r"),
        stored,
        "RedisGcra: three refused requests changed the key's TAT; a refusal takes \
         nothing, so the script must return before it writes"
    );
    let ttl_after = inspector.pttl("test:r");
    assert!(
        ttl_after <= ttl,
        "RedisGcra: a refused request pushed the key's expiry from {ttl} to {ttl_after} \
         ms; a refusal must write nothing"
    );
}

// Catches: SCRIPT LOAD before every request, EVAL with the whole script
// each time, GET then SET, or any extra command per decision.
#[test]
fn one_evalsha_per_decision_and_the_script_is_loaded_once() {
    let server = start_redis();
    let mut inspector = Inspector::new(&server);
    let mut limiter = limiter(&server, 1_000, HOUR, OnError::FailClosed);
    assert_eq!(
        limiter.try_acquire("warm-up", 1),
        Decision::Admitted,
        "{}",
        fresh_key_refused(
            "RedisGcra of capacity 1000, one token per hour",
            "warm-up",
            1
        )
    );
    let before = counts(&mut inspector);
    let ping_before = inspector.calls("ping");
    let decisions = 50;
    for i in 0..decisions {
        assert_eq!(
            limiter.try_acquire(&format!("key-{}", i % 5), 1),
            Decision::Admitted,
            "RedisGcra of capacity 1000, one token per hour: request {} of 1 on key-{} (at \
             most 10 per key) must be admitted",
            i + 1,
            i % 5
        );
    }
    let after = counts(&mut inspector);
    let sent = Counts {
        evalsha: after.evalsha - before.evalsha,
        eval: after.eval - before.eval,
        script: after.script - before.script,
        get: after.get - before.get,
        set: after.set - before.set,
    };
    assert!(
        sent.eval == 0 && sent.script == 0,
        "RedisGcra: {decisions} decisions after the first sent EVAL {} times and SCRIPT \
         LOAD {} times: the script is loaded once and then run by its SHA1 with EVALSHA \
         (sending the whole script, or loading it, on every request costs bytes and time)",
        sent.eval,
        sent.script
    );
    assert_eq!(
        sent.evalsha, decisions,
        "RedisGcra: {decisions} decisions must be exactly {decisions} EVALSHA commands, \
         one round trip each; Redis counted {} (and GET {} times, SET {} times)",
        sent.evalsha, sent.get, sent.set
    );
    assert!(
        sent.get <= decisions && sent.set <= decisions,
        "RedisGcra: {decisions} decisions ran GET {} and SET {} times: one script run per \
         decision reads and writes the key at most once",
        sent.get,
        sent.set
    );
    assert_eq!(
        inspector.calls("ping"),
        ping_before,
        "RedisGcra: a decision is one EVALSHA; it needs no PING first"
    );
}

// Catches: NOSCRIPT not handled (every request fails once Redis forgot the
// script), or handled by loading the script again on every request.
#[test]
fn a_flushed_script_is_loaded_again_once() {
    let server = start_redis();
    let mut inspector = Inspector::new(&server);
    let mut limiter = limiter(&server, 1_000, HOUR, OnError::FailClosed);
    assert_eq!(
        limiter.try_acquire("a", 1),
        Decision::Admitted,
        "{}",
        fresh_key_refused("RedisGcra of capacity 1000, one token per hour", "a", 1)
    );
    let _: () = inspector.query(redis::cmd("SCRIPT").arg("FLUSH"));
    let loads = inspector.calls("script|load");
    let decision = limiter.try_acquire("a", 1);
    assert_eq!(
        decision,
        Decision::Admitted,
        "RedisGcra: after SCRIPT FLUSH (what a restart or failover does) EVALSHA answers \
         NOSCRIPT; the limiter must load the script again and retry, and the request be \
         admitted, got {decision:?}"
    );
    for _ in 0..10 {
        assert_eq!(
            limiter.try_acquire("a", 1),
            Decision::Admitted,
            "RedisGcra of capacity 1000, one token per hour: after SCRIPT FLUSH and one \
             reload, every request of 1 on key \"a\" (at most 12 in all) must be admitted"
        );
    }
    let reloads = inspector.calls("script|load") - loads;
    assert_eq!(
        reloads, 1,
        "RedisGcra: after SCRIPT FLUSH, 11 requests loaded the script {reloads} times: \
         once, on the NOSCRIPT answer, and never again"
    );
}

// Catches: a limiter that never reconnects after Redis came back, or that
// does not load its script into the new server.
#[test]
fn a_restarted_redis_is_used_again() {
    let mut server = start_redis();
    let mut limiter = limiter(&server, 1_000, HOUR, OnError::FailClosed);
    assert_eq!(
        limiter.try_acquire("a", 1),
        Decision::Admitted,
        "{}",
        fresh_key_refused("RedisGcra of capacity 1000, one token per hour", "a", 1)
    );
    server
        .restart()
        .unwrap_or_else(|e| panic!("cannot restart the test's redis-server: {e}"));
    let mut inspector = Inspector::new(&server);
    // The first request may still use the connection to the old server and
    // fail; the one after must reach the new one.
    let first = limiter.try_acquire("a", 1);
    let second = limiter.try_acquire("a", 1);
    assert!(
        first == Decision::Admitted || second == Decision::Admitted,
        "RedisGcra: Redis was restarted (its connections broken, its scripts gone); \
         the next two requests were {first:?} and {second:?}: a limiter must drop a \
         broken connection, connect again, and load its script into the new server"
    );
    for _ in 0..5 {
        assert_eq!(
            limiter.try_acquire("a", 1),
            Decision::Admitted,
            "RedisGcra of capacity 1000, one token per hour: after Redis restarted, every \
             request of 1 on key \"a\" (at most 8 in all) must be admitted by the new \
             server"
        );
    }
    let loads = inspector.calls("script|load");
    assert_eq!(
        loads, 1,
        "RedisGcra: the restarted Redis saw the script loaded {loads} times over 7 \
         requests: once after the restart, then never again"
    );
}

/// A call running on another thread (a limiter without timeouts would
/// otherwise hang the test itself).
struct Pending<T> {
    what: &'static str,
    start: Instant,
    result: mpsc::Receiver<T>,
}

/// Starts `call` on another thread; [`Pending::wait`] waits for it.
fn start_call<T: Send + 'static>(
    what: &'static str,
    call: impl FnOnce() -> T + Send + 'static,
) -> Pending<T> {
    let (send, result) = mpsc::channel();
    let start = Instant::now();
    std::thread::spawn(move || {
        let _ = send.send(call());
    });
    Pending {
        what,
        start,
        result,
    }
}

impl<T> Pending<T> {
    /// What the call returned and how long it took, waiting at most
    /// `DEADLINE + SLACK` from its start.
    fn wait(self) -> (T, Duration) {
        let patience = (DEADLINE + SLACK).saturating_sub(self.start.elapsed());
        match self.result.recv_timeout(patience) {
            Ok(value) => (value, self.start.elapsed()),
            Err(_) => panic!(
                "{}: no decision {:?} after the call, with a deadline of {DEADLINE:?}: the \
                 limiter waits for Redis without a bound. Set read and write timeouts on the \
                 connection (connecting with a timeout bounds only the connect)",
                self.what,
                DEADLINE + SLACK
            ),
        }
    }
}

// Catches: the two policies swapped, a failure reported as a refusal or an
// admission by Redis, and a panic or a long wait when Redis is gone.
#[test]
fn a_stopped_redis_fails_open_or_closed_as_the_policy_says() {
    let mut server = start_redis();
    let mut open = limiter(&server, 10, HOUR, OnError::FailOpen);
    let mut closed = limiter(&server, 10, HOUR, OnError::FailClosed);
    let mut never_connected = limiter(&server, 10, HOUR, OnError::FailClosed);
    assert_eq!(
        open.try_acquire("k", 1),
        Decision::Admitted,
        "{}",
        fresh_key_refused(
            "RedisGcra of capacity 10, one token per hour, OnError::FailOpen",
            "k",
            1
        )
    );
    assert_eq!(
        closed.try_acquire("k", 1),
        Decision::Admitted,
        "RedisGcra of capacity 10, one token per hour, OnError::FailClosed: key \"k\" has \
         9 tokens left after the FailOpen limiter's request (they share it in Redis), so a \
         request of 1 must be admitted"
    );
    server.stop();
    for round in 1..=2 {
        let start = Instant::now();
        let decision = open.try_acquire("k", 1);
        let elapsed = start.elapsed();
        assert!(
            matches!(decision, Decision::FailedOpen(Failure::Unreachable(_))),
            "RedisGcra with OnError::FailOpen, Redis stopped (request {round} after the \
             stop): the decision must be FailedOpen(Unreachable(..)), admitted by the \
             policy, saying why; got {decision:?}"
        );
        assert!(
            elapsed < DEADLINE + SLACK,
            "a stopped Redis must fail fast, took {elapsed:?}"
        );
        let start = Instant::now();
        let decision = closed.try_acquire("k", 1);
        let elapsed = start.elapsed();
        assert!(
            matches!(decision, Decision::FailedClosed(Failure::Unreachable(_))),
            "RedisGcra with OnError::FailClosed, Redis stopped (request {round} after the \
             stop): the decision must be FailedClosed(Unreachable(..)), refused by the \
             policy, saying why; got {decision:?}"
        );
        assert!(
            elapsed < DEADLINE + SLACK,
            "a stopped Redis must fail fast, took {elapsed:?}"
        );
    }
    let decision = never_connected.try_acquire("k", 1);
    assert!(
        matches!(decision, Decision::FailedClosed(Failure::Unreachable(_))),
        "RedisGcra with OnError::FailClosed whose first request comes after Redis \
         stopped: the decision must be FailedClosed(Unreachable(..)), got {decision:?}"
    );
    assert!(
        decision.failure().is_some() && !decision.is_admitted(),
        "RedisGcra with OnError::FailClosed, Redis stopped: {decision:?} must report its \
         failure (failure() is Some) and not count as admitted (is_admitted() is false)"
    );
}

// Catches: no read/write timeouts (a stuck Redis hangs every request), the
// wrong failure reported, and a connection kept after a timeout (its late
// reply would answer the next request).
#[test]
fn a_frozen_redis_times_out_within_the_deadline() {
    let server = start_redis();
    let mut connected = limiter(&server, 1_000, HOUR, OnError::FailClosed);
    assert_eq!(
        connected.try_acquire("k", 1),
        Decision::Admitted,
        "{}",
        fresh_key_refused("RedisGcra of capacity 1000, one token per hour", "k", 1)
    );
    let mut fresh = limiter(&server, 1_000, HOUR, OnError::FailOpen);
    server.pause();
    // Both calls wait out the deadline at the same time.
    let on_connected = start_call("RedisGcra on a frozen Redis", move || {
        let d = connected.try_acquire("k", 1);
        (d, connected)
    });
    let on_fresh = start_call("RedisGcra connecting to a frozen Redis", move || {
        let d = fresh.try_acquire("k", 1);
        (d, fresh)
    });
    let ((decision, connected), elapsed) = on_connected.wait();
    assert!(
        matches!(decision, Decision::FailedClosed(Failure::TimedOut(_))),
        "RedisGcra with OnError::FailClosed, deadline {DEADLINE:?}, Redis frozen (SIGSTOP): \
         the decision must be FailedClosed(TimedOut(..)) after about the deadline, got \
         {decision:?} after {elapsed:?}"
    );
    let ((decision, fresh), elapsed) = on_fresh.wait();
    assert!(
        matches!(decision, Decision::FailedOpen(Failure::TimedOut(_))),
        "RedisGcra with OnError::FailOpen, deadline {DEADLINE:?}, first request to a \
         frozen Redis (the kernel accepts the connection, nobody answers): the decision \
         must be FailedOpen(TimedOut(..)), got {decision:?} after {elapsed:?}"
    );
    server.resume();
    let mut connected = connected;
    let mut fresh = fresh;
    let mut inspector = Inspector::new(&server);
    let before: Option<String> = inspector.get("test:k");
    assert_eq!(
        connected.try_acquire("k", 1),
        Decision::Admitted,
        "RedisGcra: once Redis answers again, the next request must be decided by it"
    );
    assert_eq!(
        fresh.try_acquire("k", 1),
        Decision::Admitted,
        "RedisGcra with OnError::FailOpen whose first request timed out on the frozen \
         Redis: once Redis answers again, the next request must be decided by it"
    );
    let after: Option<String> = inspector.get("test:k");
    assert_ne!(
        before, after,
        "the requests after the freeze must reach Redis"
    );
}

// Catches: an unwrap or expect on the reply (a panic), an error reply
// reported as an unreachable server, or an answer made up instead of the
// policy's.
#[test]
fn a_key_holding_something_else_is_a_bad_reply_not_a_panic() {
    let server = start_redis();
    let mut inspector = Inspector::new(&server);
    let _: () = inspector.query(redis::cmd("HSET").arg("test:hash").arg("field").arg("1"));
    let _: () = inspector.query(redis::cmd("SET").arg("test:text").arg("hello"));
    for (key, what) in [("hash", "a hash"), ("text", "the string \"hello\"")] {
        for on_error in [OnError::FailClosed, OnError::FailOpen] {
            let mut limiter = limiter(&server, 5, HOUR, on_error);
            let decision = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                limiter.try_acquire(key, 1)
            }))
            .unwrap_or_else(|payload| {
                panic!(
                    "RedisGcra panicked when the key held {what} (another program wrote it): \
                     {}. An error reply is a failure for the policy to handle, not a panic",
                    oslings_harness::panic_reason(&*payload)
                )
            });
            let right = matches!(
                (on_error, &decision),
                (
                    OnError::FailClosed,
                    Decision::FailedClosed(Failure::BadReply(_))
                ) | (
                    OnError::FailOpen,
                    Decision::FailedOpen(Failure::BadReply(_))
                )
            );
            assert!(
                right,
                "RedisGcra with {on_error:?}: the key holds {what}, so the script cannot \
                 decide and Redis answers with an error; the decision must be the policy's, \
                 with Failure::BadReply saying what Redis said, got {decision:?}"
            );
            assert_eq!(
                limiter.try_acquire("healthy", 1),
                Decision::Admitted,
                "RedisGcra with {on_error:?}: after an error reply about one key, a request \
                 on another key must still be decided by Redis"
            );
            let _: () = inspector.query(redis::cmd("DEL").arg("test:healthy"));
        }
    }
}

// Catches: a pipeline whose decisions differ from one request at a time,
// or that is not sent as one batch of EVALSHAs.
#[test]
fn a_pipeline_decides_like_single_requests() {
    let server = start_redis();
    let mut inspector = Inspector::new(&server);
    let mut limiter = limiter(&server, 3, HOUR, OnError::FailClosed);
    assert_eq!(
        limiter.try_acquire("warm-up", 1),
        Decision::Admitted,
        "{}",
        fresh_key_refused("RedisGcra of capacity 3, one token per hour", "warm-up", 1)
    );
    let before = inspector.calls("evalsha");
    let decisions = limiter.try_acquire_many(&[("p", 2), ("q", 3), ("p", 2), ("p", 1), ("q", 9)]);
    assert_eq!(
        decisions.len(),
        5,
        "try_acquire_many: one decision per request"
    );
    assert_eq!(decisions[0], Decision::Admitted, "p takes 2 of 3: admitted");
    assert_eq!(decisions[1], Decision::Admitted, "q takes 3 of 3: admitted");
    assert!(
        matches!(
            decisions[2],
            Decision::Refused {
                retry_after: Some(_)
            }
        ),
        "p asks for 2 more with 1 left: refused, got {:?}",
        decisions[2]
    );
    assert_eq!(
        decisions[3],
        Decision::Admitted,
        "p takes its last token: admitted"
    );
    assert_eq!(
        decisions[4],
        Decision::Refused { retry_after: None },
        "9 tokens of a capacity of 3: refused, never admissible, without asking Redis"
    );
    assert_eq!(
        inspector.calls("evalsha") - before,
        4,
        "try_acquire_many: 4 requests within the capacity are 4 EVALSHAs in one pipeline"
    );
}
