//! plurum attacked as a hostile server, a proxy, a captive portal, a web
//! page and a corrupt file would attack it, each through the `plurum`
//! binary as a user meets it: the key leaks nowhere (not at
//! `RUST_LOG=trace`, not when a server echoes it, not through a proxy, not
//! in a parse error), no queued report is lost to a portal, one bad entry
//! does not take the outbox down, no inbox event is evicted unseen, no
//! input panics, no terminal escape reaches the terminal.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use crate::common::{SENTINEL, World};
use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use plurum_sdk::types::{Contribute, ContributionType, OpenSession};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(20);

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Every file under `dir` whose content contains `needle`, except `allowed`.
fn files_containing(dir: &Path, needle: &str, allowed: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_containing(&path, needle, allowed));
        } else if !allowed.iter().any(|a| path.ends_with(a))
            && std::fs::read(&path).is_ok_and(|bytes| text(&bytes).contains(needle))
        {
            found.push(path.display().to_string());
        }
    }
    found
}

/// Asserts `needle` is in no output.
fn assert_clean(what: &str, output: &Output, needle: &str) {
    let (out, err) = (text(&output.stdout), text(&output.stderr));
    assert!(!out.contains(needle), "{what}: the key is on stdout:\n{out}");
    assert!(!err.contains(needle), "{what}: the key is on stderr:\n{err}");
}

/// A server that puts every request's headers into its error answers, as a
/// careless proxy or a debugging server does, in each of the error shapes.
fn echo_server(world: &World) -> String {
    async fn echo(method: axum::http::Method, uri: axum::http::Uri, headers: HeaderMap) -> axum::response::Response {
        let shown: Vec<String> = headers
            .iter()
            .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap_or("?")))
            .collect();
        let shown = shown.join("; ");
        let path = uri.path();
        if path.ends_with("/agents/me") {
            return (
                StatusCode::UNAUTHORIZED,
                axum::Json(json!({"detail": format!("Invalid API key ({shown})")})),
            )
                .into_response();
        }
        if path.ends_with("/outcome") {
            // Not the API's answer (a proxy's page): the report stays queued.
            return (
                StatusCode::NOT_FOUND,
                [("content-type", "text/html")],
                format!("<html><title>Gateway says {shown}</title><body>{shown}</body></html>"),
            )
                .into_response();
        }
        if path.ends_with("/pulse/inbox") {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                axum::Json(json!({"detail": [{"type": "value_error", "loc": ["header", shown.clone()], "msg": shown, "input": shown}]})),
            )
                .into_response();
        }
        if method == axum::http::Method::POST && path.ends_with("/sessions") {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({"detail": shown, "error": shown, "details": {"headers": shown}})),
            )
                .into_response();
        }
        // 501: the internal-error shape, without the retries a 500 earns.
        (
            StatusCode::NOT_IMPLEMENTED,
            axum::Json(
                json!({"error": "Internal server error", "details": {"message": format!("request was {shown}")}}),
            ),
        )
            .into_response()
    }
    let listener = world.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().fallback(echo);
    world.runtime.spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}/api/v1")
}

/// A proxy that records every connection (and answers none of them).
struct Recorder {
    url: String,
    connections: Arc<AtomicUsize>,
    bytes: Arc<Mutex<Vec<u8>>>,
}

fn recording_proxy() -> Recorder {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let bytes = Arc::new(Mutex::new(Vec::new()));
    let (count, sink) = (connections.clone(), bytes.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            count.fetch_add(1, Ordering::SeqCst);
            let sink = sink.clone();
            std::thread::spawn(move || {
                let mut stream = stream;
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                let mut buffer = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buffer) {
                    if n == 0 {
                        break;
                    }
                    sink.lock().unwrap().extend_from_slice(&buffer[..n]);
                }
            });
        }
    });
    Recorder {
        url,
        connections,
        bytes,
    }
}

