//! The journal of writes: a session entry is written to `journal.jsonl` in
//! the profile's state directory (0600, one JSON line per fact, appended
//! and synced) before it is sent, and leaves the journal's pending set only
//! once the server has it, so nothing an agent logs is lost to the network.
//!
//! The lines:
//!
//! * `{"write": {"seq", "at", "op": "session_log", "session_id",
//!   "session_short_id", "entry"}}`: a write, recorded before anything is
//!   sent;
//! * `{"sent": SEQ, "at"}`: written before each attempt to send it (the
//!   in-flight marker);
//! * `{"done": SEQ, "result": "delivered" | "found" | "failed" | "refused",
//!   "ordinal"?, "reason"?, "at"}`: it left the pending set (`found`: its
//!   answer had been lost, and reading the session back showed it there;
//!   `failed`: the API refused it for good, listed by `plurum sync`;
//!   `refused`: refused while the command that made it waited, which
//!   reported the error itself).
//!
//! Exactly once without idempotency keys: a write with an in-flight marker
//! (its answer was lost, or the process died after sending) is never sent
//! blindly again: the session is read back first, and an entry of the same
//! kind and content with an ordinal after the last one confirmed in this
//! journal counts as delivered. Entries of one session go in the order they
//! were logged, one at a time; a session whose write stays pending holds
//! the rest of its writes back. One deliverer at a time per profile
//! (`journal.deliver.lock`, waited for up to 3 s); the journal itself is changed under
//! `journal.lock`. A line torn by a crash is skipped. When nothing is
//! pending, the file is emptied (keeping the last confirmed ordinal of each
//! session).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use plurum_sdk::Client;
use plurum_sdk::types::{CloseSession, Contribute, Entry, ExperienceStatus, SessionStatus, VoteType};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::state::{now, rfc3339_text};

/// The journal's file name in the profile's state directory.
pub(crate) const FILE: &str = "journal.jsonl";

/// A write kept in the journal.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct Write {
    pub(crate) seq: u64,
    pub(crate) at: String,
    #[serde(flatten)]
    pub(crate) op: Op,
}

/// What the write does.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "op", rename_all = "snake_case")]
// The variants' names are the ops' names in the file (`session_log`, ...),
// room kept for `vote`, `contribute` and `experience_*`.
#[allow(clippy::enum_variant_names)]
pub(crate) enum Op {
    /// `POST /sessions`, made while the server could not take it: the
    /// session is known by `local_id` (`local-` and 8 hex characters, a
    /// form no short id has) until the open is delivered and the local id
    /// is bound to the server's.
    SessionOpen {
        local_id: String,
        /// The body as sent: `{topic, domain?, tools_used, visibility?}`.
        body: Value,
    },
    /// `POST /sessions/{id}/entries`.
    SessionLog {
        session_id: String,
        session_short_id: String,
        /// The entry as sent: `{entry_type, content}`.
        entry: Value,
    },
    /// `PATCH /sessions/{id}`: it sets the tools and domain, so sending it
    /// again sets the same values (in order within its session).
    SessionUpdate {
        session_id: String,
        session_short_id: String,
        /// The body as sent: `{tools_used?, domain?}`.
        body: Value,
    },
    /// `POST /sessions/{id}/close`.
    SessionClose {
        session_id: String,
        session_short_id: String,
        /// The body as sent: `{outcome?}`.
        body: Value,
    },
    /// `POST /sessions/{id}/abandon`.
    SessionAbandon {
        session_id: String,
        session_short_id: String,
    },
    /// `POST /sessions/{id}/contribute`, to another agent's session. It
    /// cannot be read back (only the session's owner lists contributions):
    /// one whose answer was lost is marked unconfirmed, never sent again.
    Contribute {
        session_id: String,
        session_short_id: String,
        /// The body as sent: `{content, contribution_type}`.
        body: Value,
    },
    /// `POST /experiences`, made while the server could not take it (or
    /// through the journal as every create is): the experience is known
    /// by `local_id` until the create is delivered and the id is bound to
    /// the server's. An answer lost is checked among the agent's drafts
    /// (same goal, created after the write minus a clock-skew allowance).
    ExperienceCreate {
        local_id: String,
        /// The body as sent (the API's `CreateExperience`).
        body: Value,
    },
    /// `POST /experiences/{id}/publish` (refused a second time: an answer
    /// lost is checked by reading the experience's status).
    ExperiencePublish {
        /// The experience as given (short id or UUID).
        experience: String,
    },
    /// `POST /experiences/{id}/archive`: an upsert, simply sent again.
    ExperienceArchive {
        /// The experience as given (short id or UUID).
        experience: String,
    },
    /// `POST /experiences/{id}/vote`: an upsert, simply sent again.
    Vote {
        /// The experience as given (short id or UUID).
        experience: String,
        direction: String,
    },
}

impl Op {
    /// The session the write belongs to, if any.
    pub(crate) fn session_of(&self) -> Option<&str> {
        match self {
            Op::SessionLog { session_id, .. }
            | Op::SessionUpdate { session_id, .. }
            | Op::SessionClose { session_id, .. }
            | Op::SessionAbandon { session_id, .. }
            | Op::Contribute { session_id, .. } => Some(session_id),
            Op::SessionOpen { local_id, .. } => Some(local_id),
            Op::Vote { .. }
            | Op::ExperiencePublish { .. }
            | Op::ExperienceArchive { .. }
            | Op::ExperienceCreate { .. } => None,
        }
    }

    /// The queue the write goes in (in order within it): its session's, or
    /// its experience's.
    pub(crate) fn session(&self) -> &str {
        match self {
            Op::Vote { experience, .. }
            | Op::ExperiencePublish { experience }
            | Op::ExperienceArchive { experience } => experience,
            Op::ExperienceCreate { local_id, .. } => local_id,
            _ => self.session_of().unwrap_or_default(),
        }
    }

    fn session_short_id(&self) -> &str {
        match self {
            Op::SessionLog { session_short_id, .. }
            | Op::SessionUpdate { session_short_id, .. }
            | Op::SessionClose { session_short_id, .. }
            | Op::SessionAbandon { session_short_id, .. }
            | Op::Contribute { session_short_id, .. } => session_short_id,
            Op::SessionOpen { local_id, .. } | Op::ExperienceCreate { local_id, .. } => local_id,
            Op::Vote { experience, .. }
            | Op::ExperiencePublish { experience }
            | Op::ExperienceArchive { experience } => experience,
        }
    }

    /// Whether it ends its session (nothing may follow it).
    pub(crate) fn ends_session(&self) -> bool {
        matches!(self, Op::SessionClose { .. } | Op::SessionAbandon { .. })
    }

    /// The kind, as `plurum sync` counts them.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Op::SessionLog { .. } => "session_log",
            Op::SessionUpdate { .. } => "session_update",
            Op::SessionClose { .. } => "session_close",
            Op::SessionAbandon { .. } => "session_abandon",
            Op::Contribute { .. } => "contribute",
            Op::SessionOpen { .. } => "session_open",
            Op::ExperiencePublish { .. } => "experience_publish",
            Op::ExperienceArchive { .. } => "experience_archive",
            Op::Vote { .. } => "vote",
            Op::ExperienceCreate { .. } => "experience_create",
        }
    }
}

