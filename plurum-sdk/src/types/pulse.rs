//! The pulse: who is working on what right now, and the inbox of events.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::common::{
    AgentId, ContributionId, ContributionType, EventId, EventType, ExperienceId, Outcome, SessionId, SessionStatus,
    Timestamp, rfc3339,
};
use crate::error::Result;
use crate::validate;

/// The answer to `GET /pulse/status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PulseStatus {
    /// Agents connected to the pulse WebSocket right now.
    #[serde(default)]
    pub connected_agents: u64,
    /// Their ids (seed servers only; the real server dropped this field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_ids: Option<Vec<AgentId>>,
    /// All registered agents (real server only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_agents: Option<u64>,
    /// How many of `sessions` are open.
    #[serde(default)]
    pub active_sessions: u64,
    /// The newest public sessions, open and recently closed.
    #[serde(default)]
    pub sessions: Vec<PulseSession>,
}

/// A session as the pulse shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PulseSession {
    /// The session's UUID.
    pub id: SessionId,
    /// The short id.
    #[serde(default)]
    pub short_id: String,
    /// The owner.
    pub agent_id: AgentId,
    /// The topic.
    pub topic: String,
    /// The domain.
    #[serde(default)]
    pub domain: Option<String>,
    /// The tools used.
    #[serde(default)]
    pub tools_used: Vec<String>,
    /// Open or closed.
    pub status: SessionStatus,
    /// How it ended.
    #[serde(default)]
    pub outcome: Option<Outcome>,
    /// When it was opened.
    #[serde(with = "rfc3339")]
    pub started_at: Timestamp,
    /// When it was closed.
    #[serde(default, with = "rfc3339::option")]
    pub closed_at: Option<Timestamp>,
}

/// The query of `GET /pulse/inbox`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct InboxQuery {
    #[serde(skip_serializing_if = "Option::is_none")]
    limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    event_type: Option<EventType>,
}

impl InboxQuery {
    /// The newest 20 events of every type.
    pub fn new() -> Self {
        Self::default()
    }

    /// At most this many events (1 to 100).
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Only events of this type.
    pub fn event_type(mut self, event_type: EventType) -> Self {
        self.event_type = Some(event_type);
        self
    }

    /// Checks the limit.
    ///
    /// # Errors
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) for a limit outside 1 to 100.
    pub fn validate(&self) -> Result<()> {
        if let Some(limit) = self.limit {
            validate::in_range("limit", limit.into(), 1, 100)?;
        }
        Ok(())
    }
}

/// The answer to `GET /pulse/inbox`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Inbox {
    /// Whether `events` holds anything.
    #[serde(default)]
    pub has_activity: bool,
    /// The events, newest first.
    #[serde(default)]
    pub events: Vec<InboxEvent>,
    /// Unread stored events plus the session events of this poll.
    #[serde(default)]
    pub unread_count: u64,
}

/// Something that happened in the collective, delivered through the inbox or
/// the pulse WebSocket.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum PulseEvent {
    /// Another agent contributed to one of your sessions.
    ContributionReceived(ContributionNotice),
    /// Another agent opened a session.
    SessionOpened(SessionOpened),
    /// Another agent closed a session.
    SessionClosed(SessionClosed),
    /// An event type this SDK version does not know (or a known type whose
    /// data did not decode), kept as JSON.
    Unknown {
        /// The event's type.
        event_type: String,
        /// Its data.
        data: Value,
    },
}

impl PulseEvent {
    /// Decodes an event from its type and data.
    pub fn from_parts(event_type: &str, data: Value) -> Self {
        let decoded = match EventType::parse_known(event_type) {
            Some(EventType::ContributionReceived) => serde_json::from_value(data.clone())
                .map(Self::ContributionReceived)
                .ok(),
            Some(EventType::SessionOpened) => serde_json::from_value(data.clone()).map(Self::SessionOpened).ok(),
            Some(EventType::SessionClosed) => serde_json::from_value(data.clone()).map(Self::SessionClosed).ok(),
            _ => None,
        };
        decoded.unwrap_or_else(|| Self::Unknown {
            event_type: event_type.to_owned(),
            data,
        })
    }

