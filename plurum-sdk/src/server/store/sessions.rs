//! Sessions, their entries and contributions.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::{Value, json};

use super::{Cached, Store, json_text, parse_json, parse_list};
use crate::server::{clock, embed};

/// A session row.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) id: String,
    pub(crate) short_id: String,
    pub(crate) agent_id: String,
    pub(crate) topic: String,
    pub(crate) domain: Option<String>,
    pub(crate) tools_used: Vec<String>,
    pub(crate) status: String,
    pub(crate) visibility: String,
    pub(crate) outcome: Option<String>,
    pub(crate) started_at: String,
    pub(crate) closed_at: Option<String>,
    pub(crate) created_at: String,
    pub(crate) updated_at: String,
    pub(crate) embedding: Option<Vec<f32>>,
}

impl Session {
    pub(super) const COLUMNS: &'static str = "id, short_id, agent_id, topic, domain, tools_used, status, visibility, outcome, \
                                   started_at, closed_at, created_at, updated_at, topic_embedding";

    pub(super) fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        let tools: String = row.get(5)?;
        let blob: Option<Vec<u8>> = row.get(13)?;
        Ok(Self {
            id: row.get(0)?,
            short_id: row.get(1)?,
            agent_id: row.get(2)?,
            topic: row.get(3)?,
            domain: row.get(4)?,
            tools_used: parse_list(&tools),
            status: row.get(6)?,
            visibility: row.get(7)?,
            outcome: row.get(8)?,
            started_at: row.get(9)?,
            closed_at: row.get(10)?,
            created_at: row.get(11)?,
            updated_at: row.get(12)?,
            embedding: blob.map(|b| embed::from_blob(&b)),
        })
    }

    pub(crate) fn is_public(&self) -> bool {
        self.visibility == "public"
    }
}

/// An entry row.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) id: String,
    pub(crate) session_id: String,
    pub(crate) entry_type: String,
    pub(crate) content: Value,
    pub(crate) ordinal: i64,
    pub(crate) created_at: String,
}

/// A contribution row.
#[derive(Debug, Clone)]
pub(crate) struct Contribution {
    pub(crate) id: String,
    pub(crate) session_id: String,
    pub(crate) contributor_agent_id: String,
    pub(crate) content: Value,
    pub(crate) contribution_type: String,
    pub(crate) created_at: String,
}

