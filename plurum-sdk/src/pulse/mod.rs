//! The pulse WebSocket: a stream of typed events that survives bad networks
//! without losing or doubling an event.
//!
//! ```no_run
//! use futures_util::StreamExt;
//! use plurum_sdk::{Client, types::PulseEvent};
//!
//! # async fn watch() -> plurum_sdk::Result<()> {
//! let client = Client::from_env()?;
//! let mut pulse = client.pulse().connect().await?;
//! println!("connected as {}", pulse.agent_id());
//! while let Some(item) = pulse.next().await {
//!     match item {
//!         Ok(PulseEvent::SessionOpened(s)) => println!("opened: {}", s.topic),
//!         Ok(PulseEvent::ContributionReceived(c)) => println!("{}: {:?}", c.contribution_type, c.text()),
//!         Ok(other) => println!("{}", other.event_type()),
//!         Err(e) if e.is_fatal() => return Err(e.into()),
//!         Err(e) => eprintln!("{e}; reconnecting"),
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! How it behaves:
//!
//! * One task owns the socket. It authenticates with a first message (or the
//!   `?token=` query, [`PulseSocketBuilder::query_token`]), pings every
//!   `ping_interval` (20 s) and declares the connection dead when no frame at
//!   all arrived for twice that.
//! * A lost connection is re-established with jittered backoff (1 s doubling
//!   to 30 s, reset once a connection stayed up for a minute). Each loss is
//!   reported as a non-fatal `Err` item and the stream goes on.
//! * After a reconnect it reads the inbox and delivers the events published
//!   while it was away; every event is delivered once, whichever way it came.
//!   Reading the inbox does not mark anything read, but on the real server it
//!   consumes the session events of that poll ([`PulseSocketBuilder::catch_up`]
//!   turns it off).
//! * Error frames the server sends unprompted are logged (`tracing`) at most
//!   5 per 10 s, whatever their text, then counted; a server that sends 100
//!   in a row and nothing else is left ([`PulseError::Flooded`], non-fatal)
//!   and reconnected to with the backoff above.
//! * A rejected key (close 4001) is fatal, and so is being superseded by
//!   another connection of the same agent (close 4000): the stream yields
//!   the error and ends.
//! * [`PulseSocket::close`] sends a close frame and waits briefly for the
//!   server's.
//! * The socket does not go through `HTTPS_PROXY`.

mod protocol;
mod repeats;
mod supervisor;
mod transport;

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Stream;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, watch};
use url::Url;

use crate::client::Client;
use crate::error::HumanDuration;
pub use crate::error::PulseError;
use crate::types::{AgentId, Contribution, ContributionType, PulseEvent, SessionId};

/// The state of the connection, for UIs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionState {
    /// Connecting (or authenticating).
    Connecting,
    /// Connected and authenticated.
    Connected,
    /// Waiting to reconnect.
    Reconnecting {
        /// Reconnect attempts since the connection was lost.
        attempt: u32,
        /// When the next attempt starts.
        retry_in: Duration,
    },
    /// Closed for good.
    Closed,
}

impl fmt::Display for ConnectionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connecting => f.write_str("connecting"),
            Self::Connected => f.write_str("connected"),
            Self::Reconnecting { attempt, retry_in } => {
                write!(f, "reconnecting (attempt {attempt}, in {})", HumanDuration(*retry_in))
            }
            Self::Closed => f.write_str("closed"),
        }
    }
}

/// How the socket connects; from [`Pulse::socket`](crate::Pulse::socket).
#[derive(Debug, Clone)]
pub struct PulseSocketBuilder {
    client: Client,
    url: Option<String>,
    query_token: bool,
    ping_interval: Duration,
    reconnect_min: Duration,
    reconnect_max: Duration,
    stable_after: Duration,
    connect_timeout: Duration,
    contribute_timeout: Duration,
    catch_up: bool,
}

impl PulseSocketBuilder {
    pub(crate) fn new(client: Client) -> Self {
        Self {
            client,
            url: None,
            query_token: false,
            ping_interval: Duration::from_secs(20),
            reconnect_min: Duration::from_secs(1),
            reconnect_max: Duration::from_secs(30),
            stable_after: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            contribute_timeout: Duration::from_secs(10),
            catch_up: true,
        }
    }

    /// The socket URL (default: derived from the client's base URL,
    /// `wss://host/api/v1/pulse/ws`).
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    /// Authenticates with the `?token=` query (the legacy way) instead of a
    /// first message. The token then appears in the server's access logs.
    pub fn query_token(mut self, enabled: bool) -> Self {
        self.query_token = enabled;
        self
    }

