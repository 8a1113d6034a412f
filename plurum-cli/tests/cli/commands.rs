//! Every `plurum` command as a process against the reference server: stdout
//! JSON, exit codes, the files written and their modes.

use crate::common::{SENTINEL, World, mode};
use predicates::prelude::*;
use serde_json::Value;

#[test]
fn register_stores_the_key_before_printing_and_only_shows_it_on_request() {
    let world = World::new();
    let output = world
        .plurum()
        .args([
            "--json",
            "register",
            "--name",
            "Atlas Builder",
            "--username",
            "atlas-builder",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["username"], "atlas-builder");
    assert_eq!(json["stored_in"], "file");
    assert!(json.get("api_key").is_none(), "the key is printed only with --show-key");
    let key = world.stored_key("default");
    assert!(key.starts_with("plrm_live_") && key.len() == 53);
    assert_eq!(json["api_key_prefix"], format!("{}...", &key[..16]));
    assert!(!String::from_utf8_lossy(&output.stdout).contains(&key));
    // The keyring is turned off on purpose (PLURUM_NO_KEYRING): the 0600
    // file, and no warning about what was asked for.
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("keyring"), "{stderr}");
    assert_eq!(mode(&world.config_dir().join("credentials.toml")), 0o600);
    assert_eq!(mode(&world.config_dir()), 0o700);

    let shown = world.json(&[
        "--profile",
        "other",
        "register",
        "--name",
        "B",
        "--username",
        "harbor-scout",
        "--show-key",
    ]);
    assert_eq!(shown["api_key"].as_str().unwrap(), world.stored_key("other"));

    // A taken username: exit 1 with the server's suggestions.
    world
        .plurum()
        .args([
            "--profile",
            "third",
            "register",
            "--name",
            "C",
            "--username",
            "atlas-builder",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("the username 'atlas-builder' is taken"))
        .stderr(predicate::str::contains("hint: try: "));
    // An invalid one never reaches the server: exit 2.
    world
        .plurum()
        .args(["register", "--name", "C", "--username", "Bad Name"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("invalid username"));
}

#[test]
fn auth_login_status_rotate_logout() {
    let world = World::new();
    world.register("default", "atlas");
    let key = world.stored_key("default");
    // Log in another profile from stdin.
    let login = world
        .plurum()
        .args(["--profile", "copy", "--json", "auth", "login"])
        .write_stdin(format!("{key}\n"))
        .output()
        .unwrap();
    assert!(login.status.success(), "{}", String::from_utf8_lossy(&login.stderr));
    let json: Value = serde_json::from_slice(&login.stdout).unwrap();
    assert_eq!(json["agent"]["username"], "atlas");
    assert_eq!(world.stored_key("copy"), key);
    // A bad key is checked and refused: exit 4, nothing stored.
    world
        .plurum()
        .args(["--profile", "bad", "auth", "login"])
        .write_stdin("plrm_live_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n")
        .assert()
        .code(4)
        .stderr(predicate::str::contains("run 'plurum auth login'"));
    // Refused while PLURUM_API_KEY would override it.
    world
        .plurum()
        .env("PLURUM_API_KEY", &key)
        .args(["--profile", "env", "auth", "login"])
        .write_stdin(key.clone())
        .assert()
        .code(1)
        .stderr(predicate::str::contains("PLURUM_API_KEY is set"));

    // Status says where the key comes from.
    let status = world.json(&["auth", "status"]);
    assert_eq!(status["authenticated"], true);
    assert_eq!(status["key_source"], "file");
    assert_eq!(status["agent"]["username"], "atlas");
    assert_eq!(status["api_url"], world.server.base_url());
    let output = world
        .plurum()
        .env("PLURUM_API_KEY", &key)
        .args(["--json", "auth", "status"])
        .output()
        .unwrap();
    let env_status: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(env_status["key_source"], "env");
    assert!(
        !String::from_utf8_lossy(&output.stdout).contains(&key),
        "status never prints the key"
    );
    world
        .plurum()
        .args(["--profile", "nobody", "auth", "status"])
        .assert()
        .code(4)
        .stdout(predicate::str::contains("not authenticated: no API key"));

    // Rotate: the new key is stored; the old one is dead.
    let rotated = world.json(&["auth", "rotate"]);
    assert_eq!(rotated["stored_in"], "file");
    let new_key = world.stored_key("default");
    assert_ne!(new_key, key);
    world.plurum().args(["--profile", "copy", "whoami"]).assert().code(4);
    assert_eq!(world.json(&["whoami"])["username"], "atlas");

    // Logout removes the stored key.
    let out = world.json(&["auth", "logout"]);
    assert_eq!(out["removed_from"].as_array().unwrap().len(), 1);
    world
        .plurum()
        .arg("whoami")
        .assert()
        .code(4)
        .stderr(predicate::str::contains("no API key"));
}

#[test]
fn an_api_key_in_the_environment_alone_is_enough() {
    let world = World::new();
    world.register("setup", "cron-agent");
    let key = world.stored_key("setup");
    let dir = tempfile::tempdir().unwrap();
    // Fresh directories: nothing stored anywhere, only the variable.
    world
        .plurum()
        .env("PLURUM_CONFIG_DIR", dir.path().join("c"))
        .env("PLURUM_STATE_DIR", dir.path().join("s"))
        .env("PLURUM_API_KEY", &key)
        .args(["whoami"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with("cron-agent (cron-agent)"));
    // And --api-key-file works too.
    let file = dir.path().join("key.txt");
    std::fs::write(&file, format!("{key}\n")).unwrap();
    world
        .plurum()
        .env("PLURUM_CONFIG_DIR", dir.path().join("c"))
        .args(["--api-key-file", file.to_str().unwrap(), "whoami", "--json"])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"username\":\"cron-agent\""));
}

#[test]
fn the_session_loop_from_the_shell() {
    let world = World::new();
    world.register("default", "atlas");
    world.register("helper", "harbor");
    let opened = world.json(&[
        "session",
        "open",
        "Set up PostgreSQL replication for high availability",
        "--domain",
        "infrastructure",
        "--tool",
        "postgresql",
        "--tool",
        "docker",
    ]);
    let short_id = opened["session"]["short_id"].as_str().unwrap().to_owned();
    let id = opened["session"]["id"].as_str().unwrap().to_owned();
    assert_eq!(world.state("default")["currentSession"]["short_id"], short_id.as_str());

    // Every entry kind, defaulting to the current session.
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("seed.sh");
    std::fs::write(&script, "pg_basebackup -h primary -D /data -R\n").unwrap();
    for args in [
        vec![
            "session",
            "log",
            "dead-end",
            "--what",
            "synchronous_commit=on",
            "--why",
            "latency tripled",
        ],
        vec![
            "session",
            "log",
            "breakthrough",
            "--insight",
            "one slot per replica",
            "--detail",
            "WAL kept",
            "--importance",
            "high",
        ],
        vec![
            "session",
            "log",
            "gotcha",
            "--warning",
            "needs the REPLICATION role",
            "--context",
            "custom images",
        ],
        vec![
            "session",
            "log",
            "artifact",
            "--language",
            "bash",
            "--file",
            script.to_str().unwrap(),
            "--description",
            "seed",
        ],
        vec!["session", "log", "update", "primary is up"],
        vec!["session", "log", "--session", &short_id, "note", "PostgreSQL 16"],
    ] {
        let entry = world.json(&args);
        assert_eq!(entry["session_id"], id.as_str());
    }
    let shown = world.json(&["session", "show", &short_id]);
    assert_eq!(shown["entry_count"], 6);
    assert_eq!(shown["entries"][1]["content"]["importance"], "high");
    assert_eq!(
        shown["entries"][3]["content"]["code"],
        "pg_basebackup -h primary -D /data -R\n"
    );

    let updated = world.json(&["session", "update", "--tool", "postgresql", "--tool", "pgbouncer"]);
    assert_eq!(updated["tools_used"], serde_json::json!(["postgresql", "pgbouncer"]));

    // Another agent contributes by short id; the owner lists it.
    let contribution = world.json(&[
        "--profile",
        "helper",
        "session",
        "contribute",
        &short_id,
        "Set max_slot_wal_keep_size",
        "--type",
        "warning",
    ]);
    assert_eq!(contribution["contribution_type"], "warning");
    let listed = world.json(&["session", "contributions"]);
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["session_short_id"], short_id.as_str());

    let closed = world.json(&["session", "close", "--outcome", "success"]);
    assert_eq!(closed["session"]["status"], "closed");
    assert_eq!(closed["experience_draft"]["status"], "published");
    assert!(
        world.state("default")["currentSession"].is_null(),
        "closing forgets the current session"
    );
    world
        .plurum()
        .args(["session", "log", "note", "too late"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no current session"));

    let abandoned_open = world.json(&["session", "open", "A detour that went nowhere"]);
    let abandoned = world.json(&["session", "abandon"]);
    assert_eq!(abandoned["status"], "abandoned");
    assert_eq!(abandoned["id"], abandoned_open["session"]["id"]);
    let list = world.json(&["session", "list", "--status", "closed"]);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        (list["total"].as_u64(), list["has_more"].as_bool()),
        (Some(1), Some(false))
    );
    let text = world.plurum().args(["session", "list"]).output().unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.starts_with("ID "), "{text}");
    assert!(text.contains("abandoned") && text.contains("closed"));
}

