//! How experiences and events read for people (one line each, tables).

use plurum_sdk::types::{ExperienceSummary, PulseEvent};
use serde_json::{Value, json};

use crate::output::clip;

/// One line per experience: a table for people.
pub(crate) fn experience_rows(items: &[ExperienceSummary]) -> Vec<Vec<String>> {
    items
        .iter()
        .map(|e| {
            vec![
                e.short_id.clone(),
                format!("{:.2}", e.quality_score),
                format!("{:.0}%", e.success_rate * 100.0),
                e.total_reports.map_or("-".to_owned(), |n| n.to_string()),
                e.similarity.map_or("-".to_owned(), |s| format!("{s:.2}")),
                clip(&e.goal, 70),
            ]
        })
        .collect()
}

/// The headers of [`experience_rows`].
pub(crate) const EXPERIENCE_HEADERS: &[&str] = &["ID", "QUALITY", "SUCCESS", "REPORTS", "SIMILARITY", "GOAL"];

/// An event in one line, for people.
pub(crate) fn describe_event(event: &PulseEvent) -> String {
    match event {
        PulseEvent::ContributionReceived(c) => format!(
            "{} on your session {}: {}",
            c.contribution_type,
            short(c.session_id.as_str()),
            clip(c.text().unwrap_or(&c.content.to_string()), 100)
        ),
        PulseEvent::SessionOpened(s) => format!(
            "session opened {}: {}{}",
            s.short_id.as_deref().unwrap_or(short(s.session_id.as_str())),
            clip(&s.topic, 80),
            s.domain.as_deref().map(|d| format!(" [{d}]")).unwrap_or_default()
        ),
        PulseEvent::SessionClosed(s) => format!(
            "session closed {}: {} ({}){}",
            s.short_id.as_deref().unwrap_or(short(s.session_id.as_str())),
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

/// The first 8 characters of an id.
pub(crate) fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// A JSON value for an event (type and data).
pub(crate) fn event_json(event: &PulseEvent) -> Value {
    json!({"type": event.event_type(), "data": event.data()})
}