/// A write not yet delivered.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub(crate) write: Write,
    /// Whether it may have been sent (its answer never came).
    pub(crate) in_flight: bool,
    /// How many times it was sent.
    pub(crate) attempts: u32,
}

/// A write the API refused for good.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Failed {
    pub(crate) seq: u64,
    pub(crate) op: &'static str,
    pub(crate) session_short_id: String,
    pub(crate) reason: String,
    pub(crate) at: String,
}

/// What the journal holds.
#[derive(Debug, Default)]
pub(crate) struct Contents {
    pub(crate) pending: Vec<Pending>,
    pub(crate) failed: Vec<Failed>,
    /// Contributions whose answer was lost: maybe on the server, never
    /// sent again (shown until `sync --drop-failed`).
    pub(crate) unconfirmed: Vec<Failed>,
    /// The highest ordinal confirmed per session.
    pub(crate) confirmed: BTreeMap<String, i64>,
    /// Local session ids bound to the server's: `(id, short id)`.
    pub(crate) bound: BTreeMap<String, (String, String)>,
    next_seq: u64,
    /// Lines that do not parse, by index: `(index, torn)` (torn: cut short
    /// by a crash, a harmless remnant; otherwise damaged).
    corrupt: Vec<(usize, bool)>,
}

/// The profile's journal.
#[derive(Debug, Clone)]
pub(crate) struct Journal {
    dir: PathBuf,
    /// Where a command hears that lines were set aside (its run's notices).
    notices: crate::state::Notices,
}

/// The file that keeps the journal's lines that did not parse.
pub(crate) const CORRUPT_FILE: &str = "journal.corrupt.jsonl";

/// The document of a write kept in the journal (`queued` in every
/// command's `--json`): `{seq, reason, at}`, plus `local_id` for an open
/// or a create made offline.
pub(crate) fn queued(write: &Write, reason: &str) -> Value {
    let mut value = json!({"seq": write.seq, "reason": reason, "at": write.at});
    if let Op::SessionOpen { local_id, .. } | Op::ExperienceCreate { local_id, .. } = &write.op {
        value["local_id"] = json!(local_id);
    }
    value
}

/// One line of the file.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Line {
    Write {
        write: Write,
    },
    Sent {
        sent: u64,
    },
    /// The send after the last `sent` never left (the connection was
    /// refused): not in flight after all.
    Unsent {
        unsent: u64,
    },
    Done {
        done: u64,
        result: String,
        #[serde(default)]
        ordinal: Option<i64>,
        #[serde(default)]
        reason: Option<String>,
        #[serde(default)]
        at: Option<String>,
    },
    Bound {
        bound: String,
        id: String,
        short_id: String,
    },
    Confirmed {
        confirmed: BTreeMap<String, i64>,
        #[serde(default)]
        next_seq: u64,
        #[serde(default)]
        bound: BTreeMap<String, (String, String)>,
    },
}

impl Contents {
    /// How many lines do not parse for another reason than a crash's tear.
    pub(crate) fn damaged(&self) -> usize {
        self.corrupt.iter().filter(|c| !c.1).count()
    }

    /// The queue a session's writes go in: a bound local id's server id,
    /// else the id itself.
    pub(crate) fn key(&self, session: &str) -> String {
        self.bound
            .get(session)
            .map_or_else(|| session.to_owned(), |b| b.0.clone())
    }

    /// Whether writes of `session` (by any of its ids) wait.
    pub(crate) fn waits_for(&self, session: &str) -> bool {
        let key = self.key(session);
        self.pending.iter().any(|p| self.key(p.write.op.session()) == key)
    }
}

impl Journal {
    #[cfg(test)]
    pub(crate) fn new(dir: &Path) -> Self {
        Self::with_notices(dir, crate::state::Notices::default())
    }

    /// A journal whose set-aside lines are told to a run's notices.
    pub(crate) fn with_notices(dir: &Path, notices: crate::state::Notices) -> Self {
        Self {
            dir: dir.to_path_buf(),
            notices,
        }
    }

    fn path(&self) -> PathBuf {
        self.dir.join(FILE)
    }

    fn lock(&self) -> anyhow::Result<std::fs::File> {
        crate::paths::lock(&self.dir.join("journal.lock"))
    }

