//! The `--json` contract, walked over the whole command tree: every leaf
//! command runs once to success and at least once to a forced failure, each
//! with `--json`. stdout must be exactly one JSON document (JSON Lines for
//! the two streams), a failure carries `error.code`, `error.message` and
//! `error.hint`, and the exit code is the one the same run has without
//! `--json`. A new command without a row in the table fails the test.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::common::daemon::Daemon;
use crate::common::{SENTINEL, World};
use crate::json_doc::JsonDoc;
use crate::pulse::Watch;

/// One run of a leaf command.
struct Run {
    args: Vec<String>,
    env: Vec<(&'static str, String)>,
    stdin: Option<String>,
    exit: i32,
    /// The `error.code` of a failure (None: a success).
    code: Option<&'static str>,
    /// Remember a string of the document under a name, for later rows.
    capture: Option<(&'static str, &'static str)>,
    /// The reference server answers every request with this status.
    fault: Option<u16>,
    /// Fails only because of --json, or changes what a second run would
    /// see: no run without --json to compare.
    json_only: bool,
    /// The docs/json.md heading of the document (default: the leaf).
    doc: Option<&'static str>,
}

fn ok(args: &[&str]) -> Run {
    Run {
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        env: Vec::new(),
        stdin: None,
        exit: 0,
        code: None,
        capture: None,
        fault: None,
        json_only: false,
        doc: None,
    }
}

fn fails(args: &[&str], exit: i32, code: &'static str) -> Run {
    Run {
        exit,
        code: Some(code),
        ..ok(args)
    }
}

impl Run {
    fn env(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.env.push((name, value.into()));
        self
    }

    fn stdin(mut self, text: impl Into<String>) -> Self {
        self.stdin = Some(text.into());
        self
    }

    fn capture(mut self, name: &'static str, pointer: &'static str) -> Self {
        self.capture = Some((name, pointer));
        self
    }

    fn exit(mut self, exit: i32) -> Self {
        self.exit = exit;
        self
    }

    fn doc(mut self, heading: &'static str) -> Self {
        self.doc = Some(heading);
        self
    }

    fn json_only(mut self) -> Self {
        self.json_only = true;
        self
    }

    fn fault(mut self, status: u16) -> Self {
        self.fault = Some(status);
        self
    }

