//! `plurum heartbeat` and `plurum demo` as processes: the routine's steps,
//! its output and exit codes, cron behaviour, crash safety and concurrency.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::{SENTINEL, World};
use plurum_sdk::types::*;
use predicates::prelude::*;
use serde_json::{Value, json};

/// Publishes `count` experiences by the `author` profile; returns their short ids.
fn publish(world: &World, count: usize) -> Vec<String> {
    let author = world.client("author");
    world.block_on(async {
        let mut ids = Vec::new();
        for i in 0..count {
            let created = author
                .experiences()
                .create(CreateExperience::new(format!(
                    "Experience number {i} about replication lag"
                )))
                .await
                .unwrap();
            author.experiences().publish(&created.short_id).await.unwrap();
            ids.push(created.short_id);
        }
        ids
    })
}

/// Writes queued reports into a profile's state.json, as `outcome report` would.
fn queue_reports(world: &World, profile: &str, identifiers: &[String]) {
    let reports: Vec<Value> = identifiers
        .iter()
        .map(|id| json!({"id": uuid_like(id), "identifier": id, "success": true, "execution_time_ms": 1000}))
        .collect();
    let dir = world.state_dir().join(profile);
    std::fs::create_dir_all(&dir).unwrap();
    let state =
        json!({"schemaVersion": 1, "lastPlurumCheck": null, "pendingOutcomeReports": reports, "savedExperiences": []});
    std::fs::write(dir.join("state.json"), serde_json::to_vec_pretty(&state).unwrap()).unwrap();
}

fn uuid_like(seed: &str) -> String {
    format!("00000000-0000-4000-8000-{:0>12}", &seed[..seed.len().min(12)])
}

fn total_reports(world: &World, ids: &[String]) -> Vec<u64> {
    let reader = world.client("author");
    world.block_on(async {
        let mut totals = Vec::new();
        for id in ids {
            totals.push(reader.experiences().get(id).await.unwrap().total_reports);
        }
        totals
    })
}

fn heartbeat(world: &World, profile: &str, extra: &[&str]) -> (i32, Value, String) {
    let output = world
        .plurum()
        .args(["--profile", profile, "--json", "heartbeat"])
        .args(extra)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let json = serde_json::from_str(&stdout)
        .unwrap_or_else(|_| panic!("no JSON: {stdout}\n{}", String::from_utf8_lossy(&output.stderr)));
    (
        output.status.code().unwrap(),
        json,
        String::from_utf8_lossy(&output.stderr).to_string(),
    )
}

