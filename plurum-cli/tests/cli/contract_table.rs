//! The contract table: every leaf command of `plurum`, run once to success
//! and at least once to a forced failure (see `contract.rs`). A new command
//! without a row here fails the contract test.

use super::contract::{Run, fails, ok};
use crate::common::SENTINEL;

/// (leaf, runs): the first run of each leaf is its success, unless the
/// leaf refuses --json (completions). `{name}` in an argument is a string
/// an earlier row captured; `broken_config_dir` holds a config.toml that
/// does not parse; `walker_key` is the default profile's key.
pub(super) fn table(broken_config_dir: &str, walker_key: &str) -> Vec<(&'static str, Vec<Run>)> {
    vec![
        (
            "register",
            vec![
                ok(&[
                    "--profile",
                    "newbie",
                    "register",
                    "--name",
                    "Newbie",
                    "--username",
                    "newbie",
                ]),
                fails(
                    &["--profile", "dup", "register", "--name", "Dup", "--username", "walker"],
                    1,
                    "conflict",
                ),
                fails(
                    &["--profile", "x", "register", "--name", "X", "--username", "no spaces"],
                    2,
                    "usage",
                ),
            ],
        ),
        (
            "auth login",
            vec![
                ok(&["--profile", "copy", "auth", "login"]).stdin("{key}\n"),
                fails(&["--profile", "copy2", "auth", "login"], 2, "usage").stdin(""),
                fails(&["--profile", "copy3", "auth", "login"], 4, "unauthorized").stdin(SENTINEL),
            ],
        ),
        (
            "auth status",
            vec![
                ok(&["auth", "status"]),
                fails(&["--profile", "nobody", "auth", "status"], 4, "unauthorized"),
            ],
        ),
        (
            "whoami",
            vec![ok(&["whoami"]), fails(&["whoami"], 4, "unauthorized").bad_key()],
        ),
        (
            "search",
            vec![
                ok(&["search", "pgbouncer", "transaction", "mode"]),
                fails(&["search", "x"], 2, "usage"),
                fails(&["search", "pgbouncer", "--min-quality", "2"], 2, "usage"),
            ],
        ),
        (
            "session open",
            vec![
                ok(&[
                    "session",
                    "open",
                    "Set up PostgreSQL replication",
                    "--domain",
                    "infrastructure",
                ])
                .capture("session", "/session/short_id"),
                fails(&["session", "open", "Anything at all"], 4, "unauthorized").bad_key(),
            ],
        ),
        (
            "session log dead-end",
            vec![
                ok(&[
                    "session",
                    "log",
                    "dead_end",
                    "--what",
                    "synchronous_commit=on",
                    "--why",
                    "latency tripled",
                ]),
                fails(
                    &[
                        "session",
                        "log",
                        "dead-end",
                        "--what",
                        "a",
                        "--why",
                        "b",
                        "--session",
                        "not/an/id",
                    ],
                    2,
                    "usage",
                ),
            ],
        ),
        (
            "session log breakthrough",
            vec![
                ok(&[
                    "session",
                    "log",
                    "breakthrough",
                    "--insight",
                    "use a slot",
                    "--detail",
                    "no WAL gaps",
                ]),
                fails(
                    &[
                        "session",
                        "log",
                        "breakthrough",
                        "--insight",
                        "a",
                        "--detail",
                        "b",
                        "--session",
                        "deadbeef",
                    ],
                    1,
                    "not_found",
                ),
            ],
        ),
        (
            "session log gotcha",
            vec![
                ok(&["session", "log", "gotcha", "--warning", "wal_keep_size is per slot"]),
                fails(&["session", "log", "gotcha", "--warning", "a"], 4, "unauthorized").bad_key(),
            ],
        ),
        (
            "session log artifact",
            vec![
                ok(&[
                    "session",
                    "log",
                    "artifact",
                    "--language",
                    "bash",
                    "--code",
                    "pg_basebackup -R",
                ]),
                fails(&["session", "log", "artifact", "--language", "bash"], 2, "usage"),
            ],
        ),
        (
            "session log update",
            vec![
                ok(&["session", "log", "update", "replica caught up"]),
                fails(&["session", "log", "update", "x", "--session", "12345"], 2, "usage"),
            ],
        ),
        (
            "session log note",
            vec![
                ok(&[
                    "session",
                    "log",
                    "note",
                    "password=hunter2hunter2 in the old runbook",
                    "--redact",
                ]),
                fails(
                    &["session", "log", "note", "password=hunter2hunter2 in the old runbook"],
                    1,
                    "sensitive_content",
                ),
            ],
        ),
        (
            "session use",
            vec![
                fails(&["session", "use", "{helper_session}"], 2, "usage"),
                fails(&["session", "use", "deadbeef"], 1, "not_found"),
                ok(&["session", "use", "{session}"]),
            ],
        ),
        (
            "session show",
            vec![
                ok(&["session", "show", "{session}"]),
                fails(&["session", "show", "deadbeef"], 1, "not_found"),
            ],
        ),
        (
            "session list",
            vec![
                ok(&["session", "list", "--status", "open"]),
                fails(&["session", "list", "--status", "bogus"], 2, "usage"),
            ],
        ),
        (
            "session update",
            vec![
                ok(&["session", "update", "--tool", "postgresql"]),
                fails(&["session", "update"], 2, "usage"),
            ],
        ),
        (
            "session contribute",
            vec![
                ok(&[
                    "session",
                    "contribute",
                    "{helper_session}",
                    "Cap max_client_conn",
                    "--type",
                    "warning",
                ]),
                fails(
                    &["session", "contribute", "deadbeef", "Anything useful"],
                    1,
                    "not_found",
                ),
            ],
        ),
        (
            "session contributions",
            vec![
                ok(&["--profile", "helper", "session", "contributions", "{helper_session}"]),
                fails(&["session", "contributions", "deadbeef"], 1, "not_found"),
            ],
        ),
        (
            "session close",
            vec![
                fails(&["session", "close", "deadbeef"], 1, "not_found"),
                ok(&["session", "close", "--outcome", "success"])
                    .capture("closed_experience", "/experience_draft/short_id"),
            ],
        ),
        (
            "session abandon",
            vec![
                ok(&["session", "abandon", "{spare_session}"]),
                fails(&["session", "abandon", "{spare_session}"], 1, "rejected"),
            ],
        ),
        (
            "experience get",
            vec![
                ok(&["experience", "get", "{helper_experience}"]),
                fails(&["experience", "get", "not-an-id"], 2, "usage"),
                fails(&["experience", "get", "deadbeef"], 1, "not_found"),
            ],
        ),
        (
            "experience list",
            vec![
                ok(&["experience", "list", "--status", "published"]),
                fails(&["experience", "list", "--limit", "0"], 2, "usage"),
            ],
        ),
        (
            "experience similar",
            vec![
                ok(&["experience", "similar", "{helper_experience}"]),
                fails(&["experience", "similar", "deadbeef"], 1, "not_found"),
            ],
        ),
        (
            "experience acquire",
            vec![
                ok(&[
                    "experience",
                    "acquire",
                    "{helper_experience}",
                    "--mode",
                    "decision_tree",
                ]),
                fails(&["experience", "acquire", "deadbeef"], 1, "not_found"),
            ],
        ),
        (
            "experience create",
            vec![
                ok(&[
                    "experience",
                    "create",
                    "--goal",
                    "Rotate the replication password",
                    "--domain",
                    "infrastructure",
                    "--gotcha",
                    "the standby keeps the old one until restart",
                ])
                .capture("draft", "/short_id"),
                fails(
                    &[
                        "experience",
                        "create",
                        "--goal",
                        "Leak a key",
                        "--gotcha",
                        "connect with postgresql://app:Zq8vTn2pLx@db.internal:5432/app",
                    ],
                    1,
                    "sensitive_content",
                ),
            ],
        ),
        (
            "experience publish",
            vec![
                ok(&["experience", "publish", "{draft}"]),
                fails(&["experience", "publish", "deadbeef"], 1, "not_found"),
            ],
        ),
        (
            "experience archive",
            vec![
                ok(&["experience", "archive", "{draft}"]),
                fails(&["experience", "archive", "deadbeef"], 1, "not_found"),
            ],
        ),
        (
            "experience save",
            vec![
                ok(&["experience", "save", "{helper_experience}"]),
                fails(&["experience", "save", "deadbeef"], 1, "not_found"),
                fails(&["experience", "save", "no-such-id"], 2, "usage"),
            ],
        ),
        (
            "experience saved",
            vec![
                ok(&["experience", "saved"]),
                fails(&["--profile", "corrupt", "experience", "saved"], 1, "error"),
            ],
        ),
        (
            "experience unsave",
            vec![
                ok(&["experience", "unsave", "{helper_experience}"]),
                fails(&["experience", "unsave", "{helper_experience}"], 1, "not_found"),
            ],
        ),
        (
            "experience vote",
            vec![
                ok(&["experience", "vote", "{helper_experience}", "upvote"]),
                fails(&["experience", "vote", "{helper_experience}", "sideways"], 2, "usage"),
                fails(&["experience", "vote", "deadbeef", "up"], 1, "not_found"),
            ],
        ),
        (
            "outcome report",
            vec![
                ok(&[
                    "outcome",
                    "report",
                    "{helper_experience}",
                    "--success",
                    "--time-ms",
                    "45000",
                ]),
                fails(&["outcome", "report", "{helper_experience}"], 2, "usage"),
                fails(&["outcome", "report", "not-an-id", "--success"], 2, "usage"),
            ],
        ),
        (
            "outcome pending",
            vec![
                ok(&["outcome", "pending"]),
                fails(&["--profile", "corrupt", "outcome", "pending"], 1, "error"),
            ],
        ),
        (
            "outcome flush",
            vec![
                ok(&["outcome", "flush"]),
                fails(&["--profile", "corrupt", "outcome", "flush"], 1, "error")
                    .env("PLURUM_API_KEY", walker_key.to_owned()),
                fails(&["--profile", "flusher", "outcome", "flush"], 1, "rejected")
                    .env("PLURUM_API_KEY", walker_key.to_owned())
                    .json_only(),
            ],
        ),
        (
            "setup",
            vec![
                // A HOME with nothing in it: the plan touches nothing.
                ok(&["setup", "--host", "generic", "--schedule", "none", "--dry-run"])
                    .env("HOME", "/nonexistent/plurum-contract-home"),
                ok(&["setup", "--undo"])
                    .env("HOME", "/nonexistent/plurum-contract-home")
                    .doc("setup --undo"),
                fails(
                    &[
                        "--profile",
                        "nobody",
                        "setup",
                        "--host",
                        "generic",
                        "--schedule",
                        "none",
                        "--dry-run",
                    ],
                    2,
                    "no_identity",
                )
                .env("HOME", "/nonexistent/plurum-contract-home"),
            ],
        ),
        (
            "doctor",
            vec![
                ok(&["doctor"]).env("HOME", "/nonexistent/plurum-contract-home"),
                fails(&["doctor"], 1, "doctor_failed")
                    .env("HOME", "/nonexistent/plurum-contract-home")
                    .bad_key(),
            ],
        ),
        (
            "sync",
            vec![
                ok(&["sync"]),
                fails(&["--profile", "corrupt", "sync"], 1, "error").env("PLURUM_API_KEY", walker_key.to_owned()),
            ],
        ),
        (
            "outcome failed",
            vec![
                ok(&["--profile", "flusher", "outcome", "failed"]).env("PLURUM_API_KEY", walker_key.to_owned()),
                fails(&["outcome", "failed", "--retry", "abcdef12"], 2, "usage"),
                ok(&["--profile", "flusher", "outcome", "failed", "--drop", "0f0f0f0f"])
                    .env("PLURUM_API_KEY", walker_key.to_owned())
                    .doc("outcome failed --retry"),
            ],
        ),
        (
            "inbox",
            vec![
                ok(&["--profile", "helper", "inbox"]),
                fails(&["inbox"], 4, "unauthorized").bad_key(),
                fails(&["inbox", "--type", "bogus"], 2, "usage"),
            ],
        ),
        (
            "pulse status",
            vec![
                ok(&["pulse", "status"]),
                fails(&["pulse", "status"], 5, "server_error").fault(503),
                fails(&["pulse", "status"], 1, "forbidden").fault(403),
            ],
        ),
        (
            "heartbeat",
            vec![
                ok(&["heartbeat", "--query", "pgbouncer transaction mode"]),
                ok(&["heartbeat", "--print-cron"]).doc("heartbeat --print-cron"),
                ok(&["heartbeat", "--ack-all"]).doc("heartbeat --ack"),
                fails(&["heartbeat", "--ack", "feedface"], 2, "usage").doc("heartbeat --ack"),
                fails(&["heartbeat"], 4, "unauthorized").bad_key(),
                fails(&["heartbeat", "--interval", "soon"], 2, "usage"),
            ],
        ),
        ("daemon status", vec![fails(&["daemon", "status"], 1, "not_running")]),
        (
            "daemon audit",
            vec![
                ok(&["daemon", "audit"]),
                fails(&["daemon", "audit"], 1, "config").env("PLURUM_CONFIG_DIR", broken_config_dir.to_owned()),
            ],
        ),
        (
            "daemon config",
            vec![
                ok(&["daemon", "config"]),
                fails(&["daemon", "config"], 1, "config").env("PLURUM_CONFIG_DIR", broken_config_dir.to_owned()),
            ],
        ),
        (
            "config path",
            vec![
                ok(&["config", "path"]),
                fails(&["config", "path"], 2, "usage")
                    .env("PLURUM_CONFIG_DIR", "")
                    .env("HOME", ""),
            ],
        ),
        (
            "config set",
            vec![
                ok(&["config", "set", "focus", "pgbouncer transaction mode"]),
                fails(&["config", "set", "focus", "x"], 2, "usage"),
                fails(&["config", "set", "daemon.drives.trigger_threshold", "-1"], 2, "usage"),
            ],
        ),
        (
            "config get",
            vec![
                ok(&["config", "get", "focus"]),
                fails(&["config", "get", "focs"], 2, "usage"),
            ],
        ),
        (
            "config list",
            vec![
                ok(&["config", "list"]),
                fails(&["config", "list"], 1, "config").env("PLURUM_CONFIG_DIR", broken_config_dir.to_owned()),
            ],
        ),
        (
            "config unset",
            vec![
                ok(&["config", "unset", "focus"]),
                fails(&["config", "unset", "nothing.like.this"], 2, "usage"),
            ],
        ),
        (
            "demo",
            vec![ok(&["demo"]), fails(&["demo", "--no-such-flag"], 2, "usage")],
        ),
        (
            "completions",
            vec![
                // Completions are a shell script: --json is refused.
                fails(&["completions", "bash"], 2, "usage").json_only(),
                fails(&["completions", "klingon"], 2, "usage"),
            ],
        ),
        (
            "man",
            vec![
                ok(&["man", "--out", "{man_dir}"]),
                // A folder inside a file cannot be made.
                fails(&["man", "--out", "{plugin_file}/pages"], 1, "io"),
            ],
        ),
        (
            "mcp",
            vec![
                ok(&["mcp", "--print-config", "generic"]),
                ok(&["mcp", "--print-config", "codex"]),
                fails(&["mcp", "--print-config", "klingon"], 2, "usage"),
            ],
        ),
        (
            "skill",
            vec![ok(&["skill"]), fails(&["skill", "--format", "pdf"], 2, "usage")],
        ),
        (
            "api",
            vec![
                ok(&["api", "GET", "/agents/me"]),
                ok(&["api", "GET", "/pulse/status", "-i"]).doc("api -i"),
                // Without --json the API's error body goes to stdout, as in gh api
                // (api::api_reads_like_gh_api checks it).
                fails(&["api", "GET", "/experiences/deadbeef"], 1, "not_found").json_only(),
                fails(&["api", "-X", "DELETE", "/pulse/status"], 1, "method_not_allowed").json_only(),
                fails(&["api", "BREW", "/coffee"], 2, "usage"),
            ],
        ),
        (
            "auth import",
            vec![
                ok(&[
                    "--profile",
                    "imported",
                    "auth",
                    "import",
                    "--from",
                    "hermes",
                    "--path",
                    "{plugin_file}",
                ]),
                fails(
                    &[
                        "auth",
                        "import",
                        "--from",
                        "openclaw",
                        "--path",
                        "{plugin_file}.missing",
                    ],
                    1,
                    "not_found",
                ),
            ],
        ),
        (
            "auth rotate",
            vec![
                ok(&["--profile", "newbie", "auth", "rotate"]),
                fails(&["auth", "rotate"], 4, "unauthorized").bad_key(),
            ],
        ),
        (
            "auth logout",
            vec![
                ok(&["--profile", "copy", "auth", "logout"]),
                fails(&["auth", "logout"], 1, "config").env("PLURUM_CONFIG_DIR", broken_config_dir.to_owned()),
            ],
        ),
    ]
}
