//! Stage 7: one GCRA limit shared by many processes, kept in Redis and
//! decided there, atomically, by a Lua script run with `EVALSHA`.

use std::fmt;
use std::time::Duration;

use redis::{Client, Connection, ErrorKind, RedisError, ServerErrorKind, Value};

use crate::Rate;

// ANCHOR: policy
/// What the limiter answers when Redis cannot decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    /// Admit: the service stays up, unprotected, while Redis is away.
    FailOpen,
    /// Refuse: the backend stays protected, and every request is refused
    /// while Redis is away.
    FailClosed,
}

/// How the limiter behaves when Redis is unreachable, slow or answers
/// nonsense: what to answer, and how long to wait before answering it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// The answer when Redis cannot decide.
    pub on_error: OnError,
    /// How long one step (connecting, sending a command, reading its reply)
    /// may wait for Redis before the policy decides.
    pub deadline: Duration,
}
// ANCHOR_END: policy

// ANCHOR: decision
/// Why Redis did not decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No connection: refused, reset, closed, or no such socket.
    Unreachable(String),
    /// Redis did not answer within the policy's deadline.
    TimedOut(Duration),
    /// Redis answered, but not with a decision: an error reply (the key
    /// holds something else than a TAT, say) or a reply of the wrong shape.
    BadReply(String),
}

/// The answer to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Redis admitted the request and took its tokens.
    Admitted,
    /// Redis refused the request, which took nothing. `retry_after` is how
    /// long until the same request would be admitted (if nobody else takes
    /// tokens meanwhile); `None` when it never will be (more tokens than
    /// the capacity).
    Refused {
        /// Time until the tokens are there, by the server's clock.
        retry_after: Option<Duration>,
    },
    /// Redis did not decide, and the policy [`OnError::FailOpen`] admitted.
    FailedOpen(Failure),
    /// Redis did not decide, and the policy [`OnError::FailClosed`] refused.
    FailedClosed(Failure),
}
// ANCHOR_END: decision

impl Decision {
    /// Whether the request may go ahead (admitted by Redis or by the policy).
    pub fn is_admitted(&self) -> bool {
        matches!(self, Decision::Admitted | Decision::FailedOpen(_))
    }

    /// Why Redis did not decide, if it did not.
    pub fn failure(&self) -> Option<&Failure> {
        match self {
            Decision::FailedOpen(failure) | Decision::FailedClosed(failure) => Some(failure),
            Decision::Admitted | Decision::Refused { .. } => None,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Unreachable(why) => write!(f, "Redis is unreachable: {why}"),
            Failure::TimedOut(deadline) => {
                write!(
                    f,
                    "Redis did not answer within the deadline of {deadline:?}"
                )
            }
            Failure::BadReply(what) => write!(f, "Redis answered with no decision: {what}"),
        }
    }
}

// ANCHOR: script
/// The GCRA step, run by Redis as one atomic operation.
///
/// `KEYS[1]` is the limit's key, which holds its TAT in microseconds of the
/// server's clock (or nothing: a full bucket). `ARGV[1]` is the request's
/// cost and `ARGV[2]` the tolerance, both in microseconds. Returns
/// `{1, 0}` when admitted, `{0, wait}` when refused, where `wait` is how many
/// microseconds until the request would be admitted.
pub const SCRIPT: &str = r#"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local cost = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = now
local stored = redis.call('GET', KEYS[1])
if stored then
  tat = tonumber(stored)
  if not tat then
    return redis.error_reply('ERR ' .. KEYS[1] .. ' holds no TAT: ' .. stored)
  end
end
local new_tat = math.max(tat, now) + cost
if new_tat - now > tolerance then
  return {0, new_tat - now - tolerance}
end
redis.call('SET', KEYS[1], string.format('%d', new_tat))
redis.call('PEXPIRE', KEYS[1], math.ceil((new_tat - now) / 1000))
return {1, 0}
"#;
// ANCHOR_END: script

