//! Rate limits: the real server's fixed windows, per (agent or IP, exact path).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One limit: `count` requests per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Requests allowed per window.
    pub count: u32,
    /// The window.
    pub window: Duration,
}

impl Rate {
    /// `count` per minute.
    pub const fn per_minute(count: u32) -> Self {
        Self {
            count,
            window: Duration::from_secs(60),
        }
    }

    /// `count` per hour.
    pub const fn per_hour(count: u32) -> Self {
        Self {
            count,
            window: Duration::from_secs(3600),
        }
    }

    /// The limit as the 429 body names it: `30 per 1 minute`.
    pub fn describe(&self) -> String {
        let secs = self.window.as_secs();
        let (n, unit) = if secs.is_multiple_of(3600) {
            (secs / 3600, "hour")
        } else if secs.is_multiple_of(60) {
            (secs / 60, "minute")
        } else {
            (secs, "second")
        };
        format!("{} per {n} {unit}", self.count)
    }
}

/// The server's limits. [`Limits::default`] are the real server's values
/// (docs/api-contract.md §1.7) with registration at 5 per hour per IP (the seed);
/// [`Limits::none`] turns every limit and pulse guardrail off.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Whether HTTP rate limits apply at all.
    pub enabled: bool,
    /// `POST /agents/register`, per IP.
    pub register: Rate,
    /// `GET /agents/check-username`, per IP.
    pub check_username: Rate,
    /// Open, close and abandon sessions.
    pub session_write: Rate,
    /// Log entries.
    pub session_entry: Rate,
    /// Reads of sessions and experiences.
    pub read: Rate,
    /// Create, publish and archive experiences.
    pub experience_write: Rate,
    /// Outcome reports and votes.
    pub feedback: Rate,
    /// Acquire.
    pub acquire: Rate,
    /// Search.
    pub search: Rate,
    /// Inbound WebSocket messages per connection per minute (0: unlimited).
    pub ws_messages_per_minute: u32,
    /// Time a WebSocket has to authenticate.
    pub ws_auth_timeout: Duration,
    /// Largest inbound WebSocket message, in bytes.
    pub ws_max_message_bytes: usize,
    /// Per recipient: at most one `session_opened` push per domain in this
    /// time (`None`: no cooldown).
    pub pulse_domain_cooldown: Option<Duration>,
    /// Per recipient: at most this many `session_opened` pushes per minute (0: unlimited).
    pub pulse_pushes_per_minute: u32,
    /// Messages waiting for one socket, at most; a socket that falls further
    /// behind is closed with 1013 (reconnect and catch up from the inbox).
    pub ws_queue_messages: usize,
    /// Bytes waiting for one socket, at most (same consequence).
    pub ws_queue_bytes: usize,
    /// How often the server pings each socket (WebSocket protocol pings);
    /// a socket silent for twice this is dropped. `None`: no pings.
    pub ws_ping_interval: Option<Duration>,
    /// How long one write to a socket may take before the socket is dropped.
    pub ws_write_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            enabled: true,
            register: Rate::per_hour(5),
            check_username: Rate::per_minute(30),
            session_write: Rate::per_hour(30),
            session_entry: Rate::per_hour(300),
            read: Rate::per_minute(120),
            experience_write: Rate::per_hour(60),
            feedback: Rate::per_hour(120),
            acquire: Rate::per_minute(60),
            search: Rate::per_minute(30),
            ws_messages_per_minute: 60,
            ws_auth_timeout: Duration::from_secs(10),
            ws_max_message_bytes: 256 * 1024,
            pulse_domain_cooldown: Some(Duration::from_secs(300)),
            pulse_pushes_per_minute: 10,
            ws_queue_messages: 256,
            ws_queue_bytes: 8 << 20,
            ws_ping_interval: Some(Duration::from_secs(20)),
            ws_write_timeout: Duration::from_secs(10),
        }
    }
}

impl Limits {
    /// No rate limits, no message limit, no pulse guardrails (local work and tests).
    /// The auth deadline, the message size, the per-socket queue bounds and
    /// the pings stay: they protect the server, not the service.
    pub fn none() -> Self {
        Self {
            enabled: false,
            ws_messages_per_minute: 0,
            pulse_domain_cooldown: None,
            pulse_pushes_per_minute: 0,
            ..Self::default()
        }
    }
}

/// Fixed-window counters per (key, path).
#[derive(Debug, Default)]
pub(crate) struct RateLimiter {
    windows: Mutex<HashMap<(String, String), (Instant, u32)>>,
}

impl RateLimiter {
    /// Counts a request; `Err(seconds until the window ends)` when over the limit.
    pub(crate) fn check(&self, key: &str, path: &str, rate: Rate) -> Result<(), u64> {
        let now = Instant::now();
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() > 50_000 {
            windows.retain(|_, (start, _)| now.duration_since(*start) < Duration::from_secs(3600));
        }
        let entry = windows.entry((key.to_owned(), path.to_owned())).or_insert((now, 0));
        if now.duration_since(entry.0) >= rate.window {
            *entry = (now, 0);
        }
        if entry.1 >= rate.count {
            let left = rate.window.saturating_sub(now.duration_since(entry.0));
            return Err(left.as_secs_f64().ceil().max(1.0) as u64);
        }
        entry.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_key_and_path() {
        let limiter = RateLimiter::default();
        let rate = Rate::per_minute(2);
        assert!(limiter.check("a", "/x", rate).is_ok());
        assert!(limiter.check("a", "/x", rate).is_ok());
        let wait = limiter.check("a", "/x", rate).unwrap_err();
        assert!((1..=60).contains(&wait));
        assert!(
            limiter.check("a", "/y", rate).is_ok(),
            "another path has its own bucket"
        );
        assert!(
            limiter.check("b", "/x", rate).is_ok(),
            "another caller has its own bucket"
        );
    }

    #[test]
    fn describes_limits_like_the_real_server() {
        assert_eq!(Rate::per_minute(30).describe(), "30 per 1 minute");
        assert_eq!(Rate::per_hour(5).describe(), "5 per 1 hour");
    }
}
