//! When to repeat a failed request, and how long to wait first.
//!
//! The decision is the pure function [`decide`]: no clock, no randomness of
//! its own (the caller passes the jitter), so every rule is unit-tested.
//!
//! Rules (docs/sdk.md, "Retries and timeouts"):
//!
//! * Only calls that are harmless to repeat are retried: every GET, search,
//!   acquire, outcome, vote, mark-read, publish and archive. Register,
//!   rotate-key, open session, log entry, contribute, create experience,
//!   update, close and abandon are never repeated: a lost answer there is
//!   reported, not guessed at.
//! * Retried failures: connection errors, timeouts, 408, 429, 500, 502, 503, 504.
//!   A refused connection (nothing listens there) is retried unless the
//!   policy says otherwise ([`RetryPolicy::retry_refused`]): a caller that
//!   queues its writes anyway stops at the first refusal.
//! * Delay: `Retry-After` when the server sent one (seconds or HTTP date);
//!   for a 429 without it, the window of the limit named in the body
//!   (`"… 30 per 1 minute"` → 60 s); otherwise exponential backoff with
//!   jitter (`base · 2ⁿ`, capped at `max_delay`, then between half and all of it).
//! * A requested delay above `max_retry_after` is not waited for: the call
//!   fails at once with [`Error::RateLimited`](crate::Error::RateLimited)
//!   carrying the delay.

use std::time::{Duration, SystemTime};

/// How the client repeats harmless requests that failed temporarily.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Retries after the first attempt (default 3, so at most 4 attempts).
    pub max_retries: u32,
    /// The first backoff step (default 250 ms).
    pub base_delay: Duration,
    /// The largest backoff step (default 8 s).
    pub max_delay: Duration,
    /// The longest server-requested delay the client waits for (default 60 s).
    pub max_retry_after: Duration,
    /// Whether a refused connection is retried (default true). A caller
    /// that keeps the request for later anyway (an outbox) sets it to false
    /// and stops at the first refusal; timeouts, DNS failures and broken
    /// connections keep the retries above.
    pub retry_refused: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 3,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(60),
            retry_refused: true,
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// Sets how many retries follow the first attempt.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// Sets the first backoff step.
    pub fn base_delay(mut self, delay: Duration) -> Self {
        self.base_delay = delay;
        self
    }

    /// Sets the largest backoff step.
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// Sets the longest server-requested delay the client is willing to wait.
    pub fn max_retry_after(mut self, delay: Duration) -> Self {
        self.max_retry_after = delay;
        self
    }

    /// Sets whether a refused connection is retried.
    pub fn retry_refused(mut self, retry: bool) -> Self {
        self.retry_refused = retry;
        self
    }

    /// The backoff before retry number `retry` (0-based), given a jitter in `[0, 1]`:
    /// between half and all of `min(max_delay, base_delay · 2^retry)`.
    ///
    /// This one function also paces the pulse socket's reconnects and the
    /// CLI daemon's (with their own base and maximum).
    pub fn backoff(&self, retry: u32, jitter: f64) -> Duration {
        backoff(self.base_delay, self.max_delay, retry, jitter)
    }
}

/// Exponential backoff with jitter: between half and all of
/// `min(max, base · 2^step)`, for a `jitter` in `[0, 1]` (NaN counts as 0).
pub(crate) fn backoff(base: Duration, max: Duration, step: u32, jitter: f64) -> Duration {
    let factor = 2u32.saturating_pow(step.min(31));
    let delay = base.saturating_mul(factor).min(max);
    let jitter = if jitter.is_nan() { 0.0 } else { jitter.clamp(0.0, 1.0) };
    delay.mul_f64(0.5 + 0.5 * jitter)
}

/// How one attempt failed, as far as the retry decision cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// The server answered with this status. `retry_after` is what it asked
    /// for (header, or the limit window of a 429), if anything.
    Status {
        /// The HTTP status.
        status: u16,
        /// The delay the server asked for.
        retry_after: Option<Duration>,
    },
    /// The connection could not be established.
    Connect,
    /// The connection was refused: the host answered, nothing listens on
    /// the port (the server is down or restarting).
    Refused,
    /// No answer in time.
    Timeout,
    /// The connection broke after the request may have been sent.
    Network,
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decision {
    /// Wait this long, then try again.
    RetryAfter(Duration),
    /// Give up and report the failure as it is.
    Stop,
    /// The server asked for a delay longer than the policy allows: give up
    /// and report a rate-limit error carrying this delay.
    TooLong(Duration),
}

