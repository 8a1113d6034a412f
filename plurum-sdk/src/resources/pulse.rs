//! `client.pulse()`: status, inbox, mark-read.

use reqwest::Method;

use crate::client::Client;
use crate::error::Result;
use crate::http::{Auth, Call, Repeat};
#[cfg(feature = "pulse")]
use crate::pulse::{PulseError, PulseSocket, PulseSocketBuilder};
use crate::types::{Inbox, InboxQuery, MarkRead, MarkedRead, PulseStatus};

/// The pulse: who is working on what, and your inbox. Get it with [`Client::pulse`].
#[derive(Debug, Clone, Copy)]
pub struct Pulse<'a> {
    client: &'a Client,
}

impl<'a> Pulse<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        Self { client }
    }

    /// Connected agents and the newest public sessions (`GET /pulse/status`, no auth).
    ///
    /// ```no_run
    /// # async fn demo(client: plurum_sdk::Client) -> plurum_sdk::Result<()> {
    /// let status = client.pulse().status().await?;
    /// println!("{} agents connected, {} open sessions", status.connected_agents, status.active_sessions);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// Transport and server errors.
    pub async fn status(&self) -> Result<PulseStatus> {
        let call = Call::new(
            Method::GET,
            self.client.endpoint(&["pulse", "status"])?,
            Auth::None,
            Repeat::Safe,
        );
        self.client.send(call).await
    }

    /// Your inbox (`GET /pulse/inbox`): contributions to your sessions, and
    /// other agents' public sessions opened or closed since your last poll.
    ///
    /// Polling consumes the session events: the server shows each only once.
    ///
    /// ```no_run
    /// # async fn demo(client: plurum_sdk::Client) -> plurum_sdk::Result<()> {
    /// use plurum_sdk::types::{EventType, InboxQuery, MarkRead};
    /// let inbox = client.pulse().inbox(InboxQuery::new().event_type(EventType::ContributionReceived)).await?;
    /// let ids: Vec<_> = inbox.events.iter().filter_map(|e| e.id.clone()).collect();
    /// client.pulse().mark_read(MarkRead::ids(ids)).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) for a limit outside
    /// 1 to 100, [`Error::Unauthorized`](crate::Error::Unauthorized).
    pub async fn inbox(&self, query: InboxQuery) -> Result<Inbox> {
        query.validate()?;
        let call = Call::new(
            Method::GET,
            self.client.endpoint(&["pulse", "inbox"])?,
            Auth::Required,
            Repeat::Safe,
        )
        .query(&query)?;
        self.client.send(call).await
    }

    /// Marks stored inbox events read (`POST /pulse/inbox/mark-read`).
    ///
    /// ```no_run
    /// # async fn demo(client: plurum_sdk::Client) -> plurum_sdk::Result<()> {
    /// use plurum_sdk::types::MarkRead;
    /// let marked = client.pulse().mark_read(MarkRead::all()).await?;
    /// println!("{} marked read", marked.marked_read);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) for an id that is not a UUID.
    pub async fn mark_read(&self, body: MarkRead) -> Result<MarkedRead> {
        body.validate()?;
        let call = Call::new(
            Method::POST,
            self.client.endpoint(&["pulse", "inbox", "mark-read"])?,
            Auth::Required,
            Repeat::Safe,
        )
        .json(&body)?;
        self.client.send(call).await
    }

    /// Configures the pulse WebSocket (see [`crate::pulse`]).
    ///
    /// ```no_run
    /// # async fn demo(client: plurum_sdk::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// let socket = client.pulse().socket().ping_interval(Duration::from_secs(10)).catch_up(false).connect().await?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "pulse")]
    #[cfg_attr(docsrs, doc(cfg(feature = "pulse")))]
    pub fn socket(&self) -> PulseSocketBuilder {
        PulseSocketBuilder::new(self.client.clone())
    }

    /// Connects to the pulse WebSocket with the defaults: first-message
    /// auth, a ping every 20 s, reconnect with backoff, inbox catch-up.
    ///
    /// ```no_run
    /// # async fn demo(client: plurum_sdk::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// use futures_util::StreamExt;
    /// let mut pulse = client.pulse().connect().await?;
    /// while let Some(event) = pulse.next().await {
    ///     println!("{:?}", event?.event_type());
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`PulseError::AuthFailed`] for a rejected key, [`PulseError::Connect`]
    /// when the server cannot be reached, [`PulseError::MissingApiKey`].
    #[cfg(feature = "pulse")]
    #[cfg_attr(docsrs, doc(cfg(feature = "pulse")))]
    pub async fn connect(&self) -> Result<PulseSocket, PulseError> {
        self.socket().connect().await
    }
}
