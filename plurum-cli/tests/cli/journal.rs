//! The journal of writes as a user meets it: entries logged while the
//! server is down are kept and delivered later, in order, exactly once;
//! an entry whose answer was lost after the server applied it is found by
//! reading the session back, never sent twice.

use std::process::Output;

use serde_json::{Value, json};

use crate::common::World;

/// A URL where nothing listens.
fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/api/v1")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn run(world: &World, url: &str, args: &[&str]) -> Output {
    world
        .plurum()
        .env("PLURUM_API_URL", url)
        .arg("--json")
        .args(args)
        .output()
        .unwrap()
}

fn entries(world: &World, short_id: &str) -> Vec<Value> {
    let session = world.json(&["session", "show", short_id]);
    session["entries"].as_array().cloned().unwrap_or_default()
}

/// Every kind of entry, twenty in all.
fn twenty() -> Vec<Vec<String>> {
    let mut all = Vec::new();
    for i in 0..20 {
        let n = i.to_string();
        let args: Vec<&str> = match i % 6 {
            0 => vec!["dead-end", "--what", "tried", "--why", "failed"],
            1 => vec![
                "breakthrough",
                "--importance",
                "high",
                "--insight",
                "slots",
                "--detail",
                "kept",
            ],
            2 => vec!["gotcha", "--warning", "needs REPLICATION", "--context", "images"],
            3 => vec![
                "artifact",
                "--language",
                "bash",
                "--code",
                "echo hi",
                "--description",
                "seed",
            ],
            4 => vec!["update", "progress"],
            _ => vec!["note", "a note"],
        };
        // Each entry says its number, so the order can be checked.
        let mut args: Vec<String> = args.into_iter().map(str::to_owned).collect();
        let last = args.len() - 1;
        args[last] = format!("{} #{n}", args[last]);
        all.push(args);
    }
    all
}

#[test]
fn entries_logged_while_the_server_is_down_are_delivered_later_in_order_exactly_once() {
    let world = World::new();
    world.register("default", "journal-agent");
    let opened = world.json(&["session", "open", "Set up PostgreSQL replication"]);
    let short = opened["session"]["short_id"].as_str().unwrap().to_owned();
    let dead = dead_url();
    for args in twenty() {
        let mut full = vec!["session", "log"];
        full.extend(args.iter().map(String::as_str));
        let output = run(&world, &dead, &full);
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        let value: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(value["delivery"], "queued", "{value}");
        assert!(value["queued"]["reason"].as_str().is_some_and(|r| !r.is_empty()));
        assert_eq!(value["session_short_id"], short.as_str());
    }
    let journal = world.state_dir().join("default").join("journal.jsonl");
    assert_eq!(crate::common::mode(&journal), 0o600);
    assert!(entries(&world, &short).is_empty(), "nothing reached the server yet");

    // --no-queue keeps today's behaviour: a failure, nothing more kept.
    let refused = run(&world, &dead, &["session", "log", "--no-queue", "note", "not kept"]);
    assert_eq!(refused.status.code(), Some(5), "{}", text(&refused.stdout));

    // Back online: one sync delivers all twenty, in order.
    let synced = world.json(&["sync"]);
    assert_eq!(synced["journal"]["delivered"], 20, "{synced}");
    assert_eq!(synced["journal"]["pending"], 0, "{synced}");
    assert_eq!(synced["journal"]["by_kind"]["session_log"]["delivered"], 20);
    let on_server = entries(&world, &short);
    assert_eq!(on_server.len(), 20, "exactly once");
    for (i, entry) in on_server.iter().enumerate() {
        assert!(
            entry.to_string().contains(&format!("#{i}\"")),
            "entry {i} out of order: {entry}"
        );
    }
    // A second sync has nothing to do.
    let again = world.json(&["sync"]);
    assert_eq!(again["journal"]["delivered"], 0);
    assert_eq!(entries(&world, &short).len(), 20);
}

