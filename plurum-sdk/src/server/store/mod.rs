//! Storage: one SQLite database (in memory, or a file that survives
//! restarts), every write in a transaction, plus an in-memory copy of the
//! experience vectors for fast similarity. The schema is `schema.sql`; the
//! queries live with their resource (`agents.rs`, `sessions.rs`,
//! `experiences.rs`, `events.rs`) and search in `search.rs`. How rows look
//! on the wire is the routes' business (`routes/`).

mod agents;
mod events;
mod experiences;
mod search;
mod sessions;

use std::path::Path;
use std::sync::{Mutex, MutexGuard, RwLock};

use rusqlite::{Connection, OptionalExtension, Row};
use serde_json::Value;

pub(crate) use agents::Agent;
pub(crate) use events::Event;
pub(crate) use experiences::{Experience, NewExperience, OutcomeInput};
pub(crate) use search::Eligibility;
pub(crate) use sessions::{Contribution, Entry, Session};

use super::embed;
use super::vectors::{Meta, VectorIndex};

/// The schema, created if absent.
const SCHEMA: &str = include_str!("schema.sql");

/// The database.
#[derive(Debug)]
pub(crate) struct Store {
    conn: Mutex<Connection>,
    index: RwLock<VectorIndex>,
}

/// Reads what search needs of an experience: `(seq, metadata, vector)`.
const INDEX_COLUMNS: &str = "seq, embedding, status, visibility, domain, quality_score, failure_count, success_count";

pub(super) fn index_row(row: &Row<'_>) -> rusqlite::Result<(i64, Meta, Vec<f32>)> {
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

/// JSON text of a value (for JSON columns).
pub(super) fn json_text(value: &Value) -> String {
    value.to_string()
}

pub(super) fn parse_json(text: Option<String>) -> Value {
    text.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or(Value::Null)
}

pub(super) fn parse_list(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

/// Brings a data file written by an older server up to the schema.
fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    let has_column = conn
        .prepare("SELECT 1 FROM pragma_table_info('agents') WHERE name = 'last_inbox_check'")?
        .exists([])?;
    if !has_column {
        conn.execute("ALTER TABLE agents ADD COLUMN last_inbox_check TEXT", [])?;
    }
    Ok(())
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
        migrate(&conn)?;
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
