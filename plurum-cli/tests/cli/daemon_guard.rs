//! `plurum daemon` as a process, its guards and its place on the machine:
//! no web page can drive it, it listens on loopback only, one per profile
//! (two profiles side by side, a taken port named), auth off only when
//! asked, the systemd unit, `/metrics` through promtool, runtime changes
//! that yield to a stricter file, a wake command without the key.

use std::process::{Command, Stdio};

use crate::common::World;
use crate::common::daemon::{
    Daemon, call, configure, get, parse_metrics, post, profile_dir, quick, raw, sample, wake_command,
};
use serde_json::{Value, json};

#[test]
fn no_web_page_can_drive_the_daemon() {
    let world = World::new();
    world.register("gabi", "gabi-agent");
    let wake_file = world.dir.path().join("woken.txt");
    configure(
        &world,
        "gabi",
        &quick(&format!("[wake]\n{}\n", wake_command(&wake_file))),
    );
    let daemon = Daemon::start(&world, "gabi");
    let token_file = profile_dir(&world, "gabi").join("daemon.token");
    assert_eq!(crate::common::mode(&token_file), 0o600, "token auth is on by default");
    let token = daemon.token.clone().unwrap();
    assert!(token.len() >= 32);
    let port = daemon.addr.rsplit(':').next().unwrap().to_owned();
    let body = r#"{"reason": "a web page says: rm -rf"}"#;
    let post = |host: &str, extra: &str| {
        raw(
            &daemon,
            &format!(
                "POST /trigger HTTP/1.1\r\nHost: {host}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            ),
        )
    };
    let local = format!("127.0.0.1:{port}");
    let bearer = format!("Authorization: Bearer {token}\r\n");

    // A "simple" cross-origin POST: text/plain, no preflight. Refused even with the token.
    let (status, text) = post(&local, &format!("Content-Type: text/plain\r\n{bearer}"));
    assert_eq!(status, 415, "{text}");
    assert!(text.contains("UNSUPPORTED_MEDIA_TYPE"), "{text}");
    // Any Origin header: a browser.
    let (status, text) = post(
        &local,
        &format!("Content-Type: application/json\r\nOrigin: http://evil.example\r\n{bearer}"),
    );
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("ORIGIN_REFUSED"), "{text}");
    // DNS rebinding: the page's own name in Host.
    let (status, text) = raw(
        &daemon,
        &format!("GET /state HTTP/1.1\r\nHost: evil.example:{port}\r\n{bearer}Connection: close\r\n\r\n"),
    );
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("FORBIDDEN_HOST"), "{text}");
    assert!(!text.contains("drives"), "nothing of the state leaks: {text}");
    // Without the token: 401 (health stays open for probes).
    let (status, text) = post(&local, "Content-Type: application/json\r\n");
    assert_eq!(status, 401, "{text}");
    assert_eq!(
        raw(
            &daemon,
            &format!("GET /health HTTP/1.1\r\nHost: {local}\r\nConnection: close\r\n\r\n")
        )
        .0,
        200
    );
    for path in ["/config", "/inbox/mark-read", "/feedback"] {
        let (status, _) = raw(
            &daemon,
            &format!(
                "POST {path} HTTP/1.1\r\nHost: {local}\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
            ),
        );
        assert_eq!(status, 415, "{path}");
    }
    assert!(!wake_file.exists(), "nothing above woke the agent");
    let wrong = call(&world, "GET", &daemon.url("/state"), None, Some("nope"));
    assert_eq!(wrong.error_code(401), "UNAUTHORIZED");
    assert!(
        wrong.json()["hint"].as_str().unwrap().contains("daemon.token"),
        "{}",
        wrong.text
    );

    // A local client with the token, as seed 004 (docs/seeds.md) describes, still works.
    let (status, text) = post(
        &format!("localhost:{port}"),
        &format!("Content-Type: application/json\r\n{bearer}"),
    );
    assert_eq!(status, 200, "{text}");
    assert!(std::fs::read_to_string(&wake_file).unwrap().contains("a web page says"));

    // The CLI reads the token itself.
    let status = world.json(&["--profile", "gabi", "daemon", "status"]);
    assert_eq!(status["running"], true);
    assert_eq!(status["health"]["status"], "healthy");
    assert!(status["state"]["drives"]["inbox"].is_object());
    let inbox = world.json(&["--profile", "gabi", "inbox"]);
    assert_eq!(inbox["source"], "daemon");
}

