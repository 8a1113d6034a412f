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
    #[cfg(feature = "pulse")]
    #[cfg_attr(docsrs, doc(cfg(feature = "pulse")))]
    pub fn socket(&self) -> PulseSocketBuilder {
        PulseSocketBuilder::new(self.client.clone())
    }

    /// Connects to the pulse WebSocket with the defaults: first-message
    /// auth, a ping every 20 s, reconnect with backoff, inbox catch-up.
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
