//! Experiences: creation, lookups, lists, status, outcome reports, votes
//! and the metrics they move.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::{Value, json};

use super::{Cached, Store, json_text, parse_json, parse_list};
use crate::server::{clock, embed, quality};

/// An experience row.
#[derive(Debug, Clone)]
pub(crate) struct Experience {
    pub(crate) seq: i64,
    pub(crate) id: String,
    pub(crate) short_id: String,
    pub(crate) session_id: Option<String>,
    pub(crate) agent_id: String,
    pub(crate) goal: String,
    pub(crate) domain: Option<String>,
    pub(crate) tools_used: Vec<String>,
    pub(crate) status: String,
    pub(crate) visibility: String,
    pub(crate) outcome: Option<String>,
    pub(crate) success_count: i64,
    pub(crate) failure_count: i64,
    pub(crate) total_reports: i64,
    pub(crate) success_rate: f64,
    pub(crate) upvotes: i64,
    pub(crate) downvotes: i64,
    pub(crate) quality_score: f64,
    pub(crate) created_at: String,
    pub(crate) updated_at: String,
    pub(crate) tags: Vec<String>,
    pub(crate) confidence: Option<f64>,
    pub(crate) dead_ends: Value,
    pub(crate) breakthroughs: Value,
    pub(crate) gotchas: Value,
    pub(crate) context: Option<String>,
    pub(crate) artifacts: Value,
    pub(crate) attempts_json: Value,
    pub(crate) solution: Option<String>,
    pub(crate) context_structured: Value,
}

impl Experience {
    pub(super) const COLUMNS: &'static str = "seq, id, short_id, session_id, agent_id, goal, domain, tools_used, status, \
        visibility, outcome, success_count, failure_count, total_reports, success_rate, upvotes, downvotes, \
        quality_score, created_at, updated_at, tags, confidence, dead_ends, breakthroughs, gotchas, context, \
        artifacts, attempts_json, solution, context_structured";

    pub(super) fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        let tools: String = row.get(7)?;
        let tags: String = row.get(20)?;
        Ok(Self {
            seq: row.get(0)?,
            id: row.get(1)?,
            short_id: row.get(2)?,
            session_id: row.get(3)?,
            agent_id: row.get(4)?,
            goal: row.get(5)?,
            domain: row.get(6)?,
            tools_used: parse_list(&tools),
            status: row.get(8)?,
            visibility: row.get(9)?,
            outcome: row.get(10)?,
            success_count: row.get(11)?,
            failure_count: row.get(12)?,
            total_reports: row.get(13)?,
            success_rate: row.get(14)?,
            upvotes: row.get(15)?,
            downvotes: row.get(16)?,
            quality_score: row.get(17)?,
            created_at: row.get(18)?,
            updated_at: row.get(19)?,
            tags: parse_list(&tags),
            confidence: row.get(21)?,
            dead_ends: parse_json(row.get(22)?),
            breakthroughs: parse_json(row.get(23)?),
            gotchas: parse_json(row.get(24)?),
            context: row.get(25)?,
            artifacts: parse_json(row.get(26)?),
            attempts_json: parse_json(row.get(27)?),
            solution: row.get(28)?,
            context_structured: parse_json(row.get(29)?),
        })
    }

    /// Readable by `viewer`: the owner, or public and published/verified.
    pub(crate) fn readable_by(&self, viewer: Option<&str>) -> bool {
        viewer == Some(self.agent_id.as_str()) || self.is_public_published()
    }

    pub(crate) fn is_public_published(&self) -> bool {
        self.visibility == "public" && matches!(self.status.as_str(), "published" | "verified")
    }
}

/// A new experience, before it is stored.
#[derive(Debug, Clone)]
pub(crate) struct NewExperience {
    pub(crate) session_id: Option<String>,
    pub(crate) agent_id: String,
    pub(crate) goal: String,
    pub(crate) domain: Option<String>,
    pub(crate) tools_used: Vec<String>,
    pub(crate) status: String,
    pub(crate) visibility: String,
    pub(crate) outcome: Option<String>,
    pub(crate) tags: Vec<String>,
    pub(crate) confidence: Option<f64>,
    pub(crate) dead_ends: Value,
    pub(crate) breakthroughs: Value,
    pub(crate) gotchas: Value,
    pub(crate) context: Option<String>,
    pub(crate) artifacts: Value,
    pub(crate) attempts_json: Value,
    pub(crate) solution: Option<String>,
    pub(crate) context_structured: Value,
}

