//! `state.json`, one per profile: the seed's own fields (`lastPlurumCheck`,
//! `pendingOutcomeReports`, `savedExperiences`) plus what the CLI needs.
//!
//! Every change is read-modify-write under an exclusive lock on
//! `state.lock`, written atomically (temporary file, fsync, rename).
//!
//! Reading is lenient, entry by entry: one report or event that does not
//! parse (a wrong-typed field) never takes the rest with it. Such entries
//! are set aside in `quarantinedEntries` (with why) by the next command
//! that changes state, where `plurum outcome failed` lists them; a
//! read-only command only reports them and leaves the file as it is. A file
//! that is not JSON at all is moved aside (`state.json.corrupt-<time>`) by
//! the next command that changes state, never silently dropped. Either way
//! the command says so and exits non-zero ([`Notices`]).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use time::serde::rfc3339;

use crate::exit::{self, CliError};
use crate::kept::KeptEvent;
use crate::paths;

/// The current schema version. 2: inbox events are typed, with an id of
/// their own and when they were kept and acknowledged.
pub(crate) const SCHEMA_VERSION: u32 = 2;

/// The whole file. It deserializes strictly (every entry must parse); the
/// state file itself is read leniently with [`parse`].
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct State {
    /// The schema version of this file.
    pub(crate) schema_version: u32,
    /// When the last heartbeat completed (RFC 3339), as HEARTBEAT.md keeps it.
    #[serde(with = "rfc3339::option")]
    pub(crate) last_plurum_check: Option<Ts>,
    /// Outcome reports waiting to be sent (the seed's outbox).
    pub(crate) pending_outcome_reports: Vec<PendingReport>,
    /// Experiences found for this agent's work, with their score history.
    pub(crate) saved_experiences: Vec<SavedExperience>,
    /// Reports the server rejected for good (kept for a human to look at).
    pub(crate) failed_outcome_reports: Vec<FailedReport>,
    /// The session `plurum session …` acts on by default.
    pub(crate) current_session: Option<CurrentSession>,
    /// Sessions this profile opened (the most recent [`OPENED_SESSIONS`]):
    /// their short ids and topics name them in inbox events without asking
    /// the server, and `plurum session use` makes one current again.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) opened_sessions: Vec<CurrentSession>,
    /// Inbox events read from the server (or the socket), kept until
    /// acknowledged.
    pub(crate) inbox_events: Vec<KeptEvent>,
    /// Entries that did not parse, set aside with why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) quarantined_entries: Vec<Quarantined>,
    /// Anything else (kept as is).
    #[serde(flatten)]
    pub(crate) other: Map<String, Value>,
}

impl<'de> Deserialize<'de> for State {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (state, bad) = parse_value(Value::deserialize(deserializer)?).map_err(serde::de::Error::custom)?;
        match bad.first() {
            None => Ok(state),
            Some(q) => Err(serde::de::Error::custom(format!("{}: {}", q.field, q.reason))),
        }
    }
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
            opened_sessions: Vec::new(),
            inbox_events: Vec::new(),
            quarantined_entries: Vec::new(),
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
    #[serde(default, skip_serializing_if = "Option::is_none", with = "rfc3339::option")]
    pub(crate) queued_at: Option<Ts>,
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
    /// Whether `other` reports the same thing (same experience, result and
    /// details), whatever its local id and delivery history.
    pub(crate) fn same_report(&self, other: &PendingReport) -> bool {
        self.identifier == other.identifier
            && self.success == other.success
            && self.execution_time_ms == other.execution_time_ms
            && self.error_message == other.error_message
            && self.context_notes == other.context_notes
    }
}

/// An entry of state.json that did not parse, kept as it was with why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Quarantined {
    /// A local id (for `plurum outcome failed --drop`).
    pub(crate) id: String,
    /// Where it was, e.g. `pendingOutcomeReports[1]`.
    pub(crate) field: String,
    /// Why it did not parse.
    pub(crate) reason: String,
    /// The entry as it was.
    pub(crate) value: Value,
    /// When it was set aside.
    #[serde(with = "rfc3339")]
    pub(crate) at: Ts,
}

/// A report the server rejected for good.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct FailedReport {
    #[serde(flatten)]
    pub(crate) report: PendingReport,
    /// When it was given up on.
    #[serde(with = "rfc3339")]
    pub(crate) failed_at: Ts,
    /// The HTTP status, when the server answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) status: Option<u16>,
    /// The server's answer.
    pub(crate) error: String,
}

/// One score reading of a saved experience.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Reading {
    #[serde(with = "rfc3339")]
    pub(crate) at: Ts,
    pub(crate) quality_score: f64,
    pub(crate) success_rate: f64,
    pub(crate) total_reports: u64,
}

