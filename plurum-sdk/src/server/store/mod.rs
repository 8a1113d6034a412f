//! Storage: one SQLite database in WAL mode (a file that survives
//! restarts, or for the in-memory default a private temporary file removed
//! when the server stops), one writer connection and a pool of read-only
//! connections, so that searches, gets and lists run in parallel with each
//! other and with writes. Every write is a transaction on the writer. Next
//! to it, in memory, what search ranks with: the experience vectors
//! ([`VectorIndex`]) and the keyword statistics ([`KeywordIndex`]). The
//! schema is `schema.sql`; the queries live with their resource
//! (`agents.rs`, `sessions.rs`, `experiences.rs`, `events.rs`) and search
//! in `search.rs`. How rows look on the wire is the routes' business
//! (`routes/`).

mod agents;
mod events;
mod experiences;
mod search;
mod sessions;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock, TryLockError};

use rusqlite::{Connection, OpenFlags, OptionalExtension, Row};
use serde_json::Value;

pub(crate) use agents::Agent;
pub(crate) use events::{Event, NewEvent};
pub(crate) use experiences::{Experience, NewExperience, OutcomeInput};
pub(crate) use search::Eligibility;
pub(crate) use sessions::{Contribution, Entry, Session};

use super::embed;
use super::keywords::KeywordIndex;
use super::vectors::{Meta, VectorIndex};

/// The schema, created if absent.
const SCHEMA: &str = include_str!("schema.sql");

/// The database.
#[derive(Debug)]
pub(crate) struct Store {
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    index: RwLock<Indexes>,
    /// The temporary file of an in-memory store (last: removed after the
    /// connections are closed).
    _scratch: Option<Scratch>,
}

/// What search ranks with, in memory.
#[derive(Debug, Default)]
pub(crate) struct Indexes {
    pub(crate) vectors: VectorIndex,
    pub(crate) keywords: KeywordIndex,
}

/// Reads what search needs of an experience: `(seq, metadata, vector)`
/// and the keyword columns.
const INDEX_COLUMNS: &str = "seq, embedding, status, visibility, domain, quality_score, failure_count, success_count, \
    goal, tags, solution, context";

/// One row of [`INDEX_COLUMNS`].
pub(super) struct IndexRow {
    seq: i64,
    meta: Meta,
    vector: Vec<f32>,
    /// goal, tags, domain, solution, context: the keyword table's columns.
    columns: [String; 5],
}

pub(super) fn index_row(row: &Row<'_>) -> rusqlite::Result<IndexRow> {
    let blob: Vec<u8> = row.get(1)?;
    let status: String = row.get(2)?;
    let visibility: String = row.get(3)?;
    let domain: Option<String> = row.get(4)?;
    let failures: i64 = row.get(6)?;
    let successes: i64 = row.get(7)?;
    let tags: String = row.get(9)?;
    Ok(IndexRow {
        seq: row.get(0)?,
        meta: Meta {
            searchable: visibility == "public"
                && matches!(status.as_str(), "published" | "verified")
                && !(failures >= 3 && successes == 0),
            quality: row.get(5)?,
            domain: domain.clone(),
        },
        vector: embed::from_blob(&blob),
        columns: [
            row.get(8)?,
            parse_list(&tags).join(" "),
            domain.unwrap_or_default(),
            row.get::<_, Option<String>>(10)?.unwrap_or_default(),
            row.get::<_, Option<String>>(11)?.unwrap_or_default(),
        ],
    })
}

impl Indexes {
    /// Adds an experience to both indexes (same slot in each), or updates
    /// its metadata.
    fn add(&mut self, row: &IndexRow) {
        if self.vectors.upsert(row.seq, row.meta.clone(), &row.vector) {
            let [goal, tags, domain, solution, context] = &row.columns;
            self.keywords.push([goal, tags, domain, solution, context]);
            debug_assert_eq!(self.keywords.len(), self.vectors.len());
        }
    }
}

