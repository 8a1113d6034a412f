//! Reading state.json leniently, entry by entry: what parses is kept, what
//! does not is set aside (quarantined) with why, never the whole file.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use time::serde::rfc3339;

use super::{Quarantined, SavedExperience, SavedReason, State, now};

/// A `savedExperiences` item as the seed writes it (a short id) or as an object.
#[derive(Deserialize)]
#[serde(untagged)]
enum SavedItem {
    Id(String),
    Full(Box<SavedExperience>),
}

impl From<SavedItem> for SavedExperience {
    fn from(item: SavedItem) -> Self {
        match item {
            SavedItem::Id(short_id) => SavedExperience {
                other: Default::default(),
                short_id,
                id: None,
                reason: SavedReason::Saved,
                goal: None,
                quality_score: None,
                success_rate: None,
                total_reports: None,
                saved_at: None,
                history: Vec::new(),
                own_reports_unread: 0,
            },
            SavedItem::Full(full) => *full,
        }
    }
}

pub(super) fn describe(bad: &[Quarantined]) -> String {
    let shown: Vec<String> = bad
        .iter()
        .take(3)
        .map(|q| format!("{}: {}", q.field, q.reason))
        .collect();
    let more = bad.len().saturating_sub(3);
    if more > 0 {
        format!("{} and {more} more", shown.join("; "))
    } else {
        shown.join("; ")
    }
}

/// Parses a state file entry by entry: what parses is kept, what does not
/// is returned to be set aside. `Err` only when the file is not a JSON object.
pub(crate) fn parse(text: &str) -> Result<(State, Vec<Quarantined>), String> {
    parse_value(serde_json::from_str(text).map_err(|e| e.to_string())?)
}

pub(super) fn parse_value(value: Value) -> Result<(State, Vec<Quarantined>), String> {
    let Value::Object(mut map) = value else {
        return Err("the top level is not an object".to_owned());
    };
    let mut bad = Vec::new();
    let schema_version = one(&mut map, "schemaVersion", &mut bad).unwrap_or(1);
    let state = State {
        schema_version,
        last_plurum_check: one_with(&mut map, "lastPlurumCheck", &mut bad, rfc3339::deserialize),
        pending_outcome_reports: list(&mut map, "pendingOutcomeReports", &mut bad),
        saved_experiences: list::<SavedItem>(&mut map, "savedExperiences", &mut bad)
            .into_iter()
            .map(SavedExperience::from)
            .collect(),
        failed_outcome_reports: list(&mut map, "failedOutcomeReports", &mut bad),
        current_session: one(&mut map, "currentSession", &mut bad),
        opened_sessions: list(&mut map, "openedSessions", &mut bad),
        inbox_events: list(&mut map, "inboxEvents", &mut bad),
        needs_human: list(&mut map, "needsHuman", &mut bad),
        quarantined_entries: list(&mut map, "quarantinedEntries", &mut bad),
        other: map,
    };
    Ok((state, bad))
}

fn quarantined(field: String, reason: &serde_json::Error, value: Value) -> Quarantined {
    Quarantined {
        id: uuid::Uuid::new_v4().to_string(),
        field,
        reason: reason.to_string(),
        value,
        at: now(),
    }
}

/// One field; `None` when absent, null or not parsing (then set aside).
fn one<T: DeserializeOwned>(map: &mut Map<String, Value>, key: &str, bad: &mut Vec<Quarantined>) -> Option<T> {
    one_with(map, key, bad, serde_json::from_value)
}

/// One field, parsed by `parse` (see [`one`]).
fn one_with<T>(
    map: &mut Map<String, Value>,
    key: &str,
    bad: &mut Vec<Quarantined>,
    parse: impl FnOnce(Value) -> Result<T, serde_json::Error>,
) -> Option<T> {
    let value = map.remove(key).filter(|v| !v.is_null())?;
    match parse(value.clone()) {
        Ok(parsed) => Some(parsed),
        Err(e) => {
            bad.push(quarantined(key.to_owned(), &e, value));
            None
        }
    }
}

