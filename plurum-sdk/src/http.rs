//! The one path every REST call takes: URL building, auth, the retry loop,
//! error decoding and answer decoding.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use reqwest::Method;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::auth::ApiKey;
use crate::client::Client;
use crate::error::{ApiError, Error, MAX_ERROR_BODY, Result, scrub_json, truncate_utf8};
use crate::retry::{self, Decision, Failure};

/// Whether a route needs, accepts or ignores the API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Auth {
    /// The route has no auth: the key is never sent.
    None,
    /// The route works anonymously; a key changes what is visible.
    Optional,
    /// The route needs a key.
    Required,
}

/// Whether repeating the call after a lost answer is harmless.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Repeat {
    /// GETs, search, acquire, outcome, vote, mark-read, archive.
    Safe,
    /// Register, rotate-key, open, log, contribute, create, update, close,
    /// abandon, publish (refused a second time).
    Never,
}

/// One REST call, ready to send (possibly several times).
#[derive(Debug)]
pub(crate) struct Call {
    method: Method,
    url: Url,
    body: Option<Vec<u8>>,
    auth: Auth,
    repeat: Repeat,
}

impl Call {
    pub(crate) fn new(method: Method, url: Url, auth: Auth, repeat: Repeat) -> Self {
        Self {
            method,
            url,
            body: None,
            auth,
            repeat,
        }
    }

    /// Sends this JSON body.
    pub(crate) fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Result<Self> {
        let bytes = serde_json::to_vec(body).map_err(|e| Error::invalid("body", format!("cannot be encoded: {e}")))?;
        self.body = Some(bytes);
        Ok(self)
    }

    /// Appends the fields of a flat struct as query parameters, in the
    /// order they are declared (`None` fields are left out).
    pub(crate) fn query<T: Serialize>(mut self, query: &T) -> Result<Self> {
        let encoded = serde_urlencoded::to_string(query).map_err(|e| Error::invalid("query", e.to_string()))?;
        self.url.set_query((!encoded.is_empty()).then_some(encoded.as_str()));
        Ok(self)
    }
}

