//! `needsHuman`: what the human should hear about, kept until the agent
//! acknowledges it, so an alert is never told once and lost. A warning
//! contributed to the agent's session has the inbox event's id (`plurum
//! inbox --ack ID` acknowledges both); the others get an id of their own and
//! are acknowledged with `plurum heartbeat --ack ID` (or `--ack-all`).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::serde::rfc3339;

use super::{Ts, now};

/// One thing for the human.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Alert {
    /// Stable until acknowledged.
    pub(crate) id: String,
    /// What it is about, to recognise it again: `warning:<event id>`,
    /// `quality:<short id>`, `failure_rate:<short id>`, `reports_rejected`.
    pub(crate) key: String,
    /// The sentence for the human.
    pub(crate) text: String,
    /// The details, tagged by `kind` (as `needs_human` prints them).
    pub(crate) item: Value,
    /// When it was first raised.
    #[serde(with = "rfc3339")]
    pub(crate) first_seen: Ts,
    /// When it last changed.
    #[serde(with = "rfc3339")]
    pub(crate) last_seen: Ts,
    /// Fields a newer plurum wrote, kept as they are when this one rewrites the entry.
    #[serde(flatten)]
    pub(crate) other: serde_json::Map<String, serde_json::Value>,
}

impl Alert {
    /// The short form of its id (8 characters).
    pub(crate) fn short_id(&self) -> &str {
        self.id.get(..8).unwrap_or(&self.id)
    }

    /// Whether `given` names it: its id, or a start of it of at least 8
    /// characters.
    pub(crate) fn matches(&self, given: &str) -> bool {
        let given = given.trim().to_ascii_lowercase();
        given.len() >= 8 && self.id.to_ascii_lowercase().starts_with(&given)
    }
}

/// Raises `key` (or refreshes it when it is already waiting). Returns the
/// alert's id and whether it is new to the human (raised now, or its text
/// changed since).
pub(crate) fn raise(
    alerts: &mut Vec<Alert>,
    id: Option<&str>,
    key: String,
    text: String,
    item: Value,
) -> (String, bool) {
    if let Some(existing) = alerts.iter_mut().find(|a| a.key == key) {
        let changed = existing.text != text;
        existing.text = text;
        existing.item = item;
        if changed {
            existing.last_seen = now();
        }
        return (existing.id.clone(), changed);
    }
    let id = id.map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
    let at = now();
    alerts.push(Alert {
        other: Default::default(),
        id: id.clone(),
        key,
        text,
        item,
        first_seen: at,
        last_seen: at,
    });
    (id, true)
}

/// Acknowledges the alerts `ids` names (or all): they are removed. Returns
/// how many, and the ids that named none.
pub(crate) fn acknowledge(alerts: &mut Vec<Alert>, ids: &[String], all: bool) -> (usize, Vec<String>) {
    let before = alerts.len();
    if all {
        alerts.clear();
        return (before, Vec::new());
    }
    let unknown: Vec<String> = ids
        .iter()
        .filter(|given| !alerts.iter().any(|a| a.matches(given)))
        .cloned()
        .collect();
    alerts.retain(|a| !ids.iter().any(|given| a.matches(given)));
    (before - alerts.len(), unknown)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_alert_waits_until_acknowledged_and_is_new_only_when_it_changes() {
        let mut alerts = Vec::new();
        let (id, new) = raise(
            &mut alerts,
            None,
            "quality:cdf0e8a3".into(),
            "dropped to 0.5".into(),
            json!({}),
        );
        assert!(new);
        let (same, new) = raise(
            &mut alerts,
            None,
            "quality:cdf0e8a3".into(),
            "dropped to 0.5".into(),
            json!({}),
        );
        assert_eq!(
            (same.as_str(), new),
            (id.as_str(), false),
            "the same alert again is not news"
        );
        let (_, new) = raise(
            &mut alerts,
            None,
            "quality:cdf0e8a3".into(),
            "dropped to 0.4".into(),
            json!({}),
        );
        assert!(new, "a further drop is news");
        assert_eq!(alerts.len(), 1);
        let (warning, _) = raise(
            &mut alerts,
            Some("0f0f0f0f-aaaa"),
            "warning:x".into(),
            "w".into(),
            json!({}),
        );
        assert_eq!(warning, "0f0f0f0f-aaaa", "a warning keeps its inbox event's id");
        assert_eq!(
            acknowledge(&mut alerts, &[id[..8].to_owned(), "deadbeef".into()], false),
            (1, vec!["deadbeef".to_owned()])
        );
        assert_eq!(alerts.len(), 1);
        assert_eq!(acknowledge(&mut alerts, &[], true), (1, Vec::new()));
    }
}