/// A list field, item by item: each item that does not parse is set aside alone.
fn list<T: DeserializeOwned>(map: &mut Map<String, Value>, key: &str, bad: &mut Vec<Quarantined>) -> Vec<T> {
    match map.remove(key) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .filter_map(|(i, item)| match serde_json::from_value(item.clone()) {
                Ok(parsed) => Some(parsed),
                Err(e) => {
                    bad.push(quarantined(format!("{key}[{i}]"), &e, item));
                    None
                }
            })
            .collect(),
        Some(other) => {
            let e = serde_json::from_value::<Vec<Value>>(other.clone()).err();
            bad.push(Quarantined {
                id: uuid::Uuid::new_v4().to_string(),
                field: key.to_owned(),
                reason: e.map_or_else(|| "not a list".to_owned(), |e| e.to_string()),
                value: other,
                at: now(),
            });
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Notices, SCHEMA_VERSION, StateFile};

    #[test]
    fn reads_the_seed_shapes() {
        let seed = r#"{
            "lastPlurumCheck": "2026-02-07T14:30:00Z",
            "pendingOutcomeReports": [
                {"identifier": "Ab3xKp9z", "success": true, "execution_time_ms": 45000},
                {"identifier": "Xy7wMn2q", "success": false, "error_message": "Connection refused on port 5432"}
            ],
            "savedExperiences": ["Ab3xKp9z", "Xy7wMn2q"],
            "somethingElse": {"kept": true}
        }"#;
        let state: State = serde_json::from_str(seed).unwrap();
        assert_eq!(
            state.last_plurum_check,
            Some(time::macros::datetime!(2026-02-07 14:30 UTC))
        );
        assert_eq!(state.pending_outcome_reports.len(), 2);
        assert_eq!(state.pending_outcome_reports[0].execution_time_ms, Some(45000));
        assert_ne!(state.pending_outcome_reports[0].id, state.pending_outcome_reports[1].id);
        assert_eq!(state.saved_experiences[1].short_id, "Xy7wMn2q");
        let written = serde_json::to_value(&state).unwrap();
        assert_eq!(
            written["somethingElse"]["kept"], true,
            "unknown fields survive a rewrite"
        );
        assert_eq!(written["lastPlurumCheck"], "2026-02-07T14:30:00Z");
        assert_eq!(
            written["pendingOutcomeReports"][1]["error_message"],
            "Connection refused on port 5432"
        );
    }

    #[test]
    fn schema_one_files_migrate_to_typed_timestamps_and_kept_events() {
        // A state.json as plurum 0.1 (schema 1) wrote it.
        let old = r#"{
          "schemaVersion": 1,
          "lastPlurumCheck": "2026-11-20T08:00:00.123456789Z",
          "pendingOutcomeReports": [
            {"id": "6a3f1e0c-9d2b-4c1a-8f00-000000000001", "identifier": "cdf0e8a3", "success": true,
             "execution_time_ms": 45000, "queued_at": "2026-11-20T07:59:00Z", "attempts": 2,
             "last_error": "could not reach http://127.0.0.1:9/api/v1/experiences/cdf0e8a3/outcome"}
          ],
          "savedExperiences": [
            {"short_id": "cdf0e8a3", "goal": "Set up PostgreSQL replication", "quality_score": 0.69,
             "success_rate": 0.92, "total_reports": 13, "saved_at": "2026-11-19T10:00:00Z",
             "history": [{"at": "2026-11-19T10:00:00Z", "quality_score": 0.7, "success_rate": 0.93, "total_reports": 12}]}
          ],
          "failedOutcomeReports": [
            {"id": "6a3f1e0c-9d2b-4c1a-8f00-000000000002", "identifier": "0badc0de", "success": false,
             "attempts": 1, "failed_at": "2026-11-19T11:00:00Z", "status": 404, "error": "not found (404)"}
          ],
          "currentSession": {"id": "e6fbd266-218d-472f-8598-672ba81575b2", "short_id": "faaedc82",
                             "topic": "Tune autovacuum", "opened_at": "2026-11-20T07:00:00Z"},
          "inboxEvents": [
            {"id": "7b1c0d2e-0000-4000-8000-000000000003", "event_type": "contribution_received",
             "event_data": {"session_id": "e6fbd266-218d-472f-8598-672ba81575b2", "contribution_type": "warning",
                            "content": {"text": "check the freeze age"}},
             "is_read": false, "created_at": "2026-11-20T07:30:00Z"},
            {"id": null, "event_type": "session_opened",
             "event_data": {"session_id": "11111111-0000-4000-8000-000000000004", "topic": "Other work"},
             "is_read": false, "created_at": "2026-11-20T07:40:00Z", "handled_at": "2026-11-20T07:45:00Z"}
          ]
        }"#;
        let (state, bad) = parse(old).unwrap();
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(
            state.last_plurum_check.map(|t| t.unix_timestamp()),
            Some(time::macros::datetime!(2026-11-20 08:00 UTC).unix_timestamp())
        );
        assert_eq!(
            state.pending_outcome_reports[0].queued_at,
            Some(time::macros::datetime!(2026-11-20 07:59 UTC))
        );
        assert_eq!(
            state.saved_experiences[0].history[0].at,
            time::macros::datetime!(2026-11-19 10:00 UTC)
        );
        assert_eq!(
            state.failed_outcome_reports[0].failed_at,
            time::macros::datetime!(2026-11-19 11:00 UTC)
        );
        assert_eq!(
            state.current_session.as_ref().unwrap().opened_at,
            Some(time::macros::datetime!(2026-11-20 07:00 UTC))
        );
        let [kept, handled] = &state.inbox_events[..] else {
            panic!("two events")
        };
        assert_eq!(
            (kept.id.as_str(), kept.local_id, kept.is_waiting()),
            ("7b1c0d2e-0000-4000-8000-000000000003", false, true)
        );
        assert!(
            handled.local_id && !handled.is_waiting(),
            "a null id gets a local one; handled is acknowledged"
        );
        // Written back: schema 2, the same timestamps in RFC 3339.
        let dir = tempfile::tempdir().unwrap();
        let file = StateFile::new(dir.path().to_owned(), Notices::default());
        std::fs::write(file.path(), old).unwrap();
        file.update(|_| Ok(())).unwrap();
        let written: Value = serde_json::from_str(&std::fs::read_to_string(file.path()).unwrap()).unwrap();
        assert_eq!(written["schemaVersion"], SCHEMA_VERSION);
        assert_eq!(written["lastPlurumCheck"], "2026-11-20T08:00:00.123456789Z");
        assert_eq!(written["inboxEvents"][1]["acked_at"], "2026-11-20T07:45:00Z");
        assert_eq!(written["inboxEvents"][1]["kept_at"], "2026-11-20T07:40:00Z");
        assert_eq!(written["pendingOutcomeReports"][0]["attempts"], 2);
    }

    #[test]
    fn one_bad_entry_is_set_aside_alone() {
        let dir = tempfile::tempdir().unwrap();
        let file = StateFile::new(dir.path().to_owned(), Notices::default());
        let text = r#"{
            "lastPlurumCheck": "2026-11-30T10:00:00Z",
            "pendingOutcomeReports": [
                {"identifier": "ab12cd34", "success": true, "execution_time_ms": 1.5},
                {"identifier": "ef56ab78", "success": true}
            ],
            "currentSession": 7
        }"#;
        std::fs::write(file.path(), text).unwrap();
        let read = file.load().unwrap();
        assert_eq!(read.pending_outcome_reports.len(), 1);
        assert_eq!(read.pending_outcome_reports[0].identifier, "ef56ab78");
        assert!(read.quarantined_entries.is_empty(), "a reader only reports");
        assert_eq!(
            std::fs::read_to_string(file.path()).unwrap(),
            text,
            "and leaves the file as it is"
        );
        let changed = file.load_for_change().unwrap();
        assert_eq!(changed.pending_outcome_reports.len(), 1);
        assert_eq!(
            changed.last_plurum_check,
            Some(time::macros::datetime!(2026-11-30 10:00 UTC))
        );
        let fields: Vec<&str> = changed.quarantined_entries.iter().map(|q| q.field.as_str()).collect();
        assert_eq!(fields, ["pendingOutcomeReports[0]", "currentSession"]);
        assert_eq!(changed.quarantined_entries[0].value["execution_time_ms"], 1.5);
        // Once set aside, the file reads cleanly.
        let again = file.load().unwrap();
        assert_eq!(again.quarantined_entries.len(), 2);
        let notices = file.notices.take();
        assert!(notices.iter().any(|n| n.contains("set aside 2 entries")), "{notices:?}");
    }
}
