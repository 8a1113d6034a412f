//! `state.json`, one per profile: the seed's own fields (`lastPlurumCheck`,
//! `pendingOutcomeReports`, `savedExperiences`) plus what the CLI needs.
//!
//! Every change is read-modify-write under an exclusive lock on
//! `state.lock`, written atomically (temporary file, fsync, rename). A file
//! that does not parse is moved aside (`state.json.corrupt-<time>`), never
//! silently dropped.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::paths;

/// The current schema version.
pub(crate) const SCHEMA_VERSION: u32 = 1;

/// The whole file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct State {
    /// The schema version of this file.
    #[serde(default = "schema_version")]
    pub(crate) schema_version: u32,
    /// When the last heartbeat completed (RFC 3339), as HEARTBEAT.md keeps it.
    #[serde(default)]
    pub(crate) last_plurum_check: Option<String>,
    /// Outcome reports waiting to be sent (the seed's outbox).
    #[serde(default)]
    pub(crate) pending_outcome_reports: Vec<PendingReport>,
    /// Experiences found for this agent's work, with their score history.
    #[serde(default, deserialize_with = "saved_experiences")]
    pub(crate) saved_experiences: Vec<SavedExperience>,
    /// Reports the server rejected for good (kept for a human to look at).
    #[serde(default)]
    pub(crate) failed_outcome_reports: Vec<FailedReport>,
    /// The session `plurum session …` acts on by default.
    #[serde(default)]
    pub(crate) current_session: Option<CurrentSession>,
    /// Inbox events read by the heartbeat and not yet handled.
    #[serde(default)]
    pub(crate) inbox_events: Vec<Value>,
    /// Anything else (kept as is).
    #[serde(flatten)]
    pub(crate) other: Map<String, Value>,
}

fn schema_version() -> u32 {
    SCHEMA_VERSION
}

impl Default for State {
    fn default() -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            last_plurum_check: None,
            pending_outcome_reports: Vec::new(),
            saved_experiences: Vec::new(),
            failed_outcome_reports: Vec::new(),
            current_session: None,
            inbox_events: Vec::new(),
            other: Map::new(),
        }
    }
}

/// A queued outcome report, in the seed's field names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct PendingReport {
    /// A local id, so concurrent flushes remove exactly what they sent.
    #[serde(default = "new_id")]
    pub(crate) id: String,
    /// The experience (short id or UUID).
    pub(crate) identifier: String,
    /// Whether it worked.
    pub(crate) success: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) execution_time_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) error_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) context_notes: Option<String>,
    /// When it was queued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) queued_at: Option<String>,
    /// Delivery attempts so far.
    #[serde(default)]
    pub(crate) attempts: u32,
    /// Why the last attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) last_error: Option<String>,
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl PendingReport {
    /// The SDK request for this report.
    pub(crate) fn request(&self) -> plurum_sdk::types::ReportOutcome {
        let mut report = plurum_sdk::types::ReportOutcome::new(self.success);
        if let Some(ms) = self.execution_time_ms {
            report = report.execution_time_ms(ms);
        }
        if let Some(message) = &self.error_message {
            report = report.error_message(message.clone());
        }
        if let Some(notes) = &self.context_notes {
            report = report.context_notes(notes.clone());
        }
        report
    }
}

/// A report the server rejected for good.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct FailedReport {
    #[serde(flatten)]
    pub(crate) report: PendingReport,
    /// When it was given up on.
    pub(crate) failed_at: String,
    /// The HTTP status, when the server answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) status: Option<u16>,
    /// The server's answer.
    pub(crate) error: String,
}

/// One score reading of a saved experience.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Reading {
    pub(crate) at: String,
    pub(crate) quality_score: f64,
    pub(crate) success_rate: f64,
    pub(crate) total_reports: u64,
}

/// A saved experience and how its scores moved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SavedExperience {
    pub(crate) short_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) goal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) quality_score: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) success_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) total_reports: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) saved_at: Option<String>,
    /// Earlier readings, oldest first (bounded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) history: Vec<Reading>,
}

