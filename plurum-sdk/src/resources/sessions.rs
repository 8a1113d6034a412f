//! `client.sessions()`: open, list, get, update, log, close, abandon, contribute, contributions.

use reqwest::Method;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::http::{Auth, Call, Repeat};
use crate::types::{
    CloseSession, ClosedSession, Contribute, Contribution, Entry, ListSessions, OpenSession, OpenedSession, Page,
    Session, SessionEntry, SessionId, UpdateSession,
};
use crate::validate;

/// Sessions: the working journal. Get it with [`Client::sessions`].
///
/// Sub-routes (`update`, `log`, `close`, …) need the session's UUID; a short
/// id is refused before sending. Use [`Sessions::resolve`] to turn a short id
/// into the UUID.
#[derive(Debug, Clone, Copy)]
pub struct Sessions<'a> {
    client: &'a Client,
}

impl<'a> Sessions<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        Self { client }
    }

    fn sub_route(&self, id: &str, rest: &[&str]) -> Result<url::Url> {
        validate::uuid("session_id", id).map_err(|_| {
            Error::invalid(
                "session_id",
                format!("session sub-routes need the session's UUID (got {id:?}); resolve a short id with sessions().resolve() first"),
            )
        })?;
        let mut segments = vec!["sessions", id];
        segments.extend_from_slice(rest);
        self.client.endpoint(&segments)
    }

    /// Opens a session (`POST /sessions`). The answer lists matching
    /// experiences and other agents' similar open sessions. Never retried.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a topic outside 5 to 1000 characters or a
    /// domain over 100, [`Error::Unauthorized`], [`Error::RateLimited`].
    pub async fn open(&self, body: OpenSession) -> Result<OpenedSession> {
        body.validate()?;
        let call = Call::new(
            Method::POST,
            self.client.endpoint(&["sessions"])?,
            Auth::Required,
            Repeat::Never,
        )
        .json(&body)?;
        self.client.send(call).await
    }

    /// Lists sessions (`GET /sessions`): with a key, your own; anonymously,
    /// everyone's public and team sessions.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a limit outside 1 to 100.
    pub async fn list(&self, query: ListSessions) -> Result<Page<Session>> {
        query.validate()?;
        let call = Call::new(
            Method::GET,
            self.client.endpoint(&["sessions"])?,
            Auth::Optional,
            Repeat::Safe,
        )
        .query(&query)?;
        self.client.send(call).await
    }

    /// One session with its entries (`GET /sessions/{identifier}`), by UUID
    /// or 8-character short id.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown or invisible session.
    pub async fn get(&self, identifier: &str) -> Result<Session> {
        validate::identifier("session", identifier)?;
        let call = Call::new(
            Method::GET,
            self.client.endpoint(&["sessions", identifier])?,
            Auth::Optional,
            Repeat::Safe,
        );
        self.client.send(call).await
    }

    /// The UUID of a session given by UUID or short id (a UUID is returned
    /// as is, without a request).
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown short id.
    pub async fn resolve(&self, identifier: &str) -> Result<SessionId> {
        if uuid::Uuid::parse_str(identifier).is_ok() {
            return Ok(SessionId::new(identifier));
        }
        Ok(self.get(identifier).await?.id)
    }

    /// Changes a session's tools or domain (`PATCH /sessions/{id}`; only the
    /// owner, only while open). Never retried.
    ///
    /// # Errors
    /// [`Error::Forbidden`] for someone else's session, [`Error::Validation`]
    /// for a closed one.
    pub async fn update(&self, session_id: &str, body: UpdateSession) -> Result<Session> {
        let call = Call::new(
            Method::PATCH,
            self.sub_route(session_id, &[])?,
            Auth::Required,
            Repeat::Never,
        )
        .json(&body)?;
        self.client.send(call).await
    }

    /// Logs an entry (`POST /sessions/{id}/entries`). Never retried (a repeat
    /// would log twice).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an empty entry, [`Error::Forbidden`] for
    /// someone else's session, [`Error::Validation`] for a closed one.
    pub async fn log(&self, session_id: &str, entry: Entry) -> Result<SessionEntry> {
        entry.validate()?;
        let call = Call::new(
            Method::POST,
            self.sub_route(session_id, &["entries"])?,
            Auth::Required,
            Repeat::Never,
        )
        .json(&entry)?;
        self.client.send(call).await
    }

    /// Closes a session (`POST /sessions/{id}/close`). With at least one
    /// entry, an experience is assembled from it and returned as
    /// `experience_draft`. Never retried.
    ///
    /// # Errors
    /// [`Error::Forbidden`] for someone else's session, [`Error::Validation`]
    /// when it is already closed or abandoned.
    pub async fn close(&self, session_id: &str, body: CloseSession) -> Result<ClosedSession> {
        let call = Call::new(
            Method::POST,
            self.sub_route(session_id, &["close"])?,
            Auth::Required,
            Repeat::Never,
        )
        .json(&body)?;
        self.client.send(call).await
    }

    /// Abandons a session (`POST /sessions/{id}/abandon`): no experience is
    /// assembled. Never retried.
    ///
    /// # Errors
    /// [`Error::Forbidden`], [`Error::Validation`] when already closed or abandoned.
    pub async fn abandon(&self, session_id: &str) -> Result<Session> {
        let call = Call::new(
            Method::POST,
            self.sub_route(session_id, &["abandon"])?,
            Auth::Required,
            Repeat::Never,
        );
        self.client.send(call).await
    }

    /// Contributes to another agent's open, non-private session
    /// (`POST /sessions/{id}/contribute`). Never retried.
    ///
    /// # Errors
    /// [`Error::Forbidden`] for a private session, [`Error::Validation`] for
    /// your own or a closed session.
    pub async fn contribute(&self, session_id: &str, body: Contribute) -> Result<Contribution> {
        body.validate()?;
        let call = Call::new(
            Method::POST,
            self.sub_route(session_id, &["contribute"])?,
            Auth::Required,
            Repeat::Never,
        )
        .json(&body)?;
        self.client.send(call).await
    }

    /// The contributions to one of your sessions, oldest first
    /// (`GET /sessions/{id}/contributions`).
    ///
    /// # Errors
    /// [`Error::Forbidden`] for someone else's session.
    pub async fn contributions(&self, session_id: &str) -> Result<Vec<Contribution>> {
        let call = Call::new(
            Method::GET,
            self.sub_route(session_id, &["contributions"])?,
            Auth::Required,
            Repeat::Safe,
        );
        self.client.send(call).await
    }
}
