//! The inbox over time: what the heartbeat reads from cron (quietly) is
//! kept, waits in `plurum inbox`, and leaves only when acknowledged, or,
//! for what asks nothing of the agent, once it has been shown.

use serde_json::Value;

use crate::common::World;

fn write_config(world: &World, text: &str) {
    std::fs::create_dir_all(world.config_dir()).unwrap();
    std::fs::write(world.config_dir().join("config.toml"), text).unwrap();
}

fn event_of<'a>(inbox: &'a Value, kind: &str, topic: &str) -> &'a Value {
    inbox["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| {
            e["event_type"] == kind
                && (e["event_data"]["topic"] == topic || e["event_data"]["content"]["text"] == topic)
        })
        .unwrap_or_else(|| panic!("no {kind} {topic:?} in {inbox}"))
}

#[test]
fn events_read_by_quiet_heartbeats_wait_until_acknowledged() {
    let world = World::new();
    world.register("default", "owner");
    world.register("helper", "helper");
    write_config(&world, "[profiles.default]\ndomains = [\"infrastructure\"]\n");
    let mine = world.json(&[
        "session",
        "open",
        "Set up PostgreSQL replication",
        "--domain",
        "infrastructure",
    ]);
    let mine = mine["session"]["short_id"].as_str().unwrap().to_owned();

    // Four events for the owner: two ask it to act, two do not.
    let helper = |args: &[&str]| {
        let mut all = vec!["--profile", "helper"];
        all.extend_from_slice(args);
        world.json(&all)
    };
    helper(&["session", "open", "Bake sourdough", "--domain", "cooking"]);
    helper(&["session", "close", "--outcome", "success"]);
    helper(&[
        "session",
        "open",
        "Shard the events table",
        "--domain",
        "infrastructure",
    ]);
    helper(&[
        "session",
        "contribute",
        &mine,
        "Watch replication lag",
        "--type",
        "suggestion",
    ]);

    // Cron runs the heartbeat quietly, many times: the events are read from
    // the server once, kept, and never printed.
    for tick in 0..5 {
        let output = world.plurum().args(["heartbeat", "-q"]).output().unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "tick {tick}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(output.stdout.is_empty(), "-q prints only what needs the human");
    }
    let server = world
        .block_on(world.client("default").pulse().inbox(Default::default()))
        .unwrap();
    assert_eq!(server.unread_count, 0, "read on the server");
    let beat = world.json(&["heartbeat"]);
    assert_eq!(beat["inbox"]["waiting"], 4, "{beat}");
    assert!(
        beat["summary"]
            .as_str()
            .unwrap()
            .contains("4 event(s) waiting in 'plurum inbox'"),
        "{}",
        beat["summary"]
    );

    // The inbox lists all four, newest first, each with when it was read.
    let first = world.json(&["inbox"]);
    assert_eq!(first["events"].as_array().unwrap().len(), 4, "{first}");
    let times: Vec<&str> = first["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["created_at"].as_str().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted, "newest first");
    for event in first["events"].as_array().unwrap() {
        assert!(event["kept_at"].is_string());
    }
    assert_eq!(
        event_of(&first, "contribution_received", "Watch replication lag")["needs_action"],
        true
    );
    assert_eq!(
        event_of(&first, "session_opened", "Shard the events table")["needs_action"],
        true
    );
    assert_eq!(
        event_of(&first, "session_opened", "Bake sourdough")["needs_action"],
        false
    );
    assert_eq!(first["seen"], 0, "shown is not acknowledged: {first}");
    assert_eq!(first["waiting"], 4);

    // Shown is not read: all four stay, run after run, until acknowledged.
    for _ in 0..3 {
        let again = world.json(&["inbox"]);
        assert_eq!(again["events"].as_array().unwrap().len(), 4, "{again}");
        assert_eq!(again["acknowledged"], 0);
    }
    // --type filters exactly, on what is kept.
    let opened = world.json(&["inbox", "--type", "session_opened"]);
    let topics: std::collections::BTreeSet<&str> = opened["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_data"]["topic"].as_str().unwrap())
        .collect();
    assert_eq!(topics, ["Bake sourdough", "Shard the events table"].into());
    let closed = world.json(&["inbox", "--type", "session_closed"]);
    assert_eq!(closed["events"].as_array().unwrap().len(), 1, "{closed}");
    assert_eq!(closed["events"][0]["event_data"]["topic"], "Bake sourdough");
    assert!(
        world.json(&["inbox", "--type", "contribution_received"])["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["event_type"] == "contribution_received")
    );

    // --ack by the short id printed; --all for the rest.
    let contribution = event_of(&first, "contribution_received", "Watch replication lag");
    let short = contribution["short_id"].as_str().unwrap();
    let acked = world.json(&["inbox", "--ack", short]);
    assert_eq!(acked["acknowledged"], 1);
    assert_eq!(acked["waiting"], 3);
    assert!(
        acked["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["short_id"] != short),
        "what is listed after --ack is what still waits: {acked}"
    );
    let text = world.plurum().args(["inbox"]).output().unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("Shard the events table") && text.contains('*'), "{text}");
    assert!(!text.contains("Watch replication lag"), "{text}");
    // --mark-read acknowledges exactly the events it lists.
    let marked = world.json(&["inbox", "--mark-read", "--limit", "1"]);
    assert_eq!(marked["acknowledged"], 1, "{marked}");
    assert_eq!(marked["events"].as_array().unwrap().len(), 1);
    assert_eq!(marked["waiting"], 2);
    let all = world.json(&["inbox", "--all"]);
    assert_eq!(all["acknowledged"], 2);
    assert_eq!(world.json(&["inbox"])["waiting"], 0);
    assert_eq!(world.json(&["heartbeat"])["inbox"]["waiting"], 0);
}