    /// Reads the journal (a missing file is an empty journal).
    pub(crate) fn read(&self) -> anyhow::Result<Contents> {
        let text = match crate::files::read_regular_string(&self.path(), crate::files::MAX_STATE) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Contents::default()),
            Err(e) => return Err(e).with_context(|| format!("could not read {}", self.path().display())),
        };
        let mut writes: BTreeMap<u64, Pending> = BTreeMap::new();
        let mut contents = Contents::default();
        let mut sessions: BTreeMap<u64, (String, String)> = BTreeMap::new();
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            // A line torn by a crash does not parse, nor does a damaged
            // one: skipped here, set aside by the next change ([`Self::tidy`]).
            let line = match serde_json::from_str::<Line>(line) {
                Ok(line) => line,
                Err(e) => {
                    contents.corrupt.push((index, e.is_eof()));
                    continue;
                }
            };
            match line {
                Line::Write { write } => {
                    contents.next_seq = contents.next_seq.max(write.seq + 1);
                    sessions.insert(
                        write.seq,
                        (write.op.session().to_owned(), write.op.session_short_id().to_owned()),
                    );
                    writes.insert(
                        write.seq,
                        Pending {
                            write,
                            in_flight: false,
                            attempts: 0,
                        },
                    );
                }
                Line::Sent { sent } => {
                    if let Some(pending) = writes.get_mut(&sent) {
                        pending.in_flight = true;
                        pending.attempts += 1;
                    }
                }
                Line::Unsent { unsent } => {
                    if let Some(pending) = writes.get_mut(&unsent) {
                        pending.in_flight = false;
                    }
                }
                Line::Done {
                    done,
                    result,
                    ordinal,
                    reason,
                    at,
                } => {
                    let Some(pending) = writes.remove(&done) else { continue };
                    let session = pending.write.op.session().to_owned();
                    if let Some(ordinal) = ordinal {
                        let seen = contents.confirmed.entry(session).or_default();
                        *seen = (*seen).max(ordinal);
                    }
                    if result == "unconfirmed" {
                        let short = sessions.get(&done).map(|s| s.1.clone()).unwrap_or_default();
                        contents.unconfirmed.push(Failed {
                            seq: done,
                            op: pending.write.op.kind(),
                            session_short_id: short,
                            reason: reason.clone().unwrap_or_default(),
                            at: at.clone().unwrap_or_default(),
                        });
                    }
                    if result == "failed" {
                        let short = sessions.get(&done).map(|s| s.1.clone()).unwrap_or_default();
                        contents.failed.push(Failed {
                            seq: done,
                            op: pending.write.op.kind(),
                            session_short_id: short,
                            reason: reason.unwrap_or_default(),
                            at: at.unwrap_or_default(),
                        });
                    }
                }
                Line::Bound { bound, id, short_id } => {
                    contents.bound.insert(bound, (id, short_id));
                }
                Line::Confirmed {
                    confirmed,
                    next_seq,
                    bound,
                } => {
                    contents.bound.extend(bound);
                    contents.next_seq = contents.next_seq.max(next_seq);
                    for (session, ordinal) in confirmed {
                        let seen = contents.confirmed.entry(session).or_default();
                        *seen = (*seen).max(ordinal);
                    }
                }
            }
        }
        // Ordinals confirmed under a local id count for the server's id it
        // is bound to (the read-back of its later writes starts after them).
        for (local, (id, _)) in &contents.bound {
            if let Some(ordinal) = contents.confirmed.remove(local) {
                let seen = contents.confirmed.entry(id.clone()).or_default();
                *seen = (*seen).max(ordinal);
            }
        }
        contents.pending = writes.into_values().collect();
        Ok(contents)
    }

    /// Appends lines and syncs them to disk.
    fn append(&self, lines: &[Value]) -> anyhow::Result<()> {
        self.append_with(lines, true)
    }

    /// Appends lines, synced to disk or not: a `done` line needs no sync
    /// (lost in a crash, its write looks in flight, and the read-back
    /// finds it delivered), a `write` and a `sent` line do.
    fn append_with(&self, lines: &[Value], sync: bool) -> anyhow::Result<()> {
        crate::paths::create_private_dir(&self.dir)?;
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true).read(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut file = options
            .open(self.path())
            .with_context(|| format!("could not open {}", self.path().display()))?;
        let mut text = String::new();
        // A line torn by a crash has no end: ours start on a line of their own.
        if file.metadata().map(|m| m.len()).unwrap_or(0) > 0 {
            use std::io::{Read as _, Seek as _};
            let mut last = [0u8; 1];
            if file.seek(std::io::SeekFrom::End(-1)).is_ok() && file.read_exact(&mut last).is_ok() && last[0] != b'\n' {
                text.push('\n');
            }
        }
        for line in lines {
            text.push_str(&line.to_string());
            text.push('\n');
        }
        file.write_all(text.as_bytes())
            .and_then(|()| if sync { file.sync_data() } else { Ok(()) })
            .with_context(|| format!("could not write {}", self.path().display()))
    }

    /// A session with writes in the journal, by its id or short id:
    /// `(id, short id)`.
    pub(crate) fn known_session(&self, given: &str) -> anyhow::Result<Option<(String, String)>> {
        Ok(self
            .read()?
            .pending
            .iter()
            .filter(|p| p.write.op.session_of().is_some())
            .map(|p| (p.write.op.session(), p.write.op.session_short_id()))
            .find(|(id, short)| *id == given || *short == given)
            .map(|(id, short)| (id.to_owned(), short.to_owned())))
    }

    /// Binds a local session id to the server's, and makes the current
    /// session the real one if it was the local one.
    fn bind(&self, local: &str, id: &str, short_id: &str) -> anyhow::Result<()> {
        {
            let _lock = self.lock()?;
            self.append(&[json!({"bound": local, "id": id, "short_id": short_id})])?;
        }
        let state = crate::state::StateFile::new(self.dir.clone(), crate::state::Notices::default());
        state.update(|state| {
            if let Some(current) = state.current_session.as_mut()
                && current.id == local
            {
                current.id = id.to_owned();
                current.short_id = short_id.to_owned();
            }
            Ok(())
        })
    }

    /// What a local session id stands for now: the server's `(id, short
    /// id)` once bound, else itself while its open waits.
    pub(crate) fn local_session(&self, local: &str) -> anyhow::Result<Option<(String, String)>> {
        let contents = self.read()?;
        if let Some(bound) = contents.bound.get(local) {
            return Ok(Some(bound.clone()));
        }
        Ok(contents
            .pending
            .iter()
            .any(|p| p.write.op.session() == local)
            .then(|| (local.to_owned(), local.to_owned())))
    }

    /// Records a write; returns it with its sequence number. It costs an
    /// append and a look at the file's first and last writes, whatever
    /// the journal holds.
    pub(crate) fn record(&self, op: Op) -> anyhow::Result<Write> {
        let _lock = self.lock()?;
        let write = Write {
            seq: self.next_seq()?.max(1),
            at: rfc3339_text(now()),
            op,
        };
        self.append(&[json!({ "write": write })])?;
        Ok(write)
    }

    /// The next sequence number: after the last write line (writes are
    /// appended in order under the lock), or the first line's
    /// `confirmed.next_seq` (a rewritten file starts with it), whichever
    /// is higher. Called under the lock.
    fn next_seq(&self) -> anyhow::Result<u64> {
        let text = match crate::files::read_regular_string(&self.path(), crate::files::MAX_STATE) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(1),
            Err(e) => return Err(e).with_context(|| format!("could not read {}", self.path().display())),
        };
        let mut next = 1;
        if let Some(Ok(Line::Confirmed { next_seq, .. })) = text.lines().next().map(serde_json::from_str::<Line>) {
            next = next_seq;
        }
        // Each write line holds its seq; done/sent lines name seqs already
        // written. A damaged line is passed over.
        for line in text.lines().rev() {
            if let Ok(Line::Write { write }) = serde_json::from_str::<Line>(line) {
                next = next.max(write.seq + 1);
                break;
            }
        }
        Ok(next)
    }

    /// Sets aside the lines that do not parse: a damaged one goes to
    /// `journal.corrupt.jsonl` (0600) and the run is told (it exits
    /// non-zero, as for a damaged state.json); a torn one, a crash's
    /// harmless remnant, goes there silently. Nothing else changes.
    pub(crate) fn tidy(&self) -> anyhow::Result<()> {
        let _lock = self.lock()?;
        let contents = self.read()?;
        if contents.corrupt.is_empty() {
            return Ok(());
        }
        let text = crate::files::read_regular_string(&self.path(), crate::files::MAX_STATE)
            .with_context(|| format!("could not read {}", self.path().display()))?;
        let aside: std::collections::BTreeSet<usize> = contents.corrupt.iter().map(|c| c.0).collect();
        let (mut kept, mut moved) = (String::new(), String::new());
        for (index, line) in text.lines().enumerate() {
            let to = if aside.contains(&index) { &mut moved } else { &mut kept };
            to.push_str(line);
            to.push('\n');
        }
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let corrupt = self.dir.join(CORRUPT_FILE);
        options
            .open(&corrupt)
            .and_then(|mut file| file.write_all(moved.as_bytes()).and_then(|()| file.sync_data()))
            .with_context(|| format!("could not write {}", corrupt.display()))?;
        crate::paths::write_atomic(&self.path(), kept.as_bytes())?;
        let damaged = contents.corrupt.iter().filter(|c| !c.1).count();
        if damaged > 0 {
            self.notices.push(format!(
                "set aside {damaged} line{} of {} that do{} not parse into {}: the writes {} described are not sent; read {} and redo what is missing",
                if damaged == 1 { "" } else { "s" },
                self.path().display(),
                if damaged == 1 { "es" } else { "" },
                corrupt.display(),
                if damaged == 1 { "it" } else { "they" },
                if damaged == 1 { "it" } else { "them" },
            ));
        }
        Ok(())
    }

    fn mark_sent(&self, seq: u64) -> anyhow::Result<()> {
        let _lock = self.lock()?;
        self.append(&[json!({"sent": seq, "at": rfc3339_text(now())})])
    }

    fn mark_done(&self, seq: u64, result: &str, ordinal: Option<i64>, reason: Option<&str>) -> anyhow::Result<()> {
        let _lock = self.lock()?;
        let mut line = json!({"done": seq, "result": result, "at": rfc3339_text(now())});
        if let Some(ordinal) = ordinal {
            line["ordinal"] = json!(ordinal);
        }
        if let Some(reason) = reason {
            line["reason"] = json!(crate::logging::scrub(reason));
        }
        self.append_with(&[line], false)
    }

    /// Empties the file when nothing is pending and nothing failed is
    /// listed (keeping what the read-back needs).
    fn compact_if_settled(&self) -> anyhow::Result<()> {
        let _lock = self.lock()?;
        let contents = self.read()?;
        if !contents.pending.is_empty() || !contents.failed.is_empty() || !contents.unconfirmed.is_empty() {
            return Ok(());
        }
        let line = json!({"confirmed": contents.confirmed, "next_seq": contents.next_seq, "bound": contents.bound});
        crate::paths::write_atomic(&self.path(), format!("{line}\n").as_bytes())
    }

    /// Forgets the failed writes (after they were shown and dealt with).
    pub(crate) fn drop_failed(&self) -> anyhow::Result<usize> {
        self.tidy()?;
        let _lock = self.lock()?;
        let contents = self.read()?;
        let count = contents.failed.len() + contents.unconfirmed.len();
        let lines: Vec<Value> = contents
            .failed
            .iter()
            .chain(&contents.unconfirmed)
            .map(|f| json!({"done": f.seq, "result": "dropped", "at": rfc3339_text(now())}))
            .collect();
        if lines.is_empty() {
            return Ok(0);
        }
        // Rewritten without them: the pending writes and their markers stay.
        let mut text = String::new();
        text.push_str(
            &json!({"confirmed": contents.confirmed, "next_seq": contents.next_seq, "bound": contents.bound})
                .to_string(),
        );
        text.push('\n');
        for pending in &contents.pending {
            text.push_str(&json!({ "write": pending.write }).to_string());
            text.push('\n');
            for _ in 0..pending.attempts {
                text.push_str(&json!({"sent": pending.write.seq}).to_string());
                text.push('\n');
            }
        }
        crate::paths::write_atomic(&self.path(), text.as_bytes())?;
        Ok(count)
    }
}