/// The private temporary database of an in-memory store: SQLite's
/// `:memory:` databases cannot be shared by several connections without
/// serializing them, so the in-memory default is a file, written without
/// syncing, in a directory of its own: created 0700 under an unguessable
/// name (128 random bits) in the temporary directory, so that nobody else
/// can plant or read the database or its `-wal` and `-shm` files there.
/// The directory is removed on drop.
#[derive(Debug)]
struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    /// Creates the directory (a fresh name if one is taken).
    fn create(parent: &Path) -> std::io::Result<Self> {
        let mut last = None;
        for _ in 0..8 {
            let mut bytes = [0u8; 16];
            getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
            let name: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            match Self::create_at(parent.join(format!("plurum-server-{name}"))) {
                Ok(scratch) => return Ok(scratch),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("no free name")))
    }

    /// Creates exactly this directory, 0700; one that exists (a symlink
    /// included) is an error, never adopted.
    fn create_at(dir: PathBuf) -> std::io::Result<Self> {
        // Only unix has a mode to set.
        #[cfg_attr(not(unix), allow(unused_mut))]
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder.create(&dir)?;
        Ok(Self { dir })
    }

    fn database(&self) -> PathBuf {
        self.dir.join("plurum.sqlite")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Statements prepared once per connection and kept (by their SQL text):
/// a request runs the same few statements over and over.
pub(super) trait Cached {
    /// `query_row` through the statement cache.
    fn cached_row<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&Row<'_>) -> rusqlite::Result<T>;
    /// `execute` through the statement cache.
    fn cached_execute<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;
}

impl Cached for Connection {
    fn cached_row<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    {
        self.prepare_cached(sql)?.query_row(params, f)
    }

    fn cached_execute<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }
}

