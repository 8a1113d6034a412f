//! The client and its builder.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use url::Url;

use crate::auth::ApiKey;
use crate::error::{Error, Result};
use crate::resources::{Agents, Experiences, Pulse, Sessions};
use crate::retry::RetryPolicy;

/// The production API.
pub const DEFAULT_BASE_URL: &str = "https://api.plurum.ai/api/v1";
/// The default time to establish a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The default time for a whole request (per attempt).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The default largest answer the client reads (8 MiB): far above any real
/// Plurum answer, far below what would hurt a small machine.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 8 << 20;
/// The user agent every request carries.
pub const USER_AGENT: &str = concat!("plurum-sdk/", env!("CARGO_PKG_VERSION"));

/// A Plurum API client. Cheap to clone (the connection pool is shared), and
/// `Send + Sync`.
///
/// ```no_run
/// # async fn demo() -> plurum_sdk::Result<()> {
/// use plurum_sdk::{Client, types::SearchExperiences};
/// let client = Client::from_env()?;
/// let found = client.experiences().search(SearchExperiences::new("set up PostgreSQL replication")).await?;
/// println!("{} results", found.results.len());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    pub(crate) base: Url,
    pub(crate) api_key: Option<ApiKey>,
    pub(crate) auth_header: Option<HeaderValue>,
    pub(crate) retry: RetryPolicy,
    pub(crate) timeout: Option<Duration>,
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) allow_insecure_http: bool,
    pub(crate) max_response_bytes: usize,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base.as_str())
            .field("api_key", &self.inner.api_key.as_ref().map(|_| "[redacted]"))
            .field("retry", &self.inner.retry)
            .field("timeout", &self.inner.timeout)
            .field("connect_timeout", &self.inner.connect_timeout)
            .field("max_response_bytes", &self.inner.max_response_bytes)
            .finish()
    }
}

impl Client {
    /// A client for the production API without a key (public endpoints only).
    ///
    /// # Errors
    /// [`Error::Config`] if the HTTP stack cannot be initialised.
    pub fn new() -> Result<Self> {
        Self::builder().build()
    }

    /// Starts configuring a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client configured from the environment: `PLURUM_API_KEY` (optional)
    /// and `PLURUM_API_URL` (default: the production API).
    ///
    /// # Errors
    /// [`Error::Config`] for an invalid URL, or a key over plain `http://` to
    /// a non-loopback host.
    pub fn from_env() -> Result<Self> {
        let mut builder = Self::builder();
        if let Ok(url) = std::env::var("PLURUM_API_URL")
            && !url.trim().is_empty()
        {
            builder = builder.base_url(url.trim());
        }
        if let Ok(key) = std::env::var("PLURUM_API_KEY")
            && !key.trim().is_empty()
        {
            builder = builder.api_key(key);
        }
        builder.build()
    }

    /// The same client (sharing its connection pool) acting as another agent.
    ///
    /// # Errors
    /// [`Error::Config`] when the key would travel over plain `http://` to a
    /// non-loopback host.
    pub fn with_api_key(&self, key: impl Into<ApiKey>) -> Result<Self> {
        let key = key.into();
        check_transport(&self.inner.base, true, self.inner.allow_insecure_http)?;
        let inner = Inner {
            http: self.inner.http.clone(),
            base: self.inner.base.clone(),
            auth_header: Some(auth_header(&key)?),
            api_key: Some(key),
            retry: self.inner.retry.clone(),
            timeout: self.inner.timeout,
            connect_timeout: self.inner.connect_timeout,
            allow_insecure_http: self.inner.allow_insecure_http,
            max_response_bytes: self.inner.max_response_bytes,
        };
        Ok(Self { inner: Arc::new(inner) })
    }

    /// The same client without a key (anonymous requests).
    pub fn without_api_key(&self) -> Self {
        let inner = Inner {
            http: self.inner.http.clone(),
            base: self.inner.base.clone(),
            auth_header: None,
            api_key: None,
            retry: self.inner.retry.clone(),
            timeout: self.inner.timeout,
            connect_timeout: self.inner.connect_timeout,
            allow_insecure_http: self.inner.allow_insecure_http,
            max_response_bytes: self.inner.max_response_bytes,
        };
        Self { inner: Arc::new(inner) }
    }

    /// The API base URL (ending in `/api/v1` for the real service).
    pub fn base_url(&self) -> &Url {
        &self.inner.base
    }

    /// The configured key, if any.
    pub fn api_key(&self) -> Option<&ApiKey> {
        self.inner.api_key.as_ref()
    }

    /// Whether a key is configured.
    pub fn has_api_key(&self) -> bool {
        self.inner.api_key.is_some()
    }