/// Runs `plurum pulse watch` until it is connected, then Ctrl-C.
fn watch_briefly(mut command: Command) -> (String, String) {
    let mut child = command
        .args(["pulse", "watch", "--ping-interval", "0.2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    loop {
        let line = rx
            .recv_timeout(WAIT)
            .unwrap_or_else(|_| panic!("pulse watch never connected: {seen:?}"));
        let connected = line.contains("connected to the pulse");
        seen.push(line);
        if connected {
            break;
        }
    }
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let mut stdout = String::new();
    child.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
    child.wait().unwrap();
    seen.extend(rx.iter());
    (stdout, seen.join("\n"))
}

#[test]
fn the_key_leaks_nowhere_at_trace_level_or_when_a_server_echoes_it() {
    let world = World::new();
    let echo = echo_server(&world);
    let proxy = recording_proxy();
    let traced = |args: &[&str], proxied: bool| {
        let mut command = world.process();
        command
            .env("PLURUM_API_URL", &echo)
            .env("PLURUM_API_KEY", SENTINEL)
            .env("RUST_LOG", "trace")
            .args(args);
        if proxied {
            for name in ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"] {
                command.env(name, &proxy.url);
            }
            command.env_remove("NO_PROXY").env_remove("no_proxy");
        }
        command.output().unwrap()
    };
    for args in [
        &["whoami"][..],
        &["auth", "status"],
        &["auth", "rotate"],
        &["search", "postgres replication"],
        &["experience", "get", "abcdef12"],
        &["experience", "list"],
        &["experience", "acquire", "abcdef12"],
        &["experience", "vote", "abcdef12", "up"],
        &["experience", "similar", "abcdef12"],
        &["session", "open", "Tune autovacuum"],
        &["session", "list"],
        &["session", "show", "abcdef12"],
        &["session", "log", "--session", "abcdef12", "note", "analyze first"],
        &["session", "close", "abcdef12", "--outcome", "success"],
        &["session", "contribute", "abcdef12", "a warning", "--type", "warning"],
        &["outcome", "report", "abcdef12", "--success"],
        &["outcome", "flush"],
        &["outcome", "pending"],
        &["inbox"],
        &["pulse", "status"],
        &["pulse", "watch"],
        &["heartbeat", "--query", "postgres"],
    ] {
        for (json, proxied) in [(false, false), (true, false), (false, true), (true, true)] {
            let mut all = args.to_vec();
            if json {
                all.insert(0, "--json");
            }
            let output = traced(&all, proxied);
            assert_clean(&format!("{all:?}"), &output, SENTINEL);
            assert_clean(&format!("{all:?}"), &output, "SENTINELsentinel");
        }
    }
    // The report was queued with the (scrubbed) reason: nothing on disk holds the key.
    let state = world.state("default");
    assert_eq!(state["pendingOutcomeReports"].as_array().unwrap().len(), 1, "{state:#}");
    assert!(files_containing(world.dir.path(), "SENTINELsentinel", &[]).is_empty());
    assert_eq!(
        proxy.connections.load(Ordering::SeqCst),
        0,
        "a request went to the proxy"
    );
}

