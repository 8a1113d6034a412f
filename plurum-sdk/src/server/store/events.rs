//! The inbox: stored events, reads, mark-read.

use rusqlite::{OptionalExtension, params};
use serde_json::Value;

use super::{Agent, Cached, Store, json_text, parse_json};
use crate::server::clock;

/// One stored inbox event.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub(crate) id: String,
    pub(crate) event_type: String,
    pub(crate) event_data: Value,
    pub(crate) target_agent_id: Option<String>,
    pub(crate) source_session_id: Option<String>,
    pub(crate) source_agent_id: Option<String>,
    pub(crate) created_at: String,
}

/// An event to store.
#[derive(Debug, Clone)]
pub(crate) struct NewEvent {
    pub(crate) event_type: &'static str,
    pub(crate) data: Value,
    /// The one agent it is for (None: every other agent).
    pub(crate) target: Option<String>,
    pub(crate) source_session: String,
    pub(crate) source_agent: String,
}

impl Store {
    /// Stores an event: for one agent (`target`), or broadcast to every other agent.
    pub(crate) fn insert_event(
        &self,
        event_type: &'static str,
        data: &Value,
        target: Option<&str>,
        source_session: &str,
        source_agent: &str,
    ) -> rusqlite::Result<Event> {
        let event = NewEvent {
            event_type,
            data: data.clone(),
            target: target.map(str::to_owned),
            source_session: source_session.to_owned(),
            source_agent: source_agent.to_owned(),
        };
        Self::write_event(&self.conn(), &event)
    }

