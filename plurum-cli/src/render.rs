//! How experiences and events read: for people (one line each, tables)
//! and, for events, the one JSON shape every command prints them in
//! (`plurum inbox`, `pulse watch`, the heartbeat, the daemon).
//!
//! Sessions are named by their short id everywhere. Events that carry only
//! a session's UUID (a contribution) get its short id from what is known
//! locally, or from one `GET /sessions/{uuid}` per session.

use std::collections::HashMap;

use futures_util::StreamExt;
use plurum_sdk::Client;
use plurum_sdk::types::{ExperienceSummary, PulseEvent};
use serde_json::{Value, json};

use crate::interest::Interest;
use crate::kept::KeptEvent;
use crate::output::clip;
use crate::state::{State, Ts, rfc3339_text};

/// One line per experience: a table for people.
pub(crate) fn experience_rows(items: &[ExperienceSummary]) -> Vec<Vec<String>> {
    items
        .iter()
        .map(|e| {
            let reports = e.total_reports.unwrap_or(0);
            vec![
                e.short_id.clone(),
                format!("{:.2}", e.quality_score),
                if reports == 0 {
                    "-".to_owned()
                } else {
                    format!("{:.0}%", e.success_rate * 100.0)
                },
                e.total_reports.map_or("-".to_owned(), |n| n.to_string()),
                e.similarity.map_or("-".to_owned(), |s| format!("{s:.2}")),
                clip(&e.goal, 70),
            ]
        })
        .collect()
}

/// The headers of [`experience_rows`].
pub(crate) const EXPERIENCE_HEADERS: &[&str] = &["ID", "QUALITY", "SUCCESS", "REPORTS", "SIMILARITY", "GOAL"];

/// Sessions' short ids (and topics, when known) by UUID.
#[derive(Debug, Default, Clone)]
pub(crate) struct SessionNames {
    short_ids: HashMap<String, String>,
    topics: HashMap<String, String>,
}

impl SessionNames {
    /// What the profile's state knows: the sessions it opened, the current
    /// one, and every kept event that names a session with its short id.
    pub(crate) fn from_state(state: &State) -> Self {
        let mut names = Self::default();
        for session in state.opened_sessions.iter().chain(&state.current_session) {
            names.learn(&session.id, &session.short_id);
            names
                .topics
                .insert(session.id.to_ascii_lowercase(), session.topic.clone());
        }
        for event in &state.inbox_events {
            names.learn_event(&event.event());
        }
        names
    }

    /// Remembers a session's short id.
    pub(crate) fn learn(&mut self, uuid: &str, short_id: &str) {
        self.short_ids.insert(uuid.to_ascii_lowercase(), short_id.to_owned());
    }

    /// A session's topic, when known.
    pub(crate) fn topic(&self, uuid: &str) -> Option<&str> {
        self.topics.get(&uuid.to_ascii_lowercase()).map(String::as_str)
    }

    /// Remembers what an event says of its session (session events carry
    /// the short id).
    pub(crate) fn learn_event(&mut self, event: &PulseEvent) {
        match event {
            PulseEvent::SessionOpened(s) => {
                if let Some(short) = &s.short_id {
                    self.learn(s.session_id.as_str(), short);
                }
            }
            PulseEvent::SessionClosed(s) => {
                if let Some(short) = &s.short_id {
                    self.learn(s.session_id.as_str(), short);
                }
            }
            _ => {}
        }
    }