#[test]
fn auth_can_be_turned_off_explicitly() {
    let world = World::new();
    world.register("ines", "ines-agent");
    configure(&world, "ines", &quick("[api]\nauth = false\n"));
    let daemon = Daemon::start(&world, "ines");
    assert!(daemon.token.is_none());
    assert_eq!(call(&world, "GET", &daemon.url("/state"), None, None).status, 200);
    // The other guards stay.
    let refused = call(&world, "POST", &daemon.url("/feedback"), None, None);
    assert_eq!(refused.error_code(415), "UNSUPPORTED_MEDIA_TYPE");
}

#[test]
fn one_daemon_per_profile_and_the_cli_knows_it_is_there() {
    let world = World::new();
    world.register("hana", "hana-agent");
    configure(&world, "hana", &quick(""));

    let none = world
        .plurum()
        .args(["--profile", "hana", "daemon", "status"])
        .output()
        .unwrap();
    assert_eq!(none.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&none.stderr).contains("no daemon is running for profile 'hana'"));

    let daemon = Daemon::start(&world, "hana");
    let second = world
        .plurum()
        .args(["--profile", "hana", "daemon", "--api-addr", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("a daemon is already running for profile 'hana'"),
        "{stderr}"
    );
    assert!(stderr.contains(&daemon.addr), "{stderr}");

    // The heartbeat leaves the work to the daemon.
    let beat = world.json(&["--profile", "hana", "heartbeat"]);
    assert_eq!(beat["skipped"], "daemon_running");
    assert_eq!(beat["status"], "ok");

    let text = world
        .plurum()
        .args(["--profile", "hana", "daemon", "status"])
        .output()
        .unwrap();
    assert!(text.status.success());
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(stdout.contains("plurum daemon for profile 'hana': healthy"), "{stdout}");
    assert!(stdout.contains("pressure 0.00 of 5.00"), "{stdout}");
    let (code, _) = daemon.stop();
    assert_eq!(code, 0);
    assert_eq!(addr_file(&world, "hana"), None);
}

fn addr_file(world: &World, profile: &str) -> Option<String> {
    std::fs::read_to_string(profile_dir(world, profile).join("daemon.addr")).ok()
}