// ANCHOR: evalsha
/// One `EVALSHA sha 1 key cost tolerance`: a single round trip.
fn evalsha(
    connection: &mut Connection,
    sha: &str,
    key: &str,
    cost: u64,
    tolerance: u64,
) -> Result<Value, RedisError> {
    redis::cmd("EVALSHA")
        .arg(sha)
        .arg(1)
        .arg(key)
        .arg(cost)
        .arg(tolerance)
        .query(connection)
}
// ANCHOR_END: evalsha

/// What a pipeline's missing reply is called.
const FEWER_REPLIES: &str = "fewer replies than requests";

// ANCHOR: redis_gcra
/// A GCRA limit per key, shared by every process that uses the same Redis
/// and key prefix: each key admits bursts of up to `capacity` tokens and
/// `rate` on average, counted together across all of them.
///
/// Redis stores each key's TAT and decides: one `EVALSHA` of [`SCRIPT`] per
/// request, the script loaded once (`SCRIPT LOAD`) and loaded again only
/// when Redis answers `NOSCRIPT`. Time is Redis's own clock, in whole
/// microseconds. Each key expires when its bucket is full again.
///
/// A limiter holds one connection, made when first needed and made again
/// after it broke; use one limiter per thread.
pub struct RedisGcra {
    pub(crate) client: Client,
    /// The connection, once made; `None` after it broke.
    pub(crate) connection: Option<Connection>,
    /// The script's SHA1 digest, as `SCRIPT LOAD` returned it.
    pub(crate) sha: Option<String>,
    pub(crate) prefix: String,
    pub(crate) capacity: u64,
    /// Microseconds per token.
    pub(crate) emission: u64,
    /// `capacity * emission` microseconds.
    pub(crate) tolerance: u64,
    pub(crate) policy: Policy,
}
// ANCHOR_END: redis_gcra

impl fmt::Debug for RedisGcra {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisGcra")
            .field("server", &self.client.get_connection_info().addr())
            .field("connected", &self.connection.is_some())
            .field("sha", &self.sha)
            .field("prefix", &self.prefix)
            .field("capacity", &self.capacity)
            .field("emission_micros", &self.emission)
            .field("policy", &self.policy)
            .finish()
    }
}

impl RedisGcra {
    /// A limiter of `capacity` tokens at `rate` per key, with its keys named
    /// `prefix` + key in the Redis that `client` connects to. Connects only
    /// when first asked, so it can be made while Redis is away.
    ///
    /// # Panics
    /// If `capacity` is zero, if one token's time (the rate's emission
    /// interval) is not a whole number of microseconds (the resolution of
    /// Redis's clock), or if `capacity` times that interval passes 2^52
    /// microseconds (142 years), so that now plus the tolerance stays below
    /// 2^53, the largest integer a Lua number (a double) holds exactly.
    pub fn new(client: Client, prefix: &str, capacity: u64, rate: Rate, policy: Policy) -> Self {
        assert!(capacity > 0, "a limiter of capacity zero admits nothing");
        let per_token = u128::from(rate.period_nanos());
        let per_micro = 1_000 * u128::from(rate.tokens());
        assert!(
            per_token % per_micro == 0,
            "one token every {} ns / {} is not a whole number of microseconds",
            rate.period_nanos(),
            rate.tokens()
        );
        let emission = u64::try_from(per_token / per_micro).unwrap_or(u64::MAX);
        let tolerance = capacity
            .checked_mul(emission)
            .filter(|&t| t <= MAX_EXACT)
            .expect("capacity times one token's time must stay below 2^52 microseconds");
        RedisGcra {
            client,
            connection: None,
            sha: None,
            prefix: prefix.to_string(),
            capacity,
            emission,
            tolerance,
            policy,
        }
    }

    // ANCHOR: try_acquire
    /// Takes `n` tokens from `key`'s bucket if they are there, in one round
    /// trip to Redis. When Redis cannot decide (unreachable, no answer
    /// within the deadline, a reply that is no decision), the policy does,
    /// and the decision says which policy it applied and why.
    pub fn try_acquire(&mut self, key: &str, n: u64) -> Decision {
        if n > self.capacity {
            return Decision::Refused { retry_after: None };
        }
        let cost = n * self.emission;
        let key = format!("{}{key}", self.prefix);
        match self.run_script(&key, cost) {
            Ok(reply) => self.decide(reply),
            Err(failure) => self.fall_back(failure),
        }
    }
    // ANCHOR_END: try_acquire