/// What became of one write in a delivery.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// On the server now: sent (with the server's answer), or found there
    /// by the read-back (`None`).
    Delivered { answer: Option<Value> },
    /// Still pending (why).
    Queued(String),
    /// Still pending: the server refused the connection (nothing listens).
    Down(String),
    /// A contribution whose answer was lost (why): maybe on the server,
    /// never sent again.
    Unconfirmed(String),
    /// The API refused it for good.
    Failed(plurum_sdk::Error),
    /// The key was refused: delivery stopped.
    Unauthorized(Option<plurum_sdk::Error>),
}

/// A delivery's summary (`plurum sync`, the heartbeat).
#[derive(Debug, Default, Clone, Serialize)]
pub(crate) struct Summary {
    pub(crate) pending_before: usize,
    pub(crate) delivered: usize,
    pub(crate) found: usize,
    pub(crate) pending: usize,
    pub(crate) failed: usize,
    pub(crate) unauthorized: bool,
    /// Why writes stay pending (one line per distinct reason).
    pub(crate) reasons: Vec<String>,
    /// Per kind: `{delivered, pending, failed}`.
    pub(crate) by_kind: BTreeMap<String, BTreeMap<String, usize>>,
    /// Whether another deliverer held the journal (nothing was sent).
    pub(crate) busy: bool,
    /// Whether the server refused a connection (nothing listens there).
    pub(crate) refused: bool,
    /// Contributions whose answer was lost in this delivery.
    pub(crate) unconfirmed: usize,
}

/// How long a delivery waits for another one to finish before leaving the
/// work to it (a file lock has no wake-up to await: it is polled).
const DELIVERER_PATIENCE: std::time::Duration = std::time::Duration::from_secs(3);

/// Delivers the pending writes of every session (sessions side by side,
/// each in order), or of `only` one session. `mine`, if given, is the
/// write whose outcome the caller waits for.
pub(crate) async fn deliver(
    journal: &Journal,
    client: &Client,
    only: Option<&str>,
    mine: Option<u64>,
) -> anyhow::Result<(Summary, Option<Outcome>)> {
    deliver_with(journal, client, only, mine, None).await
}

/// [`deliver`], moving `progress` by one for each write settled or held.
pub(crate) async fn deliver_with(
    journal: &Journal,
    client: &Client,
    only: Option<&str>,
    mine: Option<u64>,
    progress: Option<&indicatif::ProgressBar>,
) -> anyhow::Result<(Summary, Option<Outcome>)> {
    // Another deliverer (a command's own write, a tool call beside it) is
    // usually done in a moment: wait for it a little, then leave the work
    // to it.
    let lock = journal.dir.join("journal.deliver.lock");
    let mut deliverer = crate::paths::try_lock(&lock)?;
    let patience = std::time::Instant::now() + DELIVERER_PATIENCE;
    while deliverer.is_none() && std::time::Instant::now() < patience {
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        deliverer = crate::paths::try_lock(&lock)?;
    }
    let Some(_deliverer) = deliverer else {
        let contents = journal.read()?;
        let summary = Summary {
            pending_before: contents.pending.len(),
            pending: contents.pending.len(),
            failed: contents.failed.len(),
            busy: true,
            reasons: vec!["another plurum is delivering the journal".to_owned()],
            ..Summary::default()
        };
        return Ok((summary, None));
    };
    journal.tidy()?;
    let contents = journal.read()?;
    // The caller's write was delivered meanwhile by the deliverer it waited
    // for (it is neither pending nor listed as refused or unconfirmed).
    let delivered_by_another = mine.filter(|seq| {
        !contents.pending.iter().any(|p| p.write.seq == *seq)
            && !contents
                .failed
                .iter()
                .chain(&contents.unconfirmed)
                .any(|f| f.seq == *seq)
    });
    let mut sessions: BTreeMap<String, Vec<Pending>> = BTreeMap::new();
    let only = only.map(|s| contents.key(s));
    for pending in contents.pending.iter().cloned() {
        // A bound local session's writes join its server id's queue.
        let key = contents.key(pending.write.op.session());
        if only.as_ref().is_none_or(|s| *s == key) {
            sessions.entry(key).or_default().push(pending);
        }
    }
    let runs = sessions.into_iter().map(|(key, mut writes)| {
        writes.sort_by_key(|p| p.write.seq);
        let confirmed = contents.confirmed.get(&key).copied().unwrap_or(0);
        // A session known offline only by its short id (another agent's,
        // named while the server was unreachable) is looked up first.
        let unresolved = is_short_id(&key) && writes.first().is_some_and(|p| p.write.op.session_of().is_some());
        let start = QueueStart {
            bound: (!is_local(&key) && !unresolved).then(|| key.clone()),
            resolve: unresolved.then(|| key.clone()),
        };
        deliver_session(journal, client, writes, confirmed, mine, start, progress)
    });
    let results = futures_util::future::join_all(runs).await;
    let mut summary = Summary {
        pending_before: contents.pending.len(),
        ..Summary::default()
    };
    let mut mine_outcome = None;
    for result in results {
        for (write, outcome) in result? {
            let counts = summary.by_kind.entry(write.op.kind().to_owned()).or_default();
            match &outcome {
                Outcome::Delivered { answer } => {
                    summary.delivered += 1;
                    if answer.is_none() {
                        summary.found += 1;
                    }
                    *counts.entry("delivered".to_owned()).or_default() += 1;
                }
                Outcome::Queued(reason) | Outcome::Down(reason) => {
                    summary.refused |= matches!(outcome, Outcome::Down(_));
                    if !summary.reasons.contains(reason) {
                        summary.reasons.push(reason.clone());
                    }
                    *counts.entry("pending".to_owned()).or_default() += 1;
                }
                Outcome::Unconfirmed(_) => {
                    summary.unconfirmed += 1;
                    *counts.entry("unconfirmed".to_owned()).or_default() += 1;
                }
                Outcome::Failed(_) => {
                    *counts.entry("failed".to_owned()).or_default() += 1;
                }
                Outcome::Unauthorized(_) => {
                    summary.unauthorized = true;
                    *counts.entry("pending".to_owned()).or_default() += 1;
                }
            }
            if Some(write.seq) == mine {
                mine_outcome = Some(outcome);
            }
        }
    }
    if delivered_by_another.is_some() && mine_outcome.is_none() {
        mine_outcome = Some(Outcome::Delivered { answer: None });
    }
    journal.compact_if_settled()?;
    // What stays is counted from the journal itself (other sessions' too).
    let after = journal.read()?;
    summary.pending = after.pending.len();
    summary.failed = after.failed.len();
    Ok((summary, mine_outcome))
}