/// Why an experience is in `savedExperiences`. Only those the agent relied
/// on (acquired, reported on, saved explicitly) make the heartbeat tell the
/// human when their scores fall; search hits are kept as suggestions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SavedReason {
    /// A search hit of the heartbeat.
    #[default]
    Suggested,
    /// Acquired with `plurum experience acquire`.
    Acquired,
    /// Reported on with `plurum outcome report`.
    Reported,
    /// Saved with `plurum experience save` (or listed by hand, as the seed
    /// documents write it: a bare short id).
    Saved,
}

impl SavedReason {
    /// Whether the agent relies on it.
    pub(crate) fn relied_on(self) -> bool {
        self != Self::Suggested
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Suggested => "suggested",
            Self::Acquired => "acquired",
            Self::Reported => "reported",
            Self::Saved => "saved",
        }
    }
}

/// A saved experience and how its scores moved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SavedExperience {
    pub(crate) short_id: String,
    /// Its UUID, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) id: Option<String>,
    /// Why it is here.
    #[serde(default)]
    pub(crate) reason: SavedReason,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) goal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) quality_score: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) success_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) total_reports: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "rfc3339::option")]
    pub(crate) saved_at: Option<Ts>,
    /// Earlier readings, oldest first (bounded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) history: Vec<Reading>,
}

impl SavedExperience {
    /// A new entry.
    pub(crate) fn new(short_id: impl Into<String>, reason: SavedReason) -> Self {
        Self {
            short_id: short_id.into(),
            id: None,
            reason,
            goal: None,
            quality_score: None,
            success_rate: None,
            total_reports: None,
            saved_at: Some(now()),
            history: Vec::new(),
        }
    }

    /// Whether `given` (a short id or a UUID) names it.
    pub(crate) fn named(&self, given: &str) -> bool {
        let given = given.trim();
        self.short_id.eq_ignore_ascii_case(given) || self.id.as_deref().is_some_and(|id| id.eq_ignore_ascii_case(given))
    }

    /// Relies on it for `reason` (an explicit save stays; nothing goes back
    /// to a suggestion).
    pub(crate) fn rely(&mut self, reason: SavedReason) {
        if self.reason != SavedReason::Saved && reason != SavedReason::Suggested {
            self.reason = reason;
        }
    }
}

/// Sessions remembered in `openedSessions`.
pub(crate) const OPENED_SESSIONS: usize = 50;

impl State {
    /// Makes `session` the current one and remembers it among the opened
    /// ones. Returns the session that was current before, if another.
    pub(crate) fn make_current(&mut self, session: CurrentSession) -> Option<CurrentSession> {
        self.opened_sessions.retain(|s| s.id != session.id);
        self.opened_sessions.push(session.clone());
        let excess = self.opened_sessions.len().saturating_sub(OPENED_SESSIONS);
        self.opened_sessions.drain(..excess);
        let previous = self.current_session.replace(session);
        previous.filter(|p| Some(&p.id) != self.current_session.as_ref().map(|c| &c.id))
    }

    /// Records that the agent relies on an experience (`given` as the user
    /// gave it: a short id or a UUID; `short_id` and `id` when known).
    pub(crate) fn rely_on(&mut self, given: &str, short_id: Option<&str>, id: Option<&str>, reason: SavedReason) {
        let found = self
            .saved_experiences
            .iter_mut()
            .find(|s| s.named(given) || short_id.is_some_and(|x| s.named(x)) || id.is_some_and(|x| s.named(x)));
        let entry = match found {
            Some(entry) => {
                entry.rely(reason);
                entry
            }
            None => {
                self.saved_experiences
                    .push(SavedExperience::new(short_id.unwrap_or(given), reason));
                self.saved_experiences.last_mut().expect("just pushed")
            }
        };
        if let Some(short_id) = short_id {
            entry.short_id = short_id.to_owned();
        }
        if let Some(id) = id {
            entry.id = Some(id.to_owned());
        }
    }
}

/// A `savedExperiences` item as the seed writes it (a short id) or as an object.
#[derive(Deserialize)]
#[serde(untagged)]
enum SavedItem {
    Id(String),
    Full(SavedExperience),
}

impl From<SavedItem> for SavedExperience {
    fn from(item: SavedItem) -> Self {
        match item {
            SavedItem::Id(short_id) => SavedExperience {
                short_id,
                id: None,
                reason: SavedReason::Saved,
                goal: None,
                quality_score: None,
                success_rate: None,
                total_reports: None,
                saved_at: None,
                history: Vec::new(),
            },
            SavedItem::Full(full) => full,
        }
    }
}