#[test]
fn an_answer_lost_after_the_server_applied_it_is_found_not_sent_again() {
    let world = World::new();
    world.register("default", "lost-answers");
    let opened = world.json(&["session", "open", "Tune autovacuum"]);
    let short = opened["session"]["short_id"].as_str().unwrap().to_owned();
    // The server applies the next entry and closes the connection unanswered.
    world
        .faults()
        .lose_next_answers(1, Some("/api/v1/sessions/".to_owned()));
    let lost = world.json(&["session", "log", "note", "applied, answer lost"]);
    assert_eq!(lost["delivery"], "queued", "{lost}");
    assert_eq!(entries(&world, &short).len(), 1, "the server has it");
    // A later entry goes behind it; the read-back finds the first one.
    let next = world.json(&["session", "log", "note", "the next one"]);
    assert_eq!(next["delivery"], "delivered", "{next}");
    let on_server = entries(&world, &short);
    assert_eq!(on_server.len(), 2, "exactly once: {on_server:?}");
    assert!(on_server[0].to_string().contains("applied, answer lost"));
    assert!(on_server[1].to_string().contains("the next one"));
    let synced = world.json(&["sync"]);
    assert_eq!(synced["journal"]["pending"], 0);
}

#[test]
fn the_heartbeat_delivers_the_journal() {
    let world = World::new();
    world.register("default", "beating-journal");
    let opened = world.json(&["session", "open", "Cache warmup"]);
    let short = opened["session"]["short_id"].as_str().unwrap().to_owned();
    let dead = dead_url();
    for i in 0..3 {
        let note = format!("offline {i}");
        let output = run(&world, &dead, &["session", "log", "note", &note]);
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    }
    // Offline, the heartbeat says the journal waits.
    let offline = run(&world, &dead, &["heartbeat"]);
    let beat: Value = serde_json::from_slice(&offline.stdout).unwrap();
    assert_eq!(beat["steps"]["journal"], "failed", "{beat}");
    let beat = world.plurum().args(["--json", "heartbeat"]).output().unwrap();
    let beat: Value = serde_json::from_slice(&beat.stdout).unwrap();
    assert_eq!(beat["journal"]["delivered"], 3, "{beat}");
    assert_eq!(beat["steps"]["journal"], "ok");
    assert_eq!(entries(&world, &short).len(), 3);
}

#[test]
fn a_write_the_api_refuses_for_good_is_listed_and_can_be_dropped() {
    let world = World::new();
    world.register("default", "refused-writes");
    let opened = world.json(&["session", "open", "Short-lived"]);
    let short = opened["session"]["short_id"].as_str().unwrap().to_owned();
    let dead = dead_url();
    let queued = run(&world, &dead, &["session", "log", "note", "after the close"]);
    assert_eq!(queued.status.code(), Some(0));
    // The session is closed meanwhile (from another machine, say).
    let client = world.client("default");
    world
        .block_on(
            client
                .sessions()
                .close(short.as_str(), plurum_sdk::types::CloseSession::new()),
        )
        .unwrap();
    let synced = world.plurum().args(["--json", "sync"]).output().unwrap();
    assert_eq!(synced.status.code(), Some(1), "{}", text(&synced.stdout));
    let value: Value = serde_json::from_slice(&synced.stdout).unwrap();
    assert_eq!(value["error"]["code"], "rejected");
    assert_eq!(value["failed"].as_array().unwrap().len(), 1, "{value}");
    assert_eq!(value["failed"][0]["session_short_id"], short.as_str());
    let dropped = world.json(&["sync", "--drop-failed"]);
    assert_eq!(dropped, json!({"dropped": 1}));
    let clean = world.json(&["sync"]);
    assert_eq!(clean["failed"], json!([]));
}