    /// How often to ping (default 20 s); silence for twice this means the
    /// connection is dead.
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.ping_interval = interval.max(Duration::from_millis(10));
        self
    }

    /// The reconnect backoff: from `min`, doubling to `max` (default 1 s to 30 s).
    pub fn reconnect_backoff(mut self, min: Duration, max: Duration) -> Self {
        self.reconnect_min = min;
        self.reconnect_max = max.max(min);
        self
    }

    /// How long a connection must stay up before the backoff resets (default 60 s).
    pub fn stable_after(mut self, duration: Duration) -> Self {
        self.stable_after = duration;
        self
    }

    /// The time to connect and authenticate (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The time to wait for `contribute_ok` (default 10 s).
    pub fn contribute_timeout(mut self, timeout: Duration) -> Self {
        self.contribute_timeout = timeout;
        self
    }

    /// Whether to read the inbox after a reconnect and deliver what was
    /// missed (default on).
    pub fn catch_up(mut self, enabled: bool) -> Self {
        self.catch_up = enabled;
        self
    }

    fn socket_url(&self) -> Result<Url, PulseError> {
        let text = match &self.url {
            Some(url) => url.clone(),
            None => {
                let mut url = self
                    .client
                    .endpoint(&["pulse", "ws"])
                    .map_err(|e| PulseError::Connect {
                        url: self.client.base_url().to_string(),
                        source: Box::new(e),
                    })?;
                let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
                let _ = url.set_scheme(scheme);
                url.to_string()
            }
        };
        Url::parse(&text).map_err(|e| PulseError::Connect {
            url: text.clone(),
            source: Box::new(e),
        })
    }

    /// Connects and authenticates. Errors of this first connection are
    /// returned here; later ones arrive on the stream.
    ///
    /// # Errors
    /// [`PulseError::AuthFailed`] for a rejected key, [`PulseError::Connect`]
    /// when the server cannot be reached, [`PulseError::MissingApiKey`].
    pub async fn connect(self) -> Result<PulseSocket, PulseError> {
        let key = self.client.api_key().cloned().ok_or(PulseError::MissingApiKey)?;
        let url = self.socket_url()?;
        let config = supervisor::Config {
            url,
            key,
            query_token: self.query_token,
            ping_interval: self.ping_interval,
            reconnect_min: self.reconnect_min,
            reconnect_max: self.reconnect_max,
            stable_after: self.stable_after,
            connect_timeout: self.connect_timeout,
            catch_up: self.catch_up,
            max_message_bytes: self.client.inner.max_response_bytes,
            client: self.client.clone(),
        };
        let (state_tx, state_rx) = watch::channel(ConnectionState::Connecting);
        let (connection, agent_id) = supervisor::establish(&config).await?;
        let _ = state_tx.send(ConnectionState::Connected);
        let (events_tx, events_rx) = mpsc::channel(4096);
        let (commands_tx, commands_rx) = mpsc::channel(64);
        tokio::spawn(supervisor::run(config, connection, events_tx, commands_rx, state_tx));
        Ok(PulseSocket {
            agent_id,
            events: events_rx,
            handle: PulseHandle {
                commands: commands_tx,
                contribute_timeout: self.contribute_timeout,
            },
            state: state_rx,
        })
    }
}

/// The live pulse: a [`Stream`] of events. Dropping it closes the socket.
#[derive(Debug)]
pub struct PulseSocket {
    agent_id: AgentId,
    events: mpsc::Receiver<Result<PulseEvent, PulseError>>,
    handle: PulseHandle,
    state: watch::Receiver<ConnectionState>,
}

impl PulseSocket {
    /// The agent the server authenticated.
    pub fn agent_id(&self) -> &AgentId {
        &self.agent_id
    }

    /// The connection state, as a watch (for UIs).
    pub fn state(&self) -> watch::Receiver<ConnectionState> {
        self.state.clone()
    }

    /// A cloneable handle to contribute or close from other tasks.
    pub fn handle(&self) -> PulseHandle {
        self.handle.clone()
    }

    /// Contributes to another agent's session over the socket; resolves
    /// with the stored contribution.
    ///
    /// # Errors
    /// [`PulseError::Rejected`] with the server's message, [`PulseError::Timeout`],
    /// [`PulseError::Lost`] when the connection broke first (the contribution
    /// may or may not be stored; it is not repeated).
    pub async fn contribute(
        &self,
        session_id: impl Into<SessionId>,
        content: Value,
        contribution_type: ContributionType,
    ) -> Result<Contribution, PulseError> {
        self.handle.contribute(session_id, content, contribution_type).await
    }

    /// Closes the socket: a close frame, then a brief wait for the server's.
    pub async fn close(self) {
        self.handle.close().await;
    }
}

impl Stream for PulseSocket {
    type Item = Result<PulseEvent, PulseError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.events.poll_recv(cx)
    }
}

/// Contributes or closes from any task; from [`PulseSocket::handle`].
#[derive(Debug, Clone)]
pub struct PulseHandle {
    commands: mpsc::Sender<supervisor::Command>,
    contribute_timeout: Duration,
}

impl PulseHandle {
    /// See [`PulseSocket::contribute`].
    ///
    /// # Errors
    /// See [`PulseSocket::contribute`].
    pub async fn contribute(
        &self,
        session_id: impl Into<SessionId>,
        content: Value,
        contribution_type: ContributionType,
    ) -> Result<Contribution, PulseError> {
        let (reply, answer) = oneshot::channel();
        let command = supervisor::Command::Contribute {
            session_id: session_id.into(),
            content,
            contribution_type,
            reply,
        };
        self.commands
            .send(command)
            .await
            .map_err(|_| PulseError::ClosedByClient)?;
        match tokio::time::timeout(self.contribute_timeout, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(PulseError::ClosedByClient),
            Err(_) => Err(PulseError::Timeout {
                after: self.contribute_timeout,
            }),
        }
    }

    /// Closes the socket (a close frame, then up to 2 s for the server's).
    pub async fn close(&self) {
        let (reply, done) = oneshot::channel();
        if self.commands.send(supervisor::Command::Close { reply }).await.is_ok() {
            let _ = done.await;
        }
    }
}