/// The session the CLI acts on by default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CurrentSession {
    pub(crate) id: String,
    pub(crate) short_id: String,
    pub(crate) topic: String,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "rfc3339::option")]
    pub(crate) opened_at: Option<Ts>,
    /// When the last entry was logged (the daemon's `session` drive).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "rfc3339::option")]
    pub(crate) last_entry_at: Option<Ts>,
}

/// The state file of one profile.
#[derive(Debug, Clone)]
pub(crate) struct StateFile {
    dir: PathBuf,
    notices: Notices,
}

impl StateFile {
    /// The state in `dir`; what goes wrong with it is told to `notices`.
    pub(crate) fn new(dir: PathBuf, notices: Notices) -> Self {
        Self { dir, notices }
    }

    /// `state.json`.
    pub(crate) fn path(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    /// The directory of this profile's state.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Reads the file for a command that will not write it: nothing is
    /// moved or rewritten. Entries that do not parse are left out (and
    /// reported); a file that is not JSON is an error.
    fn read_only(&self) -> anyhow::Result<State> {
        let path = self.path();
        let Some(text) = self.text()? else {
            return Ok(State::default());
        };
        match parse(&text) {
            Ok((state, bad)) => {
                if !bad.is_empty() {
                    self.notices.push(format!(
                        "{} has {} entr{} that do{} not parse, ignored here and left as they are ({}); \
                         the next command that changes state sets them aside, where 'plurum outcome failed' lists them",
                        path.display(),
                        bad.len(),
                        if bad.len() == 1 { "y" } else { "ies" },
                        if bad.len() == 1 { "es" } else { "" },
                        describe(&bad)
                    ));
                }
                Ok(state)
            }
            Err(why) => Err(CliError::new(
                exit::ERROR,
                format!("{} is not a JSON object ({why}); it was left as it is", path.display()),
            )
            .hint("the next command that changes state (e.g. 'plurum heartbeat') moves it aside and starts afresh; or fix it in an editor")
            .into()),
        }
    }

    /// Reads the file for a change: entries that do not parse are set aside
    /// in `quarantinedEntries`; a file that is not JSON is moved aside.
    fn read_for_change(&self) -> anyhow::Result<State> {
        let path = self.path();
        let Some(text) = self.text()? else {
            return Ok(State::default());
        };
        match parse(&text) {
            Ok((mut state, bad)) => {
                if !bad.is_empty() {
                    self.notices.push(format!(
                        "set aside {} entr{} of {} that do{} not parse ({}); 'plurum outcome failed' lists {}",
                        bad.len(),
                        if bad.len() == 1 { "y" } else { "ies" },
                        path.display(),
                        if bad.len() == 1 { "es" } else { "" },
                        describe(&bad),
                        if bad.len() == 1 { "it" } else { "them" },
                    ));
                    state.quarantined_entries.extend(bad);
                }
                Ok(state)
            }
            Err(why) => {
                let aside = paths::move_aside(&path)?;
                self.notices.push(format!(
                    "{} is not a JSON object ({why}); moved it to {} and started a fresh state",
                    path.display(),
                    aside.display()
                ));
                Ok(State::default())
            }
        }
    }

    fn text(&self) -> anyhow::Result<Option<String>> {
        let path = self.path();
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("could not read {}", path.display())),
        }
    }

    /// Reads the state (under the lock), changing nothing on disk.
    pub(crate) fn load(&self) -> anyhow::Result<State> {
        blocking(|| {
            let _lock = paths::lock(&self.dir.join("state.lock"))?;
            self.read_only()
        })
    }

    /// Reads the state for a command that goes on to change it: what does
    /// not parse is set aside now (see the module docs), so the command
    /// works on a clean state.
    pub(crate) fn load_for_change(&self) -> anyhow::Result<State> {
        self.update(|state| Ok(state.clone()))
    }

    /// Changes the state: lock, read, `change`, write atomically, unlock.
    /// Nothing is written when `change` fails.
    pub(crate) fn update<T>(&self, change: impl FnOnce(&mut State) -> anyhow::Result<T>) -> anyhow::Result<T> {
        blocking(|| {
            let _lock = paths::lock(&self.dir.join("state.lock"))?;
            let mut state = self.read_for_change()?;
            let result = change(&mut state)?;
            state.schema_version = SCHEMA_VERSION;
            let text = serde_json::to_vec_pretty(&state).context("could not encode the state")?;
            paths::write_atomic(&self.path(), &text)?;
            Ok(result)
        })
    }
}

