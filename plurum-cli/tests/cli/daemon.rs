//! `plurum daemon` as a process against the reference server: its local
//! API with every error, drive pressure from the pulse socket, wake-ups
//! under rate limits that survive a restart, SIGHUP, SIGTERM, the audit
//! chain, `/metrics` through a real Prometheus parser, and `plurum inbox`
//! asking the daemon.

use crate::common::World;
use crate::common::daemon::{
    Daemon, call, configure, get, parse_metrics, post, profile_dir, quick, sample, state_until, wake_command,
};
use plurum_sdk::types::{Contribute, ContributionType, OpenSession};
use serde_json::{Value, json};

#[test]
fn a_contribution_on_the_socket_wakes_the_agent_once_and_the_limits_survive_a_restart() {
    let world = World::new();
    world.register("alice", "alice-agent");
    world.register("bob", "bob-builder");
    let wake_file = world.dir.path().join("woken.txt");
    configure(
        &world,
        "alice",
        &format!(
            "{}\n[drives]\ntrigger_threshold = 1.5\n[wake]\n{}\nmin_trigger_interval = 3600\n",
            quick(""),
            wake_command(&wake_file)
        ),
    );
    let alice = world.client("alice");
    let bob = world.client("bob");
    let session = world
        .block_on(
            alice
                .sessions()
                .open(OpenSession::new("Postgres failover drill").domain("infrastructure")),
        )
        .unwrap();

    let daemon = Daemon::start(&world, "alice");
    daemon.expect("pulse socket connected");
    let quiet = state_until(&world, &daemon, "the first heartbeat", |s| {
        s["sensors"]["heartbeat"]["last_status"].is_string()
    });
    assert_eq!(quiet["drives"]["inbox"]["pressure"], 0.0, "{quiet:#}");
    assert!(!wake_file.exists(), "nothing to wake for yet");

    world
        .block_on(bob.sessions().contribute(
            session.session.id.as_ref(),
            Contribute::text(
                "Promote the replica with pg_ctl promote, not a trigger file",
                ContributionType::Suggestion,
            ),
        ))
        .unwrap();
    let woken = state_until(&world, &daemon, "a wake-up", |s| {
        s["sensors"]["wake"]["last"]["ok"] == true
    });
    let message = std::fs::read_to_string(&wake_file).unwrap();
    assert_eq!(message.matches("<<end>>").count(), 1, "woken once: {message}");
    assert!(message.contains("reached the threshold 1.50"), "{message}");
    assert!(message.contains("inbox: pressure 2.00"), "{message}");
    assert!(
        message.contains("contribution_received") && message.contains(": Promote the replica"),
        "{message}"
    );
    assert_eq!(woken["drives"]["inbox"]["pressure"], 2.0);

    // Feedback decays exactly as the seed says.
    let decayed = post(
        &world,
        &daemon,
        "/feedback",
        json!({"drives_addressed": ["inbox"], "outcome": "success", "summary": "answered bob"}),
    );
    assert_eq!(decayed.status, 200, "{}", decayed.text);
    assert_eq!(
        decayed.json()["decayed"]["inbox"],
        json!({"before": 2.0, "after": 1.0, "decay_amount": 1.0})
    );
    let partial = post(
        &world,
        &daemon,
        "/feedback",
        json!({"drives_addressed": ["inbox"], "outcome": "partial"}),
    );
    assert_eq!(partial.json()["decayed"]["inbox"]["after"], 0.75);
    let failure = post(
        &world,
        &daemon,
        "/feedback",
        json!({"drives_addressed": ["inbox"], "outcome": "failure"}),
    );
    assert_eq!(failure.json()["decayed"]["inbox"]["after"], 0.75);
    let state = get(&world, &daemon, "/state").json();
    assert!(state["drives"]["inbox"]["last_addressed"].as_i64().unwrap() > 1_700_000_000);

    // Inside the cooldown: refused, with Retry-After.
    let refused = post(&world, &daemon, "/trigger", json!({"reason": "once more"}));
    assert_eq!(refused.error_code(429), "RATE_LIMITED");
    let retry: u64 = refused.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((3500..=3600).contains(&retry), "{retry}");

    // More pressure inside the cooldown wakes nobody.
    world
        .block_on(bob.sessions().contribute(
            session.session.id.as_ref(),
            Contribute::text("Check replication lag before promoting", ContributionType::Warning),
        ))
        .unwrap();
    let pushed = state_until(&world, &daemon, "the second contribution", |s| {
        s["drives"]["inbox"]["pressure"] == 2.75
    });
    assert!(pushed["total_pressure"].as_f64().unwrap() >= 1.5);

    // plurum inbox asks the daemon (the server's inbox is the daemon's now).
    let inbox = world.json(&["--profile", "alice", "inbox"]);
    assert_eq!(inbox["source"], "daemon");
    let types: Vec<&str> = inbox["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types.iter().filter(|t| **t == "contribution_received").count(),
        2,
        "{inbox:#}"
    );
    let text = world
        .plurum()
        .args([
            "--profile",
            "alice",
            "inbox",
            "--type",
            "contribution_received",
            "--mark-read",
        ])
        .output()
        .unwrap();
    assert!(text.status.success());
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(stdout.contains("Check replication lag"), "{stdout}");
    let stderr = String::from_utf8_lossy(&text.stderr);
    assert!(stderr.contains("Acknowledged 2"), "{stderr}");
    let after = world.json(&["--profile", "alice", "inbox", "--type", "contribution_received"]);
    assert_eq!(after["events"], json!([]), "{after:#}");

    let metrics = get(&world, &daemon, "/metrics");
    let samples = parse_metrics(&metrics.text);
    assert_eq!(
        sample(&samples, "plurum_daemon_triggers_total", &[("result", "woke")]),
        1.0
    );
    assert_eq!(
        sample(&samples, "plurum_daemon_triggers_total", &[("result", "refused")]),
        1.0
    );
    assert_eq!(
        sample(&samples, "plurum_daemon_feedback_total", &[("outcome", "success")]),
        1.0
    );
    assert_eq!(
        sample(&samples, "plurum_daemon_feedback_total", &[("outcome", "partial")]),
        1.0
    );
    assert_eq!(
        sample(
            &samples,
            "plurum_daemon_pulse_events_total",
            &[("type", "contribution_received")]
        ),
        2.0
    );
    assert_eq!(
        sample(&samples, "plurum_daemon_drive_pressure", &[("drive", "inbox")]),
        2.75
    );

    // SIGTERM: clean stop, state on disk.
    let (code, stderr) = daemon.stop();
    assert_eq!(code, 0, "{stderr}");
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(profile_dir(&world, "alice").join("daemon.json")).unwrap())
            .unwrap();
    assert_eq!(saved["triggers"].as_array().unwrap().len(), 1, "{saved:#}");
    assert_eq!(saved["drives"]["inbox"]["pressure"], 2.75);
    assert!(!profile_dir(&world, "alice").join("daemon.addr").exists());

    // A restart keeps the pressure and the cooldown.
    let daemon = Daemon::start(&world, "alice");
    let state = get(&world, &daemon, "/state").json();
    assert_eq!(state["drives"]["inbox"]["pressure"], 2.75);
    let refused = post(&world, &daemon, "/trigger", json!({"reason": "after a restart"}));
    assert_eq!(refused.error_code(429), "RATE_LIMITED");
    assert_eq!(
        std::fs::read_to_string(&wake_file).unwrap().matches("<<end>>").count(),
        1
    );
    assert_eq!(daemon.count("waking the agent"), 0);
    let (code, _) = daemon.stop();
    assert_eq!(code, 0);
}