    /// With the key replaced by one the server rejects.
    fn bad_key(self) -> Self {
        self.env("PLURUM_API_KEY", SENTINEL)
    }
}

/// What one run printed.
struct Outcome {
    exit: i32,
    stdout: String,
    stderr: String,
}

fn execute(world: &World, run: &Run, json: bool, extra_env: &[(&str, String)]) -> Outcome {
    if let Some(status) = run.fault {
        world.faults().fail_all(status);
    }
    let mut command = world.plurum();
    if json {
        command.arg("--json");
    }
    command.args(&run.args);
    for (name, value) in run
        .env
        .iter()
        .map(|(n, v)| (*n, v))
        .chain(extra_env.iter().map(|(n, v)| (*n, v)))
    {
        command.env(name, value);
    }
    if let Some(stdin) = &run.stdin {
        command.write_stdin(stdin.clone());
    }
    let output = command.output().unwrap();
    world.faults().clear();
    Outcome {
        exit: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// Asserts the contract for one run; returns the document.
fn check(world: &World, leaf: &str, run: &Run, extra_env: &[(&str, String)]) -> Value {
    let seen = execute(world, run, true, extra_env);
    let context = format!(
        "plurum --json {:?} ({leaf})\nexit {}\nstdout: {}\nstderr: {}",
        run.args, seen.exit, seen.stdout, seen.stderr
    );
    assert_eq!(seen.exit, run.exit, "unexpected exit code\n{context}");
    // serde_json refuses trailing content: this is "exactly one document".
    let document: Value = serde_json::from_str(&seen.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e})\n{context}"));
    assert!(!seen.stderr.contains("SENTINEL"), "the key leaked\n{context}");
    match run.code {
        None => assert!(document.get("error").is_none(), "a success printed an error\n{context}"),
        Some(code) => {
            let error = &document["error"];
            assert_eq!(error["code"], code, "wrong error code\n{context}");
            assert!(
                error["message"].as_str().is_some_and(|m| !m.is_empty()),
                "no message\n{context}"
            );
            assert!(
                error.get("hint").is_some_and(|h| h.is_null() || h.is_string()),
                "no hint member\n{context}"
            );
            if let Some(status) = error.get("status") {
                assert!(status.is_u64(), "status is not a number\n{context}");
            }
            if run.json_only {
                return document;
            }
            // The same run for people: the same exit code, the error on
            // stderr, no JSON.
            let human = execute(world, run, false, extra_env);
            assert_eq!(human.exit, run.exit, "the exit code differs without --json\n{context}");
            assert!(
                !human.stdout.contains("\"error\""),
                "JSON on stdout without --json: {}",
                human.stdout
            );
            assert!(
                human.stderr.contains("error: ") || human.stderr.contains("warning: ") || !human.stdout.is_empty(),
                "nothing says what went wrong without --json\n{context}\nhuman stderr: {}",
                human.stderr
            );
        }
    }
    document
}

/// Every leaf of the command tree, from the help pages.
fn leaves() -> BTreeSet<String> {
    fn walk(path: Vec<String>, out: &mut BTreeSet<String>) {
        let help = Command::new(env!("CARGO_BIN_EXE_plurum"))
            .args(&path)
            .arg("--help")
            .output()
            .unwrap();
        let text = String::from_utf8(help.stdout).unwrap();
        let subcommands: Vec<String> = text
            .lines()
            .skip_while(|line| !line.starts_with("Commands:"))
            .skip(1)
            .take_while(|line| !line.trim().is_empty())
            .filter(|line| line.starts_with("  ") && !line.starts_with("   "))
            .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
            .filter(|name| name != "help")
            .collect();
        if subcommands.is_empty() {
            out.insert(path.join(" "));
        }
        for name in subcommands {
            let mut next = path.clone();
            next.push(name);
            walk(next, out);
        }
    }
    let mut out = BTreeSet::new();
    walk(Vec::new(), &mut out);
    out
}

/// Names captured from earlier documents, substituted for `{name}` in args.
#[derive(Default)]
struct Captured(RefCell<BTreeMap<&'static str, String>>);

impl Captured {
    fn set(&self, name: &'static str, value: impl Into<String>) {
        self.0.borrow_mut().insert(name, value.into());
    }

    fn fill(&self, run: &Run) -> Run {
        let names = self.0.borrow();
        let fill = |text: &str| {
            let mut text = text.to_owned();
            for (name, value) in names.iter() {
                text = text.replace(&format!("{{{name}}}"), value);
            }
            assert!(!text.contains('{') || text.starts_with('{'), "unfilled {text}");
            text
        };
        Run {
            args: run.args.iter().map(|a| fill(a)).collect(),
            env: run.env.clone(),
            stdin: run.stdin.as_deref().map(fill),
            exit: run.exit,
            code: run.code,
            capture: run.capture,
            fault: run.fault,
            json_only: run.json_only,
            doc: run.doc,
        }
    }
}

/// A config dir whose config.toml does not parse: commands that read it fail.
fn broken_config(world: &World) -> Vec<(&'static str, String)> {
    let dir = world.dir.path().join("broken-config");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.toml"), "this is [not toml").unwrap();
    vec![("PLURUM_CONFIG_DIR", dir.display().to_string())]
}

#[test]
fn every_command_prints_one_json_document_for_success_and_for_failure() {
    let world = World::new();
    world.register("default", "walker");
    world.register("helper", "helper");
    let captured = Captured::default();
    captured.set("key", world.stored_key("default"));
    let helper_session = world.json(&[
        "--profile",
        "helper",
        "session",
        "open",
        "Tune pgbouncer pools",
        "--domain",
        "infrastructure",
    ]);
    captured.set(
        "helper_session",
        helper_session["session"]["short_id"].as_str().unwrap(),
    );
    let helper_experience = world.json(&[
        "--profile",
        "helper",
        "experience",
        "create",
        "--goal",
        "Run pgBouncer in transaction mode",
        "--domain",
        "infrastructure",
        "--gotcha",
        "prepared statements break in transaction mode",
        "--outcome",
        "success",
        "--publish",
    ]);
    captured.set("helper_experience", helper_experience["short_id"].as_str().unwrap());
    let spare = world.json(&["session", "open", "A detour that went nowhere"]);
    captured.set("spare_session", spare["session"]["short_id"].as_str().unwrap());
    // A profile whose state file cannot be read: local commands fail on it.
    std::fs::create_dir_all(world.state_file("corrupt")).unwrap();
    let broken = broken_config(&world);
    // A profile with a queued report the server will reject for good.
    std::fs::create_dir_all(world.state_dir().join("flusher")).unwrap();
    std::fs::write(
        world.state_file("flusher"),
        r#"{"schemaVersion": 2, "pendingOutcomeReports": [{"id": "0f0f0f0f-1111-4222-8333-444455556666",
            "identifier": "deadbeef", "success": true, "attempts": 1}]}"#,
    )
    .unwrap();
    let walker_key = world.stored_key("default");
    let plugin_file = world.dir.path().join("plurum.json");
    std::fs::write(&plugin_file, serde_json::json!({"api_key": walker_key}).to_string()).unwrap();
    captured.set("plugin_file", plugin_file.to_str().unwrap());
    captured.set("man_dir", world.dir.path().join("man").to_str().unwrap());

    // (leaf, runs): the first run of each leaf is its success, unless the
    // leaf refuses --json (completions).
    let table: Vec<(&str, Vec<Run>)> = vec![
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
                    .env("PLURUM_API_KEY", walker_key.clone()),
                fails(&["--profile", "flusher", "outcome", "flush"], 1, "rejected")
                    .env("PLURUM_API_KEY", walker_key.clone())
                    .json_only(),
            ],
        ),
        (
            "outcome failed",
            vec![
                ok(&["--profile", "flusher", "outcome", "failed"]).env("PLURUM_API_KEY", walker_key.clone()),
                fails(&["outcome", "failed", "--retry", "abcdef12"], 2, "usage"),
                ok(&["--profile", "flusher", "outcome", "failed", "--drop", "0f0f0f0f"])
                    .env("PLURUM_API_KEY", walker_key.clone())
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
                fails(&["heartbeat"], 4, "unauthorized").bad_key(),
                fails(&["heartbeat", "--interval", "soon"], 2, "usage"),
            ],
        ),
        ("daemon status", vec![fails(&["daemon", "status"], 1, "not_running")]),
        (
            "daemon audit",
            vec![
                ok(&["daemon", "audit"]),
                fails(&["daemon", "audit"], 1, "config").env("PLURUM_CONFIG_DIR", broken[0].1.clone()),
            ],
        ),
        (
            "daemon config",
            vec![
                ok(&["daemon", "config"]),
                fails(&["daemon", "config"], 1, "config").env("PLURUM_CONFIG_DIR", broken[0].1.clone()),
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
                fails(&["config", "list"], 1, "config").env("PLURUM_CONFIG_DIR", broken[0].1.clone()),
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
                fails(&["api", "GET", "/experiences/deadbeef"], 1, "not_found"),
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
                fails(&["auth", "logout"], 1, "config").env("PLURUM_CONFIG_DIR", broken[0].1.clone()),
            ],
        ),
    ];
    // The streams and the daemon's own subcommand run below.
    let streams = ["pulse watch", "serve", "daemon status"];

    let mut covered: BTreeSet<String> = BTreeSet::new();
    // (docs/json.md heading, document) of every run, for the doc check.
    let mut documents: Vec<(String, Value)> = Vec::new();
    for (leaf, runs) in &table {
        let mut succeeded = false;
        let mut failed = false;
        for run in runs {
            let run = captured.fill(run);
            let document = check(&world, leaf, &run, &[]);
            if let Some((name, pointer)) = run.capture {
                let value = document
                    .pointer(pointer)
                    .and_then(Value::as_str)
                    .unwrap_or_else(|| panic!("{leaf}: no {pointer} in {document}"));
                captured.set(name, value);
            }
            succeeded |= run.code.is_none();
            failed |= run.code.is_some();
            documents.push((run.doc.unwrap_or(leaf).to_owned(), document));
        }
        assert!(failed, "{leaf}: no failure run");
        assert!(
            succeeded || *leaf == "completions" || *leaf == "daemon status",
            "{leaf}: no success run"
        );
        covered.insert((*leaf).to_owned());
    }

    // daemon status succeeds while a daemon runs.
    let daemon = Daemon::start(&world, "helper");
    let status = check(
        &world,
        "daemon status",
        &ok(&["--profile", "helper", "daemon", "status"]),
        &[],
    );
    documents.push(("daemon status".to_owned(), status));
    daemon.stop();
    let unit = check(&world, "daemon", &ok(&["daemon", "--print-systemd"]), &[]);
    documents.push(("daemon --print-systemd".to_owned(), unit));
    // `plurum --version --json`: the build, for bug reports.
    let version = check(&world, "--version", &ok(&["--version"]), &[]);
    documents.push(("--version".to_owned(), version));

    // serve: the first line is a JSON document; a bad address is one error.
    let mut serve = world
        .process()
        .args(["--json", "serve", "--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(serve.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let started: Value = serde_json::from_str(&first).unwrap();
    assert!(started["base_url"].as_str().unwrap().starts_with("http://127.0.0.1:"));
    documents.push(("serve".to_owned(), started));
    serve.kill().unwrap();
    serve.wait().unwrap();
    check(
        &world,
        "serve",
        &fails(&["serve", "--addr", "nowhere"], 2, "usage"),
        &[],
    );

    // pulse watch: JSON Lines, ending with an error line on Ctrl-C.
    let watch = Watch::start(&world, "helper", true);
    world.json(&["session", "open", "Watch me work"]);
    let event: Value = serde_json::from_str(&watch.next_line()).unwrap();
    assert_eq!(event["event_type"], "session_opened");
    let (code, rest, _) = watch.interrupt_all();
    assert_eq!(code, 130);
    for line in &rest {
        serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
    let last: Value = serde_json::from_str(rest.last().expect("an error line on Ctrl-C")).unwrap();
    assert_eq!(last["error"]["code"], "interrupted");
    check(
        &world,
        "pulse watch",
        &fails(&["pulse", "watch"], 4, "unauthorized").bad_key(),
        &[],
    );
    covered.extend(streams.iter().map(|s| (*s).to_owned()));

    check_against_the_doc(&documents, &event);

    let all = leaves();
    let missing: Vec<&String> = all.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "commands without a row in the contract table: {missing:?}"
    );
    let stale: Vec<&String> = covered.difference(&all).collect();
    assert!(stale.is_empty(), "rows for commands that no longer exist: {stale:?}");
}

/// Holds every document to docs/json.md: the documented fields are there
/// with their types, every top-level member is documented, every table and
/// every shape field was seen at least once.
fn check_against_the_doc(documents: &[(String, Value)], event: &Value) {
    let doc = JsonDoc::load();
    let mut seen = BTreeSet::new();
    let mut used_tables = BTreeSet::new();
    let mut problems = Vec::new();
    for (heading, document) in documents {
        if let Some(error) = document.get("error") {
            let fields = &doc.shapes["Error"];
            if let Err(problem) = doc.check_fields(error, fields, "error", "Error", &mut seen) {
                problems.push(format!("{heading}: {problem}"));
            }
        }
        if let Some(kind) = doc.typed.get(heading) {
            if document.get("error").is_none() {
                used_tables.insert(heading.clone());
                if let Err(problem) = doc.check_type(document, kind, heading, &mut seen) {
                    problems.push(format!("`plurum {heading}`: {problem}"));
                }
            }
            continue;
        }
        if doc.untabled.contains(heading) {
            used_tables.insert(heading.clone());
            continue; // documented in prose: the body is the server's
        }
        let Some(fields) = doc.commands.get(heading) else {
            if document.get("error").is_none() {
                problems.push(format!("docs/json.md has no table for `plurum {heading}`"));
            }
            continue;
        };
        let documented: BTreeSet<&str> = fields.iter().map(|f| f.name.as_str()).collect();
        for member in document.as_object().map(|m| m.keys()).into_iter().flatten() {
            if member != "error" && !documented.contains(member.as_str()) {
                problems.push(format!(
                    "`plurum {heading}` prints `{member}`, which docs/json.md does not list"
                ));
            }
        }
        if document.get("error").is_some() {
            continue; // a part-way document: not every field is there
        }
        used_tables.insert(heading.clone());
        if let Err(problem) = doc.check_fields(document, fields, heading, heading, &mut seen) {
            problems.push(format!("`plurum {heading}`: {problem}"));
        }
    }
    if let Err(problem) = doc.check_type(event, "Event", "pulse watch", &mut seen) {
        problems.push(problem);
    }
    for heading in doc.commands.keys().chain(doc.typed.keys()) {
        if !used_tables.contains(heading) {
            problems.push(format!(
                "docs/json.md documents `plurum {heading}`, which no run printed"
            ));
        }
    }
    for (shape, fields) in &doc.shapes {
        for field in fields {
            if !seen.contains(&(shape.clone(), field.name.clone())) {
                problems.push(format!("docs/json.md field {shape}.{} was never seen", field.name));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "docs/json.md and the output disagree:\n{}",
        problems.join("\n")
    );
}

#[test]
fn every_command_answers_a_usage_error_with_a_json_document() {
    let world = World::new();
    for leaf in leaves() {
        let mut args: Vec<&str> = leaf.split(' ').collect();
        args.push("--no-such-flag");
        let run = fails(&args, 2, "usage");
        let document = check(&world, &leaf, &run, &[]);
        assert!(
            document["error"]["message"]
                .as_str()
                .unwrap()
                .contains("--no-such-flag"),
            "{leaf}: {document}"
        );
    }
}