#[test]
fn a_close_queued_offline_goes_after_the_entries_and_nothing_follows_it() {
    let world = World::new();
    world.register("default", "closing-offline");
    let opened = world.json(&["session", "open", "Partition the events table"]);
    let short = opened["session"]["short_id"].as_str().unwrap().to_owned();
    let dead = dead_url();
    for note in ["by month", "by tenant"] {
        let output = run(&world, &dead, &["session", "log", "note", note]);
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    }
    let closed = run(&world, &dead, &["session", "close", "--outcome", "success"]);
    assert_eq!(closed.status.code(), Some(0), "{}", text(&closed.stderr));
    let closed: Value = serde_json::from_slice(&closed.stdout).unwrap();
    assert_eq!(closed["delivery"], "queued", "{closed}");
    assert_eq!(closed["session_short_id"], short.as_str());
    // As the server would: no entry after the close, even queued.
    let late = run(
        &world,
        &dead,
        &["session", "log", "--session", &short, "note", "too late"],
    );
    assert_eq!(late.status.code(), Some(1), "{}", text(&late.stdout));
    let late: Value = serde_json::from_slice(&late.stdout).unwrap();
    assert_eq!(late["error"]["code"], "session_closed", "{late}");
    // Online: the entries, then the close, in that order.
    let synced = world.json(&["sync"]);
    assert_eq!(synced["journal"]["delivered"], 3, "{synced}");
    assert_eq!(synced["journal"]["by_kind"]["session_close"]["delivered"], 1);
    let session = world.json(&["session", "show", &short]);
    assert_eq!(session["status"], "closed", "{session}");
    assert_eq!(session["entries"].as_array().unwrap().len(), 2);
}

#[test]
fn a_close_whose_answer_was_lost_is_found_not_sent_again() {
    let world = World::new();
    world.register("default", "lost-close");
    let opened = world.json(&["session", "open", "Rotate the TLS certificates"]);
    let short = opened["session"]["short_id"].as_str().unwrap().to_owned();
    world.json(&["session", "log", "note", "certbot renew --deploy-hook"]);
    world
        .faults()
        .lose_next_answers(1, Some("/api/v1/sessions/".to_owned()));
    let closed = world.json(&["session", "close", "--outcome", "success"]);
    assert_eq!(closed["delivery"], "queued", "{closed}");
    // The server closed it; a resend would be refused. The read-back finds it.
    let synced = world.json(&["sync"]);
    assert_eq!(synced["journal"]["found"], 1, "{synced}");
    assert_eq!(synced["failed"], json!([]));
    assert_eq!(world.json(&["session", "show", &short])["status"], "closed");
}

/// Delivery killed (SIGKILL) at random moments, over and over, through
/// answers lost after commit and 5xx: every entry lands once, in order.
#[test]
fn random_kills_and_faults_during_delivery_lose_nothing_and_double_nothing() {
    let world = World::new();
    world.register("default", "killed-often");
    let opened = world.json(&["session", "open", "Migrate the queue to Kafka"]);
    let short = opened["session"]["short_id"].as_str().unwrap().to_owned();
    let dead = dead_url();
    const ENTRIES: usize = 30;
    for i in 0..ENTRIES {
        let note = format!("step #{i}");
        let output = run(&world, &dead, &["session", "log", "note", &note]);
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    }
    // Each answer takes a while, so kills land between send and answer.
    world.faults().set_latency(std::time::Duration::from_millis(15));
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |bound: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % bound
    };
    let mut kills = 0;
    for round in 0..50 {
        match round % 5 {
            1 => world
                .faults()
                .lose_next_answers(1, Some("/api/v1/sessions/".to_owned())),
            3 => world.faults().fail_next_for_path(1, 503, "/api/v1/sessions/"),
            _ => {}
        }
        let mut child = world.process().args(["-q", "sync"]).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(next(120)));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            kills += 1;
        }
        child.wait().unwrap();
    }
    world.faults().clear();
    let during = entries(&world, &short).len();
    assert!(during > 0, "no delivery happened between the kills");
    // Whatever the kills left, one more sync finishes the job.
    let synced = world.json(&["sync"]);
    assert_eq!(synced["journal"]["pending"], 0, "{synced}");
    let on_server = entries(&world, &short);
    let texts: Vec<String> = on_server
        .iter()
        .map(|e| e["content"]["text"].as_str().unwrap().to_owned())
        .collect();
    let expected: Vec<String> = (0..ENTRIES).map(|i| format!("step #{i}")).collect();
    assert_eq!(texts, expected, "lost, doubled or out of order after {kills} kills");
    eprintln!(
        "{kills} kills during delivery ({during} entries landed between them): {ENTRIES} entries, each once, in order"
    );
    assert!(kills >= 10, "only {kills} kills landed");
}