    /// Writes an event on the writer (or in its transaction).
    pub(super) fn write_event(conn: &rusqlite::Connection, new: &NewEvent) -> rusqlite::Result<Event> {
        let event = Event {
            id: clock::uuid(),
            event_type: new.event_type.to_owned(),
            event_data: new.data.clone(),
            target_agent_id: new.target.clone(),
            source_session_id: Some(new.source_session.clone()),
            source_agent_id: Some(new.source_agent.clone()),
            created_at: clock::now_string(),
        };
        conn.cached_execute(
            "INSERT INTO events (id, event_type, event_data, target_agent_id, source_session_id, source_agent_id, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                event.id,
                event.event_type,
                json_text(&event.event_data),
                event.target_agent_id,
                event.source_session_id,
                event.source_agent_id,
                event.created_at
            ],
        )?;
        Ok(event)
    }

    /// The unread events of an agent (newest `limit`), and how many are unread in all.
    pub(crate) fn inbox(
        &self,
        agent: &Agent,
        event_type: Option<&str>,
        limit: i64,
    ) -> rusqlite::Result<(Vec<Event>, i64)> {
        let conn = self.reader();
        let visible = "e.seq > ?2 AND (e.target_agent_id = ?1 OR (e.target_agent_id IS NULL AND e.source_agent_id != ?1 AND e.seq > ?3))
            AND NOT EXISTS (SELECT 1 FROM event_reads r WHERE r.agent_id = ?1 AND r.event_id = e.id)";
        let unread: i64 = conn.cached_row(
            &format!("SELECT COUNT(*) FROM events e WHERE {visible}"),
            params![agent.id, agent.read_all_seq, agent.joined_event_seq],
            |r| r.get(0),
        )?;
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT e.id, e.event_type, e.event_data, e.target_agent_id, e.source_session_id, e.source_agent_id, e.created_at
             FROM events e WHERE {visible} AND (?4 IS NULL OR e.event_type = ?4) ORDER BY e.seq DESC LIMIT ?5"
        ))?;
        let events = stmt
            .query_map(
                params![agent.id, agent.read_all_seq, agent.joined_event_seq, event_type, limit],
                |row| {
                    Ok(Event {
                        id: row.get(0)?,
                        event_type: row.get(1)?,
                        event_data: parse_json(row.get(2)?),
                        target_agent_id: row.get(3)?,
                        source_session_id: row.get(4)?,
                        source_agent_id: row.get(5)?,
                        created_at: row.get(6)?,
                    })
                },
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok((events, unread))
    }

    /// The real service's inbox (docs/api-contract.md §7.2): stored contribution events,
    /// plus session events built now from the public sessions started since
    /// the caller's last inbox check, with `id: null`. The filter does not
    /// separate `session_opened` from `session_closed`, every read moves the
    /// check time whatever the filter, and `unread_count` counts every
    /// unread stored event plus the built ones before the cut to `limit`.
    pub(crate) fn inbox_real(
        &self,
        agent: &Agent,
        event_type: Option<&str>,
        limit: i64,
    ) -> rusqlite::Result<(Vec<Value>, i64)> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let unread_stored: i64 = tx.cached_row(
            "SELECT COUNT(*) FROM events e WHERE e.target_agent_id = ?1
             AND NOT EXISTS (SELECT 1 FROM event_reads r WHERE r.agent_id = ?1 AND r.event_id = e.id)
             AND e.seq > ?2",
            params![agent.id, agent.read_all_seq],
            |r| r.get(0),
        )?;
        let mut events: Vec<Value> = Vec::new();
        if event_type.is_none_or(|t| t == "contribution_received") {
            let mut stmt = tx.prepare_cached(
                "SELECT e.id, e.event_type, e.event_data, e.target_agent_id, e.source_session_id, e.source_agent_id, e.created_at
                 FROM events e WHERE e.target_agent_id = ?1 AND e.seq > ?2
                 AND NOT EXISTS (SELECT 1 FROM event_reads r WHERE r.agent_id = ?1 AND r.event_id = e.id)
                 ORDER BY e.created_at DESC LIMIT ?3",
            )?;
            let rows = stmt.query_map(params![agent.id, agent.read_all_seq, limit], |row| {
                Ok(serde_json::json!({
                    "id": row.get::<_, String>(0)?,
                    "event_type": row.get::<_, String>(1)?,
                    "event_data": parse_json(row.get(2)?),
                    "is_read": false,
                    "target_agent_id": row.get::<_, Option<String>>(3)?,
                    "source_session_id": row.get::<_, Option<String>>(4)?,
                    "source_agent_id": row.get::<_, Option<String>>(5)?,
                    "created_at": row.get::<_, String>(6)?,
                }))
            })?;
            for row in rows {
                events.push(row?);
            }
        }
        let mut built = 0;
        if event_type.is_none_or(|t| t == "session_opened" || t == "session_closed") {
            let last: Option<String> =
                tx.cached_row("SELECT last_inbox_check FROM agents WHERE id = ?1", [&agent.id], |r| {
                    r.get(0)
                })?;
            let mut stmt = tx.prepare_cached(
                "SELECT id, short_id, agent_id, topic, domain, tools_used, status, outcome, started_at, closed_at
                 FROM sessions WHERE visibility = 'public' AND status IN ('open', 'closed')
                 AND (?1 IS NULL OR started_at >= ?1)
                 ORDER BY started_at DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![last, limit], |row| {
                let tools: String = row.get(5)?;
                let status: String = row.get(6)?;
                let started: String = row.get(8)?;
                let closed: Option<String> = row.get(9)?;
                let agent_id: String = row.get(2)?;
                let (kind, data, at) = if status == "open" {
                    (
                        "session_opened",
                        serde_json::json!({
                            "session_id": row.get::<_, String>(0)?, "short_id": row.get::<_, String>(1)?,
                            "agent_id": agent_id, "topic": row.get::<_, String>(3)?,
                            "domain": row.get::<_, Option<String>>(4)?, "tools_used": super::parse_list(&tools),
                        }),
                        started,
                    )
                } else {
                    (
                        "session_closed",
                        serde_json::json!({
                            "session_id": row.get::<_, String>(0)?, "short_id": row.get::<_, String>(1)?,
                            "agent_id": agent_id, "topic": row.get::<_, String>(3)?,
                            "outcome": row.get::<_, Option<String>>(7)?,
                        }),
                        closed.unwrap_or(started),
                    )
                };
                Ok((
                    agent_id,
                    serde_json::json!({
                        "id": null, "event_type": kind, "event_data": data, "is_read": false, "created_at": at,
                    }),
                ))
            })?;
            for row in rows {
                let (owner, event) = row?;
                if owner != agent.id {
                    built += 1;
                    events.push(event);
                }
            }
        }
        events.sort_by(|a, b| b["created_at"].as_str().cmp(&a["created_at"].as_str()));
        events.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        tx.cached_execute(
            "UPDATE agents SET last_inbox_check = ?1 WHERE id = ?2",
            params![clock::now_string(), agent.id],
        )?;
        tx.commit()?;
        Ok((events, unread_stored + built))
    }

    /// Marks events read: every unread one (`all`), or those of `ids` that
    /// the agent can see. Returns how many were marked (ids: how many matched).
    pub(crate) fn mark_read(&self, agent: &Agent, ids: &[String], all: bool) -> rusqlite::Result<i64> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let visible = "e.seq > ?2 AND (e.target_agent_id = ?1 OR (e.target_agent_id IS NULL AND e.source_agent_id != ?1 AND e.seq > ?3))";
        let marked = if all {
            let count: i64 = tx.cached_row(
                &format!(
                    "SELECT COUNT(*) FROM events e WHERE {visible}
                     AND NOT EXISTS (SELECT 1 FROM event_reads r WHERE r.agent_id = ?1 AND r.event_id = e.id)"
                ),
                params![agent.id, agent.read_all_seq, agent.joined_event_seq],
                |r| r.get(0),
            )?;
            let top: i64 = tx.cached_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |r| r.get(0))?;
            tx.cached_execute(
                "UPDATE agents SET read_all_seq = ?1 WHERE id = ?2",
                params![top, agent.id],
            )?;
            tx.cached_execute("DELETE FROM event_reads WHERE agent_id = ?1", [&agent.id])?;
            count
        } else {
            let mut count = 0;
            for id in ids {
                let found = tx
                    .cached_row(
                        &format!("SELECT 1 FROM events e WHERE e.id = ?4 AND {visible}"),
                        params![agent.id, agent.read_all_seq, agent.joined_event_seq, id],
                        |_| Ok(()),
                    )
                    .optional()?;
                if found.is_some() {
                    tx.cached_execute(
                        "INSERT INTO event_reads (agent_id, event_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                        params![agent.id, id],
                    )?;
                    count += 1;
                }
            }
            count
        };
        tx.commit()?;
        Ok(marked)
    }
}
