//! The one error type of the SDK, and the decoding of the server's error bodies.
//!
//! The real server answers errors in five shapes (see the crate docs): an app
//! error `{detail, error, details}`, a validation error `{detail: [..]}`, a
//! framework error `{detail}`, a rate-limit error `{error}` and an internal
//! error `{error, details?}`. [`ApiError::from_response`] decodes all of them,
//! and also keeps what it can of a body that is not JSON at all (an HTML 502
//! page from a proxy, say).

use std::fmt;
use std::time::Duration;

mod api_body;

pub use api_body::{ApiError, ErrorShape, FieldError};
pub(crate) use api_body::{scrub_json, truncate_utf8};

use crate::retry;

/// The result type of every SDK call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How many bytes of an error body are kept in [`ApiError::body`].
pub const MAX_ERROR_BODY: usize = 4096;

/// Everything that can go wrong when talking to Plurum.
///
/// Status-keyed variants carry the decoded [`ApiError`]; use the helpers
/// ([`Error::status`], [`Error::is_retryable`], [`Error::retry_after`], …)
/// rather than matching when only one property matters.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// 401: the key is missing, malformed, unknown or deactivated.
    #[error("the server rejected the API key (401): {}", .0.message)]
    Unauthorized(Box<ApiError>),
    /// 403: acting on something you do not own (or contributing to a private session).
    #[error("not allowed (403): {}", .0.message)]
    Forbidden(Box<ApiError>),
    /// 404: unknown or invisible resource, or unknown route.
    #[error("not found (404): {}", .0.message)]
    NotFound(Box<ApiError>),
    /// 409: a duplicate (username taken, outcome already reported on servers that reject re-reports).
    #[error("conflict (409): {}", .0.message)]
    Conflict(Box<ApiError>),
    /// 400 or 422: the server rejected the request's content; see
    /// [`ApiError::field_errors`] and [`ApiError::field`].
    #[error("the server rejected the request ({}): {}", .0.status, .0.message)]
    Validation(Box<ApiError>),
    /// 429: rate limited. `retry_after` is the delay the server asked for
    /// (`Retry-After`) or, without that header, the limit's window.
    #[error("rate limited (429): {}{}", .error.message, RetryHint(*.retry_after))]
    RateLimited {
        /// How long to wait before trying again, when known.
        retry_after: Option<Duration>,
        /// The decoded error body.
        error: Box<ApiError>,
    },
    /// 5xx: the server failed.
    #[error("server error ({}): {}", .0.status, .0.message)]
    Server(Box<ApiError>),
    /// Any other non-success status (for example 405 or 413).
    #[error("unexpected status {}: {}", .0.status, .0.message)]
    Api(Box<ApiError>),
    /// The server could not be reached, or the connection broke.
    #[error("could not reach {url}")]
    Transport {
        /// The URL that was requested.
        url: String,
        /// Whether no connection could be made at all (refused, unreachable,
        /// a name that does not resolve), as opposed to one that broke.
        connect: bool,
        /// What the HTTP stack reported (boxed: the HTTP stack's own error
        /// type is not part of this API).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// No complete answer arrived in time.
    #[error("no answer from {url} within {}", HumanDuration(*.after))]
    Timeout {
        /// The URL that was requested.
        url: String,
        /// The configured timeout that expired.
        after: Duration,
    },
    /// The answer was larger than the client's limit
    /// ([`ClientBuilder::max_response_bytes`](crate::ClientBuilder::max_response_bytes));
    /// reading stopped there. No Plurum answer comes near the default limit:
    /// something between you and the API (a captive portal, a broken proxy)
    /// answered instead.
    #[error("the answer from {url} is larger than {} (status {status}); reading stopped there", HumanBytes(*.limit))]
    TooLarge {
        /// The URL that was requested.
        url: String,
        /// The HTTP status of the answer.
        status: u16,
        /// The limit that was reached, in bytes.
        limit: usize,
    },
    /// A success status with a body that does not decode into the expected type.
    #[error("could not decode the server's answer (status {status})")]
    Decode {
        /// The HTTP status.
        status: u16,
        /// The raw body, truncated to [`MAX_ERROR_BODY`] bytes.
        body: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// Input the server would reject, caught before anything was sent.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// The request field at fault (for example `topic` or `limit`).
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The endpoint needs an API key and none is configured.
    #[error("this call needs an API key and none is configured")]
    MissingApiKey,
    /// The client could not be built as configured.
    #[error("invalid client configuration: {0}")]
    Config(String),
    /// A pulse WebSocket failure.
    #[cfg(feature = "pulse")]
    #[cfg_attr(docsrs, doc(cfg(feature = "pulse")))]
    #[error(transparent)]
    Pulse(Box<PulseError>),
}

/// Everything that can go wrong on the pulse socket.
#[cfg(feature = "pulse")]
#[cfg_attr(docsrs, doc(cfg(feature = "pulse")))]
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PulseError {
    /// The server rejected the key (close 4001). Fatal.
    #[error("the pulse rejected the API key: {message}")]
    AuthFailed {
        /// The server's message (`Authentication failed`, `Authentication timed out`).
        message: String,
    },
    /// Another connection of the same agent took over (close 4000). Fatal.
    #[error("another connection of this agent replaced this one (close 4000)")]
    Superseded,
    /// No API key is configured.
    #[error("the pulse socket needs an API key and none is configured")]
    MissingApiKey,
    /// The connection could not be made.
    #[error("could not connect to the pulse at {url}")]
    Connect {
        /// The socket URL (without any token).
        url: String,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The connection broke.
    #[error("the pulse connection was lost")]
    Lost {
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The server closed the connection.
    #[error("the pulse server closed the connection ({code}{})", if .reason.is_empty() { String::new() } else { format!(": {}", .reason) })]
    Closed {
        /// The close code.
        code: u16,
        /// The reason given.
        reason: String,
    },
    /// The server sent nothing but error frames: the connection was left,
    /// and is reconnected with backoff.
    #[error("the pulse server sent {errors} error frames in a row and nothing else")]
    Flooded {
        /// How many in a row.
        errors: u64,
    },
    /// Nothing at all arrived for too long: the connection is presumed dead.
    #[error("the pulse connection went silent for {}", HumanDuration(*.silent_for))]
    Dead {
        /// How long nothing arrived.
        silent_for: Duration,
    },
    /// Reading the inbox after a reconnect failed; events missed while
    /// disconnected may not all have been delivered.
    #[error("could not catch up from the inbox after reconnecting")]
    CatchUp(#[source] Box<Error>),
    /// The server refused a contribution.
    #[error("the contribution was refused: {message}")]
    Rejected {
        /// The server's message.
        message: String,
    },
    /// No answer to a contribution in time (it may or may not have been stored).
    #[error("no answer to the contribution within {}", HumanDuration(*.after))]
    Timeout {
        /// The timeout.
        after: Duration,
    },
    /// The socket was closed by [`PulseSocket::close`](crate::pulse::PulseSocket::close) (or dropped).
    #[error("the pulse socket is closed")]
    ClosedByClient,
}

#[cfg(feature = "pulse")]
impl PulseError {
    /// Whether the stream ends after this error (a rejected key, a
    /// superseded connection, a closed socket). Other errors are reported
    /// and the socket reconnects.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Self::AuthFailed { .. } | Self::Superseded | Self::MissingApiKey | Self::ClosedByClient
        )
    }
}

#[cfg(feature = "pulse")]
impl From<PulseError> for Error {
    fn from(error: PulseError) -> Self {
        Error::Pulse(Box::new(error))
    }
}

struct RetryHint(Option<Duration>);

impl fmt::Display for RetryHint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(delay) => write!(f, " (retry after {})", HumanDuration(delay)),
            None => Ok(()),
        }
    }
}