    /// The retry policy.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.inner.retry
    }

    /// Registration, profile and key rotation.
    pub fn agents(&self) -> Agents<'_> {
        Agents::new(self)
    }

    /// Sessions: open, log, close, contribute.
    pub fn sessions(&self) -> Sessions<'_> {
        Sessions::new(self)
    }

    /// Experiences: search, get, acquire, report outcomes, vote.
    pub fn experiences(&self) -> Experiences<'_> {
        Experiences::new(self)
    }

    /// The pulse: status, inbox, mark-read.
    pub fn pulse(&self) -> Pulse<'_> {
        Pulse::new(self)
    }
}

/// Configures a [`Client`].
///
/// ```
/// use std::time::Duration;
/// use plurum_sdk::{Client, RetryPolicy};
/// let key = format!("plrm_live_{}", "x".repeat(43)); // yours comes from a store
/// let client = Client::builder()
///     .base_url("http://127.0.0.1:8787/api/v1")
///     .api_key(key)
///     .timeout(Duration::from_secs(10))
///     .retry(RetryPolicy::default().max_retries(2))
///     .build()?;
/// assert!(!format!("{client:?}").contains("xxxx"));
/// # Ok::<(), plurum_sdk::Error>(())
/// ```
#[derive(Debug)]
pub struct ClientBuilder {
    base_url: String,
    api_key: Option<ApiKey>,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    retry: RetryPolicy,
    user_agent_suffix: Option<String>,
    allow_insecure_http: bool,
    max_response_bytes: usize,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            api_key: None,
            timeout: Some(DEFAULT_TIMEOUT),
            connect_timeout: Some(DEFAULT_CONNECT_TIMEOUT),
            retry: RetryPolicy::default(),
            user_agent_suffix: None,
            allow_insecure_http: false,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }
}

impl ClientBuilder {
    /// The API base URL, e.g. `https://api.plurum.ai/api/v1` or a reference
    /// server's `http://127.0.0.1:8787/api/v1`.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// The agent's API key, sent as `Authorization: Bearer …` on routes that
    /// need or accept it.
    pub fn api_key(mut self, key: impl Into<ApiKey>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// Sets or clears the key.
    pub fn api_key_opt(mut self, key: Option<ApiKey>) -> Self {
        self.api_key = key;
        self
    }

    /// The time for a whole request, per attempt (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The time to establish a connection (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Removes both timeouts and the idle-connection timer. Meant for tests
    /// under tokio's paused clock, where any pending timer fires as soon as
    /// the runtime waits on the network; a production client should always
    /// have timeouts.
    pub fn disable_timeouts(mut self) -> Self {
        self.timeout = None;
        self.connect_timeout = None;
        self
    }

    /// How harmless requests are repeated (see [`RetryPolicy`]).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Appended to the user agent, e.g. `plurum-cli/0.1.0`.
    pub fn user_agent_suffix(mut self, suffix: impl Into<String>) -> Self {
        self.user_agent_suffix = Some(suffix.into());
        self
    }

    /// Allows sending the key over plain `http://` to a host that is not
    /// loopback. Off by default: anyone on the path could read the key.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// The largest answer the client reads, in bytes (default
    /// [`DEFAULT_MAX_RESPONSE_BYTES`], 8 MiB). A larger success answer fails
    /// with [`Error::TooLarge`] without being read further; error answers are
    /// read only as far as they are kept (a few KB) whatever this says.
    pub fn max_response_bytes(mut self, limit: usize) -> Self {
        self.max_response_bytes = limit.max(1024);
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// [`Error::Config`] for a URL that is not `http(s)`, a key over plain
    /// `http://` to a non-loopback host (unless allowed), or a key that
    /// cannot be a header value.
    pub fn build(self) -> Result<Client> {
        let mut base = Url::parse(self.base_url.trim())
            .map_err(|e| Error::Config(format!("invalid API URL {:?}: {e}", self.base_url)))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() || base.host_str().is_none() {
            return Err(Error::Config(format!(
                "the API URL must be an http:// or https:// URL (got {:?})",
                self.base_url
            )));
        }
        if !base.username().is_empty() || base.password().is_some() {
            return Err(Error::Config("the API URL must not contain credentials".to_owned()));
        }
        base.set_query(None);
        base.set_fragment(None);
        let trimmed = base.path().trim_end_matches('/').to_owned();
        base.set_path(&trimmed);
        check_transport(&base, self.api_key.is_some(), self.allow_insecure_http)?;

        let user_agent = match &self.user_agent_suffix {
            Some(suffix) => format!("{USER_AGENT} {suffix}"),
            None => USER_AGENT.to_owned(),
        };
        let mut headers = HeaderMap::new();
        headers.insert(reqwest::header::ACCEPT, HeaderValue::from_static("application/json"));
        let mut http = reqwest::Client::builder()
            .tls_backend_preconfigured(crate::tls::client_config()?)
            .user_agent(user_agent)
            .default_headers(headers)
            .redirect(reqwest::redirect::Policy::none());
        if let Some(timeout) = self.connect_timeout {
            http = http.connect_timeout(timeout);
        }
        if let Some(timeout) = self.timeout {
            http = http.timeout(timeout);
        }
        if self.timeout.is_none() && self.connect_timeout.is_none() {
            http = http.pool_idle_timeout(None);
        }
        if is_loopback(&base) {
            // A proxy from the environment (`http_proxy`, `ALL_PROXY`) would
            // carry the key, in clear text over http://, off this machine.
            // Loopback never goes through a proxy (as curl's NO_PROXY default).
            http = http.no_proxy();
        }
        let http = http
            .build()
            .map_err(|e| Error::Config(format!("could not initialise HTTP: {e}")))?;
        let auth_header = self.api_key.as_ref().map(auth_header).transpose()?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base,
                api_key: self.api_key,
                auth_header,
                retry: self.retry,
                timeout: self.timeout,
                connect_timeout: self.connect_timeout,
                allow_insecure_http: self.allow_insecure_http,
                max_response_bytes: self.max_response_bytes,
            }),
        })
    }
}

