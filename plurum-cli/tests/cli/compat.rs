//! The CLI's loop against both reference server modes: the seed documents'
//! behaviour and the real service's quirks (`--compat real`). Where the CLI
//! has to handle a quirk, the step says which.

use plurum_sdk::server::{Compat, ServerConfig};
use serde_json::Value;

use crate::common::World;

fn the_loop(compat: Compat) {
    let world = World::with_config(ServerConfig::default().no_limits().compat(compat));
    world.register("default", "looper");
    world.register("helper", "helper");
    // The helper's inbox starts clean (the real inbox reports every public
    // session opened since the last read).
    world.json(&["--profile", "helper", "inbox", "--all"]);

    let found = world.json(&["search", "postgres replication"]);
    assert_eq!(found["total_found"], 0, "{compat:?}");
    let opened = world.json(&[
        "session",
        "open",
        "Set up PostgreSQL replication",
        "--domain",
        "infrastructure",
    ]);
    let short = opened["session"]["short_id"].as_str().unwrap().to_owned();
    // Quirk: the real server answers a short id on a session sub-route with
    // a 500; the CLI resolves it to the UUID first, so log, contribute and
    // close all take the short id it printed.
    world.json(&[
        "session",
        "log",
        "breakthrough",
        "--insight",
        "one slot per replica",
        "--detail",
        "no WAL gaps",
    ]);
    world.json(&["session", "log", "note", "PostgreSQL 16", "--session", &short]);
    world.json(&[
        "--profile",
        "helper",
        "session",
        "contribute",
        &short,
        "Watch the lag",
        "--type",
        "warning",
    ]);
    // Quirk: an id that is no id would be a 500 on the real server; the CLI
    // refuses it before sending (exit 2).
    world
        .plurum()
        .args(["session", "log", "note", "x", "--session", "not-an-id"])
        .assert()
        .code(2);
    let closed = world.json(&["session", "close", &short, "--outcome", "success"]);
    let experience = closed["experience_draft"]["short_id"].as_str().unwrap().to_owned();

    // Outcomes: a second report is a 409 (seed) or an upsert (real); the
    // CLI says it is on record either way.
    let first = world.json(&["--profile", "helper", "outcome", "report", &experience, "--failure"]);
    assert_eq!(first["queued"], false, "{compat:?}: {first}");
    let second = world.json(&["--profile", "helper", "outcome", "report", &experience, "--success"]);
    assert_eq!(second["queued"], false, "{compat:?}: {second}");
    match compat {
        Compat::Real => assert_eq!(second["report"]["success"], true),
        _ => assert_eq!(second["already_reported"], true),
    }

    // The owner's heartbeat keeps the warning and tells the human.
    let beat = world.plurum().args(["--json", "heartbeat"]).output().unwrap();
    assert_eq!(
        beat.status.code(),
        Some(3),
        "{compat:?}: {}",
        String::from_utf8_lossy(&beat.stderr)
    );
    let beat: Value = serde_json::from_slice(&beat.stdout).unwrap();
    assert_eq!(beat["needs_human"][0]["kind"], "warning_contributed");
    let inbox = world.json(&["inbox"]);
    assert_eq!(inbox["events"][0]["event_type"], "contribution_received");
    assert_eq!(inbox["events"][0]["session_short_id"], short.as_str());

    // The helper's inbox: the owner's session opened and closed. Quirks: the
    // real server builds these at read time with `id: null` (they are kept
    // under local ids and never sent to mark-read, which would refuse a
    // null), shows a session opened and closed between two reads only as
    // closed, and returns closed sessions for `event_type=session_opened`
    // (the CLI filters what it keeps, exactly).
    let helper = world.json(&["--profile", "helper", "inbox"]);
    let kinds: Vec<&str> = helper["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"session_closed"), "{compat:?}: {helper}");
    for event in helper["events"].as_array().unwrap() {
        assert!(event["id"].is_string() && event["short_id"].is_string(), "{event}");
    }
    world.json(&[
        "--profile",
        "helper",
        "session",
        "open",
        "A session of the helper's own",
    ]);
    let opened_only = world.json(&["--profile", "helper", "inbox", "--type", "session_opened"]);
    assert!(
        opened_only["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["event_type"] == "session_opened"),
        "{compat:?}: {opened_only}"
    );
    let beat = world.json(&["--profile", "helper", "heartbeat", "--query", "postgres replication"]);
    assert_eq!(beat["status"], "ok", "{compat:?}: {beat}");
    assert!(
        beat["search"]["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["short_id"] == experience.as_str())
    );
}

#[test]
fn the_cli_loop_passes_against_the_seed_behaviour() {
    the_loop(Compat::Seed);
}

#[test]
fn the_cli_loop_passes_against_the_real_service_quirks() {
    the_loop(Compat::Real);
}

#[test]
fn serve_takes_the_mode_and_the_allowed_origins() {
    let world = World::new();
    let mut child = world
        .process()
        .args([
            "--json",
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--no-limits",
            "--compat",
            "real",
        ])
        .args(["--allowed-origin", "http://localhost:5173"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
    let started: Value = serde_json::from_str(&line).unwrap();
    let base = started["base_url"].as_str().unwrap().to_owned();
    // The real quirk: a session id that is no id is a 500.
    let output = world
        .plurum()
        .args([
            "--api-url",
            &base,
            "--json",
            "register",
            "--name",
            "Probe",
            "--username",
            "probe",
        ])
        .output()
        .unwrap();
    assert!(output.status.success());
    let status = world.block_on(async {
        reqwest::Client::builder()
            .tls_backend_preconfigured(plurum_sdk::tls::client_config().unwrap())
            .build()
            .unwrap()
            .get(format!("{base}/sessions/not-an-id"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    assert_eq!(status, 500);
    world.plurum().args(["serve", "--compat", "fancy"]).assert().code(2);
    child.kill().unwrap();
    child.wait().unwrap();
}