/// Formats a byte count the way people read it: `512 bytes`, `64 KiB`, `8 MiB`.
pub(crate) struct HumanBytes(pub(crate) usize);

impl fmt::Display for HumanBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
            write!(f, "{} MiB", n >> 20)
        } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
            write!(f, "{} KiB", n >> 10)
        } else {
            write!(f, "{n} bytes")
        }
    }
}

/// Formats a duration the way people read it: `250 ms`, `30 s`, `5 min`, `1 h`.
pub(crate) struct HumanDuration(pub(crate) Duration);

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        let secs = d.as_secs();
        if secs == 0 {
            write!(f, "{} ms", d.as_millis())
        } else if secs < 120 || !secs.is_multiple_of(60) {
            if d.subsec_millis() == 0 || secs >= 10 {
                write!(f, "{secs} s")
            } else {
                write!(f, "{:.1} s", d.as_secs_f64())
            }
        } else if secs < 7200 || !secs.is_multiple_of(3600) {
            write!(f, "{} min", secs / 60)
        } else {
            write!(f, "{} h", secs / 3600)
        }
    }
}

impl Error {
    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidInput {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// Builds the status-keyed variant for a decoded error body.
    pub fn from_api_error(error: ApiError) -> Self {
        let error = Box::new(error);
        match error.status {
            401 => Self::Unauthorized(error),
            403 => Self::Forbidden(error),
            404 => Self::NotFound(error),
            409 => Self::Conflict(error),
            400 | 422 => Self::Validation(error),
            429 => Self::RateLimited {
                retry_after: error.retry_after,
                error,
            },
            500..=599 => Self::Server(error),
            _ => Self::Api(error),
        }
    }

    /// The decoded error body, for errors the server answered.
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            Self::Unauthorized(e)
            | Self::Forbidden(e)
            | Self::NotFound(e)
            | Self::Conflict(e)
            | Self::Validation(e)
            | Self::Server(e)
            | Self::Api(e)
            | Self::RateLimited { error: e, .. } => Some(e),
            _ => None,
        }
    }

    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Decode { status, .. } => Some(*status),
            other => other.api_error().map(|e| e.status),
        }
    }

    /// How long the server asked us to wait, for rate limits and `Retry-After` answers.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } => *retry_after,
            other => other.api_error().and_then(|e| e.retry_after),
        }
    }

    /// Whether the failure is temporary: the network, a timeout, a 5xx, a 408
    /// or a 429. Repeating the same request later may succeed; the CLI queues
    /// outcome reports on these and exits with code 5.
    pub fn is_temporary(&self) -> bool {
        match self {
            Self::Transport { .. } | Self::Timeout { .. } | Self::RateLimited { .. } => true,
            Self::Server(_) => true,
            Self::Api(e) => e.status == 408,
            #[cfg(feature = "pulse")]
            Self::Pulse(e) => !e.is_fatal(),
            _ => false,
        }
    }

    /// Whether the retry policy would repeat a harmless request that failed this way.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Transport { .. } | Self::Timeout { .. } => true,
            other => other
                .status()
                .is_some_and(|status| retry::is_retryable_status(status) && !matches!(other, Self::Decode { .. })),
        }
    }

    /// Whether the connection was refused: the host answered but nothing
    /// listens on the port (the server is down or restarting). A timeout or
    /// a name that does not resolve is not a refusal.
    pub fn is_refused(&self) -> bool {
        match self {
            Self::Transport {
                connect: true, source, ..
            } => refused(source.as_ref()),
            _ => false,
        }
    }

    /// 401: the key was rejected.
    pub fn is_unauthorized(&self) -> bool {
        match self {
            Self::Unauthorized(_) | Self::MissingApiKey => true,
            #[cfg(feature = "pulse")]
            Self::Pulse(e) => matches!(**e, PulseError::AuthFailed { .. } | PulseError::MissingApiKey),
            _ => false,
        }
    }

    /// 404: not found or not visible to you.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound(_))
    }

    /// 409: a conflict, such as a duplicate username or a duplicate outcome report.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Conflict(_))
    }
}

/// Whether an error's source chain holds a refused connection.
pub(crate) fn refused(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(io) = error.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return true;
        }
        current = error.source();
    }
    false
}
