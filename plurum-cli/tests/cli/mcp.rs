//! `plurum mcp` as a child process, driven by an MCP client (rmcp's client
//! side): initialize, list the tools, call each against the reference
//! server, a report queued while the server fails, a safety refusal, a
//! malformed call, and the host configuration snippets.

use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::transport::TokioChildProcess;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};

use crate::common::World;

type Client = RunningService<RoleClient, ()>;

async fn connect(world: &World, profile: &str) -> Client {
    let mut command = tokio::process::Command::from(world.process());
    command.args(["--profile", profile, "mcp"]);
    let transport = TokioChildProcess::new(command).unwrap();
    ().serve(transport).await.unwrap()
}

async fn call(client: &Client, tool: &str, arguments: Value) -> CallToolResult {
    client
        .call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments.as_object().unwrap().clone()))
        .await
        .unwrap_or_else(|e| panic!("{tool}: {e}"))
}

/// The JSON of a tool's result (structured content, else the text).
fn body(result: &CallToolResult) -> Value {
    if let Some(structured) = &result.structured_content {
        return structured.clone();
    }
    let text = result
        .content
        .iter()
        .find_map(|c| c.as_text().map(|t| t.text.clone()))
        .unwrap_or_default();
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

async fn ok(client: &Client, tool: &str, arguments: Value) -> Value {
    let result = call(client, tool, arguments).await;
    let value = body(&result);
    assert_ne!(result.is_error, Some(true), "{tool} failed: {value}");
    // The structured result has the types its outputSchema declares.
    let tools = client.list_all_tools().await.unwrap();
    let listed = tools.iter().find(|t| t.name == tool).unwrap();
    if let Some(schema) = &listed.output_schema {
        let problems = type_mismatches(&Value::Object((**schema).clone()), &value);
        assert!(
            problems.is_empty(),
            "{tool}: the result does not fit its outputSchema: {problems:?}\n{value}"
        );
    }
    value
}

/// Where `value` does not have the JSON type `schema` declares (its
/// properties and array items, recursively).
fn type_mismatches(schema: &Value, value: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let fits = |kind: &str| match kind {
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "null" => value.is_null(),
        _ => true,
    };
    if let Some(branches) = schema["anyOf"].as_array() {
        // One branch must fit.
        let fitting = branches.iter().any(|b| type_mismatches(b, value).is_empty());
        if !fitting {
            problems.push(format!("{value} fits none of {branches:?}"));
        }
        return problems;
    }
    let declared: Vec<&str> = match &schema["type"] {
        Value::String(one) => vec![one.as_str()],
        Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !declared.is_empty() && !declared.iter().any(|k| fits(k)) {
        problems.push(format!("{value} is not {declared:?}"));
    }
    if let (Some(properties), Some(members)) = (schema["properties"].as_object(), value.as_object()) {
        for (name, property) in properties {
            if let Some(member) = members.get(name) {
                problems.extend(
                    type_mismatches(property, member)
                        .into_iter()
                        .map(|p| format!("{name}: {p}")),
                );
            }
        }
    }
    if let (Some(items), Some(list)) = (schema.get("items"), value.as_array()) {
        for (index, item) in list.iter().enumerate() {
            problems.extend(
                type_mismatches(items, item)
                    .into_iter()
                    .map(|p| format!("[{index}]: {p}")),
            );
        }
    }
    problems
}

async fn tool_error(client: &Client, tool: &str, arguments: Value) -> Value {
    let result = call(client, tool, arguments).await;
    let value = body(&result);
    assert_eq!(result.is_error, Some(true), "{tool} should fail: {value}");
    value["error"].clone()
}

#[test]
fn an_agent_host_uses_every_tool_over_mcp() {
    let world = World::new();
    world.register("default", "mcp-agent");
    world.register("helper", "mcp-helper");
    let helper_session = world.json(&["--profile", "helper", "session", "open", "Tune the connection pool"]);
    let helper_session = helper_session["session"]["short_id"].as_str().unwrap().to_owned();
    let published = world.json(&[
        "--profile",
        "helper",
        "experience",
        "create",
        "--goal",
        "Run pgBouncer in transaction mode",
        "--gotcha",
        "prepared statements break",
        "--publish",
    ]);
    let experience = published["short_id"].as_str().unwrap().to_owned();
    let key = world.stored_key("default");

    world.block_on(async {
        let client = connect(&world, "default").await;
        let info = client.peer_info().expect("the server introduced itself");
        assert_eq!(info.server_info.as_ref().expect("server info").name, "plurum");
        assert!(info.instructions.as_deref().unwrap_or_default().contains("plurum_search"));
        let tools = client.list_all_tools().await.unwrap();
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
        for expected in [
            "plurum_search",
            "plurum_get_experience",
            "plurum_get_artifact",
            "plurum_acquire",
            "plurum_report_outcome",
            "plurum_vote",
            "plurum_session_open",
            "plurum_session_log",
            "plurum_session_close",
            "plurum_session_abandon",
            "plurum_contribute",
            "plurum_contributions",
            "plurum_inbox",
            "plurum_pulse_status",
            "plurum_heartbeat",
            "plurum_session_show",
            "plurum_session_list",
            "plurum_session_use",
            "plurum_experience_create",
            "plurum_experience_publish",
            "plurum_similar",
            "plurum_outcome_pending",
            "plurum_outcome_flush",
            "plurum_outcome_failed",
            "plurum_whoami",
        ] {
            let tool = tools.iter().find(|t| t.name == expected).unwrap_or_else(|| panic!("{expected}: {names:?}"));
            assert!(tool.description.as_deref().unwrap_or_default().len() > 30, "{expected} needs a description");
            assert_eq!(tool.input_schema.get("type"), Some(&json!("object")));
            if expected != "plurum_get_artifact" {
                let output = tool.output_schema.as_ref().unwrap_or_else(|| panic!("{expected}: no outputSchema"));
                assert_eq!(output.get("type"), Some(&json!("object")), "{expected}");
            }
        }
        let search = &tools.iter().find(|t| t.name == "plurum_search").unwrap().input_schema;
        assert_eq!(search["required"], json!(["query"]));

        // The loop: search, get (artifacts stubbed), acquire, report, vote.
        let found = ok(&client, "plurum_search", json!({"query": "pgbouncer transaction mode"})).await;
        assert_eq!(found["results"][0]["short_id"], experience.as_str());
        let opened = ok(&client, "plurum_session_open", json!({"topic": "Put pgBouncer in front of Postgres", "domain": "infrastructure"})).await;
        let session = opened["session"]["short_id"].as_str().unwrap().to_owned();
        world.json(&["--profile", "helper", "session", "contribute", &session, "Check server_idle_timeout too"]);
        ok(&client, "plurum_session_log", json!({"kind": "dead_end", "what": "session pooling", "why": "connections stayed at the limit"})).await;
        ok(&client, "plurum_session_log", json!({"kind": "breakthrough", "insight": "transaction pooling", "detail": "400 connections became 40", "importance": "high"})).await;
        ok(&client, "plurum_session_log", json!({"kind": "artifact", "language": "ini", "code": "pool_mode = transaction\n", "description": "pgbouncer.ini"})).await;
        let note = ok(&client, "plurum_session_log", json!({"kind": "note", "text": "-- starts with dashes", "session": session})).await;
        assert_eq!(note["content"]["text"], "-- starts with dashes");
        ok(&client, "plurum_contribute", json!({"session": helper_session, "text": "Watch max_client_conn", "type": "warning"})).await;
        let closed = ok(&client, "plurum_session_close", json!({"outcome": "success"})).await;
        let mine = closed["experience_draft"]["short_id"].as_str().unwrap().to_owned();
        let got = ok(&client, "plurum_get_experience", json!({"id": mine})).await;
        let artifact = &got["artifacts"][0];
        assert!(artifact.get("code").is_none(), "stubbed: {artifact}");
        assert_eq!(artifact["size_bytes"], 24);
        assert_eq!(artifact["index"], 0);
        let code = ok(&client, "plurum_get_artifact", json!({"id": mine, "index": 0})).await;
        assert_eq!(code["artifact"]["code"], "pool_mode = transaction\n");
        let missing = tool_error(&client, "plurum_get_artifact", json!({"id": mine, "index": 5})).await;
        assert_eq!(missing["code"], "not_found");
        let acquired = ok(&client, "plurum_acquire", json!({"id": experience, "mode": "checklist"})).await;
        assert!(acquired["content"]["watch"].is_array());
        let reported = ok(&client, "plurum_report_outcome", json!({"id": experience, "success": true, "execution_time_ms": 1200})).await;
        assert_eq!(reported["queued"], false);
        ok(&client, "plurum_vote", json!({"id": experience, "direction": "up"})).await;
        let spare = ok(&client, "plurum_session_open", json!({"topic": "A session to abandon right away"})).await;
        let abandoned = ok(&client, "plurum_session_abandon", json!({"session": spare["session"]["short_id"]})).await;
        assert_eq!(abandoned["status"], "abandoned");
        let status = ok(&client, "plurum_pulse_status", json!({})).await;
        assert!(status["sessions"].is_array());

        // The rest of the guide's loop, for an agent with MCP only.
        let me = ok(&client, "plurum_whoami", json!({})).await;
        assert_eq!(me["username"], "mcp-agent");
        let again = ok(&client, "plurum_session_open", json!({"topic": "A second session to switch between"})).await;
        let second = again["session"]["short_id"].as_str().unwrap().to_owned();
        let open = ok(&client, "plurum_session_list", json!({"mine": true, "status": "open"})).await;
        assert!(open["items"].as_array().unwrap().iter().any(|s| s["short_id"] == second.as_str()), "{open}");
        let switched = ok(&client, "plurum_session_use", json!({"session": second})).await;
        assert_eq!(switched["session"]["short_id"], second.as_str(), "{switched}");
        let shown = ok(&client, "plurum_session_show", json!({})).await;
        assert_eq!(shown["short_id"], second.as_str(), "the current session: {shown}");
        ok(&client, "plurum_session_abandon", json!({})).await;
        let similar = ok(&client, "plurum_similar", json!({"id": experience, "limit": 3})).await;
        assert!(similar.get("items").is_some() || similar.get("results").is_some(), "{similar}");
        let draft = ok(
            &client,
            "plurum_experience_create",
            json!({
                "goal": "Size the pgBouncer pool from max_connections",
                "domain": "infrastructure",
                "tools_used": ["pgbouncer"],
                "dead_ends": [{"what": "default_pool_size = 100", "why": "Postgres ran out of connections"}],
                "breakthroughs": [{"insight": "pool = max_connections / databases", "detail": "leave room for superuser"}],
                "gotchas": [{"warning": "reserve_pool_size counts too"}],
                "outcome": "success"
            }),
        )
        .await;
        assert_eq!(draft["status"], "draft", "{draft}");
        assert_eq!(draft["dead_ends"][0]["why"], "Postgres ran out of connections");
        let published = ok(&client, "plurum_experience_publish", json!({"id": draft["short_id"]})).await;
        assert_eq!(published["status"], "published");
        let refused = tool_error(&client, "plurum_experience_create", json!({"goal": "Connect with password=hunter2hunter2 to the primary"})).await;
        assert_eq!(refused["code"], "sensitive_content", "{refused}");
        let pending = ok(&client, "plurum_outcome_pending", json!({})).await;
        assert!(pending["pending"].as_array().unwrap().is_empty(), "{pending}");
        let flushed = ok(&client, "plurum_outcome_flush", json!({})).await;
        assert_eq!(flushed["queued_before"], 0);
        let failed = ok(&client, "plurum_outcome_failed", json!({})).await;
        assert!(failed["failed"].is_array(), "{failed}");

        // A report while the server fails: queued through the CLI's outbox.
        world.faults().fail_all(503);
        let queued = ok(&client, "plurum_report_outcome", json!({"id": mine, "success": false, "error_message": "pool exhausted"})).await;
        assert_eq!(queued["queued"], true, "{queued}");
        world.faults().clear();
        let beat = ok(&client, "plurum_heartbeat", json!({"query": "pgbouncer"})).await;
        assert_eq!(beat["outcomes"]["delivered"], 1, "the heartbeat sent the queued report: {beat}");
        assert!(beat["needs_human"].is_array());

        // The safety gate refuses, says why, and redact: true gets through.
        let refused = tool_error(&client, "plurum_contribute", json!({"session": helper_session, "text": "password=hunter2hunter2 works"})).await;
        assert_eq!(refused["code"], "sensitive_content");
        assert!(refused["hint"].as_str().unwrap().contains("redact: true"), "{refused}");
        assert!(refused["details"]["findings"].is_array());
        let masked = ok(&client, "plurum_contribute", json!({"session": helper_session, "text": "password=hunter2hunter2 works", "redact": true})).await;
        assert!(masked["content"]["text"].as_str().unwrap().contains("[REDACTED:"));

        // Malformed calls are clear tool errors; the server keeps running.
        let malformed = tool_error(&client, "plurum_search", json!({"query": 42})).await;
        assert_eq!(malformed["code"], "usage");
        assert!(malformed["message"].as_str().unwrap().contains("invalid arguments for plurum_search"), "{malformed}");
        let incomplete = tool_error(&client, "plurum_session_log", json!({"kind": "gotcha"})).await;
        assert!(incomplete["message"].as_str().unwrap().contains("give warning"), "{incomplete}");
        let bad_id = tool_error(&client, "plurum_get_experience", json!({"id": "not an id"})).await;
        assert_eq!(bad_id["code"], "usage");
        // A misspelt argument is refused, not ignored (the safety flags too).
        let typo = tool_error(&client, "plurum_contribute", json!({"session": session, "text": "x", "typ": "warning"})).await;
        assert!(typo["message"].as_str().unwrap().contains("typ"), "{typo}");
        let typo = tool_error(&client, "plurum_report_outcome", json!({"id": experience, "success": true, "redacted": true})).await;
        assert_eq!(typo["code"], "usage", "{typo}");
        let unknown = tool_error(&client, "plurum_nothing", json!({})).await;
        assert!(unknown["message"].as_str().unwrap().contains("no tool is called"));
        let after = ok(&client, "plurum_contributions", json!({"session": session})).await;
        assert_eq!(after["items"][0]["content"]["text"], "Check server_idle_timeout too", "still serving: {after}");
        let inbox = ok(&client, "plurum_inbox", json!({})).await;
        assert!(inbox["events"].is_array());

        client.cancel().await.unwrap();
    });

    // The helper sees what the MCP agent contributed; the key never left.
    let helper_inbox = world.json(&["--profile", "helper", "inbox"]);
    assert!(
        helper_inbox["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event_type"] == "contribution_received")
    );
    let state = std::fs::read_to_string(world.state_file("default")).unwrap();
    assert!(!state.contains(&key));
}

/// Runs `plurum ARGS` and returns stdout (asserting success).
fn stdout_of(world: &World, args: &[&str]) -> String {
    let output = world.plurum().args(args).output().unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn print_config_for_claude_is_one_add_json_command_line() {
    let world = World::new();
    let claude = stdout_of(&world, &["mcp", "--print-config", "claude"]);
    assert_eq!(claude.trim_end().lines().count(), 1, "one line: {claude}");
    let words = shlex::split(claude.trim()).unwrap_or_else(|| panic!("not a shell line: {claude}"));
    // `add-json NAME JSON`: no variadic -e before the name.
    assert_eq!(
        words[..6],
        ["claude", "mcp", "add-json", "--scope", "user", "plurum"],
        "{claude}"
    );
    assert_eq!(words.len(), 7, "{words:?}");
    let server: Value = serde_json::from_str(&words[6]).unwrap();
    assert_eq!(server["type"], "stdio");
    assert!(server["command"].as_str().unwrap().ends_with("plurum"));
    assert_eq!(server["args"], json!(["mcp"]));
    assert!(
        server["env"]["PLURUM_STATE_DIR"].is_string(),
        "the same state as this shell"
    );
    // Another profile is another server in the same host.
    let work = stdout_of(&world, &["--profile", "work", "mcp", "--print-config", "claude"]);
    let words = shlex::split(work.trim()).unwrap();
    assert_eq!(words[5], "plurum-work");
    let server: Value = serde_json::from_str(&words[6]).unwrap();
    assert_eq!(server["args"], json!(["--profile", "work", "mcp"]));
}

#[test]
fn print_config_carries_the_flags_given_here_into_codex_and_cursor() {
    let world = World::new();
    let key_file = world.dir.path().join("key.txt");
    std::fs::write(&key_file, "plrm_live_not_a_real_key_but_long_enough_000000000").unwrap();
    let codex = world
        .plurum()
        .current_dir(world.dir.path())
        .env_remove("PLURUM_API_URL")
        .args([
            "--profile",
            "my.team",
            "--api-url",
            "https://plurum.example/api/v1",
            "--api-key-file",
            "key.txt",
            "mcp",
            "--print-config",
            "codex",
        ])
        .output()
        .unwrap();
    assert!(codex.status.success(), "{}", String::from_utf8_lossy(&codex.stderr));
    let codex = String::from_utf8(codex.stdout).unwrap();
    assert!(!codex.contains("plrm_live_"), "never the key: {codex}");
    let parsed: toml::Table = toml::from_str(&codex).unwrap_or_else(|e| panic!("{e}: {codex}"));
    // A dotted profile name stays one key.
    let server = &parsed["mcp_servers"]["plurum-my.team"];
    assert!(server["command"].as_str().unwrap().ends_with("plurum"));
    assert_eq!(
        server["args"],
        toml::Value::try_from([
            "--profile",
            "my.team",
            "--api-url",
            "https://plurum.example/api/v1",
            "--api-key-file",
            key_file.to_str().unwrap(),
            "mcp"
        ])
        .unwrap()
    );
    assert!(server["env"]["PLURUM_STATE_DIR"].is_str());

    let cursor: Value = serde_json::from_str(&stdout_of(&world, &["mcp", "--print-config", "cursor"])).unwrap();
    assert_eq!(cursor["mcpServers"]["plurum"]["args"], json!(["mcp"]));
    let uvx = world.json(&["mcp", "--print-config", "cursor", "--launch", "uvx"]);
    assert_eq!(uvx["launch"], "uvx");
    assert_eq!(uvx["server"]["command"], "uvx");
    assert_eq!(
        uvx["server"]["args"],
        json!([
            "--from",
            format!("plurum-cli=={}", env!("CARGO_PKG_VERSION")),
            "plurum",
            "mcp"
        ])
    );
}

#[test]
fn print_config_never_writes_a_path_into_uvs_cache() {
    let world = World::new();
    let binary = std::path::Path::new(env!("CARGO_BIN_EXE_plurum"));
    // Pretend the folder this plurum runs from is uv's cache.
    let cache = binary.parent().unwrap();
    let output = world
        .plurum()
        .env("UV_CACHE_DIR", cache)
        .args(["--json", "mcp", "--print-config", "generic"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(printed["launch"], "uvx", "{printed}");
    assert_eq!(printed["server"]["command"], "uvx");
    assert!(String::from_utf8_lossy(&output.stderr).contains("uv's cache"));
    let refused = world
        .plurum()
        .env("UV_CACHE_DIR", cache)
        .args(["--json", "mcp", "--print-config", "generic", "--launch", "path"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let error: Value = serde_json::from_slice(&refused.stdout).unwrap();
    assert!(
        error["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("uv tool install plurum-cli")
    );
}

#[test]
fn print_config_names_the_hosts_when_given_an_unknown_one() {
    let world = World::new();
    let output = world
        .plurum()
        .args(["--json", "mcp", "--print-config", "vscode"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let error: Value = serde_json::from_slice(&output.stdout).unwrap();
    let message = error["error"]["message"].as_str().unwrap();
    for host in ["claude", "codex", "cursor", "generic"] {
        assert!(message.contains(host), "{message}");
    }
}

/// The generic snippet, launched exactly as it says (its command, its
/// arguments, its environment and nothing of this shell's), answers an MCP
/// handshake and lists the tools.
#[test]
fn the_generic_snippet_launches_a_server_that_answers() {
    let world = World::new();
    world.register("default", "snippet-agent");
    let printed = world.json(&["mcp", "--print-config", "generic"]);
    let snippet: Value = serde_json::from_str(printed["snippet"].as_str().unwrap()).unwrap();
    let server = &snippet["mcpServers"]["plurum"];
    let mut command = tokio::process::Command::new(server["command"].as_str().unwrap());
    command.env_clear();
    for variable in ["PATH", "HOME"] {
        if let Some(value) = std::env::var_os(variable) {
            command.env(variable, value);
        }
    }
    for arg in server["args"].as_array().unwrap() {
        command.arg(arg.as_str().unwrap());
    }
    for (name, value) in server["env"].as_object().unwrap() {
        command.env(name, value.as_str().unwrap());
    }
    world.block_on(async {
        let client = ().serve(TokioChildProcess::new(command).unwrap()).await.unwrap();
        let tools = client.list_all_tools().await.unwrap();
        assert!(tools.iter().any(|t| t.name == "plurum_search"), "{tools:?}");
        let status = ok(&client, "plurum_pulse_status", json!({})).await;
        assert!(status.get("active_sessions").is_some(), "{status}");
        client.cancel().await.unwrap();
    });
}

#[test]
fn print_config_leaves_credentials_in_the_api_url_out() {
    let world = World::new();
    let output = world
        .plurum()
        .env("PLURUM_API_URL", "https://bot:s3cretpass@plurum.example/api/v1")
        .args(["--json", "mcp", "--print-config", "generic"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(!stdout.contains("s3cretpass") && !stdout.contains("bot:"), "{stdout}");
    let printed: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        printed["server"]["env"]["PLURUM_API_URL"],
        "https://plurum.example/api/v1"
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("leaves them out"));
}

/// A stand-in for the API that answers `GET /pulse/status` after `delay`,
/// counting how many requests it holds at once.
struct SlowApi {
    url: String,
    most_at_once: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    served: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl SlowApi {
    async fn start(delay: std::time::Duration) -> Self {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/api/v1", listener.local_addr().unwrap());
        let in_flight = Arc::new(AtomicUsize::new(0));
        let most_at_once = Arc::new(AtomicUsize::new(0));
        let served = Arc::new(AtomicUsize::new(0));
        let (flight, most, count) = (in_flight.clone(), most_at_once.clone(), served.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let (flight, most, count) = (flight.clone(), most.clone(), count.clone());
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buffer = [0u8; 4096];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buffer).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buffer[..n]),
                        }
                    }
                    let now = flight.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(delay).await;
                    flight.fetch_sub(1, Ordering::SeqCst);
                    count.fetch_add(1, Ordering::SeqCst);
                    let body = r#"{"connected_agents":0,"active_sessions":0,"sessions":[]}"#;
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(answer.as_bytes()).await;
                });
            }
        });
        Self {
            url,
            most_at_once,
            served,
        }
    }
}

/// Tool calls run side by side: eight calls against an API that takes
/// 300 ms each are all in flight at once (one at a time, the API would
/// never hold more than one).
#[test]
fn tool_calls_run_concurrently() {
    use std::sync::atomic::Ordering;
    let world = World::new();
    world.block_on(async {
        let api = SlowApi::start(std::time::Duration::from_millis(300)).await;
        let mut command = tokio::process::Command::from(world.process());
        command.env("PLURUM_API_URL", &api.url).arg("mcp");
        let client = ().serve(TokioChildProcess::new(command).unwrap()).await.unwrap();
        let calls = (0..8).map(|_| ok(&client, "plurum_pulse_status", json!({})));
        let answers = futures_util::future::join_all(calls).await;
        assert!(answers.iter().all(|a| a["active_sessions"] == 0), "{answers:?}");
        assert_eq!(api.served.load(Ordering::SeqCst), 8);
        let most = api.most_at_once.load(Ordering::SeqCst);
        assert!(
            most >= 2,
            "the API never held two calls at once (at most {most}): calls ran one at a time"
        );
        client.cancel().await.unwrap();
    });
}

/// With the server down, the write tools answer `queued` (not a tool
/// error), and the journal delivers them later.
#[test]
fn write_tools_answer_queued_when_the_server_is_down() {
    let world = World::new();
    world.register("default", "mcp-offline");
    world.json(&["session", "open", "Write the runbook"]);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}/api/v1", listener.local_addr().unwrap());
    drop(listener);
    world.block_on(async {
        let mut command = tokio::process::Command::from(world.process());
        command.env("PLURUM_API_URL", &dead).arg("mcp");
        let client = ().serve(TokioChildProcess::new(command).unwrap()).await.unwrap();
        let logged = ok(
            &client,
            "plurum_session_log",
            json!({"kind": "note", "text": "step one"}),
        )
        .await;
        assert_eq!(logged["delivery"], "queued", "{logged}");
        let closed = ok(&client, "plurum_session_close", json!({"outcome": "success"})).await;
        assert_eq!(closed["delivery"], "queued", "{closed}");
        client.cancel().await.unwrap();
    });
    let synced = world.json(&["sync"]);
    assert_eq!(synced["journal"]["delivered"], 2, "{synced}");
}
