//! `plurum api` (raw calls, as gh api) and `plurum auth import` (keys the
//! Hermes and OpenClaw plugins saved).

use serde_json::{Value, json};

use crate::common::{SENTINEL, World, mode};

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

#[test]
fn raw_calls_with_fields_input_pagination_and_headers() {
    let world = World::new();
    world.register("default", "raw-caller");
    let key = world.stored_key("default");

    // GET: fields are query parameters; -q EXPR is --jq, as in gh.
    let me = world
        .plurum()
        .args(["api", "GET", "/agents/me", "-q", ".username"])
        .output()
        .unwrap();
    assert_eq!(stdout(&me), "raw-caller\n", "{}", stderr(&me));
    let check = world.json(&["api", "GET", "/agents/check-username", "-f", "username=raw-caller"]);
    assert_eq!(check["available"], false);
    // Without the leading slash too.
    let check = world.json(&["api", "get", "agents/check-username?username=free-name"]);
    assert_eq!(check["available"], true);

    // POST: fields are the JSON body; -F is typed.
    let opened = world.json(&[
        "api",
        "POST",
        "/sessions",
        "-f",
        "topic=Raw calls from the shell",
        "-F",
        "tools_used[]=curl",
    ]);
    assert_eq!(opened["session"]["tools_used"], json!(["curl"]));
    let id = opened["session"]["id"].as_str().unwrap().to_owned();
    let found = world.json(&[
        "api",
        "POST",
        "/experiences/search",
        "-f",
        "query=raw calls",
        "-F",
        "limit=3",
    ]);
    assert!(found["results"].is_array());
    // --input: the body from a file, or stdin.
    let entry = world.dir.path().join("entry.json");
    std::fs::write(&entry, r#"{"entry_type": "note", "content": {"text": "from a file"}}"#).unwrap();
    let logged = world.json(&[
        "api",
        "POST",
        &format!("/sessions/{id}/entries"),
        "--input",
        entry.to_str().unwrap(),
    ]);
    assert_eq!(logged["content"]["text"], "from a file");
    let piped = world
        .plurum()
        .args([
            "--json",
            "api",
            "POST",
            &format!("/sessions/{id}/entries"),
            "--input",
            "-",
        ])
        .write_stdin(r#"{"entry_type": "note", "content": {"text": "from stdin"}}"#)
        .output()
        .unwrap();
    assert!(piped.status.success(), "{}", stderr(&piped));
    assert_eq!(serde_json::from_slice::<Value>(&piped.stdout).unwrap()["ordinal"], 2);
    // -F key=@file reads a file as a string.
    let text = world.dir.path().join("query.txt");
    std::fs::write(&text, "raw calls from the shell").unwrap();
    let from_file = world.json(&[
        "api",
        "POST",
        "/experiences/search",
        "-F",
        &format!("query=@{}", text.display()),
    ]);
    assert_eq!(from_file["query"], "raw calls from the shell");

    // --paginate follows offset/has_more and prints every item at once.
    for n in 0..4 {
        world.json(&["session", "open", &format!("Paginated session number {n}")]);
    }
    let all = world.json(&["api", "GET", "/sessions", "-f", "limit=2", "--paginate"]);
    assert_eq!(all["items"].as_array().unwrap().len(), 5, "{all}");
    assert_eq!(all["pages"], 3);
    let ids = world
        .plurum()
        .args([
            "api",
            "GET",
            "/sessions",
            "-f",
            "limit=2",
            "--paginate",
            "--jq",
            ".items[].short_id",
        ])
        .output()
        .unwrap();
    assert_eq!(stdout(&ids).lines().count(), 5);

    // -i: status and headers.
    let shown = world
        .plurum()
        .args(["api", "GET", "/pulse/status", "-i"])
        .output()
        .unwrap();
    let text = stdout(&shown);
    assert!(
        text.starts_with("HTTP 200\n") && text.contains("content-type: application/json"),
        "{text}"
    );
    let document = world.json(&["api", "GET", "/pulse/status", "-i"]);
    assert_eq!(document["status"], 200);
    assert!(document["headers"]["content-type"].is_string());
    assert!(document["body"]["sessions"].is_array());

    // The key is never printed, at any verbosity.
    let traced = world
        .plurum()
        .args(["-vv", "api", "GET", "/agents/me"])
        .output()
        .unwrap();
    assert!(!stdout(&traced).contains(&key) && !stderr(&traced).contains(&key));
}

#[test]
fn raw_call_errors_are_the_clis_and_only_safe_methods_are_retried() {
    let world = World::new();
    world.register("default", "raw-errors");
    let key = world.stored_key("default");
    let code = |args: &[&str]| {
        let output = world.plurum().arg("--json").args(args).output().unwrap();
        let document: Value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
        (output.status.code().unwrap_or(-1), document)
    };
    let (exit, document) = code(&["api", "GET", "/experiences/deadbeef"]);
    assert_eq!(exit, 1);
    assert_eq!(document["error"]["code"], "not_found");
    assert_eq!(document["error"]["status"], 404);
    let (exit, document) = code(&["api", "POST", "/sessions", "-f", "topic=x"]);
    assert_eq!(exit, 1);
    assert_eq!(document["error"]["code"], "rejected");
    assert_eq!(document["error"]["details"][0]["field"], "topic");
    let (exit, document) = code(&["api", "FETCH", "/agents/me"]);
    assert_eq!((exit, document["error"]["code"].as_str()), (2, Some("usage")));
    let (exit, document) = code(&["api", "GET", "https://evil.example/api/v1/agents/me"]);
    assert_eq!(
        (exit, document["error"]["code"].as_str()),
        (2, Some("usage")),
        "{document}"
    );
    let (exit, _) = code(&["api", "GET", "/sessions", "-f", "nokey"]);
    assert_eq!(exit, 2);
    // Routes that answer with a new key are refused: the key stays as it is.
    let (exit, document) = code(&["api", "POST", "/agents/me/rotate-key"]);
    assert_eq!(exit, 2);
    assert!(
        document["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("plurum auth rotate")
    );
    assert_eq!(world.stored_key("default"), key);
    // A GET is retried after a 503; a POST is not (it may have happened).
    world.faults().fail_next(1, 503);
    let (exit, document) = code(&["api", "GET", "/agents/me"]);
    assert_eq!(exit, 0, "{document}");
    world.faults().fail_next(1, 503);
    let (exit, document) = code(&["api", "POST", "/experiences/search", "-f", "query=anything at all"]);
    assert_eq!(exit, 5, "{document}");
}

#[test]
fn a_server_that_echoes_the_key_gets_it_masked() {
    let world = World::new();
    let mock = world.block_on(wiremock::MockServer::start());
    world.block_on(
        wiremock::Mock::given(wiremock::matchers::path("/api/v1/echo"))
            .respond_with(
                wiremock::ResponseTemplate::new(200)
                    .insert_header("x-echo", format!("Bearer {SENTINEL}").as_str())
                    .set_body_json(json!({"you_sent": SENTINEL})),
            )
            .mount(&mock),
    );
    let output = world
        .plurum()
        .env("PLURUM_API_KEY", SENTINEL)
        .args([
            "--api-url",
            &format!("{}/api/v1", mock.uri()),
            "api",
            "GET",
            "/echo",
            "-i",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!stdout(&output).contains("SENTINEL"), "{}", stdout(&output));
    assert!(stdout(&output).contains("x-echo"));
}

fn plugin_file(dir: &std::path::Path, key: &str, mode_bits: u32) -> std::path::PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("plurum.json");
    std::fs::write(
        &path,
        json!({"api_key": key, "api_url": "https://api.plurum.ai"}).to_string(),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode_bits)).unwrap();
    }
    let _ = mode_bits;
    path
}

#[test]
fn keys_the_plugins_saved_are_imported_checked_and_stored_our_way() {
    let world = World::new();
    world.register("donor", "plugin-agent");
    let key = world.stored_key("donor");

    // Hermes writes its file 0644: imported, with a warning.
    let hermes_home = world.dir.path().join("hermes-home");
    let hermes = plugin_file(&hermes_home, &key, 0o644);
    let output = world
        .plurum()
        .env("HERMES_HOME", &hermes_home)
        .args(["--json", "--profile", "hermes", "auth", "import", "--from", "hermes"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let imported: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(imported["agent"]["username"], "plugin-agent");
    assert_eq!(imported["source"], "hermes");
    assert_eq!(imported["source_file"], hermes.to_str().unwrap());
    assert!(
        stderr(&output).contains("readable by others (mode 644)"),
        "{}",
        stderr(&output)
    );
    assert!(!stdout(&output).contains(&key) && !stderr(&output).contains(&key));
    assert_eq!(world.stored_key("hermes"), key);
    assert_eq!(mode(&world.config_dir().join("credentials.toml")), 0o600);
    assert_eq!(
        world.json(&["--profile", "hermes", "whoami"])["username"],
        "plugin-agent"
    );
    // --fix-permissions makes the source private.
    let fixed = world
        .plurum()
        .env("HERMES_HOME", &hermes_home)
        .args([
            "--json",
            "--profile",
            "hermes",
            "auth",
            "import",
            "--from",
            "hermes",
            "--fix-permissions",
        ])
        .output()
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&fixed.stdout).unwrap()["fixed_permissions"],
        true
    );
    assert_eq!(mode(&hermes), 0o600);

    // OpenClaw: $OPENCLAW_HOME/.openclaw/plurum.json, written 0600.
    let openclaw_home = world.dir.path().join("openclaw-home");
    plugin_file(&openclaw_home.join(".openclaw"), &key, 0o600);
    let output = world
        .plurum()
        .env("OPENCLAW_HOME", &openclaw_home)
        .args(["--profile", "openclaw", "auth", "import", "--from", "openclaw"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!stderr(&output).contains("readable by others"));

    // --path, a rejected key, a file without a key, no file.
    let stale = plugin_file(&world.dir.path().join("stale"), SENTINEL, 0o600);
    let output = world
        .plurum()
        .args([
            "--json",
            "--profile",
            "stale",
            "auth",
            "import",
            "--from",
            "hermes",
            "--path",
            stale.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4));
    assert!(!stdout(&output).contains("SENTINEL") && !stderr(&output).contains("SENTINEL"));
    let empty = world.dir.path().join("empty.json");
    std::fs::write(&empty, "{}").unwrap();
    let output = world
        .plurum()
        .args([
            "--json",
            "auth",
            "import",
            "--from",
            "openclaw",
            "--path",
            empty.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let output = world
        .plurum()
        .env("HERMES_HOME", world.dir.path().join("nowhere"))
        .args(["--json", "auth", "import", "--from", "hermes"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let document: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(document["error"]["code"], "not_found");

    // A profile's own different key is backed up before it is replaced.
    world.register("owner", "owner-agent");
    let own = world.stored_key("owner");
    let replaced = world
        .plurum()
        .env("HERMES_HOME", &hermes_home)
        .args(["--json", "--profile", "owner", "auth", "import", "--from", "hermes"])
        .output()
        .unwrap();
    let replaced: Value = serde_json::from_slice(&replaced.stdout).unwrap();
    let backup = replaced["old_key_backup"].as_str().unwrap();
    assert_eq!(std::fs::read_to_string(backup).unwrap().trim(), own);
}

#[test]
fn api_reads_like_gh_api() {
    let world = World::new();
    world.register("default", "gh-style");
    let run = |args: &[&str]| {
        let output = world.plurum().arg("--json").args(args).output().unwrap();
        let document: Value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
        (output.status.code().unwrap_or(-1), document, stderr(&output))
    };
    // The method defaults to GET, POST when fields are given; -X chooses.
    assert_eq!(world.json(&["api", "/agents/me"])["username"], "gh-style");
    let opened = world.json(&[
        "api",
        "/sessions",
        "-f",
        "topic=Raw calls like gh",
        "-f",
        "tools_used[]=curl",
    ]);
    let short = opened["session"]["short_id"].as_str().unwrap().to_owned();
    // A short id works in every path (the API wants the UUID below /sessions/ID).
    let logged = world.json(&[
        "api",
        &format!("/sessions/{short}/entries"),
        "-f",
        "entry_type=dead_end",
        "-f",
        "content[what]=synchronous_commit=on",
        "-f",
        "content[why]=write latency tripled",
    ]);
    assert_eq!(logged["entry_type"], "dead_end", "{logged}");
    assert_eq!(logged["content"]["why"], "write latency tripled", "nested fields");
    let patched = world.json(&[
        "api",
        "-X",
        "PATCH",
        &format!("/sessions/{short}"),
        "-f",
        "tools_used[]=postgresql",
        "-f",
        "tools_used[]=pgbouncer",
    ]);
    assert_eq!(patched["tools_used"], json!(["postgresql", "pgbouncer"]), "{patched}");
    // The old form still works; two different methods are a usage error.
    assert_eq!(world.json(&["api", "GET", "/agents/me"])["username"], "gh-style");
    let (exit, document, _) = run(&["api", "-X", "POST", "GET", "/agents/me"]);
    assert_eq!((exit, document["error"]["code"].as_str()), (2, Some("usage")));
    let (exit, document, _) = run(&["api", "-X", "FETCH", "/agents/me"]);
    assert_eq!(exit, 2);
    assert!(
        document["error"]["message"]
            .as_str()
            .unwrap()
            .contains("possible values")
    );
    let (exit, _, _) = run(&["api", "/sessions", "-f", "a[]b=1"]);
    assert_eq!(exit, 2, "a broken key is a usage error");

    // Bodies go through the safety gate: refused, masked, or allowed.
    let secret = "password=hunter2hunter2";
    let (exit, document, _) = run(&[
        "api",
        &format!("/sessions/{short}/entries"),
        "-f",
        "entry_type=note",
        "-f",
        &format!("content[text]=connect with {secret}"),
    ]);
    assert_eq!(
        (exit, document["error"]["code"].as_str()),
        (1, Some("sensitive_content")),
        "{document}"
    );
    let masked = world.json(&[
        "api",
        &format!("/sessions/{short}/entries"),
        "-f",
        "entry_type=note",
        "-f",
        &format!("content[text]=connect with {secret}"),
        "--redact",
    ]);
    assert!(!masked.to_string().contains("hunter2"), "{masked}");

    // An HTTP error: the body still goes to stdout (with the error member
    // under --json), --jq applies to it, -i shows the status.
    let (exit, document, err) = run(&["api", "/experiences/deadbeef"]);
    assert_eq!(exit, 1);
    assert_eq!(document["error"]["code"], "not_found");
    assert!(document["detail"].is_string(), "the API's body: {document}");
    assert!(err.contains("error:"), "{err}");
    let (exit, document, _) = run(&["api", "/experiences/deadbeef", "-i"]);
    assert_eq!(exit, 1);
    assert_eq!(document["status"], 404);
    assert!(
        document["headers"].is_object() && document["body"]["detail"].is_string(),
        "{document}"
    );
    let jq = world
        .plurum()
        .args(["api", "/experiences/deadbeef", "--jq", ".detail"])
        .output()
        .unwrap();
    assert_eq!(jq.status.code(), Some(1));
    assert!(
        !stdout(&jq).trim().is_empty() && !stdout(&jq).contains('{'),
        "{}",
        stdout(&jq)
    );
    // A method the route does not take: 405, its own code.
    let (exit, document, _) = run(&["api", "-X", "DELETE", "/pulse/status"]);
    assert_eq!(
        (exit, document["error"]["code"].as_str()),
        (1, Some("method_not_allowed")),
        "{document}"
    );
    assert_eq!(document["error"]["status"], 405);
}