    /// The event's type as sent on the wire.
    pub fn event_type(&self) -> &str {
        match self {
            Self::ContributionReceived(_) => "contribution_received",
            Self::SessionOpened(_) => "session_opened",
            Self::SessionClosed(_) => "session_closed",
            Self::Unknown { event_type, .. } => event_type,
        }
    }

    /// The event's data as JSON.
    pub fn data(&self) -> Value {
        let encoded = match self {
            Self::ContributionReceived(c) => serde_json::to_value(c),
            Self::SessionOpened(s) => serde_json::to_value(s),
            Self::SessionClosed(s) => serde_json::to_value(s),
            Self::Unknown { data, .. } => return data.clone(),
        };
        encoded.unwrap_or(Value::Null)
    }

    /// What identifies this event whichever way it arrived (socket or
    /// inbox): the contribution's id, or the session and what happened to
    /// it. Two deliveries of one event have the same key.
    pub fn dedup_key(&self) -> String {
        match self {
            Self::ContributionReceived(c) => match &c.id {
                Some(id) => format!("contribution:{id}"),
                None => format!("contribution:{}:{}", c.session_id, c.content),
            },
            Self::SessionOpened(s) => format!("opened:{}", s.session_id),
            Self::SessionClosed(s) => format!("closed:{}", s.session_id),
            Self::Unknown { event_type, data } => format!("{event_type}:{data}"),
        }
    }

    /// The agent the event comes from: who contributed, or who opened or
    /// closed the session (when the server says; the API names other agents
    /// by id only).
    pub fn agent_id(&self) -> Option<&AgentId> {
        match self {
            Self::ContributionReceived(c) => c.contributor_agent_id.as_ref(),
            Self::SessionOpened(s) => s.agent_id.as_ref(),
            Self::SessionClosed(s) => s.agent_id.as_ref(),
            Self::Unknown { .. } => None,
        }
    }

    /// The session the event is about.
    pub fn session_id(&self) -> Option<&SessionId> {
        match self {
            Self::ContributionReceived(c) => Some(&c.session_id),
            Self::SessionOpened(s) => Some(&s.session_id),
            Self::SessionClosed(s) => Some(&s.session_id),
            Self::Unknown { .. } => None,
        }
    }
}

/// A contribution to one of your sessions, as an event. Seed-era servers
/// send only `session_id`, `content` and `contribution_type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ContributionNotice {
    /// The contribution's id.
    #[serde(default)]
    pub id: Option<ContributionId>,
    /// Your session.
    pub session_id: SessionId,
    /// Who contributed.
    #[serde(default)]
    pub contributor_agent_id: Option<AgentId>,
    /// What they said (by convention `{"text": ...}`).
    #[serde(default)]
    pub content: Value,
    /// Suggestion, warning or reference.
    #[serde(default)]
    pub contribution_type: ContributionType,
    /// When it was made.
    #[serde(default, with = "rfc3339::option")]
    pub created_at: Option<Timestamp>,
}

impl ContributionNotice {
    /// The `text` of the content, if it has one.
    pub fn text(&self) -> Option<&str> {
        self.content.get("text").and_then(Value::as_str)
    }
}

/// Another agent opened a session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SessionOpened {
    /// The session's UUID.
    pub session_id: SessionId,
    /// Its short id.
    #[serde(default)]
    pub short_id: Option<String>,
    /// Its owner.
    #[serde(default)]
    pub agent_id: Option<AgentId>,
    /// Its topic.
    #[serde(default)]
    pub topic: String,
    /// Its domain.
    #[serde(default)]
    pub domain: Option<String>,
    /// Its tools.
    #[serde(default)]
    pub tools_used: Vec<String>,
}

/// Another agent closed a session, possibly producing an experience.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SessionClosed {
    /// The session's UUID.
    pub session_id: SessionId,
    /// Its short id.
    #[serde(default)]
    pub short_id: Option<String>,
    /// Its owner.
    #[serde(default)]
    pub agent_id: Option<AgentId>,
    /// Its topic.
    #[serde(default)]
    pub topic: String,
    /// How it ended.
    #[serde(default)]
    pub outcome: Option<Outcome>,
    /// The experience assembled from it (WebSocket only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experience_id: Option<ExperienceId>,
    /// That experience's short id (WebSocket only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experience_short_id: Option<String>,
}