    // ANCHOR: try_acquire_many
    /// Decides several requests, `(key, n)`, in one round trip: their
    /// `EVALSHA`s are sent together in a pipeline and their replies read
    /// together. Each is decided atomically on its own (not all or none);
    /// the decisions come back in the order of the requests.
    pub fn try_acquire_many(&mut self, requests: &[(&str, u64)]) -> Vec<Decision> {
        // Requests above the capacity are refused here, without asking.
        let asked: Vec<(String, u64)> = requests
            .iter()
            .filter(|&&(_, n)| n <= self.capacity)
            .map(|&(key, n)| (format!("{}{key}", self.prefix), n * self.emission))
            .collect();
        let mut replies = match self.run_pipeline(&asked) {
            Ok(replies) => replies.into_iter(),
            Err(failure) => vec![Err(failure); asked.len()].into_iter(),
        };
        requests
            .iter()
            .map(|&(_, n)| {
                if n > self.capacity {
                    return Decision::Refused { retry_after: None };
                }
                match replies.next() {
                    Some(Ok(reply)) => self.decide(reply),
                    Some(Err(failure)) => self.fall_back(failure),
                    None => self.fall_back(Failure::BadReply(FEWER_REPLIES.into())),
                }
            })
            .collect()
    }
    // ANCHOR_END: try_acquire_many

    /// The most tokens one request can take.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// The policy this limiter applies when Redis cannot decide.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    // ANCHOR: fall_back
    /// The policy's decision when Redis did not decide.
    fn fall_back(&self, failure: Failure) -> Decision {
        match self.policy.on_error {
            OnError::FailOpen => Decision::FailedOpen(failure),
            OnError::FailClosed => Decision::FailedClosed(failure),
        }
    }
    // ANCHOR_END: fall_back

    /// The decision in the script's reply, `{1, 0}` or `{0, wait}`.
    fn decide(&self, reply: Value) -> Decision {
        match parse_reply(&reply) {
            Some((1, _)) => Decision::Admitted,
            Some((0, wait)) => Decision::Refused {
                retry_after: Some(Duration::from_micros(wait)),
            },
            _ => self.fall_back(Failure::BadReply(format!(
                "expected [1, 0] or [0, microseconds], got {reply:?}"
            ))),
        }
    }

    // ANCHOR: connect
    /// The connection, made now if there is none, with the deadline on
    /// connecting, sending and reading.
    fn connection(&mut self) -> Result<&mut Connection, Failure> {
        let deadline = self.policy.deadline;
        let connection = match self.connection.take() {
            Some(connection) => connection,
            None => {
                let connection = self
                    .client
                    .get_connection_with_timeout(deadline)
                    .map_err(|e| failure(&e, deadline))?;
                // `get_connection_with_timeout` bounds the connecting only:
                // without these, a stuck server hangs every later read.
                connection
                    .set_read_timeout(Some(deadline))
                    .and_then(|()| connection.set_write_timeout(Some(deadline)))
                    .map_err(|e| failure(&e, deadline))?;
                connection
            }
        };
        Ok(self.connection.insert(connection))
    }
    // ANCHOR_END: connect