/// `savedExperiences` as the seed writes it (short ids) or as objects.
fn saved_experiences<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<SavedExperience>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Item {
        Id(String),
        Full(SavedExperience),
    }
    let items = Vec::<Item>::deserialize(deserializer)?;
    Ok(items
        .into_iter()
        .map(|item| match item {
            Item::Id(short_id) => SavedExperience {
                short_id,
                goal: None,
                quality_score: None,
                success_rate: None,
                total_reports: None,
                saved_at: None,
                history: Vec::new(),
            },
            Item::Full(full) => full,
        })
        .collect())
}

/// The session the CLI acts on by default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CurrentSession {
    pub(crate) id: String,
    pub(crate) short_id: String,
    pub(crate) topic: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) opened_at: Option<String>,
    /// When the last entry was logged (the daemon's `session` drive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) last_entry_at: Option<String>,
}

/// The state file of one profile.
#[derive(Debug, Clone)]
pub(crate) struct StateFile {
    dir: PathBuf,
}

impl StateFile {
    pub(crate) fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// `state.json`.
    pub(crate) fn path(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    /// The directory of this profile's state.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    fn read(&self) -> anyhow::Result<State> {
        let path = self.path();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(State::default()),
            Err(e) => return Err(e).with_context(|| format!("could not read {}", path.display())),
        };
        match serde_json::from_str::<State>(&text) {
            Ok(state) => Ok(state),
            Err(error) => {
                let stamp = time::OffsetDateTime::now_utc().unix_timestamp();
                let aside = self.dir.join(format!("state.json.corrupt-{stamp}"));
                std::fs::rename(&path, &aside)
                    .with_context(|| format!("{} does not parse and could not be moved aside", path.display()))?;
                eprintln!(
                    "warning: {} did not parse ({error}); moved it to {} and started a fresh state",
                    path.display(),
                    aside.display()
                );
                Ok(State::default())
            }
        }
    }

    /// Reads the state (under the lock).
    pub(crate) fn load(&self) -> anyhow::Result<State> {
        let _lock = paths::lock(&self.dir.join("state.lock"))?;
        self.read()
    }

    /// Changes the state: lock, read, `change`, write atomically, unlock.
    /// Nothing is written when `change` fails.
    pub(crate) fn update<T>(&self, change: impl FnOnce(&mut State) -> anyhow::Result<T>) -> anyhow::Result<T> {
        let _lock = paths::lock(&self.dir.join("state.lock"))?;
        let mut state = self.read()?;
        let result = change(&mut state)?;
        state.schema_version = SCHEMA_VERSION;
        let text = serde_json::to_vec_pretty(&state).context("could not encode the state")?;
        paths::write_atomic(&self.path(), &text)?;
        Ok(result)
    }
}

/// Now, as the state file writes timestamps.
pub(crate) fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(state.last_plurum_check.as_deref(), Some("2026-02-07T14:30:00Z"));
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
    fn a_corrupt_file_is_moved_aside() {
        let dir = tempfile::tempdir().unwrap();
        let file = StateFile::new(dir.path().to_owned());
        std::fs::write(file.path(), "{ not json").unwrap();
        let state = file.load().unwrap();
        assert!(state.pending_outcome_reports.is_empty());
        let aside: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with("state.json.corrupt-"))
            .collect();
        assert_eq!(aside.len(), 1);
        assert_eq!(std::fs::read_to_string(aside[0].path()).unwrap(), "{ not json");
    }

    #[test]
    fn updates_are_atomic_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let file = StateFile::new(dir.path().join("profile"));
        file.update(|s| {
            s.last_plurum_check = Some(now());
            Ok(())
        })
        .unwrap();
        let failed: anyhow::Result<()> = file.update(|s| {
            s.last_plurum_check = None;
            anyhow::bail!("changed my mind")
        });
        assert!(failed.is_err());
        assert!(
            file.load().unwrap().last_plurum_check.is_some(),
            "a failed change writes nothing"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(file.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