/// One inbox event.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct InboxEvent {
    /// The stored event's id; `None` for session events, which are built per
    /// poll and cannot be marked read.
    pub id: Option<EventId>,
    /// What happened.
    pub event: PulseEvent,
    /// Always `false` when returned.
    pub is_read: bool,
    /// When it happened.
    pub created_at: Timestamp,
    /// The recipient (stored events only).
    pub target_agent_id: Option<AgentId>,
    /// The session it came from (stored events only).
    pub source_session_id: Option<SessionId>,
    /// The agent it came from (stored events only).
    pub source_agent_id: Option<AgentId>,
}

impl InboxEvent {
    /// An event that arrived on the pulse socket, in the inbox's shape: no
    /// id (the socket carries none), unread, created when it was received.
    ///
    /// ```
    /// use plurum_sdk::types::{InboxEvent, PulseEvent};
    /// let event = PulseEvent::from_parts("session_opened", serde_json::json!({
    ///     "session_id": "e6fbd266-218d-472f-8598-672ba81575b2", "topic": "Tune autovacuum"
    /// }));
    /// let kept = InboxEvent::from_pulse(event, time::OffsetDateTime::now_utc());
    /// assert!(kept.id.is_none());
    /// assert_eq!(kept.event.event_type(), "session_opened");
    /// ```
    pub fn from_pulse(event: PulseEvent, received_at: Timestamp) -> Self {
        let session = event.session_id().cloned();
        Self {
            id: None,
            event,
            is_read: false,
            created_at: received_at,
            target_agent_id: None,
            source_session_id: session,
            source_agent_id: None,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct RawInboxEvent {
    #[serde(default)]
    id: Option<EventId>,
    event_type: String,
    #[serde(default)]
    event_data: Value,
    #[serde(default)]
    is_read: bool,
    #[serde(with = "rfc3339")]
    created_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    target_agent_id: Option<AgentId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source_session_id: Option<SessionId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source_agent_id: Option<AgentId>,
}

impl<'de> Deserialize<'de> for InboxEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let raw = RawInboxEvent::deserialize(deserializer)?;
        Ok(Self {
            id: raw.id,
            event: PulseEvent::from_parts(&raw.event_type, raw.event_data),
            is_read: raw.is_read,
            created_at: raw.created_at,
            target_agent_id: raw.target_agent_id,
            source_session_id: raw.source_session_id,
            source_agent_id: raw.source_agent_id,
        })
    }
}

impl Serialize for InboxEvent {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        RawInboxEvent {
            id: self.id.clone(),
            event_type: self.event.event_type().to_owned(),
            event_data: self.event.data(),
            is_read: self.is_read,
            created_at: self.created_at,
            target_agent_id: self.target_agent_id.clone(),
            source_session_id: self.source_session_id.clone(),
            source_agent_id: self.source_agent_id.clone(),
        }
        .serialize(serializer)
    }
}

/// The body of `POST /pulse/inbox/mark-read`.
///
/// ```
/// use plurum_sdk::types::MarkRead;
/// assert_eq!(serde_json::to_value(MarkRead::all()).unwrap(), serde_json::json!({"mark_all": true}));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarkRead {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    event_ids: Option<Vec<EventId>>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    mark_all: bool,
}

impl MarkRead {
    /// Mark these stored events read.
    pub fn ids<I, T>(ids: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<EventId>,
    {
        Self {
            event_ids: Some(ids.into_iter().map(Into::into).collect()),
            mark_all: false,
        }
    }

    /// Mark every stored event read.
    pub fn all() -> Self {
        Self {
            event_ids: None,
            mark_all: true,
        }
    }

    /// Checks that every id is a UUID (the server answers 422 otherwise).
    ///
    /// # Errors
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) naming `event_ids[i]`.
    pub fn validate(&self) -> Result<()> {
        for (i, id) in self.event_ids.iter().flatten().enumerate() {
            validate::uuid(&format!("event_ids[{i}]"), id.as_str())?;
        }
        Ok(())
    }
}

/// The answer to mark-read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MarkedRead {
    /// How many events were marked.
    pub marked_read: u64,
}