    // ANCHOR: run_script
    /// Runs the script on `key` with EVALSHA: loads it first if it was never
    /// loaded, and again (then retries once) if Redis answers NOSCRIPT.
    fn run_script(&mut self, key: &str, cost: u64) -> Result<Value, Failure> {
        let sha = match self.sha.clone() {
            Some(sha) => sha,
            None => self.load_script()?,
        };
        let tolerance = self.tolerance;
        let reply = evalsha(self.connection()?, &sha, key, cost, tolerance);
        match reply {
            Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                // A restarted or flushed Redis forgot the script: load it
                // again, once, and retry.
                let sha = self.load_script()?;
                let reply = evalsha(self.connection()?, &sha, key, cost, tolerance);
                reply.map_err(|e| self.broken(&e))
            }
            reply => reply.map_err(|e| self.broken(&e)),
        }
    }
    // ANCHOR_END: run_script

    // ANCHOR: load_script
    /// `SCRIPT LOAD`: Redis keeps the script and answers its SHA1 digest,
    /// which `EVALSHA` names it by from then on.
    fn load_script(&mut self) -> Result<String, Failure> {
        let sha: Result<String, RedisError> = redis::cmd("SCRIPT")
            .arg("LOAD")
            .arg(SCRIPT)
            .query(self.connection()?);
        let sha = sha.map_err(|e| self.broken(&e))?;
        self.sha = Some(sha.clone());
        Ok(sha)
    }
    // ANCHOR_END: load_script

    /// The pipelined form of [`run_script`](Self::run_script): one reply
    /// (or failure) per request, in order.
    fn run_pipeline(
        &mut self,
        asked: &[(String, u64)],
    ) -> Result<Vec<Result<Value, Failure>>, Failure> {
        if asked.is_empty() {
            return Ok(Vec::new());
        }
        let sha = match self.sha.clone() {
            Some(sha) => sha,
            None => self.load_script()?,
        };
        let mut replies = self.pipeline(&sha, asked)?;
        let forgotten = replies.iter().any(|reply| {
            matches!(reply, Value::ServerError(e) if e.kind() == Some(ServerErrorKind::NoScript))
        });
        if forgotten {
            // Nothing was decided: every EVALSHA of the pipeline failed.
            let sha = self.load_script()?;
            replies = self.pipeline(&sha, asked)?;
        }
        Ok(replies
            .into_iter()
            .map(|reply| match reply {
                Value::ServerError(e) => Err(Failure::BadReply(format!("{e:?}"))),
                reply => Ok(reply),
            })
            .collect())
    }

    /// Sends one `EVALSHA` per request, all at once, and reads all replies.
    fn pipeline(&mut self, sha: &str, asked: &[(String, u64)]) -> Result<Vec<Value>, Failure> {
        let mut pipe = redis::pipe();
        for (key, cost) in asked {
            pipe.cmd("EVALSHA")
                .arg(sha)
                .arg(1)
                .arg(key)
                .arg(*cost)
                .arg(self.tolerance);
        }
        // `ignore_errors` keeps each command's error reply in its place
        // instead of failing the whole pipeline on the first one.
        let replies: Result<Vec<Value>, RedisError> =
            pipe.ignore_errors().query(self.connection()?);
        replies.map_err(|e| self.broken(&e))
    }

    /// The failure `e` stands for; a connection that broke or timed out is
    /// dropped, so the next request makes a new one (a late reply must never
    /// be read as the answer to the next question).
    fn broken(&mut self, e: &RedisError) -> Failure {
        let failure = failure(e, self.policy.deadline);
        if !matches!(failure, Failure::BadReply(_)) {
            self.connection = None;
        }
        failure
    }
}

/// The longest tolerance, 2^52 microseconds: with now below 2^52 too (until
/// the year 2112), every sum the script makes stays below 2^53, the largest
/// integer a Lua number (a double) holds exactly.
const MAX_EXACT: u64 = 1 << 52;

/// What a client error means for the limiter.
fn failure(e: &RedisError, deadline: Duration) -> Failure {
    if e.is_timeout() {
        Failure::TimedOut(deadline)
    } else if e.is_io_error() || e.is_connection_refusal() || e.is_connection_dropped() {
        Failure::Unreachable(e.to_string())
    } else {
        Failure::BadReply(e.to_string())
    }
}

/// `[admitted, wait]` as two integers, if the reply is that.
fn parse_reply(reply: &Value) -> Option<(i64, u64)> {
    match reply {
        Value::Array(items) => match items.as_slice() {
            [Value::Int(admitted), Value::Int(wait)] => {
                Some((*admitted, u64::try_from(*wait).ok()?))
            }
            _ => None,
        },
        _ => None,
    }
}