#[test]
fn a_stored_key_appears_in_no_output_and_no_file_but_the_credential_store() {
    let world = World::new();
    let registered = world
        .plurum()
        .env("RUST_LOG", "trace")
        .args(["register", "--name", "Ada", "--username", "ada-agent"])
        .output()
        .unwrap();
    assert!(registered.status.success(), "{}", text(&registered.stderr));
    let key = world.stored_key("default");
    assert_clean("register", &registered, &key);
    world.register("helper", "helper-agent");
    let traced = |args: &[&str]| {
        let output = world.plurum().env("RUST_LOG", "trace").args(args).output().unwrap();
        assert!(
            output.status.code().is_some_and(|c| c == 0 || c == 3),
            "{args:?}: {}",
            text(&output.stderr)
        );
        assert_clean(&format!("{args:?}"), &output, &key);
        output
    };
    traced(&["whoami"]);
    traced(&["auth", "status"]);
    traced(&["search", "postgres replication"]);
    let opened: Value =
        serde_json::from_slice(&traced(&["--json", "session", "open", "Tune autovacuum"]).stdout).unwrap();
    let session = opened["session"]["short_id"].as_str().unwrap().to_owned();
    traced(&["session", "log", "note", "analyze first"]);
    world.json(&[
        "--profile",
        "helper",
        "session",
        "contribute",
        &session,
        "Watch the freeze age",
        "--type",
        "warning",
    ]);
    traced(&["inbox"]);
    traced(&["pulse", "status"]);
    traced(&["heartbeat"]);
    let (out, err) = watch_briefly({
        let mut command = world.process();
        command.env("RUST_LOG", "trace");
        command
    });
    assert!(
        !out.contains(&key) && !err.contains(&key),
        "pulse watch leaked the key:\n{err}"
    );
    assert!(
        err.contains("TRACE") || err.contains("DEBUG"),
        "trace logging was on: {err}"
    );
    let leaks = files_containing(world.dir.path(), &key, &["credentials.toml"]);
    assert!(leaks.is_empty(), "the key is in {leaks:?}");
}