impl NewExperience {
    /// The text embedded for this experience (docs/api-contract.md §6.8), labels left out.
    pub(crate) fn embedding_text(&self) -> String {
        let mut lines = vec![self.goal.clone()];
        let items = |value: &Value, f: &dyn Fn(&Value) -> String| -> Option<String> {
            let list: Vec<String> = value
                .as_array()?
                .iter()
                .map(f)
                .filter(|s| !s.trim().is_empty())
                .collect();
            (!list.is_empty()).then(|| list.join("; "))
        };
        let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
        if let Some(text) = items(&self.dead_ends, &|d| {
            format!("Tried {} but {}", s(d, "what"), s(d, "why"))
        }) {
            lines.push(text);
        }
        if let Some(text) = items(&self.breakthroughs, &|b| {
            format!("{}: {}", s(b, "insight"), s(b, "detail"))
        }) {
            lines.push(text);
        }
        if let Some(text) = items(&self.gotchas, &|g| s(g, "warning")) {
            lines.push(text);
        }
        if let Some(text) = items(&self.attempts_json, &|a| {
            format!("{}: {}", s(a, "action"), s(a, "outcome"))
        }) {
            lines.push(text);
        }
        for extra in [&self.solution, &self.context].into_iter().flatten() {
            lines.push(extra.clone());
        }
        if !self.tags.is_empty() {
            lines.push(self.tags.join(", "));
        }
        if let Some(domain) = &self.domain {
            lines.push(domain.clone());
        }
        if !self.tools_used.is_empty() {
            lines.push(self.tools_used.join(", "));
        }
        lines.join("\n")
    }
}

/// A validated outcome report.
#[derive(Debug, Clone)]
pub(crate) struct OutcomeInput {
    pub(crate) success: bool,
    pub(crate) execution_time_ms: Option<i64>,
    pub(crate) error_message: Option<String>,
    pub(crate) context_notes: Option<String>,
    pub(crate) env_fingerprint: Option<Value>,
}