/// What a queue's delivery starts from.
struct QueueStart {
    /// The server's id of the queue's session or experience, when known.
    bound: Option<String>,
    /// A session short id to look up first (named offline).
    resolve: Option<String>,
}

/// Delivers one session's writes in order; stops at the first that stays
/// pending (the rest wait behind it).
async fn deliver_session(
    journal: &Journal,
    client: &Client,
    writes: Vec<Pending>,
    mut confirmed: i64,
    mine: Option<u64>,
    start: QueueStart,
    progress: Option<&indicatif::ProgressBar>,
) -> anyhow::Result<Vec<(Write, Outcome)>> {
    let QueueStart { mut bound, resolve } = start;
    let step = || {
        if let Some(bar) = progress {
            bar.inc(1);
        }
    };
    let mut outcomes = Vec::new();
    // Why the rest waits, once one write stays pending.
    let mut held: Option<Outcome> = None;
    if let (Some(short), Some(first)) = (&resolve, writes.first()) {
        match client.sessions().get(short.as_str()).await {
            Ok(session) => {
                journal.bind(short, session.id.as_str(), &session.short_id)?;
                bound = Some(session.id.to_string());
            }
            Err(e) => {
                let seq = first.write.seq;
                if e.api_error().is_some_and(|api| api.is_from_api())
                    && e.status().is_some_and(crate::outbox::is_permanent)
                {
                    // No such session: none of its writes can succeed.
                    let reason = format!(
                        "no session {short} on the server: {}",
                        crate::logging::scrub(&e.to_string())
                    );
                    for pending in writes {
                        let now = mine == Some(pending.write.seq);
                        journal.mark_done(
                            pending.write.seq,
                            if now { "refused" } else { "failed" },
                            None,
                            Some(&reason),
                        )?;
                        let error = plurum_sdk::Error::InvalidInput {
                            field: "session".into(),
                            reason: reason.clone(),
                        };
                        outcomes.push((pending.write, Outcome::Failed(error)));
                        step();
                    }
                    return Ok(outcomes);
                }
                held = Some(match classify_failure(journal, seq, e, mine == Some(seq))? {
                    Outcome::Down(reason) => Outcome::Down(reason),
                    Outcome::Unauthorized(_) => Outcome::Unauthorized(None),
                    Outcome::Queued(reason) => Outcome::Queued(reason),
                    _ => Outcome::Queued(format!("session {short} could not be looked up")),
                });
            }
        }
    }
    // `bound`: the server's id of the queue's session (for a local one,
    // once its open is delivered); writes made under the local id go there.
    for pending in writes {
        let local = is_local(pending.write.op.session());
        if local && bound.is_none() && !matches!(pending.write.op, Op::SessionOpen { .. } | Op::ExperienceCreate { .. })
        {
            // Its session or experience was never made (the open or the
            // create was refused for good).
            let reason = if pending.write.op.session_of().is_some() {
                "its session could not be opened on the server"
            } else {
                "its experience could not be created on the server"
            };
            journal.mark_done(pending.write.seq, "failed", None, Some(reason))?;
            outcomes.push((pending.write, Outcome::Queued(reason.to_owned())));
            step();
            continue;
        }
        if let Some(reason) = &held {
            let same = match reason {
                Outcome::Down(r) => Outcome::Down(r.clone()),
                Outcome::Unauthorized(_) => Outcome::Unauthorized(None),
                Outcome::Queued(r) => Outcome::Queued(format!("behind an earlier entry of its session: {r}")),
                _ => Outcome::Queued("behind an earlier entry of its session".to_owned()),
            };
            outcomes.push((pending.write, same));
            step();
            continue;
        }
        let outcome = deliver_one(journal, client, &pending, &mut confirmed, mine, &mut bound).await?;
        match &outcome {
            Outcome::Queued(reason) => held = Some(Outcome::Queued(reason.clone())),
            Outcome::Down(reason) => held = Some(Outcome::Down(reason.clone())),
            Outcome::Unauthorized(_) => held = Some(Outcome::Unauthorized(None)),
            _ => {}
        }
        outcomes.push((pending.write, outcome));
        step();
    }
    Ok(outcomes)
}