impl Store {
    /// Inserts a session.
    pub(crate) fn insert_session(
        &self,
        agent_id: &str,
        topic: &str,
        domain: Option<&str>,
        tools: &[String],
        visibility: &str,
        embedding: &[f32],
    ) -> rusqlite::Result<Session> {
        let conn = self.conn();
        let id = clock::uuid();
        let now = clock::now_string();
        let blob = embed::to_blob(embedding);
        let tools = json_text(&json!(tools));
        for _ in 0..16 {
            let short_id = clock::short_id();
            let inserted = conn.cached_execute(
                "INSERT INTO sessions (id, short_id, agent_id, topic, domain, tools_used, status, visibility, outcome,
                   topic_embedding, started_at, closed_at, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'open', ?7, NULL, ?8, ?9, NULL, ?9, ?9)
                 ON CONFLICT (short_id) DO NOTHING",
                params![id, short_id, agent_id, topic, domain, tools, visibility, blob, now],
            )?;
            if inserted == 1 {
                break;
            }
        }
        Self::session_where(&conn, "id = ?1", &id)?.ok_or(rusqlite::Error::QueryReturnedNoRows)
    }

    fn session_where(conn: &Connection, clause: &str, value: &str) -> rusqlite::Result<Option<Session>> {
        conn.cached_row(
            &format!("SELECT {} FROM sessions WHERE {clause}", Session::COLUMNS),
            [value],
            Session::from_row,
        )
        .optional()
    }

    /// A session by UUID.
    pub(crate) fn session(&self, id: &str) -> rusqlite::Result<Option<Session>> {
        Self::session_where(&self.reader(), "id = ?1", id)
    }

    /// A session by short id.
    pub(crate) fn session_by_short_id(&self, short_id: &str) -> rusqlite::Result<Option<Session>> {
        Self::session_where(&self.reader(), "short_id = ?1", short_id)
    }

    /// A page of sessions: the owner's (any visibility) or, for `None`,
    /// everyone's public and team sessions; newest first.
    pub(crate) fn list_sessions(
        &self,
        owner: Option<&str>,
        status: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> rusqlite::Result<(Vec<Session>, i64)> {
        let conn = self.reader();
        let filter =
            "(?1 IS NULL AND visibility IN ('public', 'team') OR agent_id = ?1) AND (?2 IS NULL OR status = ?2)";
        let total: i64 = conn.cached_row(
            &format!("SELECT COUNT(*) FROM sessions WHERE {filter}"),
            params![owner, status],
            |r| r.get(0),
        )?;
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {} FROM sessions WHERE {filter} ORDER BY seq DESC LIMIT ?3 OFFSET ?4",
            Session::COLUMNS
        ))?;
        let rows = stmt
            .query_map(params![owner, status, limit, offset], Session::from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok((rows, total))
    }

    /// The entries of a session, in order.
    pub(crate) fn entries(&self, session_id: &str) -> rusqlite::Result<Vec<Entry>> {
        let conn = self.reader();
        let mut stmt = conn.prepare_cached(
            "SELECT id, session_id, entry_type, content, ordinal, created_at FROM entries
             WHERE session_id = ?1 ORDER BY ordinal",
        )?;
        stmt.query_map([session_id], |row| {
            Ok(Entry {
                id: row.get(0)?,
                session_id: row.get(1)?,
                entry_type: row.get(2)?,
                content: parse_json(row.get(3)?),
                ordinal: row.get(4)?,
                created_at: row.get(5)?,
            })
        })?
        .collect()
    }

    /// Logs an entry with the next ordinal.
    pub(crate) fn insert_entry(&self, session_id: &str, entry_type: &str, content: &Value) -> rusqlite::Result<Entry> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let ordinal: i64 = tx.cached_row(
            "SELECT COALESCE(MAX(ordinal), 0) + 1 FROM entries WHERE session_id = ?1",
            [session_id],
            |r| r.get(0),
        )?;
        let entry = Entry {
            id: clock::uuid(),
            session_id: session_id.to_owned(),
            entry_type: entry_type.to_owned(),
            content: content.clone(),
            ordinal,
            created_at: clock::now_string(),
        };
        tx.cached_execute(
            "INSERT INTO entries (id, session_id, entry_type, content, ordinal, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![entry.id, session_id, entry_type, json_text(content), ordinal, entry.created_at],
        )?;
        tx.cached_execute(
            "UPDATE sessions SET updated_at = ?1 WHERE id = ?2",
            params![entry.created_at, session_id],
        )?;
        tx.commit()?;
        Ok(entry)
    }

    /// Changes tools and/or domain of a session.
    pub(crate) fn update_session(
        &self,
        id: &str,
        tools: Option<&[String]>,
        domain: Option<&str>,
    ) -> rusqlite::Result<Option<Session>> {
        let conn = self.conn();
        if tools.is_some() || domain.is_some() {
            let now = clock::now_string();
            conn.cached_execute(
                "UPDATE sessions SET tools_used = COALESCE(?1, tools_used), domain = COALESCE(?2, domain), updated_at = ?3 WHERE id = ?4",
                params![tools.map(|t| json_text(&json!(t))), domain, now, id],
            )?;
        }
        Self::session_where(&conn, "id = ?1", id)
    }

    /// Ends an open session (`closed` or `abandoned`); `Ok(None)` if it was not open.
    pub(crate) fn end_session(
        &self,
        id: &str,
        status: &str,
        outcome: Option<&str>,
    ) -> rusqlite::Result<Option<Session>> {
        let conn = self.conn();
        let now = clock::now_string();
        let changed = conn.cached_execute(
            "UPDATE sessions SET status = ?1, outcome = COALESCE(?2, outcome), closed_at = ?3, updated_at = ?3
             WHERE id = ?4 AND status = 'open'",
            params![status, outcome, now, id],
        )?;
        if changed == 0 {
            return Ok(None);
        }
        Self::session_where(&conn, "id = ?1", id)
    }

    /// Open public sessions of agents other than `agent_id`.
    pub(crate) fn open_public_sessions_except(&self, agent_id: &str) -> rusqlite::Result<Vec<Session>> {
        let conn = self.reader();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {} FROM sessions WHERE status = 'open' AND visibility = 'public' AND agent_id != ?1 ORDER BY seq DESC LIMIT 500",
            Session::COLUMNS
        ))?;
        stmt.query_map([agent_id], Session::from_row)?.collect()
    }

    /// The newest 50 public sessions that are open or closed.
    pub(crate) fn pulse_sessions(&self) -> rusqlite::Result<Vec<Session>> {
        let conn = self.reader();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {} FROM sessions WHERE visibility = 'public' AND status IN ('open', 'closed') ORDER BY seq DESC LIMIT 50",
            Session::COLUMNS
        ))?;
        stmt.query_map([], Session::from_row)?.collect()
    }

    /// Stores a contribution and, in the same transaction, the owner's
    /// inbox event made of it by `event` (one commit for both: a
    /// contribution is never without its event).
    pub(crate) fn insert_contribution(
        &self,
        session_id: &str,
        contributor: &str,
        content: &Value,
        contribution_type: &str,
        event: impl FnOnce(&Contribution) -> super::NewEvent,
    ) -> rusqlite::Result<Contribution> {
        let contribution = Contribution {
            id: clock::uuid(),
            session_id: session_id.to_owned(),
            contributor_agent_id: contributor.to_owned(),
            content: content.clone(),
            contribution_type: contribution_type.to_owned(),
            created_at: clock::now_string(),
        };
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.cached_execute(
            "INSERT INTO contributions (id, session_id, contributor_agent_id, content, contribution_type, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                contribution.id,
                session_id,
                contributor,
                json_text(content),
                contribution_type,
                contribution.created_at
            ],
        )?;
        Self::write_event(&tx, &event(&contribution))?;
        tx.commit()?;
        Ok(contribution)
    }

    /// The contributions to a session, oldest first.
    pub(crate) fn contributions(&self, session_id: &str) -> rusqlite::Result<Vec<Contribution>> {
        let conn = self.reader();
        let mut stmt = conn.prepare_cached(
            "SELECT id, session_id, contributor_agent_id, content, contribution_type, created_at
             FROM contributions WHERE session_id = ?1 ORDER BY seq",
        )?;
        stmt.query_map([session_id], |row| {
            Ok(Contribution {
                id: row.get(0)?,
                session_id: row.get(1)?,
                contributor_agent_id: row.get(2)?,
                content: parse_json(row.get(3)?),
                contribution_type: row.get(4)?,
                created_at: row.get(5)?,
            })
        })?
        .collect()
    }
}