/// The same journey against the reference server in the real service's
/// mode (its measured quirks).
#[test]
fn the_journal_works_against_the_real_services_behaviour() {
    let world = World::with_config(
        plurum_sdk::server::ServerConfig::default()
            .no_limits()
            .compat(plurum_sdk::server::Compat::Real),
    );
    world.register("default", "real-journal");
    let opened = world.json(&["session", "open", "Backfill the search index"]);
    let short = opened["session"]["short_id"].as_str().unwrap().to_owned();
    let dead = dead_url();
    for i in 0..6 {
        let note = format!("batch #{i}");
        let output = run(&world, &dead, &["session", "log", "note", &note]);
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    }
    world
        .faults()
        .lose_next_answers(1, Some("/api/v1/sessions/".to_owned()));
    let synced = world.plurum().args(["--json", "sync"]).output().unwrap();
    let synced: Value = serde_json::from_slice(&synced.stdout).unwrap();
    assert!(synced["journal"]["pending"].as_u64().unwrap() <= 6, "{synced}");
    let synced = world.json(&["sync"]);
    assert_eq!(synced["journal"]["pending"], 0, "{synced}");
    let closed = world.json(&["session", "close", "--outcome", "success"]);
    assert_eq!(closed["delivery"], "delivered", "{closed}");
    let texts: Vec<String> = entries(&world, &short)
        .iter()
        .map(|e| e["content"]["text"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(texts, (0..6).map(|i| format!("batch #{i}")).collect::<Vec<_>>());
}

#[test]
fn votes_and_contributions_wait_offline_and_a_lost_contribution_is_never_doubled() {
    let world = World::new();
    world.register("owner", "session-owner");
    world.register("default", "helper-agent");
    let opened = world.json(&["--profile", "owner", "session", "open", "Debug the flaky CI runner"]);
    let other = opened["session"]["short_id"].as_str().unwrap().to_owned();
    world.json(&["--profile", "owner", "session", "log", "note", "fails one run in five"]);
    let closed = world.json(&["--profile", "owner", "session", "close", "--outcome", "success"]);
    let experience = closed["experience_draft"]["short_id"].as_str().unwrap().to_owned();
    let second = world.json(&["--profile", "owner", "session", "open", "Speed up the CI cache"]);
    let open_other = second["session"]["short_id"].as_str().unwrap().to_owned();
    let open_other_id = second["session"]["id"].as_str().unwrap().to_owned();
    let dead = dead_url();

    // Offline: both queued.
    let vote = run(&world, &dead, &["experience", "vote", &experience, "up"]);
    assert_eq!(vote.status.code(), Some(0), "{}", text(&vote.stderr));
    let vote: Value = serde_json::from_slice(&vote.stdout).unwrap();
    assert_eq!(vote["delivery"], "queued", "{vote}");
    // Offline, another agent's session is named by its UUID.
    let _ = other;
    let contribution = run(&world, &dead, &["session", "contribute", &open_other_id, "try sccache"]);
    assert_eq!(contribution.status.code(), Some(0), "{}", text(&contribution.stdout));
    let contribution: Value = serde_json::from_slice(&contribution.stdout).unwrap();
    assert_eq!(contribution["delivery"], "queued", "{contribution}");
    assert_eq!(contribution["session_id"], open_other_id.as_str());
    let synced = world.json(&["sync"]);
    assert_eq!(synced["journal"]["by_kind"]["vote"]["delivered"], 1, "{synced}");
    assert_eq!(synced["journal"]["by_kind"]["contribute"]["delivered"], 1, "{synced}");

    // An answer lost after the server took it: unconfirmed, never resent.
    world
        .faults()
        .lose_next_answers(1, Some(format!("/api/v1/sessions/{open_other_id}/contribute")));
    let lost = world
        .plurum()
        .args(["--json", "session", "contribute", &open_other, "pin the toolchain"])
        .output()
        .unwrap();
    assert_eq!(lost.status.code(), Some(5), "{}", text(&lost.stdout));
    let lost: Value = serde_json::from_slice(&lost.stdout).unwrap();
    assert_eq!(lost["error"]["code"], "unconfirmed", "{lost}");
    let synced = world.json(&["sync"]);
    assert_eq!(synced["unconfirmed"].as_array().unwrap().len(), 1, "{synced}");
    let contributions = world.json(&["--profile", "owner", "session", "contributions", &open_other]);
    let texts: Vec<&str> = contributions["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["content"]["text"].as_str())
        .collect();
    assert_eq!(
        texts.iter().filter(|t| **t == "pin the toolchain").count(),
        1,
        "{texts:?}"
    );
    assert_eq!(texts.iter().filter(|t| **t == "try sccache").count(), 1, "{texts:?}");
}

/// The whole session written with the server down: open (a local id),
/// twenty entries of every kind, a contribution to another agent's
/// session, a vote, the close; then delivered: each once, in order.
#[test]
fn a_whole_session_written_offline_lands_once_and_in_order() {
    let world = World::new();
    world.register("owner", "other-owner");
    world.register("default", "offline-worker");
    let theirs = world.json(&["--profile", "owner", "session", "open", "Upgrade the Kubernetes nodes"]);
    let their_id = theirs["session"]["id"].as_str().unwrap().to_owned();
    world.json(&["--profile", "owner", "session", "log", "note", "drain one at a time"]);
    let closed = world.json(&["--profile", "owner", "session", "close", "--outcome", "success"]);
    let experience = closed["experience_draft"]["short_id"].as_str().unwrap().to_owned();
    let theirs = world.json(&["--profile", "owner", "session", "open", "Tune the autoscaler"]);
    let their_open_id = theirs["session"]["id"].as_str().unwrap().to_owned();
    // Offline, their session is named by its short id (looked up on delivery).
    let their_short = theirs["session"]["short_id"].as_str().unwrap().to_owned();
    let _ = their_id;
    let dead = dead_url();

    let opened = run(
        &world,
        &dead,
        &[
            "session",
            "open",
            "Move the queue workers to spot instances",
            "--domain",
            "infrastructure",
        ],
    );
    assert_eq!(opened.status.code(), Some(0), "{}", text(&opened.stderr));
    let opened: Value = serde_json::from_slice(&opened.stdout).unwrap();
    assert_eq!(opened["delivery"], "queued", "{opened}");
    let local = opened["session"]["id"].as_str().unwrap().to_owned();
    assert!(local.starts_with("local-") && local.len() == 14, "{local}");
    // Every queued document, held to docs/json.md at the end.
    let mut documents = vec![("session open (queued)".to_owned(), opened.clone())];
    for args in twenty() {
        let mut full = vec!["session", "log"];
        full.extend(args.iter().map(String::as_str));
        let output = run(&world, &dead, &full);
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        let heading = format!("session log {}", args[0]);
        documents.push((heading, serde_json::from_slice(&output.stdout).unwrap()));
    }
    let shown = run(&world, &dead, &["session", "show", &local]);
    let shown: Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(shown["journaled"].as_array().unwrap().len(), 21, "{shown}");
    for args in [
        vec![
            "session",
            "contribute",
            their_short.as_str(),
            "use a PodDisruptionBudget",
        ],
        vec!["experience", "vote", experience.as_str(), "up"],
        vec!["session", "close", "--outcome", "success"],
    ] {
        let output = run(&world, &dead, &args);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {}", text(&output.stdout));
        let value: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(value["delivery"], "queued", "{args:?}: {value}");
        documents.push((format!("{} {}", args[0], args[1]), value));
    }
    // An experience written by hand offline: a local id, published by it.
    let created = run(
        &world,
        &dead,
        &[
            "experience",
            "create",
            "--goal",
            "Run the queue workers on spot instances",
            "--gotcha",
            "drain on the two-minute notice",
        ],
    );
    assert_eq!(created.status.code(), Some(0), "{}", text(&created.stderr));
    let created: Value = serde_json::from_slice(&created.stdout).unwrap();
    assert_eq!(created["delivery"], "queued", "{created}");
    let draft = created["short_id"].as_str().unwrap().to_owned();
    assert!(draft.starts_with("local-") && draft != local, "{created}");
    assert_eq!(created["queued"]["local_id"], draft.as_str(), "{created}");
    let shown = run(&world, &dead, &["experience", "get", &draft]);
    let shown: Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(shown["delivery"], "queued", "{shown}");
    let published = run(&world, &dead, &["experience", "publish", &draft]);
    assert_eq!(published.status.code(), Some(0), "{}", text(&published.stderr));
    let published: Value = serde_json::from_slice(&published.stdout).unwrap();
    assert_eq!(published["delivery"], "queued", "{published}");
    documents.push(("experience create (queued)".to_owned(), created));
    documents.push(("experience publish (queued)".to_owned(), published));
    // A second session, opened and abandoned offline.
    let detour = run(
        &world,
        &dead,
        &["session", "open", "A detour through the cluster autoscaler"],
    );
    let detour: Value = serde_json::from_slice(&detour.stdout).unwrap();
    let detour = detour["session"]["short_id"].as_str().unwrap().to_owned();
    let abandoned = run(&world, &dead, &["session", "abandon", &detour]);
    assert_eq!(abandoned.status.code(), Some(0), "{}", text(&abandoned.stderr));
    documents.push((
        "session abandon (queued)".to_owned(),
        serde_json::from_slice(&abandoned.stdout).unwrap(),
    ));

    let synced = world.json(&["sync"]);
    assert_eq!(synced["journal"]["pending"], 0, "{synced}");
    assert_eq!(synced["journal"]["delivered"], 28, "{synced}");
    assert_eq!(
        synced["journal"]["by_kind"]["experience_create"]["delivered"], 1,
        "{synced}"
    );
    documents.push(("sync".to_owned(), synced));
    // Every queued form docs/json.md describes was printed and agrees.
    let checked = crate::contract::check_documents(&documents);
    let doc = crate::json_doc::JsonDoc::load();
    for heading in doc.commands.keys().filter(|h| h.ends_with(" (queued)")) {
        assert!(checked.contains(heading), "no queued run printed `{heading}`");
    }
    // The local id names the experience on the server now: created once,
    // then published.
    let got = world.json(&["experience", "get", &draft]);
    assert_eq!(got["status"], "published", "{got}");
    let mine = world.json(&["experience", "list", "--limit", "100"]);
    let same = mine["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["goal"] == "Run the queue workers on spot instances")
        .count();
    assert_eq!(same, 1, "created once: {mine}");
    // The local id still names the session, now the server's.
    let session = world.json(&["session", "show", &local]);
    assert_eq!(session["status"], "closed", "{session}");
    assert!(!session["id"].as_str().unwrap().starts_with("local-"));
    let texts: Vec<String> = session["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["content"].to_string())
        .collect();
    assert_eq!(texts.len(), 20, "exactly once");
    for (i, text) in texts.iter().enumerate() {
        assert!(text.contains(&format!("#{i}\"")), "entry {i} out of order: {text}");
    }
    let mine = world.json(&["session", "list", "--mine"]);
    let named: Vec<&str> = mine["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["topic"].as_str())
        .filter(|t| t.contains("spot instances"))
        .collect();
    assert_eq!(named.len(), 1, "one session opened: {mine}");
    let contributions = world.json(&["--profile", "owner", "session", "contributions", &their_open_id]);
    assert_eq!(contributions["total"], 1, "{contributions}");
    let got = world.json(&["experience", "get", &experience]);
    assert_eq!(got["upvotes"], 1, "{got}");
}

#[test]
fn an_open_whose_answer_was_lost_is_found_among_the_open_sessions() {
    let world = World::new();
    world.register("default", "lost-open");
    world.faults().lose_next_answers(1, Some("/api/v1/sessions".to_owned()));
    let opened = world.json(&["session", "open", "Shrink the Docker images"]);
    assert_eq!(opened["delivery"], "queued", "{opened}");
    let local = opened["session"]["id"].as_str().unwrap().to_owned();
    // The next write delivers the session's queue: the open is looked up
    // (found, not sent again), then the entry goes to it.
    let logged = world.json(&["session", "log", "note", "multi-stage builds"]);
    assert_eq!(logged["delivery"], "delivered", "{logged}");
    let synced = world.json(&["sync"]);
    assert_eq!(synced["journal"]["pending"], 0, "{synced}");
    let mine = world.json(&["session", "list", "--mine", "--status", "open"]);
    let named = mine["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["topic"] == "Shrink the Docker images")
        .count();
    assert_eq!(named, 1, "opened once: {mine}");
    let session = world.json(&["session", "show", &local]);
    assert_eq!(session["entries"].as_array().unwrap().len(), 1, "{session}");
}

#[test]
fn publish_and_archive_wait_offline_and_a_lost_publish_is_checked_not_resent() {
    let world = World::new();
    world.register("default", "publisher");
    let draft = |topic: &str| -> String {
        world.json(&["session", "open", "--private", topic]);
        world.json(&["session", "log", "note", "the one thing that worked"]);
        let closed = world.json(&["session", "close", "--outcome", "success"]);
        closed["experience_draft"]["short_id"].as_str().unwrap().to_owned()
    };
    let first = draft("Rotate the database credentials");
    let dead = dead_url();
    let queued = run(&world, &dead, &["experience", "publish", &first]);
    assert_eq!(queued.status.code(), Some(0), "{}", text(&queued.stdout));
    let queued: Value = serde_json::from_slice(&queued.stdout).unwrap();
    assert_eq!(queued["delivery"], "queued", "{queued}");
    let archived = run(&world, &dead, &["experience", "archive", &first]);
    let archived: Value = serde_json::from_slice(&archived.stdout).unwrap();
    assert_eq!(archived["delivery"], "queued", "{archived}");
    let synced = world.json(&["sync"]);
    assert_eq!(
        synced["journal"]["by_kind"]["experience_publish"]["delivered"], 1,
        "{synced}"
    );
    assert_eq!(
        synced["journal"]["by_kind"]["experience_archive"]["delivered"], 1,
        "{synced}"
    );
    assert_eq!(world.json(&["experience", "get", &first])["status"], "archived");

    // The server publishes it, the answer is lost: found by its status.
    let second = draft("Warm the CDN cache");
    world
        .faults()
        .lose_next_answers(1, Some("/api/v1/experiences/".to_owned()));
    let lost = world.json(&["experience", "publish", &second]);
    assert_eq!(lost["delivery"], "queued", "{lost}");
    let synced = world.json(&["sync"]);
    assert_eq!(synced["journal"]["found"], 1, "{synced}");
    assert_eq!(synced["failed"], json!([]), "{synced}");
    assert_eq!(world.json(&["experience", "get", &second])["status"], "published");
}

#[test]
fn an_update_waits_offline_in_order_with_the_entries() {
    let world = World::new();
    world.register("default", "updater");
    let opened = world.json(&["session", "open", "Move logs to Loki"]);
    let short = opened["session"]["short_id"].as_str().unwrap().to_owned();
    let dead = dead_url();
    let noted = run(&world, &dead, &["session", "log", "note", "promtail first"]);
    assert_eq!(noted.status.code(), Some(0));
    let updated = run(
        &world,
        &dead,
        &["session", "update", "--tool", "loki", "--domain", "observability"],
    );
    assert_eq!(updated.status.code(), Some(0), "{}", text(&updated.stdout));
    let updated: Value = serde_json::from_slice(&updated.stdout).unwrap();
    assert_eq!(updated["delivery"], "queued", "{updated}");
    let synced = world.json(&["sync"]);
    assert_eq!(
        synced["journal"]["by_kind"]["session_update"]["delivered"], 1,
        "{synced}"
    );
    let session = world.json(&["session", "show", &short]);
    assert_eq!(session["domain"], "observability", "{session}");
    assert_eq!(session["tools_used"], json!(["loki"]));
}

#[test]
fn writes_made_at_the_same_moment_are_both_delivered_now() {
    let world = World::new();
    world.register("default", "two-at-once");
    let opened = world.json(&["session", "open", "Parallel writers"]);
    let short = opened["session"]["short_id"].as_str().unwrap().to_owned();
    // A slow server: the second writer finds the first still delivering.
    world.faults().set_latency(std::time::Duration::from_millis(200));
    let children: Vec<_> = (0..3)
        .map(|i| {
            world
                .process()
                .args(["--json", "session", "log", "note", &format!("writer {i}")])
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success());
        let value: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(value["delivery"], "delivered", "{value}");
    }
    world.faults().clear();
    assert_eq!(entries(&world, &short).len(), 3);
}

#[test]
fn a_create_whose_answer_was_lost_is_found_among_the_drafts() {
    let world = World::new();
    world.register("default", "lost-create");
    world
        .faults()
        .lose_next_answers(1, Some("/api/v1/experiences".to_owned()));
    let created = world.json(&[
        "experience",
        "create",
        "--goal",
        "Compress the nightly backups with zstd",
    ]);
    assert_eq!(created["delivery"], "queued", "{created}");
    let local = created["short_id"].as_str().unwrap().to_owned();
    // Publishing it delivers its queue: the create is looked up among the
    // drafts (found, not sent again), then the publish goes to it.
    let published = world.json(&["experience", "publish", &local]);
    assert_eq!(published["delivery"], "delivered", "{published}");
    assert_eq!(published["status"], "published", "{published}");
    let mine = world.json(&["experience", "list", "--limit", "100"]);
    let same = mine["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["goal"] == "Compress the nightly backups with zstd")
        .count();
    assert_eq!(same, 1, "created once: {mine}");
    // A report on it goes to the server's id.
    let reported = world.json(&["outcome", "report", &local, "--success"]);
    assert_eq!(reported["queued"], false, "{reported}");
}

#[test]
fn a_damaged_line_in_the_middle_is_set_aside_and_said_the_rest_is_delivered() {
    let world = World::new();
    world.register("default", "damaged-journal");
    let opened = world.json(&["session", "open", "Find the memory leak"]);
    let short = opened["session"]["short_id"].as_str().unwrap().to_owned();
    let dead = dead_url();
    for note in ["heap grows 2 MB an hour", "the cache never evicts"] {
        let output = run(&world, &dead, &["session", "log", "note", note]);
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    }
    // Damage between the two writes (not a crash's torn last line).
    let path = world.state_dir().join("default").join("journal.jsonl");
    let original = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<&str> = original.lines().collect();
    lines.insert(1, "{\"write\": [\"not\", \"a write\"]}");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let synced = world.plurum().args(["--json", "sync"]).output().unwrap();
    assert_ne!(
        synced.status.code(),
        Some(0),
        "a set-aside line is said with a non-zero exit"
    );
    let document: Value = serde_json::from_slice(&synced.stdout).unwrap();
    assert!(
        document["error"]["message"]
            .as_str()
            .unwrap()
            .contains("journal.corrupt.jsonl"),
        "{document}"
    );
    let aside = std::fs::read_to_string(world.state_dir().join("default").join("journal.corrupt.jsonl")).unwrap();
    assert!(aside.contains("a write"), "{aside}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(world.state_dir().join("default").join("journal.corrupt.jsonl"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert_eq!(entries(&world, &short).len(), 2, "both notes delivered");
    // Said once: the next sync is clean.
    let again = world.json(&["sync"]);
    assert_eq!(again["journal"]["pending"], 0, "{again}");
}

#[test]
fn a_session_named_offline_by_a_short_id_that_does_not_exist_fails_on_delivery_and_is_listed() {
    let world = World::new();
    world.register("default", "short-id-offline");
    let dead = dead_url();
    let queued = run(
        &world,
        &dead,
        &["session", "contribute", "deadbeef", "a warning for nobody"],
    );
    assert_eq!(queued.status.code(), Some(0), "{}", text(&queued.stderr));
    let value: Value = serde_json::from_slice(&queued.stdout).unwrap();
    assert_eq!(value["delivery"], "queued", "{value}");
    let synced = world.plurum().args(["--json", "sync"]).output().unwrap();
    assert_eq!(synced.status.code(), Some(1), "{}", text(&synced.stdout));
    let document: Value = serde_json::from_slice(&synced.stdout).unwrap();
    let failed = document["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{document}");
    assert!(
        failed[0]["reason"].as_str().unwrap().contains("no session deadbeef"),
        "{document}"
    );
    assert_eq!(document["journal"]["pending"], 0, "{document}");
}
