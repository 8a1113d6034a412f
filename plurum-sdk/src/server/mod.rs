//! The reference server: the whole Plurum API on SQLite, with hybrid search,
//! the pulse hub and fault injection (feature `server`).
//!
//! It implements what the seed documents promise and, where they are
//! silent, what the real server does (see docs/api-contract.md), without the real
//! server's bugs that leak data or crash: private sessions are never
//! broadcast, short ids on session sub-routes are a 404 rather than a 500,
//! and a second outcome report by the same agent is a 409 as the seed says.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use plurum_sdk::server::{ReferenceServer, ServerConfig};
//! use plurum_sdk::{Client, types::Register};
//!
//! let server = ReferenceServer::start(ServerConfig::default()).await?;
//! let client = Client::builder().base_url(server.base_url()).build()?;
//! let agent = client.agents().register(Register::new("Atlas", "atlas")).await?;
//! let client = client.with_api_key(agent.api_key)?;
//! println!("{}", client.agents().me().await?.name);
//! server.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Faults for tests: [`ServerHandle::faults`] fails the next requests with a
//! status, delays responses, drops every WebSocket or makes them go silent.

mod acquire;
mod assemble;
mod clock;
mod embed;
mod error;
mod faults;
mod hub;
mod keywords;
mod limits;
pub mod listen;
mod quality;
mod rank;
mod request;
mod routes;
mod security;
mod store;
mod validation;
mod vectors;
mod ws;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use faults::Faults;
pub use limits::{Limits, Rate};
pub use listen::ConnectionLimits;

use error::Failure;

/// How to run the reference server.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Where to listen (default `127.0.0.1:0`: a free port on loopback).
    pub addr: SocketAddr,
    /// A SQLite file that keeps everything across restarts; `None` keeps
    /// nothing: the database is then a private temporary file (0600, in a
    /// 0700 directory with a random name in the system's temporary
    /// directory, written without syncing), so that its
    /// read connections can work in parallel, removed when the server
    /// stops (where none can be made, a `:memory:` database on one
    /// connection).
    pub data: Option<PathBuf>,
    /// Rate limits and pulse guardrails.
    pub limits: Limits,
    /// Whether `POST /__admin/faults` is served (off by default).
    pub admin_routes: bool,
    /// The similarity an experience needs to be listed as similar (default
    /// 0.35). The real server uses 0.5 with OpenAI embeddings; the local
    /// hashed embedding scores related texts lower (unrelated texts about
    /// 0.05 to 0.2, related ones 0.3 to 0.5, near-duplicates above 0.8), so
    /// its thresholds are set to select the same kind of neighbours.
    pub similar_threshold: f64,
    /// The topic similarity an open session needs to be listed as active on
    /// session open (default 0.4; the real server's is 0.6, see above).
    pub active_session_threshold: f64,
    /// The `Origin`s a WebSocket handshake may come from (default: the real
    /// server's `["http://localhost:3000"]`). A handshake with any other
    /// `Origin` is refused with 403; native clients, which send none, are
    /// always let in.
    pub allowed_origins: Vec<String>,
    /// Seed-document behaviour (the default) or the real service's measured
    /// quirks where the two differ (see [`Compat`]).
    pub compat: Compat,
    /// Header and idle timeouts and the cap on concurrent connections
    /// (see [`listen`]); [`ServerConfig::no_limits`] leaves them on.
    pub connections: ConnectionLimits,
}

/// Which behaviour the server follows where the seed documents and the real
/// service differ (each difference is in docs/server.md, with its docs/api-contract.md
/// reference).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Compat {
    /// What the seed documents promise: 404 for ids that are no ids, 409 for
    /// a second outcome report, private sessions hidden from others, inbox
    /// events stored with ids.
    #[default]
    Seed,
    /// What the real service does: 500 for ids that are no ids, outcome
    /// reports as upserts, private session metadata readable by any agent,
    /// session events on the socket whatever the visibility, inbox session
    /// events built at read time with `id: null` and a filter that does not
    /// separate opened from closed, `topic_embedding` as a string, 60
    /// registrations an hour and no `Retry-After`.
    Real,
}

impl std::str::FromStr for Compat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "seed" => Ok(Self::Seed),
            "real" => Ok(Self::Real),
            other => Err(format!("unknown compatibility mode '{other}' (seed or real)")),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            data: None,
            limits: Limits::default(),
            admin_routes: false,
            similar_threshold: 0.35,
            active_session_threshold: 0.4,
            allowed_origins: vec!["http://localhost:3000".to_owned()],
            compat: Compat::Seed,
            connections: ConnectionLimits::default(),
        }
    }
}

impl ServerConfig {
    /// Listens on this address.
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// Keeps the data in this SQLite file.
    pub fn data(mut self, path: impl Into<PathBuf>) -> Self {
        self.data = Some(path.into());
        self
    }

    /// Uses these limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets the connection limits (timeouts and the cap).
    pub fn connections(mut self, connections: ConnectionLimits) -> Self {
        self.connections = connections;
        self
    }

    /// Turns every rate limit and guardrail off (the connection limits,
    /// which protect the process, stay).
    pub fn no_limits(mut self) -> Self {
        self.limits = Limits::none();
        self
    }

    /// Serves `POST /__admin/faults`.
    pub fn admin_routes(mut self, enabled: bool) -> Self {
        self.admin_routes = enabled;
        self
    }

