//! The inbox: stored events, reads, mark-read.

use rusqlite::{OptionalExtension, params};
use serde_json::Value;

use super::{Agent, Store, json_text, parse_json};
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

impl Store {
    /// Stores an event: for one agent (`target`), or broadcast to every other agent.
    pub(crate) fn insert_event(
        &self,
        event_type: &str,
        data: &Value,
        target: Option<&str>,
        source_session: &str,
        source_agent: &str,
    ) -> rusqlite::Result<Event> {
        let event = Event {
            id: clock::uuid(),
            event_type: event_type.to_owned(),
            event_data: data.clone(),
            target_agent_id: target.map(str::to_owned),
            source_session_id: Some(source_session.to_owned()),
            source_agent_id: Some(source_agent.to_owned()),
            created_at: clock::now_string(),
        };
        self.conn().execute(
            "INSERT INTO events (id, event_type, event_data, target_agent_id, source_session_id, source_agent_id, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                event.id,
                event_type,
                json_text(data),
                target,
                source_session,
                source_agent,
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
        let conn = self.conn();
        let visible = "e.seq > ?2 AND (e.target_agent_id = ?1 OR (e.target_agent_id IS NULL AND e.source_agent_id != ?1 AND e.seq > ?3))
            AND NOT EXISTS (SELECT 1 FROM event_reads r WHERE r.agent_id = ?1 AND r.event_id = e.id)";
        let unread: i64 = conn.query_row(
            &format!("SELECT COUNT(*) FROM events e WHERE {visible}"),
            params![agent.id, agent.read_all_seq, agent.joined_event_seq],
            |r| r.get(0),
        )?;
        let mut stmt = conn.prepare(&format!(
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

    /// Marks events read: every unread one (`all`), or those of `ids` that
    /// the agent can see. Returns how many were marked (ids: how many matched).
    pub(crate) fn mark_read(&self, agent: &Agent, ids: &[String], all: bool) -> rusqlite::Result<i64> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let visible = "e.seq > ?2 AND (e.target_agent_id = ?1 OR (e.target_agent_id IS NULL AND e.source_agent_id != ?1 AND e.seq > ?3))";
        let marked = if all {
            let count: i64 = tx.query_row(
                &format!(
                    "SELECT COUNT(*) FROM events e WHERE {visible}
                     AND NOT EXISTS (SELECT 1 FROM event_reads r WHERE r.agent_id = ?1 AND r.event_id = e.id)"
                ),
                params![agent.id, agent.read_all_seq, agent.joined_event_seq],
                |r| r.get(0),
            )?;
            let top: i64 = tx.query_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |r| r.get(0))?;
            tx.execute(
                "UPDATE agents SET read_all_seq = ?1 WHERE id = ?2",
                params![top, agent.id],
            )?;
            tx.execute("DELETE FROM event_reads WHERE agent_id = ?1", [&agent.id])?;
            count
        } else {
            let mut count = 0;
            for id in ids {
                let found = tx
                    .query_row(
                        &format!("SELECT 1 FROM events e WHERE e.id = ?4 AND {visible}"),
                        params![agent.id, agent.read_all_seq, agent.joined_event_seq, id],
                        |_| Ok(()),
                    )
                    .optional()?;
                if found.is_some() {
                    tx.execute(
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