/// Statements each connection keeps prepared.
const STATEMENT_CACHE: usize = 64;

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
    /// Opens (or creates) the database: the file at `path`, or a private
    /// temporary one for the in-memory default. A new file is created
    /// readable by its owner only (0600): it holds private sessions and key
    /// hashes. SQLite gives its `-wal` and `-shm` files the same mode.
    pub(crate) fn open(path: Option<&Path>) -> rusqlite::Result<Self> {
        match path {
            Some(path) => Self::open_file(path, None),
            None => Self::open_temporary(&std::env::temp_dir()),
        }
    }

    /// The in-memory default: a private file in `dir`, or, if none can be
    /// made there, a `:memory:` database on the writer alone (reads then
    /// wait for each other, as they did before the pool).
    fn open_temporary(dir: &Path) -> rusqlite::Result<Self> {
        let opened = Scratch::create(dir)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
            .and_then(|scratch| {
                let path = scratch.database();
                Self::open_file(&path, Some(scratch))
            });
        match opened {
            Ok(store) => Ok(store),
            Err(error) => {
                tracing::warn!(
                    %error,
                    dir = %dir.display(),
                    "no temporary database file: keeping the data in memory, on one connection"
                );
                Self::build(Connection::open_in_memory()?, None, None)
            }
        }
    }

    fn open_file(file: &Path, scratch: Option<Scratch>) -> rusqlite::Result<Self> {
        create_private(file);
        let writer = Connection::open(file)?;
        writer.pragma_update(None, "journal_mode", "WAL")?;
        // A temporary database is not worth an fsync.
        writer.pragma_update(None, "synchronous", if scratch.is_some() { "OFF" } else { "NORMAL" })?;
        Self::build(writer, Some(file), scratch)
    }

    /// The schema, the indexes read from the rows, and (for a file) the
    /// read connections.
    fn build(writer: Connection, file: Option<&Path>, scratch: Option<Scratch>) -> rusqlite::Result<Self> {
        writer.busy_timeout(std::time::Duration::from_secs(5))?;
        writer.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        writer.execute_batch(SCHEMA)?;
        migrate(&writer)?;
        writer.execute(
            "INSERT INTO experience_fts (experience_fts, rank) VALUES ('rank', 'bm25(1.0, 1.0, 0.4, 0.4, 0.2)')",
            [],
        )?;
        let mut index = Indexes::default();
        {
            let mut stmt = writer.prepare(&format!(
                "SELECT {INDEX_COLUMNS} FROM experiences WHERE embedding IS NOT NULL ORDER BY seq"
            ))?;
            for row in stmt.query_map([], index_row)? {
                index.add(&row?);
            }
        }
        let readers = match file {
            None => Vec::new(),
            Some(file) => {
                let count = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(2, 8);
                (0..count)
                    .map(|_| {
                        let reader = Connection::open_with_flags(
                            file,
                            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                        )?;
                        reader.busy_timeout(std::time::Duration::from_secs(5))?;
                        reader.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
                        Ok(Mutex::new(reader))
                    })
                    .collect::<rusqlite::Result<Vec<_>>>()?
            }
        };
        Ok(Self {
            writer: Mutex::new(writer),
            readers,
            next_reader: AtomicUsize::new(0),
            index: RwLock::new(index),
            _scratch: scratch,
        })
    }

    /// The writer: every write, and reads that must see a write in progress.
    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A read-only connection: the first free one, else the next in turn.
    fn reader(&self) -> MutexGuard<'_, Connection> {
        if self.readers.is_empty() {
            return self.conn();
        }
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        for offset in 0..self.readers.len() {
            match self.readers[(start + offset) % self.readers.len()].try_lock() {
                Ok(guard) => return guard,
                Err(TryLockError::Poisoned(poisoned)) => return poisoned.into_inner(),
                Err(TryLockError::WouldBlock) => {}
            }
        }
        self.readers[start % self.readers.len()]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    fn indexes(&self) -> std::sync::RwLockReadGuard<'_, Indexes> {
        self.index.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Re-reads what search needs of one experience (after a status or metrics change).
    fn refresh_index(&self, conn: &Connection, id: &str) -> rusqlite::Result<()> {
        let row = conn
            .cached_row(
                &format!("SELECT {INDEX_COLUMNS} FROM experiences WHERE id = ?1 AND embedding IS NOT NULL"),
                [id],
                index_row,
            )
            .optional()?;
        if let Some(row) = row {
            self.index.write().unwrap_or_else(|e| e.into_inner()).add(&row);
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::mpsc;
    use std::time::Duration;

    use serde_json::json;

    use super::*;

    fn experience(goal: &str) -> NewExperience {
        NewExperience {
            session_id: None,
            agent_id: "agent".to_owned(),
            goal: goal.to_owned(),
            domain: Some("infrastructure".to_owned()),
            tools_used: Vec::new(),
            status: "published".to_owned(),
            visibility: "public".to_owned(),
            outcome: None,
            tags: vec!["postgres".to_owned()],
            confidence: None,
            dead_ends: json!([]),
            breakthroughs: json!([]),
            gotchas: json!([]),
            context: None,
            artifacts: json!([]),
            attempts_json: json!([]),
            solution: None,
            context_structured: Value::Null,
        }
    }

    /// Runs `read` on another thread; its answer, or None if it did not
    /// come (it waited on a lock that is held).
    fn answers<T: Send + 'static>(read: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(read());
        });
        rx.recv_timeout(Duration::from_secs(10)).ok()
    }

    #[test]
    fn reads_go_on_while_the_writer_and_a_reader_are_busy() {
        let store = Arc::new(Store::open(None).unwrap());
        let stored = store
            .insert_experience(&experience("Set up PostgreSQL streaming replication"))
            .unwrap();
        assert!(store.readers.len() >= 2);
        // The writer is held (a write in progress) and one reader is busy.
        let writing = store.conn();
        let busy = store.readers[0].lock().unwrap();
        let reader = store.clone();
        let id = stored.id.clone();
        let found = answers(move || reader.experience(&id).unwrap().map(|e| e.goal));
        assert_eq!(found, Some(Some("Set up PostgreSQL streaming replication".to_owned())));
        let reader = store.clone();
        let searched = answers(move || {
            let query = embed::embed("postgresql replication");
            let keywords = embed::fts_query("postgresql replication");
            reader
                .search(&query, keywords.as_ref(), &Eligibility::default(), 5)
                .unwrap()
                .len()
        });
        assert_eq!(searched, Some(1));
        drop((writing, busy));
    }

    #[test]
    fn a_write_is_seen_by_every_reader_at_once() {
        let store = Store::open(None).unwrap();
        for n in 0..store.readers.len() * 3 {
            let stored = store
                .insert_experience(&experience(&format!("Experience number {n} about caching")))
                .unwrap();
            // Whichever reader answers, it sees the write that just returned.
            assert!(store.experience(&stored.short_id).unwrap().is_some(), "{n}");
            let (_, total) = store.list_experiences(None, None, None, false, 1, 0).unwrap();
            assert_eq!(total, n as i64 + 1);
        }
    }

    #[test]
    fn the_in_memory_store_is_a_private_file_gone_with_the_store() {
        let store = Store::open(None).unwrap();
        store.insert_experience(&experience("Something to write down")).unwrap();
        let scratch = store._scratch.as_ref().unwrap();
        let (dir, path) = (scratch.dir.clone(), scratch.database());
        assert!(dir.starts_with(std::env::temp_dir()));
        assert!(path.exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&dir), 0o700, "nobody else can plant or read its files");
            assert_eq!(mode(&path), 0o600);
        }
        let other = Store::open(None).unwrap();
        assert_ne!(other._scratch.as_ref().unwrap().dir, dir, "each store its own");
        assert_eq!(other.list_experiences(None, None, None, true, 1, 0).unwrap().1, 0);
        drop(store);
        assert!(!dir.exists(), "{dir:?} is left behind");
    }

    /// A directory planted under the name a store picks (here with a
    /// symlink where the database would go) is refused, never adopted; and
    /// the names are 128 random bits, so they cannot be planted ahead.
    #[test]
    fn a_planted_directory_is_never_adopted() {
        let parent = Scratch::create(&std::env::temp_dir()).unwrap();
        let planted = parent.dir.join("plurum-server-planted");
        std::fs::create_dir(&planted).unwrap();
        let victim = parent.dir.join("victim");
        std::fs::write(&victim, "someone else's file").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(&victim, planted.join("plurum.sqlite")).unwrap();
        let refused = Scratch::create_at(planted.clone()).unwrap_err();
        assert_eq!(refused.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "someone else's file");
        let names: std::collections::HashSet<String> = (0..4)
            .map(|_| {
                let scratch = Scratch::create(&parent.dir).unwrap();
                scratch.dir.file_name().unwrap().to_string_lossy().into_owned()
            })
            .collect();
        assert_eq!(names.len(), 4);
        assert!(names.iter().all(|n| n.len() == "plurum-server-".len() + 32));
    }

    #[test]
    fn without_a_writable_temporary_directory_the_store_stays_in_memory() {
        let store = Store::open_temporary(Path::new("/nonexistent/plurum-test-dir")).unwrap();
        assert!(store.readers.is_empty() && store._scratch.is_none());
        let stored = store
            .insert_experience(&experience("Keep PostgreSQL backups verified"))
            .unwrap();
        assert!(store.experience(&stored.id).unwrap().is_some());
        let query = embed::embed("postgresql backups");
        let keywords = embed::fts_query("postgresql backups");
        assert_eq!(
            store
                .search(&query, keywords.as_ref(), &Eligibility::default(), 5)
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn a_data_file_keeps_what_was_written_and_its_search_index() {
        let scratch = Scratch::create(&std::env::temp_dir()).unwrap();
        let path = scratch.database();
        {
            let store = Store::open(Some(&path)).unwrap();
            assert!(store._scratch.is_none());
            store
                .insert_experience(&experience("Rotate PostgreSQL certificates without downtime"))
                .unwrap();
        }
        let store = Store::open(Some(&path)).unwrap();
        let query = embed::embed("postgresql certificates");
        let keywords = embed::fts_query("postgresql certificates");
        let found = store
            .search(&query, keywords.as_ref(), &Eligibility::default(), 5)
            .unwrap();
        assert_eq!(found.len(), 1);
        assert!(found[0].2 > 0.0, "the keyword arm ranks it after a restart");
    }
}