#[test]
fn the_hourly_cap_is_a_sliding_window_that_survives_a_restart() {
    let world = World::new();
    world.register("carol", "carol-agent");
    let wake_file = world.dir.path().join("woken.txt");
    configure(
        &world,
        "carol",
        &format!(
            "{}\n[wake]\n{}\nmin_trigger_interval = 0\nmax_turns_per_hour = 2\n",
            quick(""),
            wake_command(&wake_file)
        ),
    );
    let daemon = Daemon::start(&world, "carol");
    for n in 0..2 {
        let answer = post(
            &world,
            &daemon,
            "/trigger",
            json!({"reason": format!("manual {n}"), "drives": ["outcomes"]}),
        );
        assert_eq!(answer.status, 200, "{}", answer.text);
        let body = answer.json();
        assert_eq!(body["triggered"], true);
        assert_eq!(body["command_result"]["exit_code"], 0);
    }
    let message = std::fs::read_to_string(&wake_file).unwrap();
    assert!(message.contains("manual trigger: manual 0"), "{message}");
    assert!(
        message.contains("outcomes: pressure 0.00 (weighted 0.00) (emphasized)"),
        "{message}"
    );
    let third = post(&world, &daemon, "/trigger", json!({"reason": "third"}));
    assert_eq!(third.error_code(429), "RATE_LIMITED");
    assert!(
        third.json()["error"]
            .as_str()
            .unwrap()
            .contains("max_turns_per_hour is 2")
    );
    let (code, stderr) = daemon.stop_with("INT");
    assert_eq!(code, 0, "Ctrl-C stops the daemon cleanly: {stderr}");
    assert!(stderr.contains("interrupted: stopping"), "{stderr}");

    let daemon = Daemon::start(&world, "carol");
    let again = post(&world, &daemon, "/trigger", json!({"reason": "after a restart"}));
    assert_eq!(again.error_code(429), "RATE_LIMITED");
    assert_eq!(
        std::fs::read_to_string(&wake_file).unwrap().matches("<<end>>").count(),
        2
    );
}

