//! `inboxEvents`: the inbox events plurum read (from the server's inbox or
//! the socket) and keeps until the agent acknowledges them. What is done
//! with them (keeping, acknowledging, ageing out) is `crate::kept`.

use plurum_sdk::types::{InboxEvent, PulseEvent};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::serde::rfc3339;

use super::{Ts, now};
use crate::interest::Interest;

/// One kept event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct KeptEvent {
    /// The server's id, or a local one for events that have none (the real
    /// server's session events): what `plurum inbox --ack` takes.
    pub(crate) id: String,
    /// Whether `id` is local (such events cannot be marked read on the server).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) local_id: bool,
    pub(crate) event_type: String,
    pub(crate) event_data: Value,
    /// When it happened (the server's time).
    #[serde(with = "rfc3339")]
    pub(crate) created_at: Ts,
    /// When plurum read and kept it.
    #[serde(with = "rfc3339")]
    pub(crate) kept_at: Ts,
    /// When the agent acknowledged it.
    #[serde(skip_serializing_if = "Option::is_none", with = "rfc3339::option")]
    pub(crate) acked_at: Option<Ts>,
    /// Where it came from: `inbox` (a read of the server's inbox) or `pulse` (the socket).
    pub(crate) source: String,
    /// Fields a newer plurum wrote, kept as they are when this one rewrites the entry.
    #[serde(flatten)]
    pub(crate) other: serde_json::Map<String, serde_json::Value>,
}

/// Both today's shape and schema 1's (`id` null, `handled_at`, no `kept_at`).
#[derive(Deserialize)]
struct RawKept {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    local_id: bool,
    event_type: String,
    #[serde(default)]
    event_data: Value,
    #[serde(with = "rfc3339")]
    created_at: Ts,
    #[serde(default, with = "rfc3339::option")]
    kept_at: Option<Ts>,
    #[serde(default, alias = "handled_at", with = "rfc3339::option")]
    acked_at: Option<Ts>,
    #[serde(default)]
    source: Option<String>,
    #[serde(flatten)]
    other: serde_json::Map<String, Value>,
}

impl<'de> Deserialize<'de> for KeptEvent {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawKept::deserialize(deserializer)?;
        let (id, local_id) = match raw.id.filter(|id| !id.is_empty()) {
            Some(id) => (id, raw.local_id),
            None => (uuid::Uuid::new_v4().to_string(), true),
        };
        Ok(Self {
            id,
            local_id,
            event_type: raw.event_type,
            event_data: raw.event_data,
            kept_at: raw.kept_at.unwrap_or(raw.created_at),
            created_at: raw.created_at,
            acked_at: raw.acked_at,
            source: raw.source.unwrap_or_else(|| "inbox".to_owned()),
            other: raw.other,
        })
    }
}

impl KeptEvent {
    /// Keeps an event read from the inbox or the socket.
    pub(crate) fn new(event: &InboxEvent, source: &str) -> Self {
        let (id, local_id) = match &event.id {
            Some(id) => (id.to_string(), false),
            None => (uuid::Uuid::new_v4().to_string(), true),
        };
        Self {
            other: Default::default(),
            id,
            local_id,
            event_type: event.event.event_type().to_owned(),
            event_data: event.event.data(),
            created_at: event.created_at,
            kept_at: now(),
            acked_at: None,
            source: source.to_owned(),
        }
    }

    /// The event, decoded.
    pub(crate) fn event(&self) -> PulseEvent {
        PulseEvent::from_parts(&self.event_type, self.event_data.clone())
    }

    /// What identifies the event whichever way it arrived.
    pub(crate) fn key(&self) -> String {
        self.event().dedup_key()
    }

    /// The short form of its id (what human output shows).
    pub(crate) fn short_id(&self) -> &str {
        self.id.get(..8).unwrap_or(&self.id)
    }

    /// Whether `given` names this event: its id, or an unambiguous start of
    /// it of at least 8 characters (the short id).
    pub(crate) fn matches(&self, given: &str) -> bool {
        let given = given.trim().to_ascii_lowercase();
        given.len() >= 8 && self.id.to_ascii_lowercase().starts_with(&given)
    }

    /// Whether it is waiting for the agent.
    pub(crate) fn is_waiting(&self) -> bool {
        self.acked_at.is_none()
    }

    /// Whether it asks the agent to act: a contribution to its session, or
    /// a session opened in its domains or tools. Such events stay listed
    /// until acknowledged; the others are acknowledged once shown.
    pub(crate) fn needs_action(&self, interest: &Interest) -> bool {
        match self.event() {
            PulseEvent::ContributionReceived(_) => true,
            PulseEvent::SessionOpened(opened) => interest.covers(opened.domain.as_deref(), &opened.tools_used),
            _ => false,
        }
    }
}