    /// The `Origin`s WebSocket handshakes may come from (replaces the list).
    pub fn allowed_origins<I, S>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_origins = origins.into_iter().map(Into::into).collect();
        self
    }

    /// Follows the seed documents or the real service (see [`Compat`]). The
    /// real service allows 60 registrations an hour per address: with
    /// `Compat::Real`, limits that are on use that.
    pub fn compat(mut self, compat: Compat) -> Self {
        self.compat = compat;
        if compat == Compat::Real && self.limits.enabled {
            self.limits.register = Rate::per_hour(60);
        }
        self
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The address could not be bound.
    #[error("could not listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The database could not be opened.
    #[error("could not open the database{}", .path.as_ref().map(|p| format!(" at {}", p.display())).unwrap_or_default())]
    Database {
        /// The file, if any.
        path: Option<PathBuf>,
        /// The cause.
        #[source]
        source: rusqlite::Error,
    },
}

/// Shared state of a running server.
#[derive(Debug)]
pub(crate) struct ServerState {
    pub(crate) store: store::Store,
    pub(crate) hub: hub::Hub,
    pub(crate) limiter: limits::RateLimiter,
    pub(crate) limits: Limits,
    pub(crate) faults: Arc<Faults>,
    pub(crate) similar_threshold: f64,
    pub(crate) active_session_threshold: f64,
    pub(crate) allowed_origins: Vec<String>,
    pub(crate) compat: Compat,
}

impl ServerState {
    /// Whether the real service's quirks are on.
    pub(crate) fn real(&self) -> bool {
        self.compat == Compat::Real
    }
}

/// Starts reference servers.
#[derive(Debug)]
pub struct ReferenceServer;

impl ReferenceServer {
    /// Starts a server in the current tokio runtime.
    ///
    /// # Errors
    /// [`ServerError::Bind`] when the address is taken, [`ServerError::Database`]
    /// when the data file cannot be opened.
    pub async fn start(config: ServerConfig) -> Result<ServerHandle, ServerError> {
        let store = store::Store::open(config.data.as_deref()).map_err(|source| ServerError::Database {
            path: config.data.clone(),
            source,
        })?;
        let faults = Arc::new(Faults::default());
        let state = Arc::new(ServerState {
            store,
            hub: hub::Hub::default(),
            limiter: limits::RateLimiter::default(),
            limits: config.limits.clone(),
            faults: faults.clone(),
            similar_threshold: config.similar_threshold,
            active_session_threshold: config.active_session_threshold,
            allowed_origins: config.allowed_origins.clone(),
            compat: config.compat,
        });
        let listener = TcpListener::bind(config.addr)
            .await
            .map_err(|source| ServerError::Bind {
                addr: config.addr,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| ServerError::Bind {
            addr: config.addr,
            source,
        })?;
        let app = router(state.clone(), config.admin_routes);
        let connections = config.connections;
        let (stop, stopped) = oneshot::channel::<()>();
        let hub_state = state.clone();
        let task = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.await;
                hub_state.hub.close_all(1001, "Server shutting down");
            };
            listen::serve(listener, app, connections, shutdown).await;
        });
        Ok(ServerHandle {
            addr,
            faults,
            stop: Some(stop),
            task: Some(task),
        })
    }
}

/// A running reference server. Dropping the handle stops it.
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    faults: Arc<Faults>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl ServerHandle {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The API base URL, e.g. `http://127.0.0.1:40123/api/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/api/v1", self.addr)
    }

    /// The pulse WebSocket URL, e.g. `ws://127.0.0.1:40123/api/v1/pulse/ws`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/api/v1/pulse/ws", self.addr)
    }

    /// The fault switches.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// A shared handle to the fault switches (for other tasks).
    pub fn faults_arc(&self) -> Arc<Faults> {
        self.faults.clone()
    }

    /// Stops the server: closes every WebSocket (1001), stops accepting,
    /// and waits for open requests to finish (at most 5 s).
    pub async fn shutdown(mut self) {
        self.stop_now().await;
    }

    async fn stop_now(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task).await.is_err() {
                abort.abort();
            }
        }
    }

    /// Waits until the server stops (it runs until [`ServerHandle::shutdown`]
    /// is called from elsewhere, or forever).
    pub async fn wait(mut self) {
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The whole API as an axum router (for embedding in another server).
fn router(state: Arc<ServerState>, admin_routes: bool) -> Router {
    let mut app = routes::api(admin_routes)
        .fallback(|| async { Failure::route_not_found() })
        .with_state(state.clone());
    app = app
        .layer(axum::middleware::from_fn_with_state(state, inject_faults))
        .layer(axum::middleware::from_fn(framework_answers));
    app
}

/// Answers injected failures and adds injected latency.
async fn inject_faults(
    axum::extract::State(state): axum::extract::State<Arc<ServerState>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    if path.starts_with("/__admin/") {
        return next.run(request).await;
    }
    let latency = state.faults.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some(status) = state.faults.take_failure(&path) {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        return Failure::Injected { status }.into_response();
    }
    let mut response = next.run(request).await;
    if state.faults.take_lost(&path) {
        response.extensions_mut().insert(listen::LoseAnswer);
    }
    response
}

/// The body-size cap before routing, JSON bodies for 405, and the security
/// headers on every answer but a 500 (as the real server).
async fn framework_answers(request: Request, next: Next) -> Response {
    let too_large = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|len| len > request::MAX_BODY_BYTES as u64);
    let mut response = if too_large {
        Failure::too_large().into_response()
    } else {
        next.run(request).await
    };
    if response.status() == StatusCode::METHOD_NOT_ALLOWED {
        let allow = response.headers().get(header::ALLOW).cloned();
        response = Failure::Framework {
            status: StatusCode::METHOD_NOT_ALLOWED,
            message: "Method Not Allowed",
        }
        .into_response();
        if let Some(allow) = allow {
            response.headers_mut().insert(header::ALLOW, allow);
        }
    }
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        let headers = response.headers_mut();
        headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
        headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
        headers.insert(
            "referrer-policy",
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        );
        headers.insert(
            "strict-transport-security",
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    response
}