#[test]
fn every_endpoint_answers_with_the_seed_shapes_and_errors() {
    let world = World::new();
    world.register("dora", "dora-agent");
    configure(&world, "dora", &quick(""));
    let daemon = Daemon::start(&world, "dora");

    let health = get(&world, &daemon, "/health").json();
    assert_eq!(health["status"], "healthy");
    assert!(health["uptime"].is_u64());
    let state = get(&world, &daemon, "/state").json();
    for drive in ["inbox", "outcomes", "heartbeat", "session"] {
        let d = &state["drives"][drive];
        assert!(d["pressure"].is_number() && d["sources"].is_array(), "{drive}: {d}");
        assert!(d.get("last_addressed").is_some());
    }
    for sensor in ["pulse", "heartbeat", "outcomes", "inbox", "session", "wake"] {
        assert!(state["sensors"][sensor].is_object(), "{sensor}");
    }
    assert_eq!(state["config"]["drives"]["trigger_threshold"], 5.0);
    assert_eq!(state["config"]["wake"]["min_trigger_interval"], 1800.0);
    assert_eq!(state["config"]["wake"]["max_turns_per_hour"], 10.0);
    assert!(state["uptime"].is_u64() && state["version"].is_string());

    // /feedback: 400 on missing fields, a bad outcome, an unknown drive, bad JSON.
    for (body, code) in [
        (json!({"outcome": "success"}), "BAD_REQUEST"),
        (json!({"drives_addressed": ["inbox"]}), "BAD_REQUEST"),
        (json!({"drives_addressed": [], "outcome": "success"}), "BAD_REQUEST"),
        (
            json!({"drives_addressed": ["inbox"], "outcome": "great"}),
            "INVALID_OUTCOME",
        ),
        (
            json!({"drives_addressed": ["goals"], "outcome": "success"}),
            "UNKNOWN_DRIVE",
        ),
        (json!(["inbox"]), "BAD_REQUEST"),
    ] {
        assert_eq!(
            post(&world, &daemon, "/feedback", body.clone()).error_code(400),
            code,
            "{body}"
        );
    }
    let garbage = call(
        &world,
        "POST",
        &daemon.url("/feedback"),
        Some("{not json"),
        daemon.token.as_deref(),
    );
    assert_eq!(garbage.error_code(400), "BAD_REQUEST");

    // /trigger: 400 without a reason, 503 without a target (not counted).
    assert_eq!(
        post(&world, &daemon, "/trigger", json!({})).error_code(400),
        "BAD_REQUEST"
    );
    for _ in 0..2 {
        let none = post(&world, &daemon, "/trigger", json!({"reason": "nobody to wake"}));
        assert_eq!(none.error_code(503), "NO_WAKE_TARGET");
    }

    // GET /config and POST /config within the guardrails.
    let config = get(&world, &daemon, "/config").json();
    assert_eq!(config["drives"]["trigger_threshold"], 5.0);
    assert!(
        config["mutator"]["allowed_fields"]
            .as_array()
            .unwrap()
            .contains(&json!("drives.trigger_threshold"))
    );
    let changed = post(
        &world,
        &daemon,
        "/config",
        json!({"drives.trigger_threshold": 6.5, "wake.max_turns_per_hour": 4}),
    );
    assert_eq!(changed.status, 200, "{}", changed.text);
    assert_eq!(
        changed.json(),
        json!({
            "updated": true,
            "changes": {
                "drives.trigger_threshold": {"old": 5.0, "new": 6.5},
                "wake.max_turns_per_hour": {"old": 10.0, "new": 4.0},
            },
            "restart_required": false,
        })
    );
    assert_eq!(
        get(&world, &daemon, "/config").json()["drives"]["trigger_threshold"],
        6.5
    );
    for (body, code) in [
        (json!({"drives.trigger_threshold": 1000}), "OUTSIDE_GUARDRAILS"),
        (json!({"wake.min_trigger_interval": 5}), "OUTSIDE_GUARDRAILS"),
        (json!({"api.addr": "0.0.0.0:80"}), "FIELD_NOT_ALLOWED"),
        (json!({"mutator.enabled": false}), "FIELD_NOT_ALLOWED"),
        (json!({"drives.trigger_threshold": "high"}), "INVALID_VALUE"),
        (json!({}), "BAD_REQUEST"),
    ] {
        assert_eq!(
            post(&world, &daemon, "/config", body.clone()).error_code(400),
            code,
            "{body}"
        );
    }
    // All or nothing: one bad key leaves the good one unapplied.
    let mixed = post(
        &world,
        &daemon,
        "/config",
        json!({"drives.inbox.weight": 2.0, "drives.trigger_threshold": -1}),
    );
    assert_eq!(mixed.error_code(400), "OUTSIDE_GUARDRAILS");
    assert_eq!(get(&world, &daemon, "/config").json()["drives"]["inbox"]["weight"], 1.0);

    assert_eq!(get(&world, &daemon, "/nowhere").error_code(404), "NOT_FOUND");
    assert_eq!(get(&world, &daemon, "/feedback").error_code(405), "METHOD_NOT_ALLOWED");

    // The audit log: one line per change, hash-chained.
    let audit = world.json(&["--profile", "dora", "daemon", "audit"]);
    assert_eq!(audit["intact"], true, "{audit:#}");
    let keys: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["drives.trigger_threshold", "wake.max_turns_per_hour"]);
    assert_eq!(
        crate::common::mode(&profile_dir(&world, "dora").join("daemon-audit.jsonl")),
        0o600
    );

    // Runtime changes survive a restart.
    let (code, _) = daemon.stop();
    assert_eq!(code, 0);
    let daemon = Daemon::start(&world, "dora");
    assert_eq!(
        get(&world, &daemon, "/config").json()["drives"]["trigger_threshold"],
        6.5
    );
    drop(daemon);

    // Tampering shows.
    let path = profile_dir(&world, "dora").join("daemon-audit.jsonl");
    let text = std::fs::read_to_string(&path).unwrap().replace("6.5", "9.5");
    std::fs::write(&path, text).unwrap();
    let output = world
        .plurum()
        .args(["--profile", "dora", "daemon", "audit"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stdout).contains("CHAIN BROKEN"));
}

