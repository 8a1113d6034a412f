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
    read_all_seq INTEGER NOT NULL DEFAULT 0,
    last_inbox_check TEXT
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