#[test]
fn plurum_serve_never_logs_a_key() {
    let world = World::new();
    let mut serve = world
        .process()
        .env("RUST_LOG", "trace")
        .args(["serve", "--addr", "127.0.0.1:0", "--no-limits"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(serve.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let url = first.trim().to_owned();
    let stderr = serve.stderr.take().unwrap();
    let log = std::thread::spawn(move || {
        let mut all = String::new();
        BufReader::new(stderr).read_to_string(&mut all).unwrap();
        all
    });
    let against = |args: &[&str]| world.plurum().env("PLURUM_API_URL", &url).args(args).output().unwrap();
    assert!(
        against(&["register", "--name", "Bo", "--username", "bo-agent"])
            .status
            .success()
    );
    let key = world.stored_key("default");
    assert!(against(&["whoami"]).status.success());
    let _ = watch_briefly({
        let mut command = world.process();
        command.env("PLURUM_API_URL", &url);
        command
    });
    Command::new("kill")
        .args(["-TERM", &serve.id().to_string()])
        .status()
        .unwrap();
    serve.wait().unwrap();
    let log = log.join().unwrap();
    assert!(log.contains("TRACE") || log.contains("DEBUG"), "trace logging was on");
    assert!(!log.contains(&key), "plurum serve logged the key");
}

#[test]
fn a_proxy_never_sees_a_request_bound_for_loopback() {
    let world = World::new();
    world.register("default", "ada-agent");
    let key = world.stored_key("default");
    let proxy = recording_proxy();
    for args in [
        &["whoami"][..],
        &["search", "postgres"],
        &["heartbeat"],
        &["pulse", "status"],
    ] {
        let output = world
            .plurum()
            .env("http_proxy", &proxy.url)
            .env("HTTP_PROXY", &proxy.url)
            .env("all_proxy", &proxy.url)
            .env("ALL_PROXY", &proxy.url)
            .env_remove("NO_PROXY")
            .env_remove("no_proxy")
            .args(args)
            .output()
            .unwrap();
        assert!(output.status.success(), "{args:?}: {}", text(&output.stderr));
    }
    assert_eq!(
        proxy.connections.load(Ordering::SeqCst),
        0,
        "a request went to the proxy"
    );
    assert!(!text(&proxy.bytes.lock().unwrap()).contains(&key));
}

#[test]
fn a_malformed_credentials_file_is_not_quoted() {
    let world = World::new();
    std::fs::create_dir_all(world.config_dir()).unwrap();
    std::fs::write(
        world.config_dir().join("credentials.toml"),
        format!("[profiles.default]\napi_key = \"{SENTINEL}\n"),
    )
    .unwrap();
    let output = world.plurum().args(["whoami"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let err = text(&output.stderr);
    assert!(err.contains("credentials.toml is not valid TOML (line 2)"), "{err}");
    assert!(err.contains("its content is not shown"), "{err}");
    assert_clean("whoami", &output, "SENTINELsentinel");
}

/// A stand-in for a captive portal or a broken proxy answering the outcome route.
fn portal(world: &World, answer: wiremock::ResponseTemplate) -> wiremock::MockServer {
    world.block_on(async {
        let server = wiremock::MockServer::start().await;
        wiremock::Mock::given(wiremock::matchers::method("POST"))
            .respond_with(answer)
            .mount(&server)
            .await;
        server
    })
}

#[test]
fn a_captive_portal_never_costs_a_queued_report() {
    let world = World::new();
    world.register("default", "ada-agent");
    let answers = [
        (
            "a 200 HTML page",
            wiremock::ResponseTemplate::new(200)
                .set_body_raw("<html><title>Sign in to Wi-Fi</title></html>", "text/html"),
        ),
        (
            "a 200 that is not JSON",
            wiremock::ResponseTemplate::new(200).set_body_string("{ half"),
        ),
        (
            "a redirect",
            wiremock::ResponseTemplate::new(302).insert_header("location", "http://portal.example/login"),
        ),
        (
            "a 403 HTML page",
            wiremock::ResponseTemplate::new(403).set_body_raw("<html>blocked</html>", "text/html"),
        ),
        (
            "a 404 page that is not the API's",
            wiremock::ResponseTemplate::new(404).set_body_string("not here"),
        ),
    ];
    for (n, (what, answer)) in answers.into_iter().enumerate() {
        let server = portal(&world, answer);
        let url = format!("{}/api/v1", server.uri());
        let id = format!("abcdef{n:02}");
        let report = world
            .plurum()
            .env("PLURUM_API_URL", &url)
            .args(["--json", "outcome", "report", &id, "--success"])
            .output()
            .unwrap();
        assert_eq!(report.status.code(), Some(0), "{what}: {}", text(&report.stderr));
        let answer: Value = serde_json::from_slice(&report.stdout).unwrap();
        assert_eq!(answer["queued"], true, "{what}: {answer}");
        let flush = world
            .plurum()
            .env("PLURUM_API_URL", &url)
            .args(["--json", "outcome", "flush"])
            .output()
            .unwrap();
        assert_eq!(flush.status.code(), Some(5), "{what}: a temporary failure");
        let state = world.state("default");
        assert_eq!(
            state["pendingOutcomeReports"].as_array().unwrap().len(),
            n + 1,
            "{what}: {state:#}"
        );
        assert!(
            state["failedOutcomeReports"].as_array().is_none_or(Vec::is_empty),
            "{what}: {state:#}"
        );
    }
    // Back on the real network, the queue drains into the API's own answers:
    // unknown experiences are the API's 404, rejected for good.
    world.plurum().args(["outcome", "flush"]).assert().code(1);
    let state = world.state("default");
    assert!(state["pendingOutcomeReports"].as_array().unwrap().is_empty());
    assert_eq!(state["failedOutcomeReports"].as_array().unwrap().len(), 5);
    assert_eq!(state["failedOutcomeReports"][0]["status"], 404);
}

#[test]
fn a_flush_stops_sending_after_the_first_401() {
    let world = World::new();
    world.register("default", "ada-agent");
    let server = world.block_on(async {
        let server = wiremock::MockServer::start().await;
        wiremock::Mock::given(wiremock::matchers::method("POST"))
            .respond_with(wiremock::ResponseTemplate::new(401).set_body_json(json!({"detail": "Invalid API key"})))
            .mount(&server)
            .await;
        server
    });
    let mut state = json!({"pendingOutcomeReports": []});
    for n in 0..60 {
        state["pendingOutcomeReports"]
            .as_array_mut()
            .unwrap()
            .push(json!({"identifier": format!("abcd{n:04}"), "success": true}));
    }
    std::fs::create_dir_all(world.state_file("default").parent().unwrap()).unwrap();
    std::fs::write(world.state_file("default"), state.to_string()).unwrap();
    let flush = world
        .plurum()
        .env("PLURUM_API_URL", format!("{}/api/v1", server.uri()))
        .args(["outcome", "flush"])
        .output()
        .unwrap();
    assert_eq!(flush.status.code(), Some(4), "{}", text(&flush.stderr));
    let sent = world.block_on(server.received_requests()).unwrap().len();
    // At most the first wave (32 reports in flight at once, FLUSH_CONCURRENCY)
    // leaves before the first 401 comes back; none is sent after it. How many
    // of the first wave leave first is up to the scheduler (this assertion
    // said 16 and failed once with 32 on a loaded machine).
    assert!(
        (1..=32).contains(&sent),
        "{sent} of 60 reports were sent: a 401 must stop the flush"
    );
    assert_eq!(
        world.state("default")["pendingOutcomeReports"]
            .as_array()
            .unwrap()
            .len(),
        60
    );
}

#[test]
fn one_wrong_typed_entry_does_not_take_the_outbox_down() {
    let world = World::new();
    world.register("default", "ada-agent");
    let experience = {
        let opened = world.json(&["session", "open", "Tune autovacuum on a busy table"]);
        let id = opened["session"]["short_id"].as_str().unwrap().to_owned();
        world.json(&["session", "log", "note", "scale factor 0.01 on the hot table"]);
        let closed = world.json(&["session", "close", &id, "--outcome", "success"]);
        closed["experience_draft"]["short_id"].as_str().unwrap().to_owned()
    };
    let path = world.state_file("default");
    let mut state = world.state("default");
    state["pendingOutcomeReports"] = json!([
        {"identifier": "abcdef12", "success": true, "execution_time_ms": 1.5},
        {"identifier": experience, "success": true, "execution_time_ms": 1500}
    ]);
    let written = serde_json::to_string_pretty(&state).unwrap();
    std::fs::write(&path, &written).unwrap();

    // A read-only command lists the good report, says what is wrong, exits
    // non-zero, and touches nothing.
    let pending = world.plurum().args(["--json", "outcome", "pending"]).output().unwrap();
    assert_eq!(pending.status.code(), Some(1), "{}", text(&pending.stderr));
    let listed: Value = serde_json::from_slice(&pending.stdout).unwrap();
    assert_eq!(listed["pending"].as_array().unwrap().len(), 1);
    assert!(
        text(&pending.stderr).contains("pendingOutcomeReports[0]"),
        "{}",
        text(&pending.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        written,
        "a reader never rewrites"
    );
    assert!(
        !std::fs::read_dir(path.parent().unwrap()).unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .contains("corrupt")),
        "nothing moved aside"
    );

    // A flush sends the good one, sets the bad one aside (exit non-zero once)...
    let flush = world.plurum().args(["outcome", "flush"]).output().unwrap();
    assert_eq!(flush.status.code(), Some(1), "{}", text(&flush.stderr));
    assert!(
        text(&flush.stderr).contains("set aside 1 entry"),
        "{}",
        text(&flush.stderr)
    );
    let scored = world.json(&["experience", "get", &experience]);
    assert_eq!(scored["total_reports"], 1, "the good report was delivered");
    // ...where 'outcome failed' lists it with the reason, and --drop forgets it.
    let failed = world.json(&["outcome", "failed"]);
    assert_eq!(failed["quarantined"][0]["field"], "pendingOutcomeReports[0]");
    assert!(
        failed["quarantined"][0]["reason"].as_str().unwrap().contains("1.5"),
        "{failed:#}"
    );
    assert_eq!(failed["quarantined"][0]["value"]["execution_time_ms"], 1.5);
    world.plurum().args(["outcome", "pending"]).assert().code(0);
    let id = failed["quarantined"][0]["id"].as_str().unwrap()[..8].to_owned();
    world.json(&["outcome", "failed", "--drop", &id]);
    assert!(
        world.json(&["outcome", "failed"])["quarantined"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // A file that is not JSON at all: readers refuse and leave it, a writer moves it aside.
    std::fs::write(&path, "{ truncated").unwrap();
    let read = world.plurum().args(["outcome", "pending"]).output().unwrap();
    assert_eq!(read.status.code(), Some(1));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "{ truncated");
    let write = world.plurum().args(["outcome", "flush"]).output().unwrap();
    assert_eq!(write.status.code(), Some(1));
    assert!(text(&write.stderr).contains("moved it to"), "{}", text(&write.stderr));
}

#[test]
fn six_hundred_contributions_are_all_kept_or_left_unread_never_lost() {
    let world = World::new();
    world.register("default", "owner-agent");
    world.register("helper", "helper-agent");
    let session = world
        .block_on(
            world
                .client("default")
                .sessions()
                .open(OpenSession::new("A long-running migration")),
        )
        .unwrap()
        .session;
    let helper = world.client("helper");
    world.block_on(async {
        for n in 0..600 {
            helper
                .sessions()
                .contribute(
                    session.id.as_ref(),
                    Contribute::text(format!("note {n}"), ContributionType::Suggestion),
                )
                .await
                .unwrap();
        }
    });
    let beat = world.plurum().args(["--json", "heartbeat"]).output().unwrap();
    let summary: Value = serde_json::from_slice(&beat.stdout).unwrap();
    assert_eq!(summary["inbox"]["new_events"], 500, "{summary:#}");
    assert_eq!(summary["inbox"]["left_unread"], 100);
    assert_eq!(summary["inbox"]["waiting"], 500);
    let unread = |world: &World| {
        world
            .block_on(world.client("default").pulse().inbox(Default::default()))
            .unwrap()
            .unread_count
    };
    assert_eq!(unread(&world), 100, "what was not kept stays unread on the server");
    let line = world.plurum().args(["heartbeat"]).output().unwrap();
    assert!(
        text(&line.stdout).contains("left unread on the server"),
        "{}",
        text(&line.stdout)
    );
    // Many runs later, nothing has been evicted or consumed.
    for _ in 0..5 {
        world.plurum().args(["-q", "heartbeat"]).assert().success();
    }
    assert_eq!(unread(&world), 100);
    assert_eq!(world.json(&["inbox", "--limit", "500"])["waiting"], 500);
    // Acknowledging makes room: the rest arrives, every one of the 600 seen.
    world.json(&["inbox", "--all"]);
    let next: Value =
        serde_json::from_slice(&world.plurum().args(["--json", "heartbeat"]).output().unwrap().stdout).unwrap();
    assert_eq!(next["inbox"]["new_events"], 100);
    assert_eq!(unread(&world), 0);
    let state = world.state("default");
    let texts: std::collections::BTreeSet<String> = state["inboxEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["event_data"]["content"]["text"].as_str().map(str::to_owned))
        .collect();
    // 100 acknowledged kept + 100 new waiting; the earlier 400 acknowledged aged out after being seen.
    assert_eq!(texts.len(), 200);
}

#[test]
fn no_input_panics() {
    let world = World::new();
    world.register("default", "ada-agent");
    let path = world.state_file("default");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, json!({"lastPlurumCheck": "9999-12-31T23:59:59Z"}).to_string()).unwrap();
    let due = world
        .plurum()
        .args(["heartbeat", "--if-due", "--interval", "30m"])
        .output()
        .unwrap();
    assert_eq!(due.status.code(), Some(0), "{}", text(&due.stderr));
    assert!(text(&due.stderr).contains("in the future"), "{}", text(&due.stderr));
    for args in [
        &["heartbeat", "--if-due", "--interval", "99999999999999999999d"][..],
        &["heartbeat", "--interval", "213503982334601d"],
        &["heartbeat", "--jitter", "18446744073709551615h"],
        &["pulse", "watch", "--ping-interval", "nan"],
        &["pulse", "watch", "--ping-interval", "inf"],
    ] {
        let output = world.plurum().args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", text(&output.stderr));
        assert!(!text(&output.stderr).contains("panicked"), "{args:?}");
    }
    std::fs::write(world.config_dir().join("config.toml"), "[daemon]\ntick_seconds = nan\n").unwrap();
    let daemon = world
        .plurum()
        .args(["daemon", "--api-addr", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(daemon.status.code(), Some(2), "{}", text(&daemon.stderr));
    assert!(
        text(&daemon.stderr).contains("tick_seconds"),
        "{}",
        text(&daemon.stderr)
    );
}

#[test]
fn terminal_escapes_from_the_network_never_reach_the_terminal() {
    let world = World::new();
    world.register("default", "ada-agent");
    world.register("mallory", "mallory-agent");
    let evil = "Fix \u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}31m\u{202e}the build\u{8}\u{8}";
    let opened = world.json(&[
        "--profile",
        "mallory",
        "session",
        "open",
        evil,
        "--domain",
        "infrastructure",
    ]);
    let mine = world.json(&["session", "open", "My own work"]);
    let my_session = mine["session"]["short_id"].as_str().unwrap().to_owned();
    world.json(&[
        "--profile",
        "mallory",
        "session",
        "contribute",
        &my_session,
        evil,
        "--type",
        "warning",
        "--allow-sensitive",
    ]);
    assert!(opened["session"]["topic"].as_str().unwrap().contains('\u{1b}'));
    let control = |c: char| (c.is_control() && c != '\n' && c != '\t') || ('\u{202a}'..='\u{202e}').contains(&c);
    for args in [
        &["pulse", "status"][..],
        &["inbox"],
        &["session", "list"],
        &["heartbeat"],
        &["search", "Fix the build"],
    ] {
        let output = world.plurum().args(args).output().unwrap();
        let (out, err) = (text(&output.stdout), text(&output.stderr));
        assert!(!out.chars().any(control), "{args:?} stdout: {out:?}");
        assert!(!err.chars().any(control), "{args:?} stderr: {err:?}");
    }
    // JSON keeps the data as it is (escaped by the encoder).
    let status = world.json(&["pulse", "status"]);
    let topics: Vec<&str> = status["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["topic"].as_str())
        .collect();
    assert!(topics.iter().any(|t| t.contains('\u{1b}')), "{topics:?}");
    // A server's error text with escapes: stripped on stderr too.
    let server = world.block_on(async {
        let server = wiremock::MockServer::start().await;
        wiremock::Mock::given(wiremock::matchers::any())
            .respond_with(wiremock::ResponseTemplate::new(400).set_body_json(json!({"detail": evil, "error": evil})))
            .mount(&server)
            .await;
        server
    });
    let output = world
        .plurum()
        .env("PLURUM_API_URL", format!("{}/api/v1", server.uri()))
        .args(["search", "anything"])
        .output()
        .unwrap();
    assert!(text(&output.stderr).contains("the build"), "{}", text(&output.stderr));
    assert!(!text(&output.stderr).chars().any(control), "{:?}", text(&output.stderr));
}

#[test]
fn an_endless_answer_is_cut_off_with_a_clear_error() {
    let world = World::new();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api/v1", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                use std::io::Write;
                let mut stream = stream;
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request);
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
                if stream.write_all(head.as_bytes()).is_err() {
                    return;
                }
                let chunk = format!("{:x}\r\n{}\r\n", 65_536, " ".repeat(65_536));
                while stream.write_all(chunk.as_bytes()).is_ok() {}
            });
        }
    });
    let mut command = world.process();
    command
        .env("PLURUM_API_URL", &url)
        .args(["--json", "search", "postgres replication"]);
    let run = crate::attack::measure(command);
    let output = run.output;
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    // The answer is read only as far as it is kept (8 MiB).
    if cfg!(target_os = "linux") {
        assert!(run.peak_kib < 100 * 1024, "peak {} MiB", run.peak_kib / 1024);
    }
    eprintln!("an endless answer: peak {} MiB, {:?}", run.peak_kib / 1024, run.took);
    let answer: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(answer["error"]["code"], "too_large");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("larger than 8 MiB"),
        "{answer}"
    );
}