/// Runs `work`, which may wait for the state's file lock, telling a
/// multi-threaded tokio runtime first (so the other tasks of this worker,
/// such as concurrent `plurum mcp` tool calls, move to another thread
/// instead of waiting with it).
fn blocking<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
}

/// What went wrong with the state files during one run, for the end of the
/// command (which then exits non-zero). Clones share the list; each notice
/// is kept once.
#[derive(Debug, Clone, Default)]
pub(crate) struct Notices(Arc<Mutex<Vec<String>>>);

impl Notices {
    pub(crate) fn push(&self, text: String) {
        let mut notices = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if !notices.contains(&text) {
            notices.push(text);
        }
    }

    /// The notices so far (emptied).
    pub(crate) fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

fn describe(bad: &[Quarantined]) -> String {
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

fn parse_value(value: Value) -> Result<(State, Vec<Quarantined>), String> {
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

/// A timestamp in a state file (written as RFC 3339).
pub(crate) type Ts = time::OffsetDateTime;

/// Now.
pub(crate) fn now() -> Ts {
    time::OffsetDateTime::now_utc()
}

/// A timestamp as RFC 3339 (log lines, messages).
pub(crate) fn rfc3339_text(ts: Ts) -> String {
    ts.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn why_an_experience_is_saved_survives_and_only_grows() {
        // The seed's bare short ids were saved by hand; our own entries
        // without a reason were search hits.
        let (state, bad) =
            parse(r#"{"savedExperiences": ["Ab3xKp9z", {"short_id": "cdf0e8a3", "quality_score": 0.5}]}"#).unwrap();
        assert!(bad.is_empty());
        assert_eq!(state.saved_experiences[0].reason, SavedReason::Saved);
        assert_eq!(state.saved_experiences[1].reason, SavedReason::Suggested);
        let mut state = state;
        state.rely_on(
            "cdf0e8a3",
            None,
            Some("e6fbd266-218d-472f-8598-672ba81575b2"),
            SavedReason::Acquired,
        );
        assert_eq!(state.saved_experiences[1].reason, SavedReason::Acquired);
        state.rely_on(
            "e6fbd266-218d-472f-8598-672ba81575b2",
            None,
            None,
            SavedReason::Reported,
        );
        assert_eq!(state.saved_experiences.len(), 2, "named by its UUID, the same entry");
        assert_eq!(state.saved_experiences[1].reason, SavedReason::Reported);
        state.rely_on("Ab3xKp9z", None, None, SavedReason::Acquired);
        assert_eq!(
            state.saved_experiences[0].reason,
            SavedReason::Saved,
            "an explicit save stays"
        );
        let text = serde_json::to_string(&state).unwrap();
        let (again, _) = parse(&text).unwrap();
        assert_eq!(again.saved_experiences, state.saved_experiences);
    }

    #[test]
    fn a_new_current_session_remembers_the_one_before() {
        let session = |n: u32| CurrentSession {
            id: format!("00000000-0000-4000-8000-{n:012}"),
            short_id: format!("{n:08}"),
            topic: format!("topic {n}"),
            opened_at: None,
            last_entry_at: None,
        };
        let mut state = State::default();
        assert!(state.make_current(session(1)).is_none());
        assert_eq!(state.make_current(session(2)).unwrap().short_id, "00000001");
        assert!(
            state.make_current(session(2)).is_none(),
            "the same one again is no change"
        );
        for n in 3..100 {
            state.make_current(session(n));
        }
        assert_eq!(state.opened_sessions.len(), OPENED_SESSIONS);
        assert_eq!(state.opened_sessions.last().unwrap().short_id, "00000099");
    }

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
    fn a_file_that_is_not_json_is_left_alone_by_readers_and_moved_aside_by_writers() {
        let dir = tempfile::tempdir().unwrap();
        let file = StateFile::new(dir.path().to_owned(), Notices::default());
        std::fs::write(file.path(), "{ not json").unwrap();
        let error = file.load().unwrap_err();
        assert!(error.to_string().contains("left as it is"), "{error}");
        assert_eq!(std::fs::read_to_string(file.path()).unwrap(), "{ not json");
        let state = file.load_for_change().unwrap();
        assert!(state.pending_outcome_reports.is_empty());
        let aside: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with("state.json.corrupt-"))
            .collect();
        assert_eq!(aside.len(), 1);
        assert_eq!(std::fs::read_to_string(aside[0].path()).unwrap(), "{ not json");
        assert!(file.notices.take().iter().any(|n| n.contains("moved it to")));
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

    #[test]
    fn updates_are_atomic_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let file = StateFile::new(dir.path().join("profile"), Notices::default());
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
