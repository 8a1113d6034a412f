//! Storage: one SQLite database (in memory, or a file that survives
//! restarts), every write in a transaction, plus an in-memory copy of the
//! experience vectors for fast similarity.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, RwLock};

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::{Value, json};

use super::clock;
use super::embed;
use super::vectors::{Meta, VectorIndex};

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS agents (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    name TEXT NOT NULL,
    username TEXT UNIQUE,
    api_key_hash TEXT UNIQUE NOT NULL,
    api_key_prefix TEXT NOT NULL,
    is_active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    last_active_at TEXT,
    joined_event_seq INTEGER NOT NULL DEFAULT 0,
    read_all_seq INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS sessions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    short_id TEXT UNIQUE NOT NULL,
    agent_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    domain TEXT,
    tools_used TEXT NOT NULL,
    status TEXT NOT NULL,
    visibility TEXT NOT NULL,
    outcome TEXT,
    topic_embedding BLOB,
    started_at TEXT NOT NULL,
    closed_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_agent ON sessions(agent_id, seq);
CREATE INDEX IF NOT EXISTS sessions_by_status ON sessions(status, visibility, seq);
CREATE TABLE IF NOT EXISTS entries (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    entry_type TEXT NOT NULL,
    content TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (session_id, ordinal)
);
CREATE TABLE IF NOT EXISTS contributions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    session_id TEXT NOT NULL,
    contributor_agent_id TEXT NOT NULL,
    content TEXT NOT NULL,
    contribution_type TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS contributions_by_session ON contributions(session_id, seq);
CREATE TABLE IF NOT EXISTS experiences (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    short_id TEXT UNIQUE NOT NULL,
    session_id TEXT,
    agent_id TEXT NOT NULL,
    goal TEXT NOT NULL,
    domain TEXT,
    tools_used TEXT NOT NULL,
    status TEXT NOT NULL,
    visibility TEXT NOT NULL,
    outcome TEXT,
    success_count INTEGER NOT NULL DEFAULT 0,
    failure_count INTEGER NOT NULL DEFAULT 0,
    total_reports INTEGER NOT NULL DEFAULT 0,
    success_rate REAL NOT NULL DEFAULT 0,
    upvotes INTEGER NOT NULL DEFAULT 0,
    downvotes INTEGER NOT NULL DEFAULT 0,
    quality_score REAL NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    tags TEXT NOT NULL,
    confidence REAL,
    dead_ends TEXT NOT NULL,
    breakthroughs TEXT NOT NULL,
    gotchas TEXT NOT NULL,
    context TEXT,
    artifacts TEXT NOT NULL,
    attempts_json TEXT NOT NULL,
    solution TEXT,
    context_structured TEXT,
    embedding BLOB
);
CREATE INDEX IF NOT EXISTS experiences_by_status ON experiences(status, visibility);
CREATE VIRTUAL TABLE IF NOT EXISTS experience_fts USING fts5(
    goal, tags, domain, solution, context, tokenize = 'porter unicode61'
);
CREATE TABLE IF NOT EXISTS outcome_reports (
    id TEXT PRIMARY KEY,
    experience_id TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    success INTEGER NOT NULL,
    execution_time_ms INTEGER,
    error_message TEXT,
    context_notes TEXT,
    env_fingerprint TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (experience_id, agent_id)
);
CREATE TABLE IF NOT EXISTS votes (
    id TEXT PRIMARY KEY,
    experience_id TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    vote_type TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (experience_id, agent_id)
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    event_type TEXT NOT NULL,
    event_data TEXT NOT NULL,
    target_agent_id TEXT,
    source_session_id TEXT,
    source_agent_id TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_target ON events(target_agent_id, seq);
CREATE TABLE IF NOT EXISTS event_reads (
    agent_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (agent_id, event_id)
);
"#;

/// The database.
#[derive(Debug)]
pub(crate) struct Store {
    conn: Mutex<Connection>,
    index: RwLock<VectorIndex>,
}

/// Reads what search needs of an experience: `(seq, metadata, vector)`.
const INDEX_COLUMNS: &str = "seq, embedding, status, visibility, domain, quality_score, failure_count, success_count";

fn index_row(row: &Row<'_>) -> rusqlite::Result<(i64, Meta, Vec<f32>)> {
    let blob: Vec<u8> = row.get(1)?;
    let status: String = row.get(2)?;
    let visibility: String = row.get(3)?;
    let failures: i64 = row.get(6)?;
    let successes: i64 = row.get(7)?;
    Ok((
        row.get(0)?,
        Meta {
            searchable: visibility == "public"
                && matches!(status.as_str(), "published" | "verified")
                && !(failures >= 3 && successes == 0),
            quality: row.get(5)?,
            domain: row.get(4)?,
        },
        embed::from_blob(&blob),
    ))
}

impl Eligibility {
    fn accepts(&self, meta: &Meta) -> bool {
        meta.searchable
            && meta.quality >= self.min_quality
            && self.domain.as_ref().is_none_or(|d| meta.domain.as_ref() == Some(d))
    }
}

/// JSON text of a value (for JSON columns).
fn json_text(value: &Value) -> String {
    value.to_string()
}

fn parse_json(text: Option<String>) -> Value {
    text.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or(Value::Null)
}

fn parse_list(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

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
    const COLUMNS: &'static str =
        "id, name, username, api_key_prefix, is_active, created_at, last_active_at, joined_event_seq, read_all_seq";

    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
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

    /// `AgentPublic`, with `Z` timestamps like the real server's Pydantic models.
    pub(crate) fn public_json(&self) -> Value {
        let z = |ts: &str| ts.replace("+00:00", "Z");
        json!({
            "id": self.id,
            "name": self.name,
            "username": self.username,
            "api_key_prefix": self.api_key_prefix,
            "is_active": self.is_active,
            "rate_limit_tier": "standard",
            "subscription_tier": "free",
            "credits_balance": 0,
            "publisher_domain": null,
            "created_at": z(&self.created_at),
            "last_active_at": self.last_active_at.as_deref().map(z),
        })
    }
}

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
    const COLUMNS: &'static str = "id, short_id, agent_id, topic, domain, tools_used, status, visibility, outcome, \
                                   started_at, closed_at, created_at, updated_at, topic_embedding";

    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
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

    /// The full row, as `select *` returns it (the embedding as null).
    pub(crate) fn row_json(&self) -> Value {
        json!({
            "id": self.id,
            "short_id": self.short_id,
            "agent_id": self.agent_id,
            "topic": self.topic,
            "domain": self.domain,
            "tools_used": self.tools_used,
            "status": self.status,
            "visibility": self.visibility,
            "outcome": self.outcome,
            "topic_embedding": null,
            "started_at": self.started_at,
            "closed_at": self.closed_at,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        })
    }

    /// The slim projection of pulse status.
    pub(crate) fn pulse_json(&self) -> Value {
        json!({
            "id": self.id,
            "short_id": self.short_id,
            "agent_id": self.agent_id,
            "topic": self.topic,
            "domain": self.domain,
            "tools_used": self.tools_used,
            "status": self.status,
            "outcome": self.outcome,
            "started_at": self.started_at,
            "closed_at": self.closed_at,
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

impl Entry {
    pub(crate) fn json(&self) -> Value {
        json!({
            "id": self.id,
            "session_id": self.session_id,
            "entry_type": self.entry_type,
            "content": self.content,
            "ordinal": self.ordinal,
            "created_at": self.created_at,
        })
    }
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

impl Contribution {
    pub(crate) fn json(&self) -> Value {
        json!({
            "id": self.id,
            "session_id": self.session_id,
            "contributor_agent_id": self.contributor_agent_id,
            "content": self.content,
            "contribution_type": self.contribution_type,
            "created_at": self.created_at,
        })
    }
}

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
    const COLUMNS: &'static str = "seq, id, short_id, session_id, agent_id, goal, domain, tools_used, status, \
        visibility, outcome, success_count, failure_count, total_reports, success_rate, upvotes, downvotes, \
        quality_score, created_at, updated_at, tags, confidence, dead_ends, breakthroughs, gotchas, context, \
        artifacts, attempts_json, solution, context_structured";

    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
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

    /// The list-item projection.
    pub(crate) fn list_json(&self) -> Value {
        json!({
            "id": self.id,
            "short_id": self.short_id,
            "session_id": self.session_id,
            "agent_id": self.agent_id,
            "goal": self.goal,
            "domain": self.domain,
            "tools_used": self.tools_used,
            "status": self.status,
            "visibility": self.visibility,
            "outcome": self.outcome,
            "success_count": self.success_count,
            "failure_count": self.failure_count,
            "total_reports": self.total_reports,
            "success_rate": self.success_rate,
            "upvotes": self.upvotes,
            "downvotes": self.downvotes,
            "quality_score": self.quality_score,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "tags": self.tags,
            "confidence": self.confidence,
        })
    }

    /// The detail projection.
    pub(crate) fn detail_json(&self) -> Value {
        let mut value = self.list_json();
        if let Value::Object(map) = &mut value {
            map.insert("dead_ends".into(), self.dead_ends.clone());
            map.insert("breakthroughs".into(), self.breakthroughs.clone());
            map.insert("gotchas".into(), self.gotchas.clone());
            map.insert("context".into(), json!(self.context));
            map.insert("artifacts".into(), self.artifacts.clone());
            map.insert("attempts_json".into(), self.attempts_json.clone());
            map.insert("solution".into(), json!(self.solution));
            map.insert("context_structured".into(), self.context_structured.clone());
        }
        value
    }

    /// The search card: the list item plus the ranking fields.
    pub(crate) fn search_json(&self, similarity: f64, keyword_rank: f64, combined_score: f64) -> Value {
        let mut value = self.list_json();
        if let Value::Object(map) = &mut value {
            map.insert("similarity".into(), json!(round4(similarity)));
            map.insert("keyword_rank".into(), json!(keyword_rank));
            map.insert("combined_score".into(), json!(combined_score));
        }
        value
    }

    /// The unprojected search row of the open-session answer.
    pub(crate) fn raw_search_json(&self, similarity: f64, keyword_rank: f64, combined_score: f64) -> Value {
        let mut value = self.detail_json();
        if let Value::Object(map) = &mut value {
            map.insert("similarity".into(), json!(round4(similarity)));
            map.insert("keyword_rank".into(), json!(keyword_rank));
            map.insert("combined_score".into(), json!(combined_score));
        }
        value
    }

    /// The similar card.
    pub(crate) fn similar_json(&self, similarity: f64) -> Value {
        json!({
            "id": self.id,
            "short_id": self.short_id,
            "goal": self.goal,
            "domain": self.domain,
            "tools_used": self.tools_used,
            "status": self.status,
            "outcome": self.outcome,
            "success_rate": self.success_rate,
            "quality_score": self.quality_score,
            "upvotes": self.upvotes,
            "downvotes": self.downvotes,
            "agent_id": self.agent_id,
            "similarity": round4(similarity),
            "created_at": self.created_at,
            "tags": self.tags,
            "confidence": self.confidence,
        })
    }
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
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
    /// The text embedded for this experience (CONTRACT §6.8), labels left out.
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

impl Event {
    pub(crate) fn json(&self) -> Value {
        let mut value = json!({
            "id": self.id,
            "event_type": self.event_type,
            "event_data": self.event_data,
            "is_read": false,
            "created_at": self.created_at,
        });
        if let Some(target) = &self.target_agent_id {
            value["target_agent_id"] = json!(target);
            value["source_session_id"] = json!(self.source_session_id);
            value["source_agent_id"] = json!(self.source_agent_id);
        }
        value
    }
}

/// Which experiences a search or similar-lookup may return.
#[derive(Debug, Clone, Default)]
pub(crate) struct Eligibility {
    pub(crate) min_quality: f64,
    pub(crate) domain: Option<String>,
}

impl Store {
    /// Opens (and if needed creates) the database: in memory, or the file at `path`.
    /// Opens (or creates) the database. A new file is created readable by
    /// its owner only (0600): it holds private sessions and key hashes.
    /// SQLite gives its `-wal` and `-shm` files the same mode.
    pub(crate) fn open(path: Option<&Path>) -> rusqlite::Result<Self> {
        let conn = match path {
            Some(path) => {
                create_private(path);
                Connection::open(path)?
            }
            None => Connection::open_in_memory()?,
        };
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        if path.is_some() {
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
        }
        conn.execute_batch(SCHEMA)?;
        conn.execute(
            "INSERT INTO experience_fts (experience_fts, rank) VALUES ('rank', 'bm25(1.0, 1.0, 0.4, 0.4, 0.2)')",
            [],
        )?;
        let mut index = VectorIndex::default();
        {
            let mut stmt = conn.prepare(&format!(
                "SELECT {INDEX_COLUMNS} FROM experiences WHERE embedding IS NOT NULL ORDER BY seq"
            ))?;
            for row in stmt.query_map([], index_row)? {
                let (seq, meta, vector) = row?;
                index.upsert(seq, meta, &vector);
            }
        }
        Ok(Self {
            conn: Mutex::new(conn),
            index: RwLock::new(index),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Re-reads what search needs of one experience (after a status or metrics change).
    fn refresh_index(&self, conn: &Connection, id: &str) -> rusqlite::Result<()> {
        let row = conn
            .query_row(
                &format!("SELECT {INDEX_COLUMNS} FROM experiences WHERE id = ?1 AND embedding IS NOT NULL"),
                [id],
                index_row,
            )
            .optional()?;
        if let Some((seq, meta, vector)) = row {
            self.index
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .upsert(seq, meta, &vector);
        }
        Ok(())
    }

    // ------------------------------------------------------------ agents

    /// Whether a username is taken.
    pub(crate) fn username_taken(&self, username: &str) -> rusqlite::Result<bool> {
        self.conn()
            .query_row("SELECT 1 FROM agents WHERE username = ?1", [username], |_| Ok(()))
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
        let joined: i64 = conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |r| r.get(0))?;
        let inserted = conn.execute(
            "INSERT INTO agents (id, name, username, api_key_hash, api_key_prefix, created_at, joined_event_seq, read_all_seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) ON CONFLICT (username) DO NOTHING",
            params![id, name, username, key_hash, key_prefix, now, joined],
        )?;
        if inserted == 0 {
            return Ok(None);
        }
        conn.query_row(
            &format!("SELECT {} FROM agents WHERE id = ?1", Agent::COLUMNS),
            [&id],
            Agent::from_row,
        )
        .map(Some)
    }

    /// The agent a key hash belongs to, with `last_active_at` set to now.
    pub(crate) fn agent_by_key(&self, key_hash: &str) -> rusqlite::Result<Option<Agent>> {
        let conn = self.conn();
        let agent = conn
            .query_row(
                &format!("SELECT {} FROM agents WHERE api_key_hash = ?1", Agent::COLUMNS),
                [key_hash],
                Agent::from_row,
            )
            .optional()?;
        if let Some(mut agent) = agent {
            if agent.is_active {
                let now = clock::now_string();
                conn.execute(
                    "UPDATE agents SET last_active_at = ?1 WHERE id = ?2",
                    params![now, agent.id],
                )?;
                agent.last_active_at = Some(now);
            }
            return Ok(Some(agent));
        }
        Ok(None)
    }

    /// The agent a key hash belongs to, without touching it (WebSocket auth).
    pub(crate) fn peek_agent_by_key(&self, key_hash: &str) -> rusqlite::Result<Option<Agent>> {
        self.conn()
            .query_row(
                &format!("SELECT {} FROM agents WHERE api_key_hash = ?1", Agent::COLUMNS),
                [key_hash],
                Agent::from_row,
            )
            .optional()
    }

    /// Replaces an agent's key.
    pub(crate) fn rotate_key(&self, agent_id: &str, key_hash: &str, key_prefix: &str) -> rusqlite::Result<()> {
        self.conn().execute(
            "UPDATE agents SET api_key_hash = ?1, api_key_prefix = ?2 WHERE id = ?3",
            params![key_hash, key_prefix, agent_id],
        )?;
        Ok(())
    }

    /// How many agents are registered.
    pub(crate) fn count_agents(&self) -> rusqlite::Result<i64> {
        self.conn().query_row("SELECT COUNT(*) FROM agents", [], |r| r.get(0))
    }

    // ------------------------------------------------------------ sessions

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
            let inserted = conn.execute(
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
        conn.query_row(
            &format!("SELECT {} FROM sessions WHERE {clause}", Session::COLUMNS),
            [value],
            Session::from_row,
        )
        .optional()
    }

    /// A session by UUID.
    pub(crate) fn session(&self, id: &str) -> rusqlite::Result<Option<Session>> {
        Self::session_where(&self.conn(), "id = ?1", id)
    }

    /// A session by short id.
    pub(crate) fn session_by_short_id(&self, short_id: &str) -> rusqlite::Result<Option<Session>> {
        Self::session_where(&self.conn(), "short_id = ?1", short_id)
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
        let conn = self.conn();
        let filter =
            "(?1 IS NULL AND visibility IN ('public', 'team') OR agent_id = ?1) AND (?2 IS NULL OR status = ?2)";
        let total: i64 = conn.query_row(
            &format!("SELECT COUNT(*) FROM sessions WHERE {filter}"),
            params![owner, status],
            |r| r.get(0),
        )?;
        let mut stmt = conn.prepare(&format!(
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
        let conn = self.conn();
        let mut stmt = conn.prepare(
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
        let ordinal: i64 = tx.query_row(
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
        tx.execute(
            "INSERT INTO entries (id, session_id, entry_type, content, ordinal, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![entry.id, session_id, entry_type, json_text(content), ordinal, entry.created_at],
        )?;
        tx.execute(
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
            conn.execute(
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
        let changed = conn.execute(
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
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {} FROM sessions WHERE status = 'open' AND visibility = 'public' AND agent_id != ?1 ORDER BY seq DESC LIMIT 500",
            Session::COLUMNS
        ))?;
        stmt.query_map([agent_id], Session::from_row)?.collect()
    }

    /// The newest 50 public sessions that are open or closed.
    pub(crate) fn pulse_sessions(&self) -> rusqlite::Result<Vec<Session>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {} FROM sessions WHERE visibility = 'public' AND status IN ('open', 'closed') ORDER BY seq DESC LIMIT 50",
            Session::COLUMNS
        ))?;
        stmt.query_map([], Session::from_row)?.collect()
    }

    // ------------------------------------------------------------ contributions

    /// Stores a contribution.
    pub(crate) fn insert_contribution(
        &self,
        session_id: &str,
        contributor: &str,
        content: &Value,
        contribution_type: &str,
    ) -> rusqlite::Result<Contribution> {
        let contribution = Contribution {
            id: clock::uuid(),
            session_id: session_id.to_owned(),
            contributor_agent_id: contributor.to_owned(),
            content: content.clone(),
            contribution_type: contribution_type.to_owned(),
            created_at: clock::now_string(),
        };
        self.conn().execute(
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
        Ok(contribution)
    }

    /// The contributions to a session, oldest first.
    pub(crate) fn contributions(&self, session_id: &str) -> rusqlite::Result<Vec<Contribution>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
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

    // ------------------------------------------------------------ experiences

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
            let inserted = tx.execute(
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
        tx.execute(
            "INSERT INTO experience_fts (rowid, goal, tags, domain, solution, context) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![seq, new.goal, new.tags.join(" "), new.domain, new.solution, new.context],
        )?;
        let experience = tx.query_row(
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
        let conn = self.conn();
        let (clause, value) = match uuid::Uuid::parse_str(identifier) {
            Ok(uuid) => ("id = ?1", uuid.hyphenated().to_string()),
            Err(_) => ("short_id = ?1", identifier.to_owned()),
        };
        conn.query_row(
            &format!("SELECT {} FROM experiences WHERE {clause}", Experience::COLUMNS),
            [value],
            Experience::from_row,
        )
        .optional()
    }

    /// Sets an experience's status.
    pub(crate) fn set_experience_status(&self, id: &str, status: &str) -> rusqlite::Result<Option<Experience>> {
        let conn = self.conn();
        conn.execute("UPDATE experiences SET status = ?1 WHERE id = ?2", params![status, id])?;
        self.refresh_index(&conn, id)?;
        conn.query_row(
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
        let conn = self.conn();
        let filter = "(visibility = 'public' AND status IN ('published', 'verified') OR agent_id = ?1)
            AND (?2 IS NULL OR status = ?2) AND (?3 IS NULL OR domain = ?3) AND (?4 OR status != 'archived')";
        let total: i64 = conn.query_row(
            &format!("SELECT COUNT(*) FROM experiences WHERE {filter}"),
            params![viewer, status, domain, include_archived],
            |r| r.get(0),
        )?;
        let mut stmt = conn.prepare(&format!(
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

    fn experiences_by_seq(conn: &Connection, seqs: &[i64]) -> rusqlite::Result<HashMap<i64, Experience>> {
        let mut out = HashMap::with_capacity(seqs.len());
        if seqs.is_empty() {
            return Ok(out);
        }
        let list = seqs.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        let mut stmt = conn.prepare(&format!(
            "SELECT {} FROM experiences WHERE seq IN ({list})",
            Experience::COLUMNS
        ))?;
        for row in stmt.query_map([], Experience::from_row)? {
            let row = row?;
            out.insert(row.seq, row);
        }
        Ok(out)
    }

    /// Hybrid search (CONTRACT §6.8): a vector arm and a keyword arm of
    /// `3 · limit` candidates each, fused by reciprocal rank (k = 60,
    /// 0.5/0.5). Returns `(experience, similarity, keyword_rank, combined)`,
    /// best first.
    pub(crate) fn search(
        &self,
        query_vector: &[f32],
        fts: Option<&str>,
        eligibility: &Eligibility,
        limit: usize,
    ) -> rusqlite::Result<Vec<(Experience, f64, f64, f64)>> {
        let candidates = limit.saturating_mul(3).max(1);
        let query = embed::sparse(query_vector);
        // Keyword arm: the best keyword matches, then only the eligible ones.
        let mut keyword_hits: Vec<(i64, f64)> = Vec::new();
        if let Some(fts) = fts {
            let conn = self.conn();
            let mut stmt = conn.prepare(
                "SELECT rowid, -rank FROM experience_fts WHERE experience_fts MATCH ?1 ORDER BY rank LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![fts, (candidates * 8).max(200) as i64], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, f64>(1)?))
            });
            match rows {
                Ok(rows) => keyword_hits = rows.collect::<rusqlite::Result<_>>()?,
                Err(error) => tracing::debug!(%error, "keyword arm skipped"),
            }
        }
        let (by_vector, by_keyword) = {
            let index = self.index.read().unwrap_or_else(|e| e.into_inner());
            let by_vector = index.nearest(&query, |_, meta| eligibility.accepts(meta), candidates);
            let by_keyword: Vec<(i64, f64, f64)> = keyword_hits
                .into_iter()
                .filter(|(seq, _)| index.meta(*seq).is_some_and(|m| eligibility.accepts(m)))
                .filter_map(|(seq, rank)| Some((seq, rank, index.similarity(seq, &query)?)))
                .take(candidates)
                .collect();
            (by_vector, by_keyword)
        };
        // Fusion.
        let mut fused: HashMap<i64, (f64, f64, f64)> = HashMap::new();
        for (rank, (seq, similarity)) in by_vector.iter().enumerate() {
            let entry = fused.entry(*seq).or_default();
            entry.0 = *similarity;
            entry.2 += 0.5 / (60.0 + rank as f64 + 1.0);
        }
        for (rank, (seq, keyword, similarity)) in by_keyword.iter().enumerate() {
            let entry = fused.entry(*seq).or_default();
            entry.0 = *similarity;
            entry.1 = *keyword;
            entry.2 += 0.5 / (60.0 + rank as f64 + 1.0);
        }
        let mut ranked: Vec<(i64, (f64, f64, f64))> = fused.into_iter().collect();
        ranked.sort_by(|a, b| {
            b.1.2
                .total_cmp(&a.1.2)
                .then(b.1.0.total_cmp(&a.1.0))
                .then(b.0.cmp(&a.0))
        });
        ranked.truncate(limit);
        let seqs: Vec<i64> = ranked.iter().map(|(seq, _)| *seq).collect();
        let mut rows = Self::experiences_by_seq(&self.conn(), &seqs)?;
        Ok(ranked
            .into_iter()
            .filter_map(|(seq, (similarity, keyword, combined))| {
                rows.remove(&seq).map(|e| (e, similarity, keyword, combined))
            })
            .collect())
    }

    /// Experiences similar to `source` (similarity ≥ `threshold`), nearest first.
    pub(crate) fn similar(
        &self,
        source: &Experience,
        threshold: f64,
        limit: usize,
    ) -> rusqlite::Result<Vec<(Experience, f64)>> {
        let scored: Vec<(i64, f64)> = {
            let index = self.index.read().unwrap_or_else(|e| e.into_inner());
            let Some(source_vector) = index.sparse(source.seq) else {
                return Ok(Vec::new());
            };
            let all = Eligibility::default();
            let mut scored = index.nearest(
                &source_vector,
                |seq, meta| seq != source.seq && all.accepts(meta),
                limit,
            );
            scored.retain(|(_, similarity)| *similarity >= threshold);
            scored
        };
        let seqs: Vec<i64> = scored.iter().map(|(seq, _)| *seq).collect();
        let mut rows = Self::experiences_by_seq(&self.conn(), &seqs)?;
        Ok(scored
            .into_iter()
            .filter_map(|(seq, similarity)| rows.remove(&seq).map(|e| (e, similarity)))
            .collect())
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
        let inserted = tx.execute(
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
        tx.execute(
            "INSERT INTO votes (id, experience_id, agent_id, vote_type, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)
             ON CONFLICT (experience_id, agent_id) DO UPDATE SET vote_type = excluded.vote_type, updated_at = excluded.updated_at",
            params![clock::uuid(), experience.id, agent_id, vote_type, now],
        )?;
        let vote = tx.query_row(
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
        let (successes, reports): (i64, i64) = conn.query_row(
            "SELECT COALESCE(SUM(success), 0), COUNT(*) FROM outcome_reports WHERE experience_id = ?1",
            [experience_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let (up, down): (i64, i64) = conn.query_row(
            "SELECT COALESCE(SUM(vote_type = 'up'), 0), COALESCE(SUM(vote_type = 'down'), 0) FROM votes WHERE experience_id = ?1",
            [experience_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let rate = if reports > 0 {
            successes as f64 / reports as f64
        } else {
            0.0
        };
        let quality = super::quality::quality_score(successes as u64, reports as u64, up as u64, down as u64);
        conn.execute(
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

    // ------------------------------------------------------------ inbox

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

/// A validated outcome report.
#[derive(Debug, Clone)]
pub(crate) struct OutcomeInput {
    pub(crate) success: bool,
    pub(crate) execution_time_ms: Option<i64>,
    pub(crate) error_message: Option<String>,
    pub(crate) context_notes: Option<String>,
    pub(crate) env_fingerprint: Option<Value>,
}

/// Creates `path` empty with mode 0600 if it does not exist (SQLite would
/// create it with the umask's mode, usually 0644). Failures are left to
/// SQLite's own open to report.
fn create_private(path: &Path) {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let _ = options.open(path);
}
