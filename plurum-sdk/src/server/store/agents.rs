//! Agents: registration, keys, lookups.

use rusqlite::{OptionalExtension, Row, params};

use super::{Cached, Store};
use crate::server::clock;

/// How stale the stored `last_active_at` may be (the API always answers
/// with the request's own time).
const LAST_ACTIVE_RESOLUTION: time::Duration = time::Duration::SECOND;

/// An agent row.
#[derive(Debug, Clone)]
pub(crate) struct Agent {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) username: Option<String>,
    pub(crate) api_key_prefix: String,
    pub(crate) is_active: bool,
    pub(crate) created_at: String,
    pub(crate) last_active_at: Option<String>,
    pub(crate) joined_event_seq: i64,
    pub(crate) read_all_seq: i64,
}

impl Agent {
    pub(super) const COLUMNS: &'static str =
        "id, name, username, api_key_prefix, is_active, created_at, last_active_at, joined_event_seq, read_all_seq";

    pub(super) fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get(0)?,
            name: row.get(1)?,
            username: row.get(2)?,
            api_key_prefix: row.get(3)?,
            is_active: row.get(4)?,
            created_at: row.get(5)?,
            last_active_at: row.get(6)?,
            joined_event_seq: row.get(7)?,
            read_all_seq: row.get(8)?,
        })
    }
}

impl Store {
    /// Whether a username is taken.
    pub(crate) fn username_taken(&self, username: &str) -> rusqlite::Result<bool> {
        self.reader()
            .cached_row("SELECT 1 FROM agents WHERE username = ?1", [username], |_| Ok(()))
            .optional()
            .map(|found| found.is_some())
    }

    /// Inserts an agent; `Ok(None)` when the username is taken.
    pub(crate) fn insert_agent(
        &self,
        name: &str,
        username: &str,
        key_hash: &str,
        key_prefix: &str,
    ) -> rusqlite::Result<Option<Agent>> {
        let conn = self.conn();
        let id = clock::uuid();
        let now = clock::now_string();
        let joined: i64 = conn.cached_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |r| r.get(0))?;
        let inserted = conn.cached_execute(
            "INSERT INTO agents (id, name, username, api_key_hash, api_key_prefix, created_at, joined_event_seq, read_all_seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) ON CONFLICT (username) DO NOTHING",
            params![id, name, username, key_hash, key_prefix, now, joined],
        )?;
        if inserted == 0 {
            return Ok(None);
        }
        conn.cached_row(
            &format!("SELECT {} FROM agents WHERE id = ?1", Agent::COLUMNS),
            [&id],
            Agent::from_row,
        )
        .map(Some)
    }

    /// The agent a key hash belongs to, with `last_active_at` set to now.
    pub(crate) fn agent_by_key(&self, key_hash: &str) -> rusqlite::Result<Option<Agent>> {
        let agent = self
            .reader()
            .cached_row(
                &format!("SELECT {} FROM agents WHERE api_key_hash = ?1", Agent::COLUMNS),
                [key_hash],
                Agent::from_row,
            )
            .optional()?;
        if let Some(mut agent) = agent {
            if agent.is_active {
                let now = clock::now();
                // The answer always carries this request's time; the row is
                // written at most once a second per agent, so that a stream
                // of reads does not turn each into a write (which would also
                // empty every read connection's page cache).
                let stored = agent.last_active_at.as_deref().and_then(clock::parse);
                let now_text = clock::format(now);
                agent.last_active_at = Some(now_text.clone());
                if stored.is_some_and(|at| (now - at).abs() < LAST_ACTIVE_RESOLUTION) {
                    return Ok(Some(agent));
                }
                self.conn().cached_execute(
                    "UPDATE agents SET last_active_at = ?1 WHERE id = ?2",
                    params![now_text, agent.id],
                )?;
            }
            return Ok(Some(agent));
        }
        Ok(None)
    }

    /// The agent a key hash belongs to, without touching it (WebSocket auth).
    pub(crate) fn peek_agent_by_key(&self, key_hash: &str) -> rusqlite::Result<Option<Agent>> {
        self.reader()
            .cached_row(
                &format!("SELECT {} FROM agents WHERE api_key_hash = ?1", Agent::COLUMNS),
                [key_hash],
                Agent::from_row,
            )
            .optional()
    }

    /// Replaces an agent's key.
    pub(crate) fn rotate_key(&self, agent_id: &str, key_hash: &str, key_prefix: &str) -> rusqlite::Result<()> {
        self.conn().cached_execute(
            "UPDATE agents SET api_key_hash = ?1, api_key_prefix = ?2 WHERE id = ?3",
            params![key_hash, key_prefix, agent_id],
        )?;
        Ok(())
    }

    /// How many agents are registered.
    pub(crate) fn count_agents(&self) -> rusqlite::Result<i64> {
        self.reader()
            .cached_row("SELECT COUNT(*) FROM agents", [], |r| r.get(0))
    }
}