impl Store {
    /// Stores an experience, its keyword index and its vector.
    pub(crate) fn insert_experience(&self, new: &NewExperience) -> rusqlite::Result<Experience> {
        let vector = embed::embed(&new.embedding_text());
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let id = clock::uuid();
        let now = clock::now_string();
        let mut seq = None;
        for _ in 0..16 {
            let short_id = clock::short_id();
            let inserted = tx.cached_execute(
                "INSERT INTO experiences (id, short_id, session_id, agent_id, goal, domain, tools_used, status, visibility,
                   outcome, created_at, updated_at, tags, confidence, dead_ends, breakthroughs, gotchas, context, artifacts,
                   attempts_json, solution, context_structured, embedding)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)
                 ON CONFLICT (short_id) DO NOTHING",
                params![
                    id,
                    short_id,
                    new.session_id,
                    new.agent_id,
                    new.goal,
                    new.domain,
                    json_text(&json!(new.tools_used)),
                    new.status,
                    new.visibility,
                    new.outcome,
                    now,
                    json_text(&json!(new.tags)),
                    new.confidence,
                    json_text(&new.dead_ends),
                    json_text(&new.breakthroughs),
                    json_text(&new.gotchas),
                    new.context,
                    json_text(&new.artifacts),
                    json_text(&new.attempts_json),
                    new.solution,
                    (!new.context_structured.is_null()).then(|| json_text(&new.context_structured)),
                    embed::to_blob(&vector),
                ],
            )?;
            if inserted == 1 {
                seq = Some(tx.last_insert_rowid());
                break;
            }
        }
        let seq = seq.ok_or(rusqlite::Error::QueryReturnedNoRows)?;
        tx.cached_execute(
            "INSERT INTO experience_fts (rowid, goal, tags, domain, solution, context) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![seq, new.goal, new.tags.join(" "), new.domain, new.solution, new.context],
        )?;
        let experience = tx.cached_row(
            &format!("SELECT {} FROM experiences WHERE seq = ?1", Experience::COLUMNS),
            [seq],
            Experience::from_row,
        )?;
        tx.commit()?;
        drop(vector);
        self.refresh_index(&conn, &experience.id)?;
        Ok(experience)
    }

    /// An experience by UUID (any spelling) or short id.
    pub(crate) fn experience(&self, identifier: &str) -> rusqlite::Result<Option<Experience>> {
        let conn = self.reader();
        let (clause, value) = match uuid::Uuid::parse_str(identifier) {
            Ok(uuid) => ("id = ?1", uuid.hyphenated().to_string()),
            Err(_) => ("short_id = ?1", identifier.to_owned()),
        };
        conn.cached_row(
            &format!("SELECT {} FROM experiences WHERE {clause}", Experience::COLUMNS),
            [value],
            Experience::from_row,
        )
        .optional()
    }

    /// Sets an experience's status.
    pub(crate) fn set_experience_status(&self, id: &str, status: &str) -> rusqlite::Result<Option<Experience>> {
        let conn = self.conn();
        conn.cached_execute("UPDATE experiences SET status = ?1 WHERE id = ?2", params![status, id])?;
        self.refresh_index(&conn, id)?;
        conn.cached_row(
            &format!("SELECT {} FROM experiences WHERE id = ?1", Experience::COLUMNS),
            [id],
            Experience::from_row,
        )
        .optional()
    }

    /// A page of experiences visible to `viewer`, newest first.
    pub(crate) fn list_experiences(
        &self,
        viewer: Option<&str>,
        status: Option<&str>,
        domain: Option<&str>,
        include_archived: bool,
        limit: i64,
        offset: i64,
    ) -> rusqlite::Result<(Vec<Experience>, i64)> {
        let conn = self.reader();
        let filter = "(visibility = 'public' AND status IN ('published', 'verified') OR agent_id = ?1)
            AND (?2 IS NULL OR status = ?2) AND (?3 IS NULL OR domain = ?3) AND (?4 OR status != 'archived')";
        let total: i64 = conn.cached_row(
            &format!("SELECT COUNT(*) FROM experiences WHERE {filter}"),
            params![viewer, status, domain, include_archived],
            |r| r.get(0),
        )?;
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {} FROM experiences WHERE {filter} ORDER BY seq DESC LIMIT ?5 OFFSET ?6",
            Experience::COLUMNS
        ))?;
        let rows = stmt
            .query_map(
                params![viewer, status, domain, include_archived, limit, offset],
                Experience::from_row,
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok((rows, total))
    }

    pub(super) fn experiences_by_seq(conn: &Connection, seqs: &[i64]) -> rusqlite::Result<HashMap<i64, Experience>> {
        let mut out = HashMap::with_capacity(seqs.len());
        if seqs.is_empty() {
            return Ok(out);
        }
        // One statement for any number of rows (the list as a JSON array).
        let list = format!("[{}]", seqs.iter().map(i64::to_string).collect::<Vec<_>>().join(","));
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {} FROM experiences WHERE seq IN (SELECT value FROM json_each(?1))",
            Experience::COLUMNS
        ))?;
        for row in stmt.query_map([list], Experience::from_row)? {
            let row = row?;
            out.insert(row.seq, row);
        }
        Ok(out)
    }

    /// Records an outcome report; `Ok(None)` when this agent already reported
    /// on this experience. Recomputes the experience's metrics.
    pub(crate) fn insert_outcome(
        &self,
        experience: &Experience,
        agent_id: &str,
        report: &OutcomeInput,
    ) -> rusqlite::Result<Option<Value>> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let id = clock::uuid();
        let now = clock::now_string();
        let inserted = tx.cached_execute(
            "INSERT INTO outcome_reports (id, experience_id, agent_id, success, execution_time_ms, error_message,
               context_notes, env_fingerprint, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (experience_id, agent_id) DO NOTHING",
            params![
                id,
                experience.id,
                agent_id,
                report.success,
                report.execution_time_ms,
                report.error_message,
                report.context_notes,
                report.env_fingerprint.as_ref().map(json_text),
                now
            ],
        )?;
        if inserted == 0 {
            return Ok(None);
        }
        Self::recompute_metrics(&tx, &experience.id)?;
        tx.commit()?;
        self.refresh_index(&conn, &experience.id)?;
        Ok(Some(json!({
            "id": id,
            "experience_id": experience.id,
            "agent_id": agent_id,
            "success": report.success,
            "execution_time_ms": report.execution_time_ms,
            "error_message": report.error_message,
            "context_notes": report.context_notes,
            "env_fingerprint": report.env_fingerprint,
            "created_at": now,
        })))
    }

    /// The real service's outcome report: an upsert on (experience, agent).
    /// A second report replaces the verdict; optional fields it does not
    /// send keep their stored values, and `created_at` and the id stay
    /// (docs/api-contract.md §6.6). Recomputes the metrics.
    pub(crate) fn upsert_outcome(
        &self,
        experience: &Experience,
        agent_id: &str,
        report: &OutcomeInput,
    ) -> rusqlite::Result<Value> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let row = tx.cached_row(
            "INSERT INTO outcome_reports (id, experience_id, agent_id, success, execution_time_ms, error_message,
               context_notes, env_fingerprint, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (experience_id, agent_id) DO UPDATE SET
               success = excluded.success,
               execution_time_ms = COALESCE(excluded.execution_time_ms, outcome_reports.execution_time_ms),
               error_message = COALESCE(excluded.error_message, outcome_reports.error_message),
               context_notes = COALESCE(excluded.context_notes, outcome_reports.context_notes),
               env_fingerprint = COALESCE(excluded.env_fingerprint, outcome_reports.env_fingerprint)
             RETURNING id, success, execution_time_ms, error_message, context_notes, env_fingerprint, created_at",
            params![
                clock::uuid(),
                experience.id,
                agent_id,
                report.success,
                report.execution_time_ms,
                report.error_message,
                report.context_notes,
                report.env_fingerprint.as_ref().map(json_text),
                clock::now_string()
            ],
            |row| {
                Ok(json!({
                    "id": row.get::<_, String>(0)?,
                    "experience_id": experience.id,
                    "agent_id": agent_id,
                    "success": row.get::<_, bool>(1)?,
                    "execution_time_ms": row.get::<_, Option<i64>>(2)?,
                    "error_message": row.get::<_, Option<String>>(3)?,
                    "context_notes": row.get::<_, Option<String>>(4)?,
                    "env_fingerprint": parse_json(row.get(5)?),
                    "created_at": row.get::<_, String>(6)?,
                }))
            },
        )?;
        Self::recompute_metrics(&tx, &experience.id)?;
        tx.commit()?;
        self.refresh_index(&conn, &experience.id)?;
        Ok(row)
    }

    /// Casts or replaces a vote; recomputes the metrics.
    pub(crate) fn upsert_vote(
        &self,
        experience: &Experience,
        agent_id: &str,
        vote_type: &str,
    ) -> rusqlite::Result<Value> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let now = clock::now_string();
        tx.cached_execute(
            "INSERT INTO votes (id, experience_id, agent_id, vote_type, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)
             ON CONFLICT (experience_id, agent_id) DO UPDATE SET vote_type = excluded.vote_type, updated_at = excluded.updated_at",
            params![clock::uuid(), experience.id, agent_id, vote_type, now],
        )?;
        let vote = tx.cached_row(
            "SELECT id, experience_id, agent_id, vote_type, created_at, updated_at FROM votes
             WHERE experience_id = ?1 AND agent_id = ?2",
            params![experience.id, agent_id],
            |r| {
                Ok(json!({
                    "id": r.get::<_, String>(0)?,
                    "experience_id": r.get::<_, String>(1)?,
                    "agent_id": r.get::<_, String>(2)?,
                    "vote_type": r.get::<_, String>(3)?,
                    "created_at": r.get::<_, String>(4)?,
                    "updated_at": r.get::<_, String>(5)?,
                }))
            },
        )?;
        Self::recompute_metrics(&tx, &experience.id)?;
        tx.commit()?;
        self.refresh_index(&conn, &experience.id)?;
        Ok(vote)
    }

    fn recompute_metrics(conn: &Connection, experience_id: &str) -> rusqlite::Result<()> {
        let (successes, reports): (i64, i64) = conn.cached_row(
            "SELECT COALESCE(SUM(success), 0), COUNT(*) FROM outcome_reports WHERE experience_id = ?1",
            [experience_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let (up, down): (i64, i64) = conn.cached_row(
            "SELECT COALESCE(SUM(vote_type = 'up'), 0), COALESCE(SUM(vote_type = 'down'), 0) FROM votes WHERE experience_id = ?1",
            [experience_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let rate = if reports > 0 {
            successes as f64 / reports as f64
        } else {
            0.0
        };
        let quality = quality::quality_score(successes as u64, reports as u64, up as u64, down as u64);
        conn.cached_execute(
            "UPDATE experiences SET success_count = ?1, failure_count = ?2, total_reports = ?3, success_rate = ?4,
               upvotes = ?5, downvotes = ?6, quality_score = ?7 WHERE id = ?8",
            params![
                successes,
                reports - successes,
                reports,
                rate,
                up,
                down,
                quality,
                experience_id
            ],
        )?;
        Ok(())
    }
}