#[test]
fn experiences_from_the_shell() {
    let world = World::new();
    world.register("default", "author");
    world.register("reader", "reader");
    let created = world.json(&[
        "experience",
        "create",
        "--goal",
        "Run pgBouncer in transaction mode in front of PostgreSQL",
        "--domain",
        "infrastructure",
        "--tool",
        "pgbouncer",
        "--dead-end",
        "session pooling",
        "connections stayed at the limit",
        "--breakthrough",
        "transaction pooling",
        "400 connections became 40",
        "--gotcha",
        "prepared statements break",
        "--tag",
        "pooling",
    ]);
    assert_eq!(created["status"], "draft");
    assert_eq!(created["dead_ends"][0]["why"], "connections stayed at the limit");
    let short = created["short_id"].as_str().unwrap().to_owned();
    assert_eq!(world.json(&["experience", "publish", &short])["status"], "published");

    // From a file (the seed's example body), published at once.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("experience.json");
    std::fs::write(
        &file,
        r#"{"goal": "Set up PostgreSQL streaming replication for read replicas", "domain": "infrastructure",
            "tools_used": ["postgresql", "docker"], "outcome": "success",
            "dead_ends": [{"what": "Tried synchronous_commit=on", "why": "3x latency on writes"}],
            "gotchas": [{"warning": "pg_basebackup requires the REPLICATION role", "context": "custom setups"}]}"#,
    )
    .unwrap();
    let from_file = world.json(&["experience", "create", "--file", file.to_str().unwrap(), "--publish"]);
    assert_eq!(from_file["status"], "published");
    let second = from_file["short_id"].as_str().unwrap().to_owned();

    let got = world.json(&["--profile", "reader", "experience", "get", &short]);
    assert_eq!(got["goal"], "Run pgBouncer in transaction mode in front of PostgreSQL");
    let list = world.json(&["experience", "list", "--domain", "infrastructure"]);
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    assert_eq!(list["offset"], 0);
    let similar = world.json(&["experience", "similar", &second, "--limit", "3"]);
    assert!(similar["items"].is_array() && similar["total"].is_u64(), "{similar}");
    let checklist = world.json(&[
        "--profile",
        "reader",
        "experience",
        "acquire",
        &second,
        "--mode",
        "checklist",
    ]);
    assert_eq!(checklist["mode"], "checklist");
    assert_eq!(
        checklist["content"]["dont"][0],
        "Tried synchronous_commit=on - 3x latency on writes"
    );
    let text = world
        .plurum()
        .args([
            "--profile",
            "reader",
            "experience",
            "acquire",
            &second,
            "--mode",
            "checklist",
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(text.stdout).unwrap(),
        "don't: Tried synchronous_commit=on - 3x latency on writes\nwatch: pg_basebackup requires the REPLICATION role\n"
    );
    let vote = world.json(&["--profile", "reader", "experience", "vote", &second, "up"]);
    assert_eq!(vote["vote_type"], "up");

    // Search with every filter.
    let found = world.json(&[
        "search",
        "postgresql",
        "replication",
        "--domain",
        "infrastructure",
        "--tool",
        "postgresql",
        "--min-quality",
        "0",
        "--limit",
        "5",
    ]);
    assert_eq!(found["results"][0]["short_id"], second.as_str());
    assert_eq!(found["results"][0]["upvotes"], 1);
    let table = world
        .plurum()
        .args(["search", "pgbouncer transaction pooling"])
        .output()
        .unwrap();
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(table.starts_with("ID        QUALITY"), "{table}");
    world
        .plurum()
        .args(["search", "x"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("invalid query"));
    let archived = world.json(&["experience", "archive", &short]);
    assert_eq!(archived["status"], "archived");
}

#[test]
fn sensitive_content_is_stopped_masked_or_allowed() {
    let world = World::new();
    world.register("default", "careful");
    world.json(&["session", "open", "Connect the billing service"]);
    let stopped = world
        .plurum()
        .args([
            "--json",
            "session",
            "log",
            "note",
            "psql postgresql://app:hunter2@10.0.3.7/billing",
        ])
        .output()
        .unwrap();
    assert_eq!(stopped.status.code(), Some(1));
    let answer: Value = serde_json::from_slice(&stopped.stdout).unwrap();
    assert_eq!(answer["error"]["code"], "sensitive_content");
    let categories: Vec<&str> = answer["error"]["details"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["category"].as_str().unwrap())
        .collect();
    assert!(
        categories.contains(&"connection_string") && categories.contains(&"private_network"),
        "{categories:?}"
    );
    assert_eq!(answer["error"]["details"]["findings"][0]["path"], "entry.content.text");
    assert!(!String::from_utf8_lossy(&stopped.stdout).contains("hunter2"));
    let stderr = String::from_utf8_lossy(&stopped.stderr);
    assert!(stderr.contains("entry.content.text (connection_string"), "{stderr}");
    assert!(stderr.contains("--redact"), "{stderr}");

    let masked = world.json(&[
        "session",
        "log",
        "--redact",
        "note",
        "ask jane.doe@acme-corp.com for access",
    ]);
    assert_eq!(masked["content"]["text"], "ask [REDACTED:email] for access");
    let allowed = world.json(&[
        "session",
        "log",
        "--allow-sensitive",
        "note",
        "the cache lives on cache01.internal",
    ]);
    assert_eq!(allowed["content"]["text"], "the cache lives on cache01.internal");

    // Topics, contributions, experiences and outcome notes are screened too.
    world
        .plurum()
        .args(["session", "open", "Rotate ghp_abcdefghijklmnopqrstuvwxyz0123456789 now"])
        .assert()
        .code(1);
    world
        .plurum()
        .args([
            "experience",
            "create",
            "--goal",
            "Deploy with the token sk-abcdefghijklmnopqrstuvwx",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("experience.goal (api_key"));
    world
        .plurum()
        .args([
            "outcome",
            "report",
            "abcdef12",
            "--failure",
            "--context",
            "password=hunter22",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("outcome_report.context_notes (password"));
}

#[test]
fn outcomes_queue_while_the_server_fails_and_flush_later() {
    let world = World::new();
    world.register("default", "reporter");
    world.register("author", "author");
    let session = world.json(&[
        "--profile",
        "author",
        "session",
        "open",
        "Tune autovacuum for a busy table",
    ]);
    world.json(&[
        "--profile",
        "author",
        "session",
        "log",
        "note",
        "lower the scale factor",
    ]);
    let closed = world.json(&["--profile", "author", "session", "close", "--outcome", "success"]);
    let experience = closed["experience_draft"]["short_id"].as_str().unwrap().to_owned();
    assert!(session["session"]["id"].is_string());

    // The server fails every request: the report is queued, exit 0.
    world.faults().fail_all(503);
    let queued = world.json(&["outcome", "report", &experience, "--success", "--time-ms", "1200"]);
    world.faults().clear();
    assert_eq!(queued["queued"], true);
    assert_eq!(queued["report"]["identifier"], experience.as_str());
    let state = world.state("default");
    assert_eq!(state["pendingOutcomeReports"][0]["identifier"], experience.as_str());
    assert_eq!(state["pendingOutcomeReports"][0]["execution_time_ms"], 1200);
    let pending = world.json(&["outcome", "pending"]);
    assert_eq!(pending["pending"].as_array().unwrap().len(), 1);

    // Flushing while the server still fails keeps it (exit 5).
    world.faults().fail_all(502);
    world.plurum().args(["outcome", "flush"]).assert().code(5);
    world.faults().clear();
    assert_eq!(world.state("default")["pendingOutcomeReports"][0]["attempts"], 2);

    // Then it is delivered once.
    let flushed = world.json(&["outcome", "flush"]);
    assert_eq!(flushed["delivered"], 1);
    assert!(
        world.state("default")["pendingOutcomeReports"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let scored = world.json(&["experience", "get", &experience]);
    assert_eq!(scored["total_reports"], 1);
    assert_eq!(scored["success_count"], 1);

    // A second report: the server already has one (409), nothing queued.
    let again = world.json(&["outcome", "report", &experience, "--failure"]);
    assert_eq!(again["already_reported"], true);

    // A report the server will never take moves to the failed list on flush.
    world.faults().fail_all(503);
    world.json(&["outcome", "report", "0badc0de", "--success"]);
    world.faults().clear();
    world.plurum().args(["outcome", "flush"]).assert().code(1);
    let state = world.state("default");
    assert!(state["pendingOutcomeReports"].as_array().unwrap().is_empty());
    assert_eq!(state["failedOutcomeReports"][0]["identifier"], "0badc0de");
    assert_eq!(state["failedOutcomeReports"][0]["status"], 404);
}

/// A closed port on this machine: connections to it are refused.
fn refusing_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/api/v1")
}

/// Runs plurum against `url` with the SDK's per-attempt log on; returns
/// the output and how many connection attempts it made.
fn attempts(world: &World, url: &str, args: &[&str]) -> (std::process::Output, usize) {
    let output = world
        .plurum()
        .env("PLURUM_API_URL", url)
        .env("RUST_LOG", "plurum_sdk=debug")
        .args(args)
        .output()
        .unwrap();
    let count = String::from_utf8_lossy(&output.stderr)
        .matches("plurum request")
        .count();
    (output, count)
}

#[test]
fn writes_to_a_server_that_refuses_are_queued_after_one_attempt() {
    let world = World::new();
    world.register("default", "reporter");
    let down = refusing_url();

    // The first report tries once (no retries with backoff) and is queued.
    let (output, tries) = attempts(&world, &down, &["--json", "outcome", "report", "0badc0de", "--success"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        tries,
        1,
        "one connection attempt: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let first: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(first["queued"], true);
    let since = first["down_since"].as_str().expect("down_since").to_owned();

    // The next writes, moments later, do not knock again.
    for n in 1..=20 {
        let id = format!("{n:08x}");
        let (output, tries) = attempts(&world, &down, &["--json", "outcome", "report", &id, "--failure"]);
        assert_eq!(tries, 0, "report {n} tried again");
        let queued: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(queued["queued"], true);
        assert_eq!(queued["down_since"], since.as_str(), "the outage's start is kept");
        assert!(queued["reason"].as_str().unwrap().contains("down since"), "{queued}");
    }
    assert_eq!(
        world.state("default")["pendingOutcomeReports"]
            .as_array()
            .unwrap()
            .len(),
        21
    );

    // Another server (another URL) is not assumed down.
    let other = refusing_url();
    let (_, tries) = attempts(
        &world,
        &other,
        &["--json", "outcome", "report", "0badc0de", "--failure"],
    );
    assert_eq!(tries, 1);

    // A heartbeat with the server down: one attempt per step, however many
    // reports wait (the flush's first report goes alone and stops it), and a
    // short summary naming the cause once.
    for queued in [21, 221] {
        if queued == 221 {
            let state = world.state_file("default");
            let mut value: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
            let reports = value["pendingOutcomeReports"].as_array_mut().unwrap();
            for n in 0..200 {
                reports.push(serde_json::json!({
                    "id": format!("00000000-0000-4000-8000-{n:012}"),
                    "identifier": format!("{:08x}", 0x1000 + n),
                    "success": true,
                }));
            }
            std::fs::write(&state, value.to_string()).unwrap();
        }
        let (output, tries) = attempts(&world, &down, &["--json", "heartbeat"]);
        assert_eq!(
            output.status.code(),
            Some(5),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let beat: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(beat["error"]["code"], "incomplete");
        assert!(
            tries <= 6,
            "{tries} attempts with {queued} queued (key, inbox, flush, search, saved, pulse at most)"
        );
        assert_eq!(beat["outcomes"]["refused"], true, "{beat:#}");
        assert_eq!(beat["outcomes"]["delivered"], 0);
        let summary = beat["summary"].as_str().unwrap();
        assert_eq!(summary.matches("refused the connection").count(), 1, "{summary}");
        assert!(summary.len() < 300, "{} characters: {summary}", summary.len());
        assert_eq!(
            world.state("default")["pendingOutcomeReports"]
                .as_array()
                .unwrap()
                .len(),
            queued + 1,
            "nothing lost"
        );
    }

    // Back up: the flush reaches the server (the made-up ids are rejected
    // for good, exit 1) and the outage is forgotten.
    let (output, _) = attempts(&world, &world.server.base_url(), &["--json", "outcome", "flush"]);
    let flushed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(flushed["refused"], false, "{flushed}");
    assert_eq!(flushed["failed"], 222, "{flushed}");
    assert!(
        !world.state_dir().join("default").join("server-down.json").exists(),
        "an answer from the server forgets the refusal"
    );
}

#[test]
fn inbox_keeps_events_until_acknowledged() {
    let world = World::new();
    world.register("default", "owner");
    world.register("helper", "helper");
    let opened = world.json(&["session", "open", "Make the CI cache survive restarts"]);
    let short = opened["session"]["short_id"].as_str().unwrap().to_owned();
    world.json(&[
        "--profile",
        "helper",
        "session",
        "contribute",
        &short,
        "Key the cache on Cargo.lock",
        "--type",
        "suggestion",
    ]);
    let inbox = world.json(&["inbox"]);
    assert_eq!(inbox["waiting"], 1);
    assert_eq!(
        inbox["fetched"]["marked_read"], 1,
        "kept, then marked read on the server"
    );
    assert_eq!(inbox["events"][0]["event_type"], "contribution_received");
    assert_eq!(
        inbox["events"][0]["event_data"]["content"]["text"],
        "Key the cache on Cargo.lock"
    );
    let server = world
        .block_on(world.client("default").pulse().inbox(Default::default()))
        .unwrap();
    assert_eq!(server.unread_count, 0, "read on the server");
    // Still listed: nothing is consumed silently.
    let again = world.json(&["inbox"]);
    assert_eq!(again["waiting"], 1);
    assert_eq!(again["events"][0]["id"], inbox["events"][0]["id"]);
    let marked = world.json(&["inbox", "--mark-read"]);
    assert_eq!(marked["acknowledged"], 1);
    assert_eq!(world.json(&["inbox"])["waiting"], 0);
    // The helper saw the owner's session opened: outside its domains, it
    // asks nothing of the helper, and it waits until acknowledged too.
    let text = world.plurum().args(["--profile", "helper", "inbox"]).output().unwrap();
    assert!(String::from_utf8(text.stdout).unwrap().contains("session opened"));
    let helper = world.json(&["--profile", "helper", "inbox", "--all"]);
    assert_eq!(helper["acknowledged"], 1, "{helper}");
    assert_eq!(helper["waiting"], 0, "{helper}");
}

#[test]
fn errors_map_to_documented_exit_codes_with_hints() {
    let world = World::new();
    // No key: 4 with a hint.
    world
        .plurum()
        .args(["whoami"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("error: no API key for profile 'default'"))
        .stderr(predicate::str::contains("hint: "));
    // A rejected key: 4.
    world
        .plurum()
        .env("PLURUM_API_KEY", SENTINEL)
        .args(["whoami"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("the server rejected the API key (401)"))
        .stderr(predicate::str::contains("SENTINEL").not());
    // Unreachable server: 5 (temporary), one line with the root cause; the
    // whole chain with -v.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api/v1", closed.local_addr().unwrap());
    drop(closed);
    let unreachable = world
        .plurum()
        .args(["--api-url", &url, "pulse", "status"])
        .output()
        .unwrap();
    assert_eq!(unreachable.status.code(), Some(5));
    let err = String::from_utf8_lossy(&unreachable.stderr);
    let first = err.lines().next().unwrap();
    assert!(
        first.starts_with("error: could not reach") && first.contains("onnection refused"),
        "{err}"
    );
    assert!(!err.contains("caused by:") && !err.contains("stack backtrace"), "{err}");
    assert_eq!(err.lines().count(), 2, "one line and a hint: {err}");
    world
        .plurum()
        .args(["-v", "--api-url", &url, "pulse", "status"])
        .assert()
        .code(5)
        .stderr(predicate::str::contains("caused by:"));
    // Usage: 2.
    world
        .plurum()
        .args(["session", "log", "dead-end", "--what", "x"])
        .assert()
        .code(2);
    world.plurum().args(["--profile", "../etc", "whoami"]).assert().code(2);
    // Not found: 1.
    world.register("default", "finder");
    world
        .plurum()
        .args(["experience", "get", "0badc0de"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "not found (404): Experience not found: 0badc0de",
        ));
}

#[test]
fn pulse_status_from_the_shell() {
    let world = World::new();
    world.register("default", "observer");
    world.json(&["session", "open", "Watch the pulse from a shell"]);
    let status = world.json(&["pulse", "status"]);
    assert_eq!(status["active_sessions"], 1);
    assert_eq!(status["sessions"][0]["topic"], "Watch the pulse from a shell");
    let text = world.plurum().args(["pulse", "status"]).output().unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.starts_with("0 agent(s) connected, 1 open session(s)"), "{text}");
    assert!(text.contains("Watch the pulse from a shell"));
}

/// What the completion script gets back for the words typed so far (the
/// last one being completed): candidates, one per line.
fn complete(world: &World, words: &[&str]) -> Vec<String> {
    let output = world
        .plurum()
        .env("PLURUM_COMPLETE", "fish")
        .arg("--")
        .arg("plurum")
        .args(words)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| line.split('\t').next().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn completion_scripts_call_plurum_back_for_five_shells() {
    let world = World::new();
    for (shell, marker) in [
        ("bash", "complete -o"),
        ("zsh", "#compdef plurum"),
        ("fish", "complete --keep-order"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "set edit:completion:arg-completer[plurum]"),
    ] {
        world
            .plurum()
            .args(["completions", shell])
            .assert()
            .success()
            .stdout(predicate::str::contains(marker).and(predicate::str::contains("PLURUM_COMPLETE")));
    }
}

#[test]
fn completions_offer_what_exists_when_tab_is_pressed() {
    let world = World::new();
    // The script was printed before these profiles existed: TAB still
    // finds them, because the script asks plurum each time.
    world.plurum().args(["completions", "bash"]).assert().success();
    assert!(!complete(&world, &["--profile", ""]).contains(&"alpha-agent".to_owned()));
    world.register("alpha-agent", "alpha-agent");
    std::fs::create_dir_all(world.state_dir().join("beta-agent")).unwrap();
    let profiles = complete(&world, &["--profile", ""]);
    assert!(
        profiles.contains(&"alpha-agent".to_owned()) && profiles.contains(&"beta-agent".to_owned()),
        "{profiles:?}"
    );
    // Config keys, by prefix.
    let keys = complete(&world, &["config", "get", "fo"]);
    assert_eq!(keys, ["focus"], "{keys:?}");
    let daemon = complete(&world, &["config", "set", "daemon.drives.tr"]);
    assert_eq!(daemon, ["daemon.drives.trigger_threshold"]);
    // Enum values, not file names.
    assert!(complete(&world, &["experience", "acquire", "x", "--mode", ""]).contains(&"decision_tree".to_owned()));
    assert!(complete(&world, &["inbox", "--type", ""]).contains(&"contribution_received".to_owned()));
    assert!(complete(&world, &["session", "list", "--status", ""]).contains(&"abandoned".to_owned()));
    // Subcommands.
    assert!(complete(&world, &["sess"]).contains(&"session".to_owned()));
}

#[cfg(target_os = "linux")]
#[test]
fn without_a_reachable_keyring_the_key_goes_to_the_private_file() {
    let world = World::new();
    // No PLURUM_NO_KEYRING: the keyring is probed, and there is no session bus.
    let output = world
        .plurum()
        .env_remove("PLURUM_NO_KEYRING")
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/plurum-test-bus")
        .env("XDG_RUNTIME_DIR", world.dir.path())
        .args(["--json", "register", "--name", "Probe", "--username", "probe"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["stored_in"], "file");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("the OS keyring is not available ("), "{stderr}");
    assert_eq!(mode(&world.config_dir().join("credentials.toml")), 0o600);
    // Said once: the next key stored the same way goes without it.
    let again = world
        .plurum()
        .env_remove("PLURUM_NO_KEYRING")
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/plurum-test-bus")
        .env("XDG_RUNTIME_DIR", world.dir.path())
        .args([
            "--json",
            "--profile",
            "second",
            "register",
            "--name",
            "Probe",
            "--username",
            "probe-two",
        ])
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(!stderr.contains("keyring"), "said twice: {stderr}");
    let json: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(json["stored_in"], "file");
}

#[test]
fn no_spinner_or_escape_codes_off_a_terminal() {
    let world = World::new();
    world.register("default", "plain");
    let output = world.plurum().args(["search", "anything at all"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success());
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
    assert!(stderr.contains("Nothing found."), "{stderr}");
    let quiet = world
        .plurum()
        .args(["-q", "search", "anything at all"])
        .output()
        .unwrap();
    assert!(
        quiet.stderr.is_empty(),
        "-q keeps stderr quiet: {}",
        String::from_utf8_lossy(&quiet.stderr)
    );
}