#[test]
fn the_daemon_refuses_to_listen_beyond_loopback() {
    let world = World::new();
    world.register("ivan", "ivan-agent");
    let output = world
        .plurum()
        .args(["--profile", "ivan", "daemon", "--api-addr", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("loopback only"));
    let unauthenticated = world.plurum().args(["--profile", "nobody", "daemon"]).output().unwrap();
    assert_eq!(unauthenticated.status.code(), Some(4), "exit 4: not authenticated");
}

#[test]
fn print_systemd_writes_a_user_unit() {
    let world = World::new();
    let output = world
        .plurum()
        .args(["--profile", "ops", "daemon", "--print-systemd"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let unit = String::from_utf8_lossy(&output.stdout);
    assert!(unit.contains("[Service]") && unit.contains("[Install]"), "{unit}");
    assert!(
        unit.contains(&format!(
            "ExecStart={} --profile ops daemon",
            env!("CARGO_BIN_EXE_plurum")
        )),
        "{unit}"
    );
    assert!(unit.contains("ExecReload=/bin/kill -HUP $MAINPID"));
    assert!(unit.contains(&format!("Environment=PLURUM_STATE_DIR={}", world.state_dir().display())));
    assert!(unit.contains("WantedBy=default.target"));
}

#[test]
fn metrics_pass_promtool_when_it_is_installed() {
    let world = World::new();
    world.register("jade", "jade-agent");
    configure(&world, "jade", &quick(""));
    let daemon = Daemon::start(&world, "jade");
    post(
        &world,
        &daemon,
        "/feedback",
        json!({"drives_addressed": ["outcomes"], "outcome": "partial"}),
    );
    let metrics = get(&world, &daemon, "/metrics");
    assert_eq!(metrics.status, 200);
    assert!(
        metrics.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let samples = parse_metrics(&metrics.text);
    for family in [
        "plurum_daemon_uptime_seconds",
        "plurum_daemon_drive_pressure",
        "plurum_daemon_triggers_total",
        "plurum_daemon_feedback_total",
        "plurum_daemon_pulse_events_total",
        "plurum_daemon_reports_flushed_total",
        "plurum_daemon_socket_reconnects_total",
        "plurum_daemon_heartbeat_duration_seconds",
    ] {
        assert!(samples.iter().any(|s| s.metric == family), "{family} missing");
    }
    assert_eq!(
        sample(&samples, "plurum_daemon_feedback_total", &[("outcome", "partial")]),
        1.0
    );

    let promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match promtool {
        Ok(child) => child,
        Err(e) => {
            assert!(
                std::env::var_os("PLURUM_REQUIRE_PROMTOOL").is_none(),
                "PLURUM_REQUIRE_PROMTOOL is set but promtool could not run: {e}"
            );
            eprintln!("promtool not installed; checked with prometheus-parse only");
            return;
        }
    };
    {
        use std::io::Write as _;
        child.stdin.take().unwrap().write_all(metrics.text.as_bytes()).unwrap();
    }
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "promtool check metrics failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Parses the Prometheus text format with a real parser (and checks every
/// family has its HELP and TYPE).
#[test]
fn runtime_changes_yield_to_a_stricter_file_and_can_be_reset() {
    let world = World::new();
    world.register("jo", "jo-agent");
    configure(&world, "jo", &quick(""));
    let daemon = Daemon::start(&world, "jo");
    let changed = post(
        &world,
        &daemon,
        "/config",
        json!({"drives.trigger_threshold": 0.6, "wake.max_turns_per_hour": 20}),
    );
    assert_eq!(changed.status, 200, "{}", changed.text);
    daemon.stop();

    // The user tightens the guardrails: the low threshold is no longer allowed.
    configure(
        &world,
        "jo",
        &quick(
            "[mutator]\nguardrails = { \"drives.trigger_threshold\" = [3.0, 50.0], \"wake.max_turns_per_hour\" = [1.0, 30.0] }\nallowed_fields = [\"drives.trigger_threshold\", \"wake.max_turns_per_hour\"]\n",
        ),
    );
    let daemon = Daemon::start(&world, "jo");
    daemon.expect("dropped the runtime change drives.trigger_threshold = 0.6");
    let config = get(&world, &daemon, "/config").json();
    assert_eq!(config["drives"]["trigger_threshold"], 5.0, "the file's value wins");
    assert_eq!(config["wake"]["max_turns_per_hour"], 20.0, "an allowed change stays");
    let audit = world.json(&["--profile", "jo", "daemon", "audit"]);
    let last = audit["entries"].as_array().unwrap().last().unwrap();
    assert_eq!(last["key"], "drives.trigger_threshold");
    assert_eq!(last["source"], "start");
    assert!(
        last["reason"].as_str().unwrap().contains("outside the guardrails"),
        "{last}"
    );
    assert_eq!(audit["intact"], true);

    // Mutation turned off, then SIGHUP: every runtime change goes.
    configure(&world, "jo", &quick("[mutator]\nenabled = false\n"));
    daemon.signal("HUP");
    daemon.expect("dropped the runtime change wake.max_turns_per_hour = 20");
    assert_eq!(
        get(&world, &daemon, "/config").json()["wake"]["max_turns_per_hour"],
        10.0
    );
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(profile_dir(&world, "jo").join("daemon.json")).unwrap()).unwrap();
    assert_eq!(
        saved["configOverrides"],
        json!({}),
        "and they do not come back at the next start"
    );

    // `daemon config --reset`, with the daemon running and without.
    configure(&world, "jo", &quick(""));
    daemon.signal("HUP");
    daemon.expect_nth("SIGHUP: configuration reloaded", 2);
    post(&world, &daemon, "/config", json!({"drives.trigger_threshold": 7.0}));
    let shown = world.json(&["--profile", "jo", "daemon", "config"]);
    assert_eq!(shown["overrides"]["drives.trigger_threshold"], 7.0);
    let reset = world.json(&["--profile", "jo", "daemon", "config", "--reset"]);
    assert_eq!(reset["cleared"], json!(["drives.trigger_threshold"]));
    assert_eq!(
        get(&world, &daemon, "/config").json()["drives"]["trigger_threshold"],
        5.0
    );
    post(&world, &daemon, "/config", json!({"drives.trigger_threshold": 9.0}));
    daemon.stop();
    let offline = world.json(&["--profile", "jo", "daemon", "config", "--reset"]);
    assert_eq!(offline["running"], false);
    assert_eq!(offline["cleared"], json!(["drives.trigger_threshold"]));
    assert_eq!(offline["config"]["drives"]["trigger_threshold"], 5.0);
    let audit = world.json(&["--profile", "jo", "daemon", "audit"]);
    assert_eq!(audit["intact"], true);
    assert_eq!(audit["entries"].as_array().unwrap().last().unwrap()["source"], "cli");
}

#[test]
fn the_wake_command_does_not_inherit_the_key_and_a_redirect_is_no_success() {
    let world = World::new();
    world.register("kai", "kai-agent");
    let key = world.stored_key("kai");
    let seen = world.dir.path().join("env.txt");
    configure(
        &world,
        "kai",
        &quick(&format!(
            "[wake]\ncommand = [\"sh\", \"-c\", \"echo key=${{PLURUM_API_KEY:-none}} > '{}'\"]\nmin_trigger_interval = 0\n",
            seen.display()
        )),
    );
    let daemon = Daemon::start_with(&world, "kai", &[("PLURUM_API_KEY", &key)]);
    assert_eq!(post(&world, &daemon, "/trigger", json!({"reason": "look"})).status, 200);
    assert_eq!(std::fs::read_to_string(&seen).unwrap().trim(), "key=none");
    daemon.stop();
    // Unless configured.
    configure(
        &world,
        "kai",
        &quick(&format!(
            "[wake]\ncommand = [\"sh\", \"-c\", \"echo key=${{PLURUM_API_KEY:-none}} > '{}'\"]\nmin_trigger_interval = 0\npass_api_key = true\n",
            seen.display()
        )),
    );
    let daemon = Daemon::start_with(&world, "kai", &[("PLURUM_API_KEY", &key)]);
    assert_eq!(post(&world, &daemon, "/trigger", json!({"reason": "look"})).status, 200);
    assert_eq!(std::fs::read_to_string(&seen).unwrap().trim(), format!("key={key}"));
    daemon.stop();

    // A webhook answered with a redirect: not followed, not a success.
    let hook = world.block_on(wiremock::MockServer::start());
    world.block_on(
        wiremock::Mock::given(wiremock::matchers::path("/hook"))
            .respond_with(
                wiremock::ResponseTemplate::new(307).insert_header("location", format!("{}/elsewhere", hook.uri())),
            )
            .mount(&hook),
    );
    world.block_on(
        wiremock::Mock::given(wiremock::matchers::path("/elsewhere"))
            .respond_with(wiremock::ResponseTemplate::new(200))
            .expect(0)
            .mount(&hook),
    );
    configure(
        &world,
        "kai",
        &quick(&format!(
            "[wake]\nwebhook = \"{}/hook\"\nmin_trigger_interval = 0\n",
            hook.uri()
        )),
    );
    let daemon = Daemon::start(&world, "kai");
    let answer = post(&world, &daemon, "/trigger", json!({"reason": "look"}));
    assert_eq!(answer.error_code(503), "WAKE_FAILED");
    assert!(
        answer.json()["error"].as_str().unwrap().contains("a redirect"),
        "{}",
        answer.text
    );
    world.block_on(hook.verify());
}

#[test]
fn daemons_of_two_profiles_run_at_once_and_a_taken_port_names_the_setting() {
    let world = World::new();
    world.register("one", "first-profile");
    world.register("two", "second-profile");
    // The default profile listens on seed 004's port (not bound here: tests
    // use no fixed port).
    let default = world.json(&["config", "get", "daemon.api.addr"]);
    assert_eq!(default["value"], "127.0.0.1:9720");
    // Other profiles, with no address configured anywhere: each picks a free
    // port at its first start and keeps it.
    let first = Daemon::start_args(&world, "one", &[], &[]);
    let second = Daemon::start_args(&world, "two", &[], &[]);
    assert_ne!(first.addr, second.addr, "each picked its own port");
    for (profile, daemon) in [("one", &first), ("two", &second)] {
        let saved = world.json(&["--profile", profile, "config", "get", "daemon.api.addr"]);
        assert_eq!(saved["value"], daemon.addr.as_str(), "{profile}: {saved}");
        assert_eq!(saved["source"], "profile");
    }
    // Restarted, a profile is found where it was.
    let first_addr = first.addr.clone();
    first.stop();
    let first = Daemon::start_args(&world, "one", &[], &[]);
    assert_eq!(first.addr, first_addr, "the same port after a restart");
    for (profile, daemon) in [("one", &first), ("two", &second)] {
        let status = world.json(&["--profile", profile, "daemon", "status"]);
        assert_eq!(status["running"], true);
        assert_eq!(status["api"], daemon.addr.as_str());
        // The heartbeat and the inbox find their own profile's daemon; the
        // heartbeat says what the daemon's found and what waits for the human.
        let deferred = world.json(&["--profile", profile, "heartbeat"]);
        assert_eq!(deferred["daemon"], daemon.addr.as_str());
        assert_eq!(deferred["skipped"], "daemon_running");
        assert!(deferred["needs_human"].is_array(), "{deferred}");
        assert!(deferred.get("summary").is_some(), "{deferred}");
        assert_eq!(world.json(&["--profile", profile, "inbox"])["source"], "daemon");
    }
    // A fixed port that is taken: the error names the setting to change.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    world.json(&["--profile", "three", "config", "set", "daemon.api.addr", &addr]);
    world.register("three", "third-profile");
    let output = world
        .plurum()
        .args(["--json", "--profile", "three", "daemon"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let error: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(error["error"]["code"], "port_taken");
    assert!(
        error["error"]["hint"].as_str().unwrap().contains("daemon.api.addr"),
        "{error}"
    );
    drop(taken);
    first.stop();
    second.stop();
}