    /// Looks up, with the API, the sessions these events name only by UUID
    /// (a few at a time; a session that cannot be read stays unnamed).
    pub(crate) async fn fill<'a>(&mut self, client: &Client, events: impl IntoIterator<Item = &'a PulseEvent>) {
        let mut missing: Vec<String> = Vec::new();
        for event in events {
            self.learn_event(event);
            if let Some(id) = event.session_id()
                && self.short(id.as_str()).is_none()
                && !missing.iter().any(|m| m == id.as_str())
            {
                missing.push(id.as_str().to_owned());
            }
        }
        let found: Vec<(String, Option<plurum_sdk::types::Session>)> = futures_util::stream::iter(missing)
            .map(|id| async move {
                let session = client.sessions().get(&id).await.ok();
                (id, session)
            })
            .buffer_unordered(8)
            .collect()
            .await;
        for (id, session) in found {
            if let Some(session) = session {
                self.learn(&id, &session.short_id);
                self.topics.insert(id.to_ascii_lowercase(), session.topic);
            }
        }
    }

    /// The short id of a session, when known.
    pub(crate) fn short(&self, uuid: &str) -> Option<&str> {
        self.short_ids.get(&uuid.to_ascii_lowercase()).map(String::as_str)
    }

    /// How a session is named for people: its short id, or (unknown) its
    /// whole UUID, never a prefix that no command accepts.
    fn label<'a>(&'a self, uuid: &'a str) -> &'a str {
        self.short(uuid).unwrap_or(uuid)
    }
}

/// An event in one line, for people.
pub(crate) fn describe_event(event: &PulseEvent, names: &SessionNames) -> String {
    match event {
        PulseEvent::ContributionReceived(c) => format!(
            "{}{} on your session {}: {}",
            c.contribution_type,
            c.contributor_agent_id
                .as_ref()
                .map(|a| format!(" from {}", agent(a.as_str())))
                .unwrap_or_default(),
            names.label(c.session_id.as_str()),
            clip(c.text().unwrap_or(&c.content.to_string()), 100)
        ),
        PulseEvent::SessionOpened(s) => format!(
            "session opened {}: {}{}",
            s.short_id.as_deref().unwrap_or(names.label(s.session_id.as_str())),
            clip(&s.topic, 80),
            s.domain.as_deref().map(|d| format!(" [{d}]")).unwrap_or_default()
        ),
        PulseEvent::SessionClosed(s) => format!(
            "session closed {}: {} ({}){}",
            s.short_id.as_deref().unwrap_or(names.label(s.session_id.as_str())),
            clip(&s.topic, 80),
            s.outcome.as_ref().map_or("no outcome".to_owned(), ToString::to_string),
            s.experience_short_id
                .as_deref()
                .map(|e| format!(", experience {e}"))
                .unwrap_or_default()
        ),
        PulseEvent::Unknown { event_type, data } => format!("{event_type}: {}", clip(&data.to_string(), 100)),
        _ => event.event_type().to_owned(),
    }
}

/// Another agent as people see it: "agent " and the first 8 characters of
/// its id (the API names other agents by id only).
pub(crate) fn agent(id: &str) -> String {
    format!("agent {}", short(id))
}

/// The first 8 characters of an id.
pub(crate) fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// An event in the one JSON shape: `id` (what `plurum inbox --ack` takes;
/// null for an event that is not kept), `short_id`, `event_type`,
/// `event_data` (as the API sends it), `created_at`, `session_id`,
/// `session_short_id`, and `source` (`inbox` or `pulse`).
pub(crate) fn event_json(
    id: Option<&str>,
    event: &PulseEvent,
    created_at: Ts,
    source: &str,
    names: &SessionNames,
) -> Value {
    let session = event.session_id().map(|s| s.as_str().to_owned());
    let from = event.agent_id().map(|a| a.as_str().to_owned());
    json!({
        "id": id,
        "short_id": id.map(short),
        "event_type": event.event_type(),
        "event_data": event.data(),
        "created_at": rfc3339_text(created_at),
        "session_id": session,
        "session_short_id": session.as_deref().and_then(|s| names.short(s)),
        "from": from,
        "from_short": from.as_deref().map(short),
        "source": source,
    })
}

/// A kept event in the one JSON shape, with when it was kept and
/// acknowledged, and whether it asks the agent to act.
pub(crate) fn kept_event_json(kept: &KeptEvent, names: &SessionNames, interest: &Interest) -> Value {
    let mut value = event_json(Some(&kept.id), &kept.event(), kept.created_at, &kept.source, names);
    value["kept_at"] = json!(rfc3339_text(kept.kept_at));
    value["acked_at"] = json!(kept.acked_at.map(rfc3339_text));
    value["waiting"] = json!(kept.is_waiting());
    value["needs_action"] = json!(kept.needs_action(interest));
    value
}