async fn deliver_one(
    journal: &Journal,
    client: &Client,
    pending: &Pending,
    confirmed: &mut i64,
    mine: Option<u64>,
    bound: &mut Option<String>,
) -> anyhow::Result<Outcome> {
    let seq = pending.write.seq;
    let now = mine == Some(seq);
    if let Op::SessionOpen { local_id, body } = &pending.write.op {
        return deliver_open(journal, client, pending, local_id, body, now, bound).await;
    }
    if let Op::ExperienceCreate { local_id, body } = &pending.write.op {
        return deliver_create(journal, client, pending, local_id, body, now, bound).await;
    }
    // An experience made here: its server id once bound.
    let experience = |given: &str| bound.clone().unwrap_or_else(|| given.to_owned());
    let session_id = bound.clone().unwrap_or_else(|| pending.write.op.session().to_owned());
    if pending.in_flight && matches!(pending.write.op, Op::Contribute { .. }) {
        // Cannot be read back: never sent twice.
        let reason = "its answer was lost; it may be on the server (a contribution cannot be read back, so it is not sent again)";
        journal.mark_done(seq, "unconfirmed", None, Some(reason))?;
        return Ok(Outcome::Unconfirmed(reason.to_owned()));
    }
    if pending.in_flight
        && let Op::ExperiencePublish { experience: given } = &pending.write.op
    {
        match client.experiences().get(experience(given).as_str()).await {
            Ok(e) if matches!(e.status, ExperienceStatus::Published | ExperienceStatus::Verified) => {
                journal.mark_done(seq, "found", None, None)?;
                return Ok(Outcome::Delivered { answer: None });
            }
            Ok(_) => {}
            Err(e) => return classify_failure(journal, seq, e, now),
        }
    }
    if pending.in_flight && pending.write.op.session_of().is_some() {
        // Its answer was lost: it may be on the server. Read back first.
        let session = match client.sessions().get(session_id.as_str()).await {
            Ok(session) => session,
            Err(e) => return classify_failure(journal, seq, e, now),
        };
        match &pending.write.op {
            Op::SessionLog { entry, .. } => {
                let found = session.entries.unwrap_or_default().into_iter().find(|e| {
                    e.ordinal.unwrap_or(0) > *confirmed
                        && serde_json::to_value(&e.entry_type).ok() == entry.get("entry_type").cloned()
                        && Some(&e.content) == entry.get("content")
                });
                if let Some(found) = found {
                    journal.mark_done(seq, "found", found.ordinal, None)?;
                    *confirmed = (*confirmed).max(found.ordinal.unwrap_or(0));
                    return Ok(Outcome::Delivered { answer: None });
                }
            }
            Op::Contribute { .. }
            | Op::Vote { .. }
            | Op::SessionUpdate { .. }
            | Op::SessionOpen { .. }
            | Op::ExperiencePublish { .. }
            | Op::ExperienceArchive { .. }
            | Op::ExperienceCreate { .. } => {}
            Op::SessionClose { .. } | Op::SessionAbandon { .. } => {
                let wanted = if matches!(pending.write.op, Op::SessionClose { .. }) {
                    SessionStatus::Closed
                } else {
                    SessionStatus::Abandoned
                };
                if session.status == wanted {
                    journal.mark_done(seq, "found", None, None)?;
                    return Ok(Outcome::Delivered { answer: None });
                }
            }
        }
    }
    journal.mark_sent(seq)?;
    let sessions = client.sessions();
    let sent: Result<(Value, Option<i64>), plurum_sdk::Error> = match &pending.write.op {
        Op::SessionLog { entry, .. } => {
            let typed: Entry = serde_json::from_value(entry.clone()).context("a journaled entry does not decode")?;
            sessions
                .log(session_id.as_str(), typed)
                .await
                .map(|logged| (serde_json::to_value(&logged).unwrap_or_default(), logged.ordinal))
        }
        Op::SessionClose { body, .. } => {
            let typed: CloseSession =
                serde_json::from_value(body.clone()).context("a journaled close does not decode")?;
            sessions
                .close(session_id.as_str(), typed)
                .await
                .map(|closed| (serde_json::to_value(&closed).unwrap_or_default(), None))
        }
        Op::SessionAbandon { .. } => sessions
            .abandon(session_id.as_str())
            .await
            .map(|abandoned| (serde_json::to_value(&abandoned).unwrap_or_default(), None)),
        Op::Contribute { body, .. } => {
            let typed: Contribute =
                serde_json::from_value(body.clone()).context("a journaled contribution does not decode")?;
            sessions
                .contribute(session_id.as_str(), typed)
                .await
                .map(|c| (serde_json::to_value(&c).unwrap_or_default(), None))
        }
        Op::SessionOpen { .. } | Op::ExperienceCreate { .. } => unreachable_open(),
        Op::SessionUpdate { body, .. } => {
            let typed: plurum_sdk::types::UpdateSession =
                serde_json::from_value(body.clone()).context("a journaled update does not decode")?;
            sessions
                .update(session_id.as_str(), typed)
                .await
                .map(|updated| (serde_json::to_value(&updated).unwrap_or_default(), None))
        }
        Op::ExperiencePublish { experience: given } => client
            .experiences()
            .publish(experience(given).as_str())
            .await
            .map(|e| (serde_json::to_value(&e).unwrap_or_default(), None)),
        Op::ExperienceArchive { experience: given } => client
            .experiences()
            .archive(experience(given).as_str())
            .await
            .map(|e| (serde_json::to_value(&e).unwrap_or_default(), None)),
        Op::Vote {
            experience: given,
            direction,
        } => {
            let vote: VoteType = direction.parse().map_err(anyhow::Error::msg)?;
            client
                .experiences()
                .vote(experience(given).as_str(), vote)
                .await
                .map(|v| (serde_json::to_value(&v).unwrap_or_default(), None))
        }
    };
    match sent {
        Ok((answer, ordinal)) => {
            journal.mark_done(seq, "delivered", ordinal, None)?;
            if let Some(ordinal) = ordinal {
                *confirmed = (*confirmed).max(ordinal);
            }
            Ok(Outcome::Delivered { answer: Some(answer) })
        }
        Err(e) if e.is_refused() => {
            // Refused before anything was sent: not in flight.
            journal.append(&[json!({"unsent": seq})])?;
            classify_failure(journal, seq, e, now)
        }
        Err(e) if matches!(pending.write.op, Op::Contribute { .. }) && may_have_happened(&e) => {
            let reason = format!(
                "{}: it may be on the server (a contribution cannot be read back, so it is not sent again)",
                crate::logging::scrub(&e.to_string())
            );
            journal.mark_done(seq, "unconfirmed", None, Some(&reason))?;
            Ok(Outcome::Unconfirmed(reason))
        }
        Err(e) => classify_failure(journal, seq, e, now),
    }
}

/// Delivers a create and binds its local id. A create whose answer was
/// lost is looked for among the agent's drafts (same goal, created after
/// the write minus a clock-skew allowance) before it is sent again.
async fn deliver_create(
    journal: &Journal,
    client: &Client,
    pending: &Pending,
    local_id: &str,
    body: &Value,
    now: bool,
    bound: &mut Option<String>,
) -> anyhow::Result<Outcome> {
    let mut making = Making::new(journal, pending, local_id, now, bound);
    let goal = body.get("goal").and_then(Value::as_str).unwrap_or_default();
    if pending.in_flight {
        let (agents, experiences) = (client.agents(), client.experiences());
        let (me, drafts) = tokio::join!(
            agents.me(),
            experiences.list(
                plurum_sdk::types::ListExperiences::new()
                    .status(ExperienceStatus::Draft)
                    .limit(100)
            )
        );
        let (me, drafts) = match (me, drafts) {
            (Ok(me), Ok(drafts)) => (me, drafts),
            (Err(e), _) | (_, Err(e)) => return classify_failure(journal, pending.write.seq, e, now),
        };
        // Only its own drafts that no other local id is bound to.
        let taken: Vec<String> = journal.read()?.bound.values().map(|b| b.0.clone()).collect();
        let since = making.since();
        if let Some(found) = drafts
            .items
            .iter()
            .filter(|e| {
                e.agent_id.as_ref() == Some(&me.id)
                    && e.goal == goal
                    && e.created_at.is_some_and(|at| at >= since)
                    && !taken.contains(&e.id.to_string())
            })
            .max_by_key(|e| e.created_at)
        {
            return making.found(found.id.as_str(), &found.short_id);
        }
    }
    let typed: plurum_sdk::types::CreateExperience =
        serde_json::from_value(body.clone()).context("a journaled experience does not decode")?;
    making
        .send(client.experiences().create(typed), |created| {
            (created.id.to_string(), created.short_id.clone())
        })
        .await
}