#[test]
fn sighup_reloads_the_configuration() {
    let world = World::new();
    world.register("erin", "erin-agent");
    configure(&world, "erin", &quick(""));
    let daemon = Daemon::start(&world, "erin");
    assert_eq!(
        post(&world, &daemon, "/trigger", json!({"reason": "x"})).error_code(503),
        "NO_WAKE_TARGET"
    );

    // A command that cannot be run: 503, and the attempt counts.
    configure(
        &world,
        "erin",
        &quick("[wake]\ncommand = [\"/nonexistent/wake-me\"]\n[mutator]\nenabled = false\n"),
    );
    daemon.signal("HUP");
    daemon.expect("SIGHUP: configuration reloaded");
    let unreachable = post(&world, &daemon, "/trigger", json!({"reason": "x"}));
    assert_eq!(unreachable.error_code(503), "WAKE_UNREACHABLE");
    assert!(
        unreachable.json()["error"]
            .as_str()
            .unwrap()
            .contains("/nonexistent/wake-me")
    );
    assert_eq!(
        post(&world, &daemon, "/trigger", json!({"reason": "x"})).error_code(429),
        "RATE_LIMITED"
    );
    let refused = post(&world, &daemon, "/config", json!({"drives.trigger_threshold": 6.0}));
    assert_eq!(refused.error_code(403), "MUTATION_DISABLED");

    // A top-level [daemon] table applies to every profile; the profile's own wins.
    let path = world.config_dir().join("config.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        format!("[daemon.drives]\ntrigger_threshold = 8.0\n[daemon.mutator]\nenabled = true\n{text}"),
    )
    .unwrap();
    daemon.signal("HUP");
    daemon.expect_nth("SIGHUP: configuration reloaded", 2);
    let config = get(&world, &daemon, "/config").json();
    assert_eq!(config["drives"]["trigger_threshold"], 8.0);
    assert_eq!(config["mutator"]["enabled"], false);

    // A broken file keeps the old configuration.
    std::fs::write(
        world.config_dir().join("config.toml"),
        "[profiles.erin.daemon]\ntick_seconds = \"fast\"\n",
    )
    .unwrap();
    daemon.signal("HUP");
    daemon.expect("SIGHUP: kept the old configuration");
    assert_eq!(get(&world, &daemon, "/config").json()["mutator"]["enabled"], false);
    let metrics = parse_metrics(&get(&world, &daemon, "/metrics").text);
    assert_eq!(
        sample(&metrics, "plurum_daemon_triggers_total", &[("result", "failed")]),
        1.0
    );
    assert_eq!(
        sample(&metrics, "plurum_daemon_triggers_total", &[("result", "refused")]),
        1.0
    );
}

