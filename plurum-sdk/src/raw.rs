//! Raw calls to any route of the API (what `plurum api` is built on): the
//! same base URL, key, retries, limits and error decoding as the typed
//! methods, for routes or fields the typed API does not cover yet.

use reqwest::Method;
use serde_json::Value;

use crate::client::Client;
use crate::error::{Error, Result, scrub_json};
use crate::http::{Answer, Auth, Call, Repeat};
use crate::types::Identifier;

/// A raw request: a method, a path below the API base URL, query
/// parameters and an optional JSON body.
///
/// ```no_run
/// # async fn demo(client: &plurum_sdk::Client) -> plurum_sdk::Result<()> {
/// use plurum_sdk::RawRequest;
/// let answer = client
///     .raw(RawRequest::get("/agents/check-username").query("username", "atlas"))
///     .await?;
/// assert_eq!(answer.status, 200);
/// println!("{}", answer.body["available"]);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct RawRequest {
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    body: Option<Value>,
}

impl RawRequest {
    /// A request with this method (`GET`, `POST`, `PATCH`, `PUT`, `DELETE`)
    /// to `path`, relative to the API base URL (`/agents/me`). A query
    /// string in `path` is kept.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an unknown method.
    pub fn new(method: &str, path: impl Into<String>) -> Result<Self> {
        let method = method
            .to_ascii_uppercase()
            .parse::<Method>()
            .ok()
            .filter(|m| {
                matches!(
                    *m,
                    Method::GET | Method::POST | Method::PATCH | Method::PUT | Method::DELETE | Method::HEAD
                )
            })
            .ok_or_else(|| {
                Error::invalid(
                    "method",
                    format!("must be GET, POST, PATCH, PUT, DELETE or HEAD (got {method:?})"),
                )
            })?;
        Ok(Self {
            method,
            path: path.into(),
            query: Vec::new(),
            body: None,
        })
    }

    /// A GET request.
    pub fn get(path: impl Into<String>) -> Self {
        Self {
            method: Method::GET,
            path: path.into(),
            query: Vec::new(),
            body: None,
        }
    }

    /// Adds a query parameter.
    pub fn query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((name.into(), value.into()));
        self
    }

    /// Sends this JSON body.
    pub fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    /// The method.
    pub fn method(&self) -> &str {
        self.method.as_str()
    }

    /// Whether repeating it after a lost answer is harmless (GET and HEAD):
    /// only such requests are retried.
    pub fn is_safe(&self) -> bool {
        matches!(self.method, Method::GET | Method::HEAD)
    }
}

/// The answer to a raw request that succeeded (2xx); failures are the usual
/// [`Error`]s.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RawResponse {
    /// The HTTP status.
    pub status: u16,
    /// The response headers, in order (values that are not text are left
    /// out; anything that looks like the key is masked).
    pub headers: Vec<(String, String)>,
    /// The body: JSON when it is JSON, otherwise a JSON string of its text
    /// (null when empty).
    pub body: Value,
}

/// The answer to a raw request whatever its status (see
/// [`Client::raw_answer`]).
#[derive(Debug)]
#[non_exhaustive]
pub struct RawAnswer {
    /// The status, headers and body (an error body is read up to a few KB).
    pub response: RawResponse,
    /// The error an error status maps to (`None` for a 2xx).
    pub error: Option<Error>,
}

impl Client {
    /// Sends a raw request to a route of the API, with the client's key,
    /// retries (GET and HEAD only), limits and error decoding.
    ///
    /// A session's short id in the path is resolved to its UUID first
    /// wherever the API wants the UUID (every route below
    /// `/sessions/{id}` but `GET /sessions/{id}` itself), as the typed
    /// methods do; experiences take short ids everywhere.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when the path is not relative (a full URL or
    /// `//host` would send the key elsewhere); the usual errors otherwise.
    pub async fn raw(&self, request: RawRequest) -> Result<RawResponse> {
        let answer = self.raw_answer(request).await?;
        match answer.error {
            Some(error) => Err(error),
            None => Ok(answer.response),
        }
    }

    /// Like [`Client::raw`], but an answer with an error status (after the
    /// retries) comes back too: its status, headers and body, with the
    /// error it maps to, as `gh api` shows an error's body.
    ///
    /// # Errors
    /// What [`Client::raw`] returns, except errors the server answered with.
    pub async fn raw_answer(&self, request: RawRequest) -> Result<RawAnswer> {
        let path = request.path.trim();
        if path.contains("://") || path.starts_with("//") || path.contains('\\') {
            return Err(Error::invalid(
                "path",
                format!("must be a path below the API base URL, like /agents/me (got {path:?})"),
            ));
        }
        let (path, inline_query) = match path.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (path, None),
        };
        let path = self.resolve_session_in(&request.method, path).await?;
        let mut url = self.inner.base.clone();
        let base = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{base}/{}", path.trim_start_matches('/')));
        let mut query: Vec<(String, String)> = inline_query
            .map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        query.extend(request.query.iter().cloned());
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query.iter());
        }
        let repeat = if request.is_safe() { Repeat::Safe } else { Repeat::Never };
        let mut call = Call::new(request.method.clone(), url, Auth::Optional, repeat);
        if let Some(body) = &request.body {
            call = call.json(body)?;
        }
        let (status, headers, bytes, error) = match self.send_answer(&call).await? {
            Answer::Success(status, headers, bytes) => (status, headers, bytes, None),
            Answer::Failed {
                status,
                headers,
                bytes,
                error,
            } => (status, headers, bytes, Some(error)),
        };
        let key = self.inner.api_key.as_ref();
        let mut body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        scrub_json(&mut body, key);
        let headers = headers
            .iter()
            .filter_map(|(name, value)| {
                let mut text = Value::String(value.to_str().ok()?.to_owned());
                scrub_json(&mut text, key);
                Some((name.as_str().to_owned(), text.as_str().unwrap_or_default().to_owned()))
            })
            .collect();
        Ok(RawAnswer {
            response: RawResponse { status, headers, body },
            error,
        })
    }

    /// The path with a session's short id replaced by its UUID where the
    /// API wants the UUID.
    async fn resolve_session_in(&self, method: &Method, path: &str) -> Result<String> {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let [first, id, rest @ ..] = segments.as_slice() else {
            return Ok(path.to_owned());
        };
        let short = *first == "sessions" && matches!(Identifier::parse_as(id, "session"), Ok(Identifier::Short(_)));
        let only_get = rest.iter().all(|s| s.is_empty()) && *method == Method::GET;
        if !short || only_get {
            return Ok(path.to_owned());
        }
        let uuid = self.sessions().resolve(*id).await?;
        let mut out = format!("/sessions/{uuid}");
        for segment in rest {
            out.push('/');
            out.push_str(segment);
        }
        Ok(out)
    }
}
