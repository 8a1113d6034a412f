//! What an agent driving `plurum` relies on without reading our source:
//! every id printed is accepted back, bad ids never reach the server,
//! `--jq`, the spellings of SKILL.md, flags where agents put them, hints
//! that name the real way out, colors and tables off a terminal.

use predicates::prelude::*;
use serde_json::Value;

use crate::common::{SENTINEL, World};

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// Every string under these keys anywhere in a document.
fn strings_under(value: &Value, key: &str, out: &mut Vec<String>) {
    match value {
        Value::Object(members) => {
            for (name, inner) in members {
                if name == key
                    && let Some(text) = inner.as_str()
                {
                    out.push(text.to_owned());
                }
                strings_under(inner, key, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| strings_under(item, key, out)),
        _ => {}
    }
}

#[test]
fn every_id_the_cli_prints_is_accepted_back() {
    let world = World::new();
    world.register("default", "owner");
    world.register("helper", "helper");
    let opened = world.json(&[
        "session",
        "open",
        "Set up PostgreSQL replication",
        "--domain",
        "infrastructure",
    ]);
    let short = opened["session"]["short_id"].as_str().unwrap().to_owned();
    let full = opened["session"]["id"].as_str().unwrap().to_owned();
    assert_eq!(short.len(), 8);

    // The helper contributes by the printed short id; its own output names
    // the session by that same short id (not a UUID prefix).
    let contributed = world
        .plurum()
        .args([
            "--profile",
            "helper",
            "session",
            "contribute",
            &short,
            "Set max_slot_wal_keep_size",
        ])
        .args(["--type", "warning"])
        .output()
        .unwrap();
    assert!(contributed.status.success(), "{}", stderr(&contributed));
    let line = stdout(&contributed);
    assert!(line.contains(&short), "the session is named by its short id: {line}");
    assert!(!line.contains(&full[..8]) || full.starts_with(&short), "{line}");
    let contribution = world.json(&["--profile", "helper", "session", "contribute", &short, "And watch lag"]);
    assert_eq!(contribution["session_short_id"], short.as_str());

    // Session ids printed by list, inbox and heartbeat are accepted by show.
    let listed = world.json(&["session", "list", "--status", "open"]);
    let inbox = world.json(&["inbox"]);
    assert!(inbox["events"].as_array().is_some_and(|e| !e.is_empty()), "{inbox}");
    for event in inbox["events"].as_array().unwrap() {
        assert_eq!(event["session_short_id"], short.as_str(), "{event}");
        assert_eq!(event["session_id"], full.as_str(), "{event}");
        assert!(event["short_id"].as_str().is_some_and(|s| s.len() == 8), "{event}");
    }
    let mut session_ids = Vec::new();
    for document in [&listed, &inbox] {
        strings_under(document, "session_short_id", &mut session_ids);
        strings_under(document, "session_id", &mut session_ids);
    }
    strings_under(&listed["items"], "short_id", &mut session_ids);
    strings_under(&listed["items"], "id", &mut session_ids);
    session_ids.sort();
    session_ids.dedup();
    assert!(session_ids.len() >= 2, "{session_ids:?}");
    for id in &session_ids {
        let shown = world.json(&["session", "show", id]);
        assert_eq!(shown["id"], full.as_str(), "session show {id}");
        world.json(&["session", "contributions", id]);
    }
    // Inbox event ids (short and whole) acknowledge.
    let event_id = inbox["events"][0]["short_id"].as_str().unwrap().to_owned();
    let acked = world.json(&["inbox", "--ack", &event_id]);
    assert_eq!(acked["acknowledged"], 1, "{acked}");
    let event_id = inbox["events"][1]["id"].as_str().unwrap().to_owned();
    assert_eq!(world.json(&["inbox", "--ack", &event_id])["acknowledged"], 1);

    // Contributions name the contributor by an id that identifies the agent.
    let contributions = world.json(&["session", "contributions", &short]);
    let helper = world.json(&["--profile", "helper", "whoami"]);
    assert_eq!(
        contributions["items"][0]["contributor_agent_id"], helper["id"],
        "{contributions}"
    );
    let table = world
        .plurum()
        .args(["session", "contributions", &short])
        .output()
        .unwrap();
    // People see it short: the first 8 characters, as everywhere.
    assert!(
        stdout(&table).contains(&helper["id"].as_str().unwrap()[..8]),
        "{}",
        stdout(&table)
    );
    assert_eq!(
        contributions["items"][0]["contributor_short_id"],
        helper["id"].as_str().unwrap()[..8]
    );

    // Experience ids printed by close, search (through --jq), list and get
    // are accepted by get, similar and outcome report.
    world.json(&[
        "session",
        "log",
        "breakthrough",
        "--insight",
        "a physical slot",
        "--detail",
        "no WAL gaps",
    ]);
    let closed = world.json(&["session", "close", "--outcome", "success"]);
    let mut experience_ids = Vec::new();
    strings_under(&closed["experience_draft"], "short_id", &mut experience_ids);
    let picked = world
        .plurum()
        .args(["search", "PostgreSQL replication", "--jq", ".results[0].short_id"])
        .output()
        .unwrap();
    assert!(picked.status.success(), "{}", stderr(&picked));
    experience_ids.push(stdout(&picked).trim().to_owned());
    let listed = world.json(&["experience", "list"]);
    strings_under(&listed["items"], "short_id", &mut experience_ids);
    strings_under(&listed["items"], "id", &mut experience_ids);
    experience_ids.sort();
    experience_ids.dedup();
    for id in &experience_ids {
        let got = world.json(&["experience", "get", id]);
        assert_eq!(got["goal"], "Set up PostgreSQL replication", "experience get {id}");
        world.json(&["experience", "similar", id]);
    }
    let report = world.json(&[
        "--profile",
        "helper",
        "outcome",
        "report",
        &experience_ids[0],
        "--success",
    ]);
    assert_eq!(report["queued"], false, "{report}");
}

#[test]
fn bad_ids_are_usage_errors_that_never_reach_the_server() {
    let world = World::new();
    // A server that records what reaches it and answers nothing useful.
    let mock = world.block_on(wiremock::MockServer::start());
    let url = format!("{}/api/v1", mock.uri());
    let cases: [&[&str]; 8] = [
        &["experience", "get", "not-an-id"],
        &["experience", "similar", "12345"],
        &["experience", "vote", "cdf0e8a3-zz", "up"],
        &["outcome", "report", "ZZZZ-ZZZ", "--success"],
        &["session", "show", "faaedc8"],
        &["session", "contribute", "../../admin", "hello there"],
        &["session", "log", "note", "a note", "--session", "1c76f2ee-"],
        &["session", "close", "1c76f2ee/x"],
    ];
    for args in cases {
        let output = world
            .plurum()
            .env("PLURUM_API_KEY", SENTINEL)
            .args(["--json", "--api-url", &url])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", stderr(&output));
        let document: Value = serde_json::from_str(&stdout(&output)).unwrap();
        assert_eq!(document["error"]["code"], "usage", "{args:?}");
        let message = document["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("8-character short id") || message.contains("UUID"),
            "{args:?}: the message says what an id looks like: {message}"
        );
    }
    let requests = world.block_on(mock.received_requests()).unwrap();
    assert!(requests.is_empty(), "{} request(s) reached the server", requests.len());
}

#[test]
fn jq_picks_fields_from_successes_and_failures() {
    let world = World::new();
    world.register("default", "picker");
    world.json(&[
        "experience",
        "create",
        "--goal",
        "Run pgBouncer in transaction mode",
        "--domain",
        "infrastructure",
        "--gotcha",
        "prepared statements break",
        "--publish",
    ]);
    // Strings raw, one per line; numbers as JSON.
    let output = world
        .plurum()
        .args(["search", "pgbouncer transaction", "--jq", ".results[0].goal"])
        .output()
        .unwrap();
    assert_eq!(stdout(&output), "Run pgBouncer in transaction mode\n");
    let output = world
        .plurum()
        .args(["--jq", ".results | length", "search", "pgbouncer transaction"])
        .output()
        .unwrap();
    assert_eq!(stdout(&output), "1\n");
    // A failure's document goes through the filter too: the error is one
    // of its members, the exit code says it failed.
    let output = world
        .plurum()
        .args(["experience", "get", "deadbeef", "--jq", ".goal"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stdout(&output), "null\n");
    let output = world
        .plurum()
        .args(["experience", "get", "deadbeef", "--jq", ".error.code"])
        .output()
        .unwrap();
    assert_eq!(
        (output.status.code(), stdout(&output)),
        (Some(1), "not_found\n".to_owned())
    );
    // A command that failed part-way: the filter picks from its document.
    world.faults().fail_all(503);
    world.json(&["outcome", "report", "0badc0de", "--success"]);
    let output = world
        .plurum()
        .args(["outcome", "flush", "--jq", ".delivered"])
        .output()
        .unwrap();
    world.faults().clear();
    assert_eq!((output.status.code(), stdout(&output)), (Some(5), "0\n".to_owned()));
    // A filter that fails on a failure's document prints nothing on stdout.
    let output = world
        .plurum()
        .args(["experience", "get", "deadbeef", "--jq", ".items[]"])
        .output()
        .unwrap();
    assert_eq!((output.status.code(), stdout(&output)), (Some(1), String::new()));
    assert!(stderr(&output).contains("--jq"), "{}", stderr(&output));
    // A filter that does not parse is a usage error before anything runs.
    let output = world.plurum().args(["whoami", "--jq", ".[[["]).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let document: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(document["error"]["code"], "usage");
    assert!(document["error"]["message"].as_str().unwrap().contains("--jq"));
    // A filter that fails on the document says so, exit 1, code jq.
    let output = world
        .plurum()
        .args(["whoami", "--jq", ".username | tonumber"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let document: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(document["error"]["code"], "jq");
}

#[test]
fn the_spellings_of_skill_md_work() {
    let world = World::new();
    world.register("default", "speller");
    world.register("helper", "helper");
    let created = world.json(&[
        "--profile",
        "helper",
        "experience",
        "create",
        "--goal",
        "Deploy FastAPI to ECS",
        "--gotcha",
        "map the container port",
        "--publish",
    ]);
    let id = created["short_id"].as_str().unwrap();
    for mode in ["decision_tree", "decision-tree", "checklist", "full"] {
        world.json(&["experience", "acquire", id, "--mode", mode]);
    }
    for direction in ["up", "down", "upvote", "downvote"] {
        let voted = world.json(&["experience", "vote", id, direction]);
        assert!(voted.is_object(), "vote {direction}");
    }
    world.json(&["session", "open", "Deploy FastAPI to ECS", "--domain", "deployment"]);
    for kind in ["dead_end", "dead-end"] {
        let logged = world.json(&[
            "session",
            "log",
            kind,
            "--what",
            "host networking",
            "--why",
            "no awsvpc",
        ]);
        assert_eq!(logged["entry_type"], "dead_end", "{kind}");
    }
    for status in ["open", "closed", "abandoned"] {
        world.json(&["session", "list", "--status", status]);
    }
    for kind in [
        "contribution_received",
        "contribution-received",
        "session_opened",
        "session-closed",
    ] {
        world.json(&["inbox", "--type", kind]);
    }
    for status in ["published", "draft", "verified", "archived"] {
        world.json(&["experience", "list", "--status", status]);
    }
    world.json(&["session", "close", "--outcome", "success"]);
}

#[test]
fn flags_after_the_entry_kind_are_accepted() {
    let world = World::new();
    world.register("default", "placer");
    let spare = world.json(&["session", "open", "Rotate the replication password"]);
    let spare = spare["session"]["short_id"].as_str().unwrap().to_owned();
    world.json(&["session", "open", "Set up PostgreSQL replication"]);
    let masked = world.json(&[
        "session",
        "log",
        "note",
        "password=hunter2hunter2 was in the runbook",
        "--redact",
    ]);
    let text = masked["content"]["text"].as_str().unwrap();
    assert!(text.contains("[REDACTED:") && !text.contains("hunter2"), "{text}");
    let allowed = world.json(&[
        "session",
        "log",
        "gotcha",
        "--warning",
        "password=hunter2hunter2 is the default",
        "--allow-sensitive",
    ]);
    assert!(allowed["content"]["warning"].as_str().unwrap().contains("hunter2"));
    let elsewhere = world.json(&["session", "log", "update", "rotated", "--session", &spare]);
    assert_eq!(elsewhere["session_short_id"], spare.as_str(), "{elsewhere}");
    // The flags also still work before the kind.
    world.json(&[
        "session",
        "log",
        "--redact",
        "note",
        "token=abcdEFGH12345678abcdEFGH12345678",
    ]);
}

#[test]
fn outcome_report_without_a_result_names_both_flags() {
    let world = World::new();
    world
        .plurum()
        .env("PLURUM_API_KEY", SENTINEL)
        .args(["outcome", "report", "cdf0e8a3"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("one of --success / --failure"));
}

#[test]
fn hints_name_the_way_out() {
    let world = World::new();
    world.register("default", "hinted");
    // A rejected key from the environment: the hint names the variable.
    let output = world
        .plurum()
        .env("PLURUM_API_KEY", SENTINEL)
        .args(["--json", "whoami"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4));
    let document: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let hint = document["error"]["hint"].as_str().unwrap();
    assert!(hint.contains("PLURUM_API_KEY"), "{hint}");
    assert!(!hint.contains("auth login"), "{hint}");
    // A rejected stored key: the hint is to log in again.
    let credentials = world.config_dir().join("credentials.toml");
    let text = std::fs::read_to_string(&credentials).unwrap();
    let stored = world.stored_key("default");
    std::fs::write(&credentials, text.replace(&stored, SENTINEL)).unwrap();
    let output = world.plurum().args(["--json", "whoami"]).output().unwrap();
    assert_eq!(output.status.code(), Some(4));
    let document: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert!(
        document["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("plurum auth login")
    );
    std::fs::write(&credentials, text).unwrap();

    // A call that is never repeated fails with a 5xx: the hint says how to
    // check whether it happened, not "try again later".
    world.faults().fail_next(1, 503);
    let output = world
        .plurum()
        .args(["--json", "session", "open", "--no-queue", "Shard the events table"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(5), "{}", stderr(&output));
    let document: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(document["error"]["code"], "unconfirmed");
    assert!(
        document["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("plurum session list --status open"),
        "{document}"
    );
    world.json(&["session", "open", "Shard the events table"]);
    // With --no-queue, a log keeps the old contract: unconfirmed, check first.
    world.faults().fail_next(1, 502);
    let output = world
        .plurum()
        .args(["--json", "session", "log", "--no-queue", "note", "by month"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(5));
    let document: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(document["error"]["code"], "unconfirmed");
    assert!(
        document["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("plurum session show"),
        "{document}"
    );
    // Without it, the entry is journaled: queued now, delivered once later.
    world.faults().fail_next(1, 502);
    let queued = world.json(&["session", "log", "note", "by week"]);
    assert_eq!(queued["delivery"], "queued", "{queued}");
    let synced = world.json(&["sync"]);
    assert_eq!(synced["journal"]["delivered"], 1, "{synced}");
}

#[test]
fn plain_http_off_this_machine_needs_a_flag_and_warns_each_time() {
    let world = World::new();
    world.register("default", "careful");
    // 0.0.0.0 reaches this machine's server, but is not a loopback address.
    let port = world
        .server
        .base_url()
        .split(':')
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let url = format!("http://0.0.0.0:{port}/api/v1");
    let output = world
        .plurum()
        .args(["--json", "--api-url", &url, "whoami"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let document: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(document["error"]["code"], "insecure_http");
    assert!(
        document["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("--allow-insecure-http")
    );
    for _ in 0..2 {
        let output = world
            .plurum()
            .args(["--api-url", &url, "--allow-insecure-http", "whoami"])
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        assert!(
            stderr(&output).contains("warning: the API key travels unencrypted"),
            "{}",
            stderr(&output)
        );
    }
    let output = world
        .plurum()
        .env("PLURUM_ALLOW_INSECURE_HTTP", "1")
        .args(["--api-url", &url, "whoami"])
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(stderr(&output).contains("warning: the API key travels unencrypted"));
    // Loopback needs no flag and gets no warning, flag or not.
    let output = world
        .plurum()
        .args(["--allow-insecure-http", "whoami"])
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(!stderr(&output).contains("warning"), "{}", stderr(&output));
}

#[test]
fn vv_traces_each_request_without_the_key() {
    let world = World::new();
    world.register("default", "tracer");
    let key = world.stored_key("default");
    let output = world.plurum().args(["-vv", "whoami"]).output().unwrap();
    assert!(output.status.success());
    let err = stderr(&output);
    let trace = err
        .lines()
        .find(|line| line.contains("plurum request"))
        .unwrap_or_else(|| panic!("no request trace: {err}"));
    for part in [
        "method=GET",
        "path=\"/api/v1/agents/me\"",
        "status=\"200\"",
        "duration_ms=",
        "retry=0",
    ] {
        assert!(trace.contains(part), "{part} missing from {trace}");
    }
    assert!(
        !err.contains(&key) && !err.contains(&key[10..]),
        "the key is in the trace"
    );
    // A retried request shows its retry count.
    world.faults().fail_next(1, 503);
    let output = world.plurum().args(["-vv", "pulse", "status"]).output().unwrap();
    assert!(output.status.success());
    assert!(stderr(&output).contains("retry=1"), "{}", stderr(&output));
}

#[test]
fn colors_follow_no_color_and_tables_are_whole_in_a_pipe() {
    let world = World::new();
    let forced = |extra: &[&str], no_color_env: bool| {
        let mut command = world.plurum();
        command.env_remove("NO_COLOR").env("CLICOLOR_FORCE", "1");
        if no_color_env {
            command.env("NO_COLOR", "1");
        }
        let output = command.args(extra).arg("sesion").output().unwrap();
        assert_eq!(output.status.code(), Some(2));
        stderr(&output)
    };
    assert!(
        forced(&[], false).contains('\u{1b}'),
        "CLICOLOR_FORCE colors clap's errors"
    );
    assert!(
        !forced(&["--no-color"], false).contains('\u{1b}'),
        "--no-color turns clap's colors off"
    );
    assert!(
        !forced(&[], true).contains('\u{1b}'),
        "NO_COLOR turns clap's colors off"
    );

    world.register("default", "reader");
    let topic = "Set up PostgreSQL streaming replication with a physical slot, a standby that \
                 promotes itself, and monitoring of the replication lag in Grafana";
    world.json(&["session", "open", topic]);
    let output = world.plurum().args(["session", "list"]).output().unwrap();
    let text = stdout(&output);
    assert!(text.contains(topic), "a pipe gets the whole topic:\n{text}");
    assert!(!text.contains('…'), "{text}");
    assert!(text.lines().next().unwrap().contains("AGE"), "times are ages:\n{text}");
    assert!(
        !text.contains(":00") && !text.contains("Z "),
        "no raw timestamps:\n{text}"
    );
    let created = world.json(&[
        "experience",
        "create",
        "--goal",
        "A goal nobody tried",
        "--gotcha",
        "none",
        "--publish",
    ]);
    let output = world.plurum().args(["experience", "list"]).output().unwrap();
    let text = stdout(&output);
    let row = text
        .lines()
        .find(|line| line.contains(created["short_id"].as_str().unwrap()))
        .unwrap_or_else(|| panic!("no row:\n{text}"));
    assert!(
        row.split_whitespace().any(|cell| cell == "-"),
        "no reports shows '-': {row}"
    );
}

#[test]
fn print_cron_and_print_systemd_are_json_under_json() {
    let world = World::new();
    let cron = world.json(&["heartbeat", "--print-cron"]);
    let line = cron["line"].as_str().unwrap();
    assert!(
        line.contains("plurum") && line.contains("heartbeat") && line.contains("--if-due"),
        "{line}"
    );
    assert!(cron["crontab"].as_str().unwrap().ends_with(line));
    assert_eq!(cron["profile"], "default");
    let unit = world.json(&["daemon", "--print-systemd"]);
    assert!(unit["unit"].as_str().unwrap().contains("[Service]"), "{unit}");
    assert!(unit["file"].as_str().unwrap().ends_with(".service"), "{unit}");
    assert_eq!(unit["profile"], "default");
    // Completions are a shell script: --json is a usage error, as JSON.
    let output = world.plurum().args(["--json", "completions", "bash"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let document: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(document["error"]["code"], "usage");
}

#[test]
fn a_repaired_state_file_fails_the_run_inside_its_one_document() {
    let world = World::new();
    world.register("default", "repairer");
    let path = world.state_file("default");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, r#"{"schemaVersion": 2, "pendingOutcomeReports": [42]}"#).unwrap();
    let output = world.plurum().args(["--json", "outcome", "flush"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let document: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(
        document["queued_before"], 0,
        "the command's own result stays: {document}"
    );
    assert_eq!(document["error"]["code"], "state_repaired");
    assert!(
        document["error"]["message"]
            .as_str()
            .unwrap()
            .contains("pendingOutcomeReports[0]")
    );
    // The next run is clean.
    let clean = world.json(&["outcome", "flush"]);
    assert!(clean.get("error").is_none());
}
