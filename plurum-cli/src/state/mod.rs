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

mod alerts;
mod events;
mod parse;
mod reports;
mod saved;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub(crate) use alerts::{Alert, acknowledge as acknowledge_alerts, raise as raise_alert};
pub(crate) use events::KeptEvent;
pub(crate) use parse::parse;
use parse::{describe, parse_value};
pub(crate) use reports::{FailedReport, PendingReport, Quarantined};
pub(crate) use saved::{Reading, SavedExperience, SavedReason};

use time::serde::rfc3339;

use crate::exit::{self, CliError};
use crate::paths;

/// The current schema version (docs/state.md lists every version and what
/// it adds; a test holds the two together). 2: inbox events are typed, with
/// an id of their own and when they were kept and acknowledged.
pub(crate) const SCHEMA_VERSION: u32 = 2;

/// The whole file. It deserializes strictly (every entry must parse); the
/// state file itself is read leniently with [`parse`].
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct State {
    /// The schema version of this file.
    pub(crate) schema_version: u32,
    /// When the last heartbeat completed (RFC 3339), as HEARTBEAT.md (docs/seeds.md) keeps it.
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
    /// What the human should hear about, until acknowledged.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) needs_human: Vec<Alert>,
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
            needs_human: Vec::new(),
            quarantined_entries: Vec::new(),
            other: Map::new(),
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

    /// Counts a report this agent delivered on `given` (a short id or a
    /// UUID), so the next reading of its scores knows the change is ours.
    pub(crate) fn count_own_report(&mut self, given: &str) {
        if let Some(saved) = self.saved_experiences.iter_mut().find(|s| s.named(given)) {
            saved.own_reports_unread += 1;
        }
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
    /// Fields a newer plurum wrote, kept as they are when this one rewrites the entry.
    #[serde(flatten)]
    pub(crate) other: serde_json::Map<String, serde_json::Value>,
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
        match crate::files::read_regular(&path, crate::files::MAX_STATE) {
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
            if state.schema_version > SCHEMA_VERSION {
                return Err(newer_schema(&self.path(), state.schema_version).into());
            }
            let result = change(&mut state)?;
            state.schema_version = SCHEMA_VERSION;
            let text = serde_json::to_vec_pretty(&state).context("could not encode the state")?;
            paths::write_atomic(&self.path(), &text)?;
            Ok(result)
        })
    }
}

/// A state file written by a newer plurum: read, never rewritten (this
/// binary would drop what the newer one added). docs/state.md lists the
/// versions.
fn newer_schema(path: &Path, version: u32) -> CliError {
    CliError::new(
        exit::ERROR,
        format!(
            "{} was written by a newer plurum (schemaVersion {version}; this plurum {} knows up to {SCHEMA_VERSION}): it was not changed; use the newer plurum (and restart a daemon that runs this one)",
            path.display(),
            env!("CARGO_PKG_VERSION")
        ),
    )
    .code("state_newer")
    .hint("update plurum: commands that only read still work with this one")
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
    fn a_new_current_session_remembers_the_one_before() {
        let session = |n: u32| CurrentSession {
            other: Default::default(),
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