#[test]
fn a_webhook_gets_the_message_and_the_token_from_the_environment() {
    let world = World::new();
    world.register("finn", "finn-agent");
    let hook = world.block_on(wiremock::MockServer::start());
    world.block_on(
        wiremock::Mock::given(wiremock::matchers::method("POST"))
            .and(wiremock::matchers::path("/hooks/agent"))
            .and(wiremock::matchers::header("authorization", "Bearer hook-secret-123"))
            .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(json!({"sessionKey": "sess_abc123"})))
            .expect(1)
            .mount(&hook),
    );
    configure(
        &world,
        "finn",
        &quick(&format!(
            "[wake]\nwebhook = \"{}/hooks/agent\"\ntoken_env = \"FINN_HOOK_TOKEN\"\nmin_trigger_interval = 0\n",
            hook.uri()
        )),
    );
    let daemon = Daemon::start_with(&world, "finn", &[("FINN_HOOK_TOKEN", "hook-secret-123")]);
    let answer = post(&world, &daemon, "/trigger", json!({"reason": "review the queue"}));
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(
        answer.json()["webhook_response"],
        json!({"status": 200, "body": {"sessionKey": "sess_abc123"}})
    );
    let requests = world.block_on(hook.received_requests()).unwrap();
    let payload: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(payload["reason"], "manual trigger: review the queue");
    assert!(
        payload["message"]
            .as_str()
            .unwrap()
            .starts_with("Plurum: manual trigger: review the queue")
    );
    assert_eq!(payload["drives"].as_array().unwrap().len(), 4);
    let config = get(&world, &daemon, "/config").text;
    assert!(!config.contains("hook-secret-123"));

    world.block_on(hook.verify());

    // A webhook that answers 500, then one nobody listens on: 503 both.
    world.block_on(
        wiremock::Mock::given(wiremock::matchers::path("/hooks/broken"))
            .respond_with(wiremock::ResponseTemplate::new(500))
            .mount(&hook),
    );
    configure(
        &world,
        "finn",
        &quick(&format!(
            "[wake]\nwebhook = \"{}/hooks/broken\"\ntoken_env = \"FINN_HOOK_TOKEN\"\nmin_trigger_interval = 0\n",
            hook.uri()
        )),
    );
    daemon.signal("HUP");
    daemon.expect_nth("SIGHUP: configuration reloaded", 1);
    let failed = post(&world, &daemon, "/trigger", json!({"reason": "again"}));
    assert_eq!(failed.error_code(503), "WAKE_FAILED");
    assert!(failed.json()["error"].as_str().unwrap().contains("answered 500"));
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    configure(
        &world,
        "finn",
        &quick(&format!(
            "[wake]\nwebhook = \"http://{closed}/hook\"\nmin_trigger_interval = 0\n"
        )),
    );
    daemon.signal("HUP");
    daemon.expect_nth("SIGHUP: configuration reloaded", 2);
    let down = post(&world, &daemon, "/trigger", json!({"reason": "and again"}));
    assert_eq!(down.error_code(503), "WAKE_UNREACHABLE");
    let (code, stderr) = daemon.stop();
    assert_eq!(code, 0);
    assert!(!stderr.contains("hook-secret-123"), "{stderr}");
    assert!(!stderr.contains(&world.stored_key("finn")), "{stderr}");
}