fn auth_header(key: &ApiKey) -> Result<HeaderValue> {
    let mut value = HeaderValue::from_str(&format!("Bearer {}", key.expose()))
        .map_err(|_| Error::Config("the API key contains characters that cannot be sent in a header".to_owned()))?;
    value.set_sensitive(true);
    Ok(value)
}

/// Refuses to send a key over plain http:// unless the host is loopback or
/// the caller allowed it.
fn check_transport(base: &Url, has_key: bool, allow_insecure_http: bool) -> Result<()> {
    if !has_key || allow_insecure_http || base.scheme() == "https" || is_loopback(base) {
        return Ok(());
    }
    Err(Error::Config(format!(
        "refusing to send the API key over plain http:// to {}; use https://, a loopback address, or allow insecure http explicitly",
        base.host_str().unwrap_or("?")
    )))
}

pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SENTINEL: &str = "plrm_live_SENTINELsentinelSENTINELsentinelSENTINEL123";

    #[test]
    fn debug_never_shows_the_key() {
        let builder = Client::builder().api_key(SENTINEL);
        assert!(!format!("{builder:?}").contains("SENTINEL"));
        let client = builder.build().unwrap();
        let shown = format!("{client:?}");
        assert!(!shown.contains("SENTINEL"), "{shown}");
        assert!(shown.contains("[redacted]"));
    }

    #[test]
    fn refuses_a_key_over_plain_http_to_a_remote_host() {
        let err = Client::builder()
            .base_url("http://api.example.com/api/v1")
            .api_key(SENTINEL)
            .build()
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("refusing to send the API key over plain http://"),
            "{err}"
        );
        assert!(!err.to_string().contains("SENTINEL"));
        // Allowed explicitly, or without a key, or to loopback.
        assert!(
            Client::builder()
                .base_url("http://api.example.com/api/v1")
                .api_key(SENTINEL)
                .allow_insecure_http(true)
                .build()
                .is_ok()
        );
        assert!(
            Client::builder()
                .base_url("http://api.example.com/api/v1")
                .build()
                .is_ok()
        );
        for local in [
            "http://127.0.0.1:8787/api/v1",
            "http://localhost/api/v1",
            "http://[::1]:9/api/v1",
        ] {
            assert!(
                Client::builder().base_url(local).api_key(SENTINEL).build().is_ok(),
                "{local}"
            );
        }
        let anonymous = Client::builder()
            .base_url("http://api.example.com/api/v1")
            .build()
            .unwrap();
        assert!(anonymous.with_api_key(SENTINEL).is_err());
    }

    #[test]
    fn rejects_urls_that_are_not_http() {
        for bad in [
            "ftp://x/api",
            "not a url",
            "mailto:a@b.c",
            "https://user:pw@host/api/v1",
        ] {
            assert!(
                matches!(Client::builder().base_url(bad).build(), Err(Error::Config(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn normalizes_the_base_url() {
        let client = Client::builder()
            .base_url("http://127.0.0.1:1/api/v1/?x=1")
            .build()
            .unwrap();
        assert_eq!(client.base_url().as_str(), "http://127.0.0.1:1/api/v1");
    }
}
