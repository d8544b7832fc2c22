//! Rate limits counted in Redis, so every gateway replica spends the same budget.
//!
//! Each (class, subject) pair has a fixed window that starts with its first request: one Lua
//! script increments the counter, sets the window's expiry on the first hit and returns the
//! count with the time left. When Redis is unreachable or slower than `redis.timeout_ms`, the
//! request is let through (fail open) and a warning is logged at most every 10 seconds.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::config::{RateClass, RateLimitsConfig, RedisConfig};

/// KEYS[1]: counter; ARGV[1]: window in ms. Returns {count, ms left in the window}.
const WINDOW_SCRIPT: &str = r"
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if count == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
";

const WARN_INTERVAL: Duration = Duration::from_secs(10);
const RECONNECT_DELAY: Duration = Duration::from_secs(2);

/// Outcome of one rate-limit check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    Limited {
        retry_after_secs: u64,
        limit: u64,
        window_secs: u64,
    },
    /// Redis could not be asked; the request goes through.
    FailedOpen,
}

pub struct RateLimiter {
    limits: RateLimitsConfig,
    redis: RedisConfig,
    client: redis::Client,
    connection: OnceLock<ConnectionManager>,
    script: redis::Script,
    available: AtomicBool,
    started: Instant,
    /// Milliseconds after `started` of the last fail-open warning.
    last_warning_ms: AtomicU64,
    failed_open_since_warning: AtomicU64,
}

impl RateLimiter {
    /// Validates the Redis URL; the connection is made by [`RateLimiter::connect`].
    pub fn new(limits: RateLimitsConfig, redis: RedisConfig) -> anyhow::Result<Self> {
        let client = redis::Client::open(redis.url.as_str())
            .map_err(|err| anyhow::anyhow!("invalid redis.url {:?}: {err}", redis.url))?;
        Ok(Self {
            limits,
            redis,
            client,
            connection: OnceLock::new(),
            script: redis::Script::new(WINDOW_SCRIPT),
            available: AtomicBool::new(false),
            started: Instant::now(),
            last_warning_ms: AtomicU64::new(0),
            failed_open_since_warning: AtomicU64::new(0),
        })
    }

    /// Returns the limiter's state for `/health/ready`: `ok` when the last call to Redis
    /// succeeded, `disabled`, or `unavailable (failing open)`.
    pub fn status(&self) -> &'static str {
        if !self.limits.enabled {
            "disabled"
        } else if self.available.load(Ordering::Relaxed) {
            "ok"
        } else {
            "unavailable (failing open)"
        }
    }

    /// Connects to Redis, retrying every 2 seconds until it succeeds. The connection manager
    /// reconnects by itself after that, so this returns once connected.
    pub async fn connect(&self) {
        if !self.limits.enabled {
            return;
        }
        let timeout = Duration::from_millis(self.redis.timeout_ms.max(1));
        let settings = ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_secs(1))
            .set_response_timeout(timeout)
            .set_number_of_retries(1);
        let mut attempts = 0u64;
        loop {
            attempts += 1;
            match ConnectionManager::new_with_config(self.client.clone(), settings.clone()).await {
                Ok(manager) => {
                    let _ = self.connection.set(manager);
                    self.available.store(true, Ordering::Relaxed);
                    tracing::info!(attempts, "connected to Redis for rate limits");
                    return;
                }
                Err(err) => {
                    if attempts == 1 || attempts.is_multiple_of(30) {
                        tracing::warn!(
                            error = %err,
                            attempts,
                            "failed to connect to Redis; rate limits are not enforced until it is reachable"
                        );
                    }
                    tokio::time::sleep(RECONNECT_DELAY).await;
                }
            }
        }
    }

    /// Counts one request of `class` by `subject` (such as `user:7` or `ip:192.0.2.1`).
    pub async fn check(&self, class: RateClass, subject: &str) -> Verdict {
        let limit = self.limits.for_class(class);
        if !self.limits.enabled || limit.requests == 0 {
            return Verdict::Allowed;
        }
        let Some(connection) = self.connection.get() else {
            self.fail_open(class, "not connected to Redis yet");
            return Verdict::FailedOpen;
        };

        let mut connection = connection.clone();
        let window_ms = limit.window_secs.max(1) * 1000;
        let key = format!("{}rl:{}:{}", self.redis.key_prefix, class.as_str(), subject);
        let mut invocation = self.script.key(key);
        invocation.arg(window_ms);
        let call = invocation.invoke_async::<(u64, i64)>(&mut connection);
        let timeout = Duration::from_millis(self.redis.timeout_ms.max(1));
        let (count, left_ms) = match tokio::time::timeout(timeout, call).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(err)) => {
                self.fail_open(class, &err.to_string());
                return Verdict::FailedOpen;
            }
            Err(_) => {
                self.fail_open(class, "timed out waiting for Redis");
                return Verdict::FailedOpen;
            }
        };

        self.available.store(true, Ordering::Relaxed);
        if count <= limit.requests {
            return Verdict::Allowed;
        }
        let left_ms = u64::try_from(left_ms).unwrap_or(window_ms);
        Verdict::Limited {
            retry_after_secs: left_ms.div_ceil(1000).max(1),
            limit: limit.requests,
            window_secs: limit.window_secs,
        }
    }

    fn fail_open(&self, class: RateClass, reason: &str) {
        self.available.store(false, Ordering::Relaxed);
        let skipped = self
            .failed_open_since_warning
            .fetch_add(1, Ordering::Relaxed)
            + 1;
        let now_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let last = self.last_warning_ms.load(Ordering::Relaxed);
        let due = last == 0 || now_ms.saturating_sub(last) >= WARN_INTERVAL.as_millis() as u64;
        if due
            && self
                .last_warning_ms
                .compare_exchange(last, now_ms.max(1), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.failed_open_since_warning.store(0, Ordering::Relaxed);
            tracing::warn!(
                class = class.as_str(),
                reason,
                requests_let_through = skipped,
                "rate limit not checked, request let through (Redis unavailable)"
            );
        }
    }
}