/// What makes a session or an experience known here by a local id (an
/// open, a create): found by a read-back or sent, it binds the local id to
/// the server's.
struct Making<'a> {
    journal: &'a Journal,
    pending: &'a Pending,
    local_id: &'a str,
    now: bool,
    bound: &'a mut Option<String>,
}

impl<'a> Making<'a> {
    fn new(
        journal: &'a Journal,
        pending: &'a Pending,
        local_id: &'a str,
        now: bool,
        bound: &'a mut Option<String>,
    ) -> Self {
        Self {
            journal,
            pending,
            local_id,
            now,
            bound,
        }
    }

    /// What a read-back may count as this write: made after it was
    /// written, less 5 minutes for clock skew.
    fn since(&self) -> time::OffsetDateTime {
        time::OffsetDateTime::parse(&self.pending.write.at, &time::format_description::well_known::Rfc3339)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
            - time::Duration::minutes(5)
    }

    /// Found on the server after its answer was lost: bound, not sent again.
    fn found(&mut self, id: &str, short_id: &str) -> anyhow::Result<Outcome> {
        self.journal.mark_done(self.pending.write.seq, "found", None, None)?;
        self.journal.bind(self.local_id, id, short_id)?;
        *self.bound = Some(id.to_owned());
        Ok(Outcome::Delivered { answer: None })
    }

    /// Sends it (the in-flight marker first); on success, binds the local
    /// id to `ids` of the answer: `(id, short id)`.
    async fn send<T: Serialize>(
        &mut self,
        sending: impl std::future::Future<Output = Result<T, plurum_sdk::Error>>,
        ids: impl Fn(&T) -> (String, String),
    ) -> anyhow::Result<Outcome> {
        let seq = self.pending.write.seq;
        self.journal.mark_sent(seq)?;
        match sending.await {
            Ok(answer) => {
                let (id, short_id) = ids(&answer);
                self.journal.mark_done(seq, "delivered", None, None)?;
                self.journal.bind(self.local_id, &id, &short_id)?;
                *self.bound = Some(id);
                Ok(Outcome::Delivered {
                    answer: Some(serde_json::to_value(&answer).unwrap_or_default()),
                })
            }
            Err(e) if e.is_refused() => {
                self.journal.append(&[json!({"unsent": seq})])?;
                classify_failure(self.journal, seq, e, self.now)
            }
            Err(e) => classify_failure(self.journal, seq, e, self.now),
        }
    }
}

/// Opens and creates are delivered by [`deliver_open`] and
/// [`deliver_create`], never here.
fn unreachable_open() -> Result<(Value, Option<i64>), plurum_sdk::Error> {
    Err(plurum_sdk::Error::InvalidInput {
        field: "op".into(),
        reason: "an open is delivered on its own".into(),
    })
}