impl Client {
    /// The URL of an API route: the base URL plus path segments, each
    /// percent-encoded (so an identifier can never change the route).
    pub(crate) fn endpoint(&self, segments: &[&str]) -> Result<Url> {
        let mut url = self.inner.base.clone();
        url.path_segments_mut()
            .map_err(|()| Error::Config("the API URL cannot take a path".to_owned()))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// The URL of a route outside the versioned API (`/health`): the base URL
    /// with a trailing `/api/v1` removed.
    pub(crate) fn root_endpoint(&self, path: &str) -> Url {
        let mut url = self.inner.base.clone();
        let base_path = url.path().trim_end_matches('/');
        let root = base_path.strip_suffix("/api/v1").unwrap_or(base_path).to_owned();
        url.set_path(&format!("{root}/{}", path.trim_start_matches('/')));
        url
    }

    /// Sends a call, retrying per policy, and decodes the answer.
    pub(crate) async fn send<T: DeserializeOwned>(&self, call: Call) -> Result<T> {
        let (status, _, bytes) = self.send_raw(&call).await?;
        decode(status, &bytes, self.inner.api_key.as_ref())
    }

    /// Sends a call, retrying per policy; the status, headers and body of a
    /// success.
    pub(crate) async fn send_raw(&self, call: &Call) -> Result<(u16, reqwest::header::HeaderMap, Bytes)> {
        match self.send_answer(call).await? {
            Answer::Success(status, headers, bytes) => Ok((status, headers, bytes)),
            Answer::Failed { error, .. } => Err(error),
        }
    }

    /// Sends a call, retrying per policy; an answer with an error status
    /// comes back with its headers and (bounded) body as well as the error it
    /// maps to (what `plurum api` shows, as `gh api` does).
    pub(crate) async fn send_answer(&self, call: &Call) -> Result<Answer> {
        if call.auth == Auth::Required && self.inner.auth_header.is_none() {
            return Err(Error::MissingApiKey);
        }
        let shown_url = display_url(&call.url);
        let mut retries = 0;
        loop {
            let started = std::time::Instant::now();
            let outcome = self.attempt(call).await;
            let status = match &outcome {
                Ok((status, _, _)) => Some(*status),
                Err(AttemptError::Status { error, .. } | AttemptError::Final(error)) => error.status(),
                Err(AttemptError::Transport(_)) => None,
            };
            tracing::debug!(
                method = %call.method,
                path = call.url.path(),
                status = status.map_or_else(|| "-".to_owned(), |s| s.to_string()),
                duration_ms = started.elapsed().as_millis() as u64,
                retry = retries,
                "plurum request"
            );
            let (error, failure, answer) = match outcome {
                Ok((status, headers, bytes)) => return Ok(Answer::Success(status, headers, bytes)),
                Err(AttemptError::Final(error)) => return Err(error),
                Err(AttemptError::Status {
                    error,
                    failure,
                    headers,
                    bytes,
                }) => (error, failure, Some((headers, bytes))),
                Err(AttemptError::Transport(source)) => {
                    let (error, failure) = self.transport_error(&shown_url, source);
                    (error, failure, None)
                }
            };
            let repeatable = call.repeat == Repeat::Safe;
            match retry::decide(&self.inner.retry, retries, repeatable, failure, fastrand::f64()) {
                Decision::RetryAfter(delay) => {
                    tracing::info!(
                        method = %call.method,
                        url = %shown_url,
                        retry = retries + 1,
                        delay_ms = delay.as_millis() as u64,
                        error = %error,
                        "retrying"
                    );
                    tokio::time::sleep(delay).await;
                    retries += 1;
                }
                Decision::Stop => {
                    return match (error.status(), answer) {
                        (Some(status), Some((headers, bytes))) => Ok(Answer::Failed {
                            status,
                            headers,
                            bytes,
                            error,
                        }),
                        _ => Err(error),
                    };
                }
                Decision::TooLong(delay) => return Err(rate_limited(error, delay)),
            }
        }
    }

    async fn attempt(
        &self,
        call: &Call,
    ) -> std::result::Result<(u16, reqwest::header::HeaderMap, Bytes), AttemptError> {
        let mut request = self.inner.http.request(call.method.clone(), call.url.clone());
        if call.auth != Auth::None
            && let Some(header) = &self.inner.auth_header
        {
            request = request.header(AUTHORIZATION, header.clone());
        }
        if let Some(body) = &call.body {
            request = request
                .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                .body(body.clone());
        }
        let response = request.send().await.map_err(AttemptError::Transport)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let success = (200..300).contains(&status);
        // Success bodies up to the configured limit; error bodies only as far
        // as they are kept (a few KB), whatever their size.
        let limit = if success {
            self.inner.max_response_bytes
        } else {
            ERROR_READ_LIMIT
        };
        let (bytes, complete) = read_limited(response, limit).await.map_err(AttemptError::Transport)?;
        if success {
            if !complete {
                return Err(AttemptError::Final(Error::TooLarge {
                    url: display_url(&call.url),
                    status,
                    limit,
                }));
            }
            return Ok((status, headers, bytes));
        }
        let mut api = ApiError::from_response(status, retry_after.as_deref(), &bytes, SystemTime::now());
        api.scrub(self.inner.api_key.as_ref());
        let failure = Failure::Status {
            status,
            retry_after: api.retry_after,
        };
        Err(AttemptError::Status {
            error: Error::from_api_error(api),
            failure,
            headers,
            bytes,
        })
    }

    fn transport_error(&self, url: &str, source: reqwest::Error) -> (Error, Failure) {
        if source.is_timeout() {
            let after = if source.is_connect() {
                self.inner.connect_timeout
            } else {
                self.inner.timeout
            }
            .unwrap_or_default();
            let error = Error::Timeout {
                url: url.to_owned(),
                after,
            };
            return (error, Failure::Timeout);
        }
        let connect = source.is_connect();
        let failure = if connect && crate::error::refused(&source) {
            Failure::Refused
        } else if connect {
            Failure::Connect
        } else {
            Failure::Network
        };
        (
            Error::Transport {
                url: url.to_owned(),
                connect,
                source: Box::new(source.without_url()),
            },
            failure,
        )
    }
}

/// What a call came back with, after the retries.
pub(crate) enum Answer {
    /// A 2xx: status, headers, body.
    Success(u16, reqwest::header::HeaderMap, Bytes),
    /// An error status, with what came with it and the error it maps to.
    Failed {
        status: u16,
        headers: reqwest::header::HeaderMap,
        bytes: Bytes,
        error: Error,
    },
}

enum AttemptError {
    Status {
        error: Error,
        failure: Failure,
        headers: reqwest::header::HeaderMap,
        bytes: Bytes,
    },
    Transport(reqwest::Error),
    /// Not worth repeating (the answer is too large).
    Final(Error),
}

/// How much of an error body is read (more than is kept, so a JSON error
/// body a little over [`MAX_ERROR_BODY`] still decodes).
const ERROR_READ_LIMIT: usize = 4 * MAX_ERROR_BODY;

/// Reads a body, at most `limit` bytes; `false` when there was more (the
/// rest is not read: the connection is dropped).
async fn read_limited(mut response: reqwest::Response, limit: usize) -> reqwest::Result<(Bytes, bool)> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Ok((Bytes::new(), false));
    }
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > limit {
            let room = limit - body.len();
            body.extend_from_slice(&chunk[..room]);
            return Ok((body.freeze(), false));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body.freeze(), true))
}

fn decode<T: DeserializeOwned>(status: u16, bytes: &[u8], key: Option<&ApiKey>) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|source| {
        let mut body = serde_json::Value::String(truncate_utf8(bytes, MAX_ERROR_BODY));
        scrub_json(&mut body, key);
        Error::Decode {
            status,
            body: body.as_str().unwrap_or_default().to_owned(),
            source,
        }
    })
}

fn rate_limited(error: Error, delay: Duration) -> Error {
    match error {
        Error::RateLimited { error, .. } => Error::RateLimited {
            retry_after: Some(delay),
            error,
        },
        other => other,
    }
}

/// The URL as shown in errors and logs: without the query string.
fn display_url(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.to_string()
}