#[test]
fn a_quiet_heartbeat_says_no_new_findings_and_records_the_check() {
    let world = World::new();
    world.register("default", "quiet");
    world
        .plurum()
        .args(["heartbeat", "--query", "nothing like this exists"])
        .assert()
        .success()
        .stdout("Plurum heartbeat complete. No new findings.\n");
    let state = world.state("default");
    assert!(state["lastPlurumCheck"].is_string(), "{state}");
    // With nothing to search for, it says so and how to set it.
    let output = world.plurum().arg("heartbeat").output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let line = String::from_utf8(output.stdout).unwrap();
    assert!(
        line.starts_with("Plurum heartbeat complete. No new findings; search skipped")
            && line.contains("plurum config set focus"),
        "{line}"
    );
    // A 1-character query is a usage error before anything is sent.
    world
        .plurum()
        .env("PLURUM_API_URL", "http://127.0.0.1:9/api/v1")
        .args(["heartbeat", "--query", "x"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--query"));
    // -q prints only what needs attention: nothing.
    world.plurum().args(["-q", "heartbeat"]).assert().success().stdout("");
}

#[test]
fn the_full_routine_flushes_reads_searches_and_checks_the_pulse() {
    let world = World::new();
    world.register("author", "author");
    world.register("default", "worker");
    std::fs::create_dir_all(world.config_dir()).unwrap();
    std::fs::write(
        world.config_dir().join("config.toml"),
        "[profiles.default]\nfocus = \"replication lag\"\ndomains = [\"infrastructure\"]\ntools = [\"kafka\"]\n",
    )
    .unwrap();
    let ids = publish(&world, 3);
    queue_reports(&world, "default", &ids[..2]);
    // Another agent is at work in a domain of interest, and one elsewhere.
    world.json(&[
        "--profile",
        "author",
        "session",
        "open",
        "Shard the event store",
        "--domain",
        "infrastructure",
    ]);
    world.json(&[
        "--profile",
        "author",
        "session",
        "open",
        "Bake bread",
        "--domain",
        "cooking",
    ]);

    let (code, summary, _) = heartbeat(&world, "default", &[]);
    assert_eq!(code, 0, "{summary}");
    assert_eq!(summary["status"], "ok");
    // Inbox: both session_opened events kept in state, then marked read.
    assert_eq!(summary["inbox"]["sessions_opened"], 2);
    assert_eq!(summary["inbox"]["marked_read"], 2);
    let state = world.state("default");
    assert_eq!(state["inboxEvents"].as_array().unwrap().len(), 2);
    let unread = world
        .block_on(world.client("default").pulse().inbox(InboxQuery::new()))
        .unwrap();
    assert_eq!(unread.unread_count, 0, "marked read once stored");
    // Outbox flushed.
    assert_eq!(summary["outcomes"]["delivered"], 2);
    assert!(state["pendingOutcomeReports"].as_array().unwrap().is_empty());
    assert_eq!(total_reports(&world, &ids[..2]), [1, 1]);
    // Search from the profile's focus; finds saved with their scores.
    assert_eq!(summary["search"]["source"], "profile_focus");
    assert_eq!(summary["search"]["query"], "replication lag");
    let saved = state["savedExperiences"].as_array().unwrap();
    assert_eq!(saved.len(), 3);
    assert!(
        saved
            .iter()
            .all(|s| s["quality_score"].is_number() && s["total_reports"].is_number())
    );
    // Pulse: only the session in the configured domain is pointed out.
    let relevant = summary["pulse"]["relevant"].as_array().unwrap();
    assert_eq!(relevant.len(), 1);
    assert_eq!(relevant[0]["topic"], "Shard the event store");
    assert!(
        summary["summary"]
            .as_str()
            .unwrap()
            .contains("reported 2 queued outcome(s)")
    );
    assert!(
        summary["summary"]
            .as_str()
            .unwrap()
            .contains("1 active session(s) in your domains or tools")
    );
    assert!(state["lastPlurumCheck"].is_string());

    // The current session's topic wins over the focus, the flag over both.
    world.json(&["session", "open", "Tune Kafka consumer lag"]);
    let (_, summary, _) = heartbeat(&world, "default", &[]);
    assert_eq!(summary["search"]["source"], "current_session");
    assert_eq!(summary["search"]["query"], "Tune Kafka consumer lag");
    let (_, summary, _) = heartbeat(&world, "default", &["--query", "replication"]);
    assert_eq!(summary["search"]["source"], "flag");
    assert!(summary["search"]["new"].as_array().unwrap().is_empty(), "already saved");
}

#[test]
fn a_rejected_key_exits_4_and_changes_nothing() {
    let world = World::new();
    world.register("default", "soon-invalid");
    world.json(&["session", "open", "Something in progress"]);
    let before = std::fs::read(world.state_file("default")).unwrap();
    world
        .plurum()
        .env("PLURUM_API_KEY", SENTINEL)
        .arg("heartbeat")
        .assert()
        .code(4)
        .stderr(predicate::str::contains("the heartbeat could not authenticate"))
        .stderr(predicate::str::contains("hint: the key in PLURUM_API_KEY was rejected"))
        .stderr(predicate::str::contains("SENTINEL").not());
    assert_eq!(
        std::fs::read(world.state_file("default")).unwrap(),
        before,
        "state untouched"
    );
    // No key at all: 4 as well.
    world
        .plurum()
        .args(["--profile", "nobody", "heartbeat"])
        .assert()
        .code(4);
}

#[test]
fn what_the_human_should_know_is_exit_3() {
    let world = World::new();
    world.register("author", "author");
    world.register("default", "relier");
    world.register("critic", "critic");
    let ids = publish(&world, 1);
    let id = &ids[0];
    // The agent used the experience and it worked; the heartbeat saves it.
    world.json(&["outcome", "report", id, "--success"]);
    let (code, summary, _) = heartbeat(&world, "default", &["--query", "replication lag"]);
    assert_eq!(code, 0, "{summary}");
    // Then another agent reports a failure: quality drops, failure rate rises.
    world.json(&[
        "--profile",
        "critic",
        "outcome",
        "report",
        id,
        "--failure",
        "--error",
        "broke on Kafka 3.7",
    ]);
    let (code, summary, _) = heartbeat(&world, "default", &["--query", "replication lag"]);
    assert_eq!(code, 3, "{summary}");
    assert_eq!(
        summary["status"], "ok",
        "every step worked; what matters is in needs_human"
    );
    let kinds: Vec<&str> = summary["needs_human"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap())
        .collect();
    // A failure rate from two reports is no trend yet; the quality drop is news.
    assert_eq!(kinds, ["quality_dropped"]);
    let text = world
        .plurum()
        .args(["heartbeat", "--query", "replication lag"])
        .output()
        .unwrap();
    assert_eq!(text.status.code(), Some(0), "nothing changed since");

    // A warning contributed to the open session.
    let opened = world.json(&["session", "open", "Replay the dead-letter queue"]);
    let short = opened["session"]["short_id"].as_str().unwrap();
    world.json(&[
        "--profile",
        "critic",
        "session",
        "contribute",
        short,
        "The DLQ holds poison messages",
        "--type",
        "warning",
    ]);
    let output = world.plurum().args(["-q", "heartbeat"]).output().unwrap();
    assert_eq!(output.status.code(), Some(3));
    // The critic by its short agent id: the API names other agents by id only.
    let critic = world.json(&["--profile", "critic", "whoami"])["id"].as_str().unwrap()[..8].to_owned();
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        format!(
            "Tell your human: agent {critic} contributed a warning to your session {short} (\"Replay the dead-letter queue\"): The DLQ holds poison messages.\n"
        )
    );
    let beat = world.json(&["heartbeat"]);
    let warning = beat["needs_human"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == "warning_contributed")
        .unwrap()
        .clone();
    assert_eq!(warning["from_short"], critic.as_str(), "{warning}");
    assert!(warning["from"].as_str().unwrap().starts_with(&critic));
    let contributions = world.json(&["session", "contributions", short]);
    assert_eq!(contributions["items"][0]["contributor_short_id"], critic.as_str());
    let listed = world
        .plurum()
        .args(["session", "contributions", short])
        .output()
        .unwrap();
    assert!(String::from_utf8(listed.stdout).unwrap().contains(&critic));
    let inbox = world.json(&["inbox"]);
    assert_eq!(inbox["events"][0]["from_short"], critic.as_str(), "{inbox}");
}

#[test]
fn reports_the_server_will_never_take_are_kept_visible() {
    let world = World::new();
    world.register("default", "reporter");
    queue_reports(&world, "default", &["0badc0de".to_owned()]);
    let (code, summary, _) = heartbeat(&world, "default", &[]);
    assert_eq!(code, 3, "{summary}");
    assert_eq!(summary["needs_human"][0]["kind"], "reports_rejected");
    let state = world.state("default");
    assert!(state["pendingOutcomeReports"].as_array().unwrap().is_empty());
    assert_eq!(state["failedOutcomeReports"][0]["identifier"], "0badc0de");
    assert_eq!(state["failedOutcomeReports"][0]["status"], 404);
    // Every later heartbeat keeps saying so, but the human hears it once.
    for _ in 0..4 {
        let (code, summary, _) = heartbeat(&world, "default", &[]);
        assert_eq!(code, 0, "{summary}");
        assert_eq!(summary["rejected_reports"], 1);
        assert!(
            summary["summary"]
                .as_str()
                .unwrap()
                .contains("1 rejected outcome report(s) wait in 'plurum outcome failed'"),
            "{}",
            summary["summary"]
        );
    }
    // Until handled.
    let failed = world.json(&["outcome", "failed"]);
    let id = failed["failed"][0]["id"].as_str().unwrap().to_owned();
    world.json(&["outcome", "failed", "--drop", &id]);
    let (_, summary, _) = heartbeat(&world, "default", &[]);
    assert_eq!(summary["rejected_reports"], 0);
    assert!(!summary["summary"].as_str().unwrap().contains("rejected"));
}

#[test]
fn only_experiences_the_agent_relies_on_alarm_the_human() {
    let world = World::new();
    world.register("author", "author");
    world.register("default", "watcher");
    let ids = publish(&world, 4);
    // Search hits become suggestions: listed, never alarming.
    let (code, summary, _) = heartbeat(&world, "default", &["--query", "replication lag"]);
    assert_eq!(code, 0, "{summary}");
    assert!(!summary["search"]["new"].as_array().unwrap().is_empty());
    let saved = world.json(&["experience", "saved"]);
    assert!(
        saved["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["reason"] == "suggested"),
        "{saved}"
    );
    // The agent relies on three of them: acquired, reported on, saved.
    world.json(&["experience", "acquire", &ids[0], "--mode", "checklist"]);
    world.json(&["outcome", "report", &ids[1], "--success"]);
    world.json(&["experience", "save", &ids[2]]);
    let saved = world.json(&["experience", "saved"]);
    let reason = |id: &str| {
        saved["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["short_id"] == id)
            .map(|s| s["reason"].as_str().unwrap().to_owned())
            .unwrap_or_else(|| panic!("{id} not saved: {saved}"))
    };
    assert_eq!(reason(&ids[0]), "acquired");
    assert_eq!(reason(&ids[1]), "reported");
    assert_eq!(reason(&ids[2]), "saved");
    let (code, summary, _) = heartbeat(&world, "default", &["--query", "replication lag"]);
    assert_eq!(code, 0, "nothing changed yet: {summary}");

    // Failures on all four, from enough agents to be a trend: only the
    // three relied on reach the human.
    for n in 0..5 {
        let critic = format!("critic-{n}");
        world.register(&critic, &critic);
        for id in &ids {
            world.json(&["--profile", &critic, "outcome", "report", id, "--failure"]);
        }
    }
    let (code, summary, _) = heartbeat(&world, "default", &["--query", "replication lag"]);
    assert_eq!(code, 3, "{summary}");
    let named: std::collections::BTreeSet<&str> = summary["needs_human"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["experience"].as_str().unwrap())
        .collect();
    let relied: std::collections::BTreeSet<&str> = ids[..3].iter().map(String::as_str).collect();
    assert_eq!(named, relied, "{summary}");

    // Unsave: no longer watched; the next fall is quiet for it.
    world.json(&["experience", "unsave", &ids[2]]);
    world.json(&["--profile", "author", "outcome", "report", &ids[2], "--failure"]);
    let (code, summary, _) = heartbeat(&world, "default", &["--query", "replication lag"]);
    assert_eq!(code, 0, "{summary}");
    let output = world
        .plurum()
        .args(["experience", "unsave", "deadbeef"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn temporary_failures_keep_reports_and_exit_5() {
    let world = World::new();
    world.register("author", "author");
    world.register("default", "reporter");
    let ids = publish(&world, 2);
    queue_reports(&world, "default", &ids);
    world.faults().fail_next_for_path(1000, 503, "/api/v1/experiences/");
    let (code, summary, stderr) = heartbeat(&world, "default", &[]);
    world.faults().clear();
    assert_eq!(code, 5, "{summary}\n{stderr}");
    assert_eq!(summary["status"], "partial", "the other steps were done");
    assert_eq!(summary["steps"]["outcomes"], "failed");
    assert_eq!(summary["steps"]["inbox"], "ok");
    assert_eq!(summary["error"]["code"], "incomplete");
    assert!(
        summary["summary"]
            .as_str()
            .unwrap()
            .starts_with("Plurum heartbeat incomplete: outcome reports: "),
        "{}",
        summary["summary"]
    );
    assert!(summary["summary"].as_str().unwrap().contains("will retry next run"));
    assert_eq!(summary["outcomes"]["kept"], 2);
    let state = world.state("default");
    assert_eq!(state["pendingOutcomeReports"].as_array().unwrap().len(), 2);
    assert!(
        state["lastPlurumCheck"].is_null(),
        "an incomplete heartbeat is not a check"
    );
    let (code, summary, _) = heartbeat(&world, "default", &[]);
    assert_eq!(code, 0, "{summary}");
    assert_eq!(total_reports(&world, &ids), [1, 1]);
}

#[test]
fn cron_behaviour_if_due_lock_env_key_jitter_and_print_cron() {
    let world = World::new();
    world.register("setup", "cron-agent");
    let key = world.stored_key("setup");
    let cron = |args: &[&str]| {
        world
            .plurum()
            .env("PLURUM_API_KEY", &key)
            .args(["--profile", "cron", "--json", "heartbeat"])
            .args(args)
            .output()
            .unwrap()
    };
    // PLURUM_API_KEY alone, no stored key, never a prompt (stdin closed).
    let first = cron(&["--if-due", "--interval", "30m", "--jitter", "20ms"]);
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let summary: Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(summary["status"], "ok");
    // Not due: exits at once.
    let second = cron(&["--if-due", "--interval", "30m"]);
    assert_eq!(second.status.code(), Some(0));
    let skipped: Value = serde_json::from_slice(&second.stdout).unwrap();
    assert_eq!(skipped["skipped"], "not_due");
    assert_eq!(skipped["status"], "ok", "a skip is a result like any other");
    assert!(skipped["next_due_at"].is_string());
    // Due again with a shorter interval.
    let third = cron(&["--if-due", "--interval", "0s"]);
    assert_eq!(serde_json::from_slice::<Value>(&third.stdout).unwrap()["status"], "ok");

    // Another run holds the lock: exit 0 with a note.
    let lock_path = world.state_dir().join("cron").join("heartbeat.lock");
    let lock = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .unwrap();
    lock.lock().unwrap();
    let locked = world
        .plurum()
        .env("PLURUM_API_KEY", &key)
        .args(["--profile", "cron", "heartbeat"])
        .output()
        .unwrap();
    assert_eq!(locked.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&locked.stderr).contains("another heartbeat is running for profile 'cron'"));
    lock.unlock().unwrap();

    // A crontab line: the binary, the profile, --if-due, and never the key.
    let line = world
        .plurum()
        .env("PLURUM_API_KEY", &key)
        .args(["--profile", "cron", "heartbeat", "--print-cron", "--interval", "15m"])
        .output()
        .unwrap();
    let text = String::from_utf8(line.stdout).unwrap();
    let entry = text.lines().last().unwrap();
    assert!(entry.starts_with("*/15 * * * * "), "{text}");
    assert!(
        entry.contains(" --profile cron heartbeat --if-due --interval 15m"),
        "{text}"
    );
    assert!(entry.contains("PLURUM_STATE_DIR="), "{text}");
    assert!(!text.contains(&key), "the crontab line never holds the key");
    assert!(text.contains("PLURUM_API_KEY"), "it says how to give cron the key");
}

/// Appends queued reports to a profile's state.json (no heartbeat is running).
fn append_reports(world: &World, profile: &str, identifiers: &[String]) {
    let path = world.state_file(profile);
    let mut state: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let pending = state["pendingOutcomeReports"].as_array_mut().unwrap();
    for id in identifiers {
        pending.push(json!({"id": uuid_like(id), "identifier": id, "success": true}));
    }
    std::fs::write(&path, serde_json::to_vec_pretty(&state).unwrap()).unwrap();
}

/// Every experience's report count, read from the server in pages.
fn all_report_counts(world: &World) -> std::collections::HashMap<String, u64> {
    let author = world.client("author");
    world.block_on(async {
        let mut counts = std::collections::HashMap::new();
        let mut offset = 0;
        loop {
            let page = author
                .experiences()
                .list(ListExperiences::new().limit(100).offset(offset))
                .await
                .unwrap();
            for item in &page.items {
                counts.insert(item.short_id.clone(), item.total_reports.unwrap_or(0));
            }
            if !page.has_more {
                break counts;
            }
            offset += 100;
        }
    })
}

/// Fifty times, the heartbeat starts with 50 more queued reports and is
/// killed with SIGKILL at a random moment; in the end the server has every
/// report exactly once, and state.json parsed after every kill.
#[test]
fn killed_at_random_moments_it_still_delivers_every_report_exactly_once() {
    const ROUNDS: usize = 50;
    const PER_ROUND: usize = 50;
    let world = World::new();
    world.register("author", "author");
    world.register("default", "reporter");
    let ids = publish(&world, ROUNDS * PER_ROUND);
    queue_reports(&world, "default", &[]);
    world.faults().set_latency(Duration::from_millis(30));
    let seed = std::env::var("PLURUM_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut killed_while_running = 0;
    for round in ids.chunks(PER_ROUND) {
        append_reports(&world, "default", round);
        let mut child = world
            .process()
            .args(["-q", "heartbeat"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // The random moment of death is the point of this test.
        std::thread::sleep(Duration::from_millis(rng.u64(20..200)));
        if child.try_wait().unwrap().is_none() {
            killed_while_running += 1;
        }
        child.kill().unwrap_or(());
        child.wait().unwrap();
        let text = std::fs::read_to_string(world.state_file("default")).unwrap();
        let state: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("seed {seed}: state.json does not parse after a kill: {e}\n{text}"));
        assert!(state["pendingOutcomeReports"].is_array());
    }
    assert!(
        killed_while_running >= ROUNDS * 9 / 10,
        "seed {seed}: only {killed_while_running} kills hit a running heartbeat"
    );
    world.faults().clear();
    let (code, summary, stderr) = heartbeat(&world, "default", &[]);
    assert_eq!(code, 0, "seed {seed}: {summary}\n{stderr}");
    let state = world.state("default");
    assert!(state["pendingOutcomeReports"].as_array().unwrap().is_empty());
    assert!(
        state["failedOutcomeReports"].as_array().is_none_or(|f| f.is_empty()),
        "{state}"
    );
    let counts = all_report_counts(&world);
    assert_eq!(counts.len(), ids.len());
    let wrong: Vec<_> = counts.iter().filter(|(_, n)| **n != 1).collect();
    assert!(
        wrong.is_empty(),
        "seed {seed}: every report exactly once, but {wrong:?}"
    );
}

#[test]
fn ten_heartbeats_at_once_stay_consistent() {
    let world = World::new();
    world.register("author", "author");
    world.register("default", "crowd");
    let ids = publish(&world, 30);
    queue_reports(&world, "default", &ids);
    world.faults().set_latency(Duration::from_millis(10));
    let children: Vec<_> = (0..10)
        .map(|_| {
            world
                .process()
                .args(["--json", "heartbeat"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut ran = 0;
    let mut skipped = 0;
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let json: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(json["status"], "ok", "{json}");
        if json["skipped"] == "already_running" {
            skipped += 1;
        } else {
            ran += 1;
        }
    }
    assert!(ran >= 1 && ran + skipped == 10);
    let state = world.state("default");
    assert!(state["pendingOutcomeReports"].as_array().unwrap().is_empty());
    assert!(state["lastPlurumCheck"].is_string());
    assert_eq!(total_reports(&world, &ids), vec![1; 30]);
}

#[test]
fn the_demo_walks_the_whole_loop() {
    let output = Command::new(env!("CARGO_BIN_EXE_plurum"))
        .arg("demo")
        .env_remove("PLURUM_API_KEY")
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for expected in [
        "$ plurum --profile atlas register --name \"Atlas Builder\" --username atlas-builder",
        "refusing to post content that looks sensitive",
        "Contributed a warning to session",
        "Experience ",
        "Queued the report on",
        "Plurum heartbeat: ",
        "reported 1 queued outcome(s)",
        "Tell your human: agent ",
        "contributed a warning to your session",
        "(exit code 3)",
        "success 100% of 1 report(s)",
    ] {
        assert!(stdout.contains(expected), "missing {expected:?} in:\n{stdout}");
    }
    let json = Command::new(env!("CARGO_BIN_EXE_plurum"))
        .args(["demo", "--json"])
        .output()
        .unwrap();
    let value: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["ok"], true);
    assert!(value["steps"].as_array().unwrap().len() >= 18);
}

/// The arguments of a printed crontab line's command (after the schedule,
/// the environment assignments and the binary).
fn cron_args(line: &str) -> Vec<String> {
    let words = shlex::split(line).expect("a crontab line a shell can read");
    let after_schedule = &words[5..];
    let mut rest = after_schedule
        .iter()
        .skip_while(|w| w.contains('=') && !w.starts_with('-'));
    let exe = rest.next().expect("the binary");
    assert!(exe.ends_with("plurum"), "{exe}");
    assert!(!rest.clone().any(|w| w.contains('>')), "no redirection: {line}");
    rest.cloned().collect()
}

/// Moves `lastPlurumCheck` back by `by`, as if that much time had passed.
fn let_time_pass(world: &World, profile: &str, by: std::time::Duration) {
    let path = world.state_file(profile);
    let mut state: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let Some(last) = state["lastPlurumCheck"].as_str() else {
        return;
    };
    let last = time::OffsetDateTime::parse(last, &time::format_description::well_known::Rfc3339).unwrap();
    let moved = last - by;
    state["lastPlurumCheck"] = json!(moved.format(&time::format_description::well_known::Rfc3339).unwrap());
    std::fs::write(&path, serde_json::to_vec_pretty(&state).unwrap()).unwrap();
}

#[test]
fn the_printed_cron_line_runs_at_the_rate_it_promises() {
    let world = World::new();
    world.register("default", "ticker");
    let printed = world.json(&["heartbeat", "--print-cron"]);
    let crontab = printed["crontab"].as_str().unwrap();
    let line = printed["line"].as_str().unwrap();
    assert!(line.starts_with("*/30 * * * * "), "{line}");
    // stdout is kept for cron's mail; what goes to stderr plurum writes to
    // its log itself (no shell redirection).
    assert!(line.contains(" --log-file ") && !line.contains('>'), "{line}");
    // The key is in credentials.toml: nothing to do, and no PLURUM_API_KEY advice.
    assert!(crontab.contains("nothing to do"), "{crontab}");
    assert!(!crontab.contains("PLURUM_API_KEY"), "{crontab}");
    assert!(crontab.contains("MAILTO"), "{crontab}");

    let mut args = cron_args(line);
    for flag in ["--if-due", "--interval", "-q", "--jitter"] {
        assert!(args.iter().any(|a| a == flag), "{flag} missing from {args:?}");
    }
    // Keep the jitter real but short: the test lets the rest of the half
    // hour pass by moving the clock of the state file.
    let jitter = args.iter().position(|a| a == "--jitter").unwrap() + 1;
    args[jitter] = "300ms".to_owned();

    let half_hour = std::time::Duration::from_secs(1800);
    let mut runs = 0;
    let mut last_seen = None;
    for tick in 0..8 {
        let tick_started = std::time::Instant::now();
        let output = world.plurum().args(&args).output().unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "tick {tick}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(output.stdout.is_empty(), "nothing for the human, nothing mailed");
        let last = world.state("default")["lastPlurumCheck"].clone();
        if last != Value::Null && Some(&last) != last_seen.as_ref() {
            runs += 1;
        }
        // The next tick comes half an hour after this one started.
        let_time_pass(&world, "default", half_hour.saturating_sub(tick_started.elapsed()));
        last_seen = Some(world.state("default")["lastPlurumCheck"].clone());
    }
    assert_eq!(runs, 8, "every tick of a */30 line ran a heartbeat");

    // A tick right after a run does not run it again.
    assert!(world.plurum().args(&args).output().unwrap().status.success());
    let ran = world.state("default")["lastPlurumCheck"].clone();
    let early = world.plurum().args(&args).output().unwrap();
    assert!(early.status.success());
    assert_eq!(world.state("default")["lastPlurumCheck"], ran, "not due twice in a row");
}

#[test]
fn the_cron_log_is_timestamped_short_and_capped() {
    let world = World::new();
    world.register("default", "logger");
    let printed = world.json(&["heartbeat", "--print-cron"]);
    let args = cron_args(printed["line"].as_str().unwrap());
    let log = std::path::PathBuf::from(&args[args.iter().position(|a| a == "--log-file").unwrap() + 1]);
    let args: Vec<String> = args
        .into_iter()
        .map(|a| {
            if a.ends_with('s') && a.starts_with(char::is_numeric) {
                "0s".to_owned()
            } else {
                a
            }
        })
        .collect();
    // A failing run: nothing on stderr, a few timestamped lines in the log.
    world.faults().fail_all(503);
    let output = world.plurum().args(&args).output().unwrap();
    world.faults().clear();
    assert_eq!(
        output.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.stderr.is_empty(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(!lines.is_empty() && lines.len() <= 6, "{} lines:\n{text}", lines.len());
    for line in &lines {
        let stamp = line.split(' ').next().unwrap();
        assert!(
            time::OffsetDateTime::parse(stamp, &time::format_description::well_known::Rfc3339).is_ok(),
            "not timestamped: {line}"
        );
    }
    assert!(text.contains(" heartbeat: key: server error (503)"), "{text}");
    assert_eq!(crate::common::mode(&log), 0o600);
    // Past 1 MiB the log moves aside (once), and starts again.
    std::fs::write(&log, vec![b'x'; 1024 * 1024 + 1]).unwrap();
    world.faults().fail_all(503);
    world.plurum().args(&args).output().unwrap();
    world.faults().clear();
    let aside = std::path::PathBuf::from(format!("{}.1", log.display()));
    assert_eq!(std::fs::metadata(&aside).unwrap().len(), 1024 * 1024 + 1);
    assert!(std::fs::metadata(&log).unwrap().len() < 4096);
}

#[test]
fn the_cron_comment_gives_the_key_advice_that_fits() {
    let world = World::new();
    world.register("default", "advised");
    let key = world.stored_key("default");
    // From the environment: cron does not have it.
    let env = world
        .plurum()
        .env("PLURUM_API_KEY", &key)
        .args(["--profile", "fresh", "heartbeat", "--print-cron"])
        .output()
        .unwrap();
    let env = String::from_utf8(env.stdout).unwrap();
    assert!(env.contains("PLURUM_API_KEY, which cron does not have"), "{env}");
    assert!(!env.contains(&key));
    // From a file given on the command line: the line passes it on.
    let file = world.dir.path().join("agent.key");
    std::fs::write(&file, &key).unwrap();
    let from_file = world
        .plurum()
        .args(["--api-key-file", file.to_str().unwrap(), "heartbeat", "--print-cron"])
        .output()
        .unwrap();
    let from_file = String::from_utf8(from_file.stdout).unwrap();
    let line = from_file.lines().last().unwrap();
    assert!(line.contains(&format!("--api-key-file {}", file.display())), "{line}");
    assert!(!from_file.contains("PLURUM_API_KEY"), "{from_file}");
    // No key yet: say so.
    let none = world
        .plurum()
        .args(["--profile", "nobody", "heartbeat", "--print-cron"])
        .output()
        .unwrap();
    assert!(String::from_utf8(none.stdout).unwrap().contains("No key yet"));
    // --notify goes into the line.
    let notify = world
        .plurum()
        .args(["heartbeat", "--print-cron", "--notify", "mail -s plurum me@example.com"])
        .output()
        .unwrap();
    let notify = String::from_utf8(notify.stdout).unwrap();
    assert!(
        notify
            .lines()
            .last()
            .unwrap()
            .contains("--notify 'mail -s plurum me@example.com'"),
        "{notify}"
    );
}

#[test]
fn notify_hands_what_needs_the_human_to_a_command() {
    let world = World::new();
    world.register("default", "notified");
    queue_reports(&world, "default", &["0badc0de".to_owned()]);
    let out = world.dir.path().join("notified.txt");
    let command = format!("cat > {}", out.display());
    let output = world
        .plurum()
        .args(["heartbeat", "-q", "--notify", &command])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let handed = std::fs::read_to_string(&out).unwrap();
    assert!(
        handed.starts_with("Tell your human: the server rejected 1 queued outcome report(s)"),
        "{handed}"
    );
    // Nothing to tell: the command is not run.
    std::fs::remove_file(&out).unwrap();
    let output = world
        .plurum()
        .args(["heartbeat", "-q", "--notify", &command])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert!(!out.exists());
}

/// What needs the human is kept until acknowledged: every heartbeat lists
/// it and says it in the summary, exit 3 only when something is new.
#[test]
fn what_needs_the_human_waits_until_acknowledged() {
    let world = World::new();
    world.register("default", "owner");
    world.register("critic", "critic");
    let opened = world.json(&["session", "open", "Replay the dead-letter queue"]);
    let short = opened["session"]["short_id"].as_str().unwrap().to_owned();
    world.json(&[
        "--profile",
        "critic",
        "session",
        "contribute",
        &short,
        "The DLQ holds poison messages",
        "--type",
        "warning",
    ]);
    // The guide's two commands: the summary says it (exit 3, news) ...
    let first = world.plurum().args(["heartbeat", "--jq", ".summary"]).output().unwrap();
    assert_eq!(
        first.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let summary = String::from_utf8(first.stdout).unwrap();
    assert!(summary.contains("The DLQ holds poison messages"), "{summary}");
    // ... and the next heartbeat still lists it (exit 0: not news).
    let second = world
        .plurum()
        .args(["heartbeat", "--jq", ".needs_human"])
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(0));
    let waiting: Value = serde_json::from_slice(&second.stdout).unwrap();
    let items = waiting.as_array().unwrap();
    assert_eq!(items.len(), 1, "{waiting}");
    assert_eq!(items[0]["kind"], "warning_contributed");
    assert_eq!(items[0]["new"], false);
    assert!(items[0]["text"].as_str().unwrap().contains("poison messages"));
    let id = items[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(items[0]["short_id"], &id[..8]);
    // A warning is its inbox event: acknowledging the event acknowledges it.
    world.json(&["inbox", "--ack", &id[..8]]);
    let (code, after, _) = heartbeat(&world, "default", &[]);
    assert_eq!(code, 0);
    assert_eq!(after["needs_human"], json!([]), "{after}");

    // Rejected reports: acknowledged with `heartbeat --ack`.
    queue_reports(&world, "default", &["0badc0de".to_owned()]);
    let (code, rejected, _) = heartbeat(&world, "default", &[]);
    assert_eq!(code, 3, "{rejected}");
    let id = rejected["needs_human"][0]["id"].as_str().unwrap().to_owned();
    let unknown = world
        .plurum()
        .args(["--json", "heartbeat", "--ack", "feedface"])
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(2));
    let acked = world.json(&["heartbeat", "--ack", &id[..8]]);
    assert_eq!(acked["acknowledged"], 1);
    assert_eq!(acked["needs_human"], json!([]));
    let (code, quiet, _) = heartbeat(&world, "default", &[]);
    assert_eq!((code, &quiet["needs_human"]), (0, &json!([])));
}

/// `--jitter` waits before the heartbeat's lock: a heartbeat run by hand
/// meanwhile runs (it used to answer `already_running`).
#[test]
fn the_jitter_is_waited_before_the_lock() {
    use std::io::{BufRead, BufReader};
    let world = World::new();
    world.register("default", "jittery");
    let mut waiting = world
        .process()
        .args(["heartbeat", "--jitter", "1h"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(waiting.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(line.contains("(--jitter) before the heartbeat"), "{line}");
    let (code, summary, _) = heartbeat(&world, "default", &[]);
    waiting.kill().unwrap();
    waiting.wait().unwrap();
    assert_eq!(code, 0, "{summary}");
    assert!(summary.get("skipped").is_none(), "it ran: {summary}");
    assert!(summary["summary"].as_str().unwrap().starts_with("Plurum heartbeat"));
}

/// The agent's own reports never alarm its human, a rate needs a few
/// reports to be a trend, its own experiences are not suggested back to
/// it, and an experience that is gone (404) is no longer watched.
#[test]
fn alarms_come_from_other_agents_and_real_trends() {
    let world = World::new();
    world.register("author", "author");
    world.register("default", "relier");
    let ids = publish(&world, 3);
    for id in &ids {
        world.json(&["experience", "acquire", id]);
    }
    let (code, summary, _) = heartbeat(&world, "default", &[]);
    assert_eq!(code, 0, "{summary}");
    // Its own reports: a success on the first, failures on the others:
    // its doing, no news.
    world.json(&["outcome", "report", &ids[0], "--success"]);
    for id in &ids[1..] {
        world.json(&["outcome", "report", id, "--failure", "--error", "did not apply here"]);
    }
    let (code, summary, _) = heartbeat(&world, "default", &[]);
    assert_eq!(code, 0, "{summary}");
    assert_eq!(summary["needs_human"], json!([]), "{summary}");
    // Other agents' failures on the first, enough to be a trend: news.
    for n in 0..4 {
        let critic = format!("critic{n}");
        world.register(&critic, &critic);
        world.json(&["--profile", &critic, "outcome", "report", &ids[0], "--failure"]);
    }
    let (code, summary, _) = heartbeat(&world, "default", &[]);
    assert_eq!(code, 3, "{summary}");
    let kinds: Vec<&str> = summary["needs_human"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"failure_rate_rose"), "{kinds:?}");
    assert!(
        summary["needs_human"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["experience"] == ids[0].as_str()),
        "only the one others reported on: {summary}"
    );

    // Its own experience is not suggested back to it.
    let mine = world.json(&[
        "experience",
        "create",
        "--goal",
        "Tune replication lag alarms on Kafka",
        "--outcome",
        "success",
        "--publish",
    ]);
    let (_, summary, _) = heartbeat(&world, "default", &["--query", "replication lag alarms"]);
    let new: Vec<&str> = summary["search"]["new"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(!new.contains(&mine["short_id"].as_str().unwrap()), "{new:?}");
    let saved = world.json(&["experience", "saved"]);
    assert!(
        saved["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["short_id"] != mine["short_id"]),
        "{saved}"
    );

    // An experience that answers 404 is dropped from what is watched.
    world.json(&["experience", "save", &ids[1]]);
    let path = world.state_file("default");
    let mut state: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for saved in state["savedExperiences"].as_array_mut().unwrap() {
        if saved["short_id"] == ids[1].as_str() {
            saved["short_id"] = json!("deadbeef");
            saved["id"] = json!(null);
        }
    }
    std::fs::write(&path, serde_json::to_vec(&state).unwrap()).unwrap();
    heartbeat(&world, "default", &[]);
    let saved = world.json(&["experience", "saved"]);
    assert!(
        saved["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["short_id"] != "deadbeef"),
        "{saved}"
    );
}