/// Whether `id` is a local session id (`local-` and 8 hex characters).
pub(crate) fn is_local(id: &str) -> bool {
    id.strip_prefix("local-")
        .is_some_and(|hex| hex.len() == 8 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Whether `id` is a short id (8 hexadecimal characters).
fn is_short_id(id: &str) -> bool {
    id.len() == 8 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A new local session id.
pub(crate) fn new_local_id() -> String {
    format!("local-{:08x}", fastrand::u32(..))
}

/// Delivers an open made offline and binds its local id. An open whose
/// answer was lost is looked for among the agent's open sessions (same
/// topic, started after the write minus a clock-skew allowance) before it
/// is sent again.
async fn deliver_open(
    journal: &Journal,
    client: &Client,
    pending: &Pending,
    local_id: &str,
    body: &Value,
    now: bool,
    bound: &mut Option<String>,
) -> anyhow::Result<Outcome> {
    let mut making = Making::new(journal, pending, local_id, now, bound);
    let topic = body.get("topic").and_then(Value::as_str).unwrap_or_default();
    if pending.in_flight {
        let (agents, sessions) = (client.agents(), client.sessions());
        let (me, open) = tokio::join!(
            agents.me(),
            sessions.list(
                plurum_sdk::types::ListSessions::new()
                    .status(SessionStatus::Open)
                    .limit(100)
            )
        );
        let (me, open) = match (me, open) {
            (Ok(me), Ok(open)) => (me, open),
            (Err(e), _) | (_, Err(e)) => return classify_failure(journal, pending.write.seq, e, now),
        };
        let since = making.since();
        if let Some(found) = open
            .items
            .iter()
            .filter(|s| s.agent_id == me.id && s.topic == topic && s.started_at >= since)
            .max_by_key(|s| s.started_at)
        {
            return making.found(found.id.as_str(), &found.short_id);
        }
    }
    let typed: plurum_sdk::types::OpenSession =
        serde_json::from_value(body.clone()).context("a journaled open does not decode")?;
    making
        .send(client.sessions().open(typed), |opened| {
            (opened.session.id.to_string(), opened.session.short_id.clone())
        })
        .await
}

/// Whether a failed call may have been applied (the answer, not the
/// request, was lost).
fn may_have_happened(error: &plurum_sdk::Error) -> bool {
    matches!(
        error,
        plurum_sdk::Error::Transport { .. } | plurum_sdk::Error::Timeout { .. } | plurum_sdk::Error::Server(_)
    ) || error.api_error().is_some_and(|api| !api.is_from_api())
}

/// How a command's own write ended, once it was journaled and tried.
#[derive(Debug)]
pub(crate) enum Settled {
    /// Sent now: the server's answer.
    Answered(Value),
    /// Its answer had been lost; the read-back found it on the server.
    Found,
    /// Kept in the journal (why).
    Waiting(String),
}

/// Tries to deliver the session's journal now, the command's own write
/// `seq` last, and says how that write ended. A server that refused a
/// connection a moment ago is not tried again (see `reach`): the write
/// waits at once. A refusal for good or a refused key is the command's
/// error (the key's: the write stays journaled).
pub(crate) async fn deliver_now(
    ctx: &crate::context::Ctx,
    journal: &Journal,
    session: &str,
    seq: u64,
    doing: &str,
) -> anyhow::Result<Settled> {
    let reach = ctx.reach();
    let outcome = match reach.down() {
        Some(down) => return Ok(Settled::Waiting(down.reason())),
        None => {
            let client = ctx.queueing()?;
            let (summary, outcome) = ctx
                .out
                .spin(doing, deliver(journal, &client, Some(session), Some(seq)))
                .await?;
            if summary.refused {
                reach.refused();
            } else if summary.delivered > 0 {
                reach.forget();
            }
            outcome
        }
    };
    match outcome {
        Some(Outcome::Delivered { answer: Some(answer) }) => Ok(Settled::Answered(answer)),
        Some(Outcome::Delivered { answer: None }) => Ok(Settled::Found),
        Some(Outcome::Failed(error) | Outcome::Unauthorized(Some(error))) => Err(error.into()),
        Some(Outcome::Unauthorized(None)) => Err(crate::exit::CliError::new(
            crate::exit::NOT_AUTHENTICATED,
            "the server rejected the key; the write is kept in the journal",
        )
        .hint(format!(
            "{}; then 'plurum sync' sends it",
            crate::exit::rejected_key_hint()
        ))
        .into()),
        Some(Outcome::Unconfirmed(reason)) => Err(crate::exit::CliError::new(crate::exit::TEMPORARY, reason)
            .code("unconfirmed")
            .hint("the server may have it: it is not sent again; 'plurum sync' lists it until 'plurum sync --drop-failed'")
            .into()),
        Some(Outcome::Queued(reason) | Outcome::Down(reason)) => Ok(Settled::Waiting(reason)),
        None => Ok(Settled::Waiting(
            "another plurum is delivering this profile's journal".to_owned(),
        )),
    }
}

/// The one way a command writes through the journal: records `op`, then
/// tries to deliver its queue now (the queue's earlier writes first); the
/// write as recorded, and how it ended (see [`deliver_now`]).
pub(crate) async fn submit(
    ctx: &crate::context::Ctx,
    journal: &Journal,
    op: Op,
    doing: &str,
) -> anyhow::Result<(Write, Settled)> {
    let write = journal.record(op)?;
    let settled = deliver_now(ctx, journal, write.op.session(), write.seq, doing).await?;
    Ok((write, settled))
}

/// Refuses a write to a session whose close or abandon is already in the
/// journal, as the server would.
pub(crate) fn refuse_after_end(journal: &Journal, session: &str, short_id: &str) -> anyhow::Result<()> {
    let contents = journal.read()?;
    let key = contents.key(session);
    if let Some(end) = contents
        .pending
        .iter()
        .find(|p| p.write.op.ends_session() && contents.key(p.write.op.session()) == key)
    {
        return Err(crate::exit::CliError::new(
            crate::exit::ERROR,
            format!(
                "session {short_id} is {} (queued in the journal): it takes no more writes",
                if end.write.op.kind() == "session_close" {
                    "closed"
                } else {
                    "abandoned"
                }
            ),
        )
        .code("session_closed")
        .hint("open a new session with 'plurum session open TOPIC'")
        .into());
    }
    Ok(())
}

/// `--no-queue`: the session's earlier writes go first; when they cannot,
/// this one is not sent (it would overtake them) and not kept.
pub(crate) async fn clear_the_way(
    ctx: &crate::context::Ctx,
    journal: &Journal,
    session: &str,
    short_id: &str,
) -> anyhow::Result<()> {
    if !journal.read()?.waits_for(session) {
        return Ok(());
    }
    let client = ctx.queueing()?;
    let (summary, _) = deliver(journal, &client, Some(session), None).await?;
    if journal.read()?.waits_for(session) {
        return Err(crate::exit::CliError::new(
            crate::exit::TEMPORARY,
            format!(
                "earlier writes of session {short_id} are still queued ({}); this one was not sent and not kept",
                summary.reasons.first().map_or("not sent", String::as_str)
            ),
        )
        .code("network")
        .hint("run 'plurum sync' when the server is back, then try again (or leave out --no-queue to queue it behind them)")
        .into());
    }
    Ok(())
}

/// What a failed attempt means for the write (the outbox's rules). A write
/// the API refuses for good while its command waits (`now`) is reported by
/// that command, not listed as failed.
fn classify_failure(journal: &Journal, seq: u64, error: plurum_sdk::Error, now: bool) -> anyhow::Result<Outcome> {
    if error.is_unauthorized() {
        return Ok(Outcome::Unauthorized(Some(error)));
    }
    let from_api = error.api_error().is_some_and(|api| api.is_from_api());
    if from_api && error.status().is_some_and(crate::outbox::is_permanent) {
        let reason = crate::logging::scrub(&error.to_string());
        journal.mark_done(seq, if now { "refused" } else { "failed" }, None, Some(&reason))?;
        return Ok(Outcome::Failed(error));
    }
    let reason = crate::logging::scrub(&error.to_string());
    if error.is_refused() {
        return Ok(Outcome::Down(reason));
    }
    Ok(Outcome::Queued(reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(n: u32) -> Op {
        Op::SessionLog {
            session_id: "s1".into(),
            session_short_id: "aaaaaaaa".into(),
            entry: json!({"entry_type": "note", "content": {"text": format!("n{n}")}}),
        }
    }

    #[test]
    fn writes_stay_until_done_and_a_torn_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::new(dir.path());
        let a = journal.record(op(1)).unwrap();
        let b = journal.record(op(2)).unwrap();
        assert_eq!((a.seq, b.seq), (1, 2));
        journal.mark_sent(a.seq).unwrap();
        // A crash in the middle of a line.
        let mut file = std::fs::OpenOptions::new().append(true).open(journal.path()).unwrap();
        file.write_all(b"{\"done\": 2, \"res").unwrap();
        drop(file);
        let contents = journal.read().unwrap();
        assert_eq!(contents.pending.len(), 2);
        assert!(contents.pending[0].in_flight && !contents.pending[1].in_flight);
        journal.mark_done(a.seq, "delivered", Some(4), None).unwrap();
        journal.mark_done(b.seq, "failed", None, Some("400: closed")).unwrap();
        let contents = journal.read().unwrap();
        assert!(contents.pending.is_empty());
        assert_eq!(contents.failed.len(), 1);
        assert_eq!(contents.confirmed["s1"], 4);
        assert_eq!(journal.drop_failed().unwrap(), 1);
        let contents = journal.read().unwrap();
        assert!(contents.failed.is_empty());
        assert_eq!(contents.confirmed["s1"], 4);
        // Numbers keep growing after the file was emptied.
        assert_eq!(journal.record(op(3)).unwrap().seq, 3);
        // Ordinals confirmed under a local id count for the bound id.
        let local = Op::SessionLog {
            session_id: "local-0000abcd".into(),
            session_short_id: "local-0000abcd".into(),
            entry: json!({"entry_type": "note", "content": {"text": "same"}}),
        };
        let w = journal.record(local).unwrap();
        journal.mark_sent(w.seq).unwrap();
        journal.mark_done(w.seq, "delivered", Some(7), None).unwrap();
        journal
            .append(&[json!({"bound": "local-0000abcd", "id": "real-id", "short_id": "realid00"})])
            .unwrap();
        let contents = journal.read().unwrap();
        assert_eq!(contents.confirmed.get("real-id"), Some(&7));
        assert_eq!(contents.key("local-0000abcd"), "real-id");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(journal.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