/// Whether a status is one the policy retries (408, 429, 500, 502, 503, 504).
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// Decides whether to repeat a request.
///
/// * `retries_done`: how many retries already happened (0 after the first attempt).
/// * `repeatable`: whether the endpoint is harmless to repeat.
/// * `jitter`: a number in `[0, 1]` (random in production, fixed in tests).
pub fn decide(policy: &RetryPolicy, retries_done: u32, repeatable: bool, failure: Failure, jitter: f64) -> Decision {
    let requested = match failure {
        Failure::Status { status, retry_after } => {
            if !is_retryable_status(status) {
                return Decision::Stop;
            }
            retry_after
        }
        Failure::Refused if !policy.retry_refused => return Decision::Stop,
        Failure::Connect | Failure::Refused | Failure::Timeout | Failure::Network => None,
    };
    if let Some(delay) = requested
        && delay > policy.max_retry_after
    {
        return if matches!(failure, Failure::Status { status: 429, .. }) {
            Decision::TooLong(delay)
        } else {
            Decision::Stop
        };
    }
    if !repeatable || retries_done >= policy.max_retries {
        return Decision::Stop;
    }
    Decision::RetryAfter(requested.unwrap_or_else(|| policy.backoff(retries_done, jitter)))
}

/// Parses a `Retry-After` header: delta-seconds (`"120"`) or an HTTP date
/// (`"Wed, 21 Oct 2026 07:28:00 GMT"`, relative to `now`; a date in the past
/// means no wait). `None` if it is neither.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The window of a rate limit named in a 429 message, such as
/// `"Rate limit exceeded: 30 per 1 minute"` (60 s) or `"60 per 1 hour"` (3600 s).
pub fn rate_limit_window(message: &str) -> Option<Duration> {
    let lower = message.to_ascii_lowercase();
    let after = &lower[lower.rfind(" per ")? + 5..];
    let mut words = after.split_whitespace();
    let first = words.next()?;
    let (count, unit) = match first.parse::<u64>() {
        Ok(n) => (n, words.next()?),
        Err(_) => (1, first),
    };
    let unit_secs = match unit
        .trim_end_matches(|c: char| !c.is_ascii_alphabetic())
        .trim_end_matches('s')
    {
        "second" | "sec" => 1,
        "minute" | "min" => 60,
        "hour" => 3600,
        "day" => 86_400,
        _ => return None,
    };
    Some(Duration::from_secs(count.max(1).saturating_mul(unit_secs)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16) -> Failure {
        Failure::Status {
            status,
            retry_after: None,
        }
    }

    #[test]
    fn retries_temporary_failures_of_repeatable_calls() {
        let policy = RetryPolicy::default();
        for failure in [
            status(500),
            status(502),
            status(503),
            status(504),
            status(408),
            Failure::Connect,
            Failure::Refused,
            Failure::Timeout,
            Failure::Network,
        ] {
            assert!(
                matches!(decide(&policy, 0, true, failure, 0.5), Decision::RetryAfter(_)),
                "{failure:?} should be retried"
            );
        }
    }

    #[test]
    fn never_retries_calls_that_are_not_repeatable() {
        let policy = RetryPolicy::default();
        for failure in [status(503), status(429), Failure::Connect, Failure::Timeout] {
            assert_eq!(decide(&policy, 0, false, failure, 0.5), Decision::Stop, "{failure:?}");
        }
    }

    #[test]
    fn a_refused_connection_stops_at_once_when_the_policy_says_so() {
        let policy = RetryPolicy::default().retry_refused(false);
        assert_eq!(decide(&policy, 0, true, Failure::Refused, 0.5), Decision::Stop);
        // Timeouts, DNS failures and broken connections keep their retries.
        for failure in [Failure::Connect, Failure::Timeout, Failure::Network, status(503)] {
            assert!(
                matches!(decide(&policy, 0, true, failure, 0.5), Decision::RetryAfter(_)),
                "{failure:?}"
            );
        }
    }

    #[test]
    fn never_retries_client_errors() {
        let policy = RetryPolicy::default();
        for code in [400, 401, 403, 404, 405, 409, 413, 422, 501] {
            assert_eq!(decide(&policy, 0, true, status(code), 0.5), Decision::Stop, "{code}");
        }
    }

    #[test]
    fn stops_after_max_retries() {
        let policy = RetryPolicy::default();
        assert!(matches!(
            decide(&policy, 2, true, status(503), 0.0),
            Decision::RetryAfter(_)
        ));
        assert_eq!(decide(&policy, 3, true, status(503), 0.0), Decision::Stop);
        assert_eq!(decide(&RetryPolicy::none(), 0, true, status(503), 0.0), Decision::Stop);
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.backoff(0, 1.0), Duration::from_millis(250));
        assert_eq!(policy.backoff(0, 0.0), Duration::from_millis(125));
        assert_eq!(policy.backoff(1, 1.0), Duration::from_millis(500));
        assert_eq!(policy.backoff(2, 1.0), Duration::from_secs(1));
        assert_eq!(policy.backoff(10, 1.0), Duration::from_secs(8));
        assert_eq!(policy.backoff(40, 0.0), Duration::from_secs(4));
        // The jitter spreads delays within [half, full].
        let mid = policy.backoff(3, 0.5);
        assert!(mid > Duration::from_secs(1) && mid < Duration::from_secs(2), "{mid:?}");
    }

    #[test]
    fn honours_retry_after_within_the_cap() {
        let policy = RetryPolicy::default();
        let failure = Failure::Status {
            status: 429,
            retry_after: Some(Duration::from_secs(7)),
        };
        assert_eq!(
            decide(&policy, 0, true, failure, 0.9),
            Decision::RetryAfter(Duration::from_secs(7))
        );
        let failure = Failure::Status {
            status: 503,
            retry_after: Some(Duration::from_secs(2)),
        };
        assert_eq!(
            decide(&policy, 0, true, failure, 0.9),
            Decision::RetryAfter(Duration::from_secs(2))
        );
    }

    #[test]
    fn a_retry_after_beyond_the_cap_is_reported_not_waited() {
        let policy = RetryPolicy::default();
        let failure = Failure::Status {
            status: 429,
            retry_after: Some(Duration::from_secs(3600)),
        };
        assert_eq!(
            decide(&policy, 0, true, failure, 0.5),
            Decision::TooLong(Duration::from_secs(3600))
        );
        // Also for calls that are never repeated: the caller learns the delay.
        assert_eq!(
            decide(&policy, 0, false, failure, 0.5),
            Decision::TooLong(Duration::from_secs(3600))
        );
        let failure = Failure::Status {
            status: 503,
            retry_after: Some(Duration::from_secs(3600)),
        };
        assert_eq!(decide(&policy, 0, true, failure, 0.5), Decision::Stop);
    }

    #[test]
    fn parses_retry_after_in_both_forms() {
        let now = httpdate::parse_http_date("Sun, 22 Nov 2026 11:00:00 GMT").unwrap();
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Sun, 22 Nov 2026 11:00:45 GMT", now),
            Some(Duration::from_secs(45))
        );
        assert_eq!(
            parse_retry_after("Sun, 22 Nov 2026 10:59:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }

    #[test]
    fn reads_the_window_of_a_rate_limit_message() {
        assert_eq!(
            rate_limit_window("Rate limit exceeded: 30 per 1 minute"),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            rate_limit_window("Rate limit exceeded: 60 per 1 hour"),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(rate_limit_window("60 per 1 hour"), Some(Duration::from_secs(3600)));
        assert_eq!(rate_limit_window("5 per 2 minutes"), Some(Duration::from_secs(120)));
        assert_eq!(rate_limit_window("10 per day"), Some(Duration::from_secs(86_400)));
        assert_eq!(rate_limit_window("Too many requests"), None);
    }
}
