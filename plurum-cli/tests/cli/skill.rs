//! SKILL.md cannot go stale: every `plurum ...` command line it holds runs,
//! in the order an agent meets it, against the reference server, as `bash`
//! runs it (quotes, `$(...)` captures and all), and must exit as the guide
//! says (0 unless the line ends with `# exit N`). The shell blocks run as one
//! agent's story; the curl-to-plurum table runs as a second agent's on a
//! fresh server. `--jq` paths must pick something real (no `null`), `--json`
//! must print one document. Streams (`pulse watch`, `daemon`, `mcp`) are
//! started, must do their job, and are stopped.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use crate::common::World;

const SKILL: &str = include_str!("../../SKILL.md");
const WAIT: Duration = Duration::from_secs(20);

/// What the service's SKILL.md and PULSE.md call (docs/seeds.md), as its API table lists it.
const SEED_CALLS: &[&str] = &[
    "POST /agents/register",
    "GET /agents/me",
    "POST /agents/me/rotate-key",
    "POST /experiences/search",
    "GET /experiences?",
    "GET /experiences/{id}",
    "GET /experiences/{id}/similar",
    "POST /experiences",
    "POST /experiences/{id}/publish",
    "POST /experiences/{id}/acquire",
    "POST /experiences/{id}/outcome",
    "POST /experiences/{id}/vote",
    "POST /sessions",
    "GET /sessions?",
    "GET /sessions/{id}",
    "PATCH /sessions/{id}",
    "POST /sessions/{id}/entries",
    "POST /sessions/{id}/close",
    "POST /sessions/{id}/abandon",
    "POST /sessions/{id}/contribute",
    "GET /sessions/{id}/contributions",
    "GET /pulse/status",
    "GET /pulse/inbox",
    "POST /pulse/inbox/mark-read",
    "WS /pulse/ws",
];

/// The topic both the guide's agent and the seeded helper work on (so the
/// guide's `.active_sessions[0]` finds the helper).
const TOPIC: &str = "Set up pgBouncer connection pooling for PostgreSQL";

#[derive(Debug, Clone)]
struct Line {
    text: String,
    /// Where it is in SKILL.md (1-based).
    at: usize,
    exit: i32,
}

/// Splits a trailing `# exit N` off a command.
fn expected_exit(text: &str) -> (String, i32) {
    if let Some((command, comment)) = text.rsplit_once(" # exit ")
        && let Ok(code) = comment.trim().parse()
    {
        return (command.trim().to_owned(), code);
    }
    (text.trim().to_owned(), 0)
}

/// The command lines of the ```sh blocks, in order.
fn block_lines(markdown: &str) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut in_sh = false;
    let mut pending: Option<(String, usize)> = None;
    for (index, raw) in markdown.lines().enumerate() {
        let trimmed = raw.trim();
        if trimmed.starts_with("```") {
            in_sh = !in_sh && trimmed == "```sh";
            continue;
        }
        if !in_sh || trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let (mut text, at) = pending.take().unwrap_or((String::new(), index + 1));
        if let Some(head) = trimmed.strip_suffix('\\') {
            text.push_str(head);
            pending = Some((text, at));
            continue;
        }
        text.push_str(trimmed);
        let (text, exit) = expected_exit(&text);
        lines.push(Line { text, at, exit });
    }
    lines
}

/// The first column and the command spans of each row of the
/// curl-to-plurum table.
fn table_rows(markdown: &str) -> Vec<(String, Vec<Line>)> {
    let start = markdown
        .find("## From curl to plurum")
        .expect("SKILL.md has the curl table");
    let first_line = markdown[..start].lines().count();
    let mut rows = Vec::new();
    for (offset, row) in markdown[start..].lines().enumerate() {
        if !row.starts_with('|') || row.starts_with("|---") || row.starts_with("| curl call") {
            continue;
        }
        let cells: Vec<&str> = row.trim_matches('|').split(" | ").collect();
        let spans = cells[1]
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|span| span.starts_with("plurum ") || span.contains("=$(plurum "))
            .map(|span| Line {
                text: span.to_owned(),
                at: first_line + offset + 1,
                exit: 0,
            })
            .collect();
        rows.push((cells[0].trim().to_owned(), spans));
    }
    rows
}

/// One agent following the guide: its world, the variables it captured,
/// the daemons it started.
struct Agent<'w> {
    world: &'w World,
    vars: Vec<(String, String)>,
    hermes_home: PathBuf,
    daemons: Vec<(Child, Line)>,
    ran: usize,
}

fn stream_lines(reader: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn wait_for(lines: &mpsc::Receiver<String>, needle: &str, line: &Line) -> String {
    loop {
        match lines.recv_timeout(WAIT) {
            Ok(text) if text.contains(needle) => return text,
            Ok(_) => {}
            Err(_) => panic!("SKILL.md:{}: `{}` never printed {needle:?}", line.at, line.text),
        }
    }
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

impl<'w> Agent<'w> {
    fn new(world: &'w World) -> Self {
        let hermes_home = world.dir.path().join("hermes");
        std::fs::create_dir_all(&hermes_home).unwrap();
        // The guide's `plurum daemon` would listen on seed 004's port 9720:
        // tests use no fixed port, so this machine's configuration says 0.
        std::fs::create_dir_all(world.config_dir()).unwrap();
        let config = world.config_dir().join("config.toml");
        if !config.exists() {
            std::fs::write(&config, "[daemon.api]\naddr = \"127.0.0.1:0\"\n").unwrap();
        }
        Self {
            world,
            vars: Vec::new(),
            hermes_home,
            daemons: Vec::new(),
            ran: 0,
        }
    }

    /// `bash -c TEXT` with the world's directories and server, `plurum` on
    /// the PATH, and the variables captured so far.
    fn bash(&self, text: &str) -> Command {
        let bin = Path::new(env!("CARGO_BIN_EXE_plurum")).parent().unwrap();
        // A HOME of its own, and a fake crontab first on PATH: the guide's
        // `plurum setup` configures that, never this machine.
        let machine = self.world.dir.path().join("machine");
        let fakes = machine.join("bin");
        if !fakes.join("crontab").exists() {
            crate::setup::install_fakes(&fakes, &["crontab"]);
            std::fs::create_dir_all(machine.join("home")).unwrap();
            std::fs::create_dir_all(machine.join("fakes")).unwrap();
        }
        let path = format!(
            "{}:{}:{}",
            bin.display(),
            fakes.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut command = Command::new("bash");
        command
            .args(["-c", text])
            .current_dir(self.world.dir.path())
            .env("PATH", path)
            .env("PLURUM_CONFIG_DIR", self.world.config_dir())
            .env("PLURUM_STATE_DIR", self.world.state_dir())
            .env("PLURUM_API_URL", self.world.server.base_url())
            .env("PLURUM_NO_KEYRING", "1")
            .env("NO_COLOR", "1")
            .env("HERMES_HOME", &self.hermes_home)
            .env("HOME", machine.join("home"))
            .env("FAKES", machine.join("fakes"))
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("CODEX_HOME")
            .env_remove("PLURUM_API_KEY")
            .env_remove("PLURUM_PROFILE")
            .env_remove("RUST_LOG");
        for (name, value) in &self.vars {
            command.env(name, value);
        }
        command
    }

    fn run(&mut self, line: &Line) {
        self.ran += 1;
        // `NAME=$(plurum ...)`: run the command, keep what it printed.
        let (var, command) = match line.text.split_once("=$(") {
            Some((name, rest)) if name.chars().all(|c| c.is_ascii_uppercase() || c == '_') && rest.ends_with(')') => {
                (Some(name.to_owned()), rest[..rest.len() - 1].to_owned())
            }
            _ => (None, line.text.clone()),
        };
        assert!(
            command.starts_with("plurum "),
            "SKILL.md:{}: not a plurum command: {}",
            line.at,
            line.text
        );
        if command.contains("auth import --from hermes") {
            // The plugin saved the key this profile holds.
            let file = self.hermes_home.join("plurum.json");
            let key = self.world.stored_key("default");
            std::fs::write(&file, serde_json::json!({ "api_key": key }).to_string()).unwrap();
            std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        }
        match command.as_str() {
            c if c.starts_with("plurum pulse watch") => return self.watch(line, c),
            "plurum daemon" => return self.daemon(line),
            "plurum mcp" => return self.mcp(line),
            _ => {}
        }
        let output = self.bash(&command).output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(line.exit),
            "SKILL.md:{}: `{}` exited {:?}, the guide says {}\nstdout: {stdout}\nstderr: {stderr}",
            line.at,
            line.text,
            output.status.code(),
            line.exit
        );
        if command.contains(" --jq ") {
            assert!(
                !stdout.lines().any(|l| l.trim() == "null"),
                "SKILL.md:{}: `{}` picked a field that is not there\nstdout: {stdout}\nstderr: {stderr}",
                line.at,
                line.text
            );
        } else if command.contains(" --json") {
            let document: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
                panic!(
                    "SKILL.md:{}: `{}` printed no JSON document ({e}): {stdout}",
                    line.at, line.text
                )
            });
            assert_eq!(
                document.get("error").is_some(),
                line.exit != 0,
                "SKILL.md:{}: {document}",
                line.at
            );
        }
        if let Some(name) = var {
            let value = stdout.trim().to_owned();
            assert!(
                !value.is_empty() && value != "null" && !value.contains('\n'),
                "SKILL.md:{}: `{}` gave {name} no single value: {value:?}",
                line.at,
                line.text
            );
            self.vars.retain(|(n, _)| *n != name);
            self.vars.push((name, value));
        }
    }

    /// `plurum pulse watch --json`: an event arrives as a JSON line; Ctrl-C
    /// exits 130.
    fn watch(&mut self, line: &Line, command: &str) {
        let mut child = self
            .bash(&format!("exec {command}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = stream_lines(child.stdout.take().unwrap());
        let stderr = stream_lines(child.stderr.take().unwrap());
        wait_for(&stderr, "connected to the pulse as", line);
        self.world.json(&[
            "--profile",
            "helper",
            "session",
            "open",
            "Another public session for the watchers",
        ]);
        let event = wait_for(&stdout, "session_opened", line);
        let event: Value = serde_json::from_str(&event).unwrap();
        assert_eq!(event["event_type"], "session_opened");
        signal(&child, "INT");
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(130), "SKILL.md:{}: Ctrl-C exits 130", line.at);
    }

    /// `plurum daemon`: runs until the story ends.
    fn daemon(&mut self, line: &Line) {
        let mut child = self
            .bash("exec plurum daemon")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = stream_lines(child.stderr.take().unwrap());
        wait_for(&stderr, "running; API on http://", line);
        // Keep draining stderr so the daemon never blocks on it.
        std::thread::spawn(move || stderr.iter().for_each(drop));
        self.daemons.push((child, line.clone()));
    }

    /// `plurum mcp`: answers an MCP host's `initialize`, exits when stdin
    /// closes.
    fn mcp(&mut self, line: &Line) {
        let mut child = self
            .bash("exec plurum mcp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = stream_lines(child.stdout.take().unwrap());
        let mut stdin = child.stdin.take().unwrap();
        writeln!(
            stdin,
            "{}",
            serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {},
                "clientInfo": {"name": "skill-test", "version": "0"}}})
        )
        .unwrap();
        let answer: Value = serde_json::from_str(&wait_for(&stdout, "\"id\":1", line)).unwrap();
        assert_eq!(answer["result"]["serverInfo"]["name"], "plurum", "{answer}");
        drop(stdin);
        assert!(
            child.wait().unwrap().success(),
            "SKILL.md:{}: mcp exits 0 at EOF",
            line.at
        );
    }

    fn finish(self) -> usize {
        for (child, line) in self.daemons {
            signal(&child, "TERM");
            let mut child = child;
            let status = child.wait().unwrap();
            assert_eq!(status.code(), Some(0), "SKILL.md:{}: the daemon stops cleanly", line.at);
        }
        self.ran
    }
}

/// A second agent with an experience and an open session on the guide's
/// topic, so that searches find something and `.active_sessions` is not
/// empty.
fn seeded() -> World {
    let world = World::new();
    world.register("helper", "pool-helper");
    world.json(&[
        "--profile",
        "helper",
        "experience",
        "create",
        "--goal",
        TOPIC,
        "--domain",
        "infrastructure",
        "--tool",
        "pgbouncer",
        "--gotcha",
        "prepared statements break in transaction mode",
        "--breakthrough",
        "transaction pooling",
        "400 connections became 40",
        "--outcome",
        "success",
        "--publish",
    ]);
    world.json(&[
        "--profile",
        "helper",
        "session",
        "open",
        TOPIC,
        "--domain",
        "infrastructure",
    ]);
    world
}

#[test]
fn every_command_of_the_guide_runs_as_written() {
    let lines = block_lines(SKILL);
    assert!(lines.len() >= 40, "the guide's loop: {} lines", lines.len());
    assert!(SKILL.contains(TOPIC));
    let world = seeded();
    let mut agent = Agent::new(&world);
    for line in &lines {
        agent.run(line);
    }
    let ran = agent.finish();
    assert_eq!(ran, lines.len());
    // The error object the guide shows is the one plurum prints.
    let start = SKILL.find("## Errors under --json").unwrap();
    let example = &SKILL[start..];
    let example = &example[example.find("```json\n").unwrap() + 8..];
    let example: Value = serde_json::from_str(&example[..example.find("```").unwrap()]).unwrap();
    let printed = world
        .plurum()
        .args(["experience", "get", "00000000", "--json"])
        .output()
        .unwrap();
    assert_eq!(printed.status.code(), Some(1));
    assert_eq!(serde_json::from_slice::<Value>(&printed.stdout).unwrap(), example);
    // The story left what the guide says it leaves.
    let state = world.state("default");
    assert!(state["pendingOutcomeReports"].as_array().is_some_and(Vec::is_empty));
    assert!(state["lastPlurumCheck"].is_string(), "{state}");
}

#[test]
fn the_curl_table_covers_every_call_and_runs_as_written() {
    let rows = table_rows(SKILL);
    for call in SEED_CALLS {
        let (method, path) = call.split_once(' ').unwrap();
        assert!(
            rows.iter().any(|(first, spans)| {
                let first = first.replace("{identifier}", "{id}").replace("{session_id}", "{id}");
                let covered = match path.strip_suffix('?') {
                    Some(list) => first.starts_with(&format!("`{method} {list}?")),
                    None => first == format!("`{method} {path}`") || first.starts_with(&format!("`{method} {path}?")),
                };
                covered && !spans.is_empty()
            }),
            "SKILL.md's table has no plurum command for {call}"
        );
    }
    let world = seeded();
    let mut agent = Agent::new(&world);
    let mut count = 0;
    for (_, spans) in &rows {
        for span in spans {
            agent.run(span);
            count += 1;
        }
    }
    assert_eq!(agent.finish(), count);
    assert!(count >= SEED_CALLS.len());
}

#[test]
fn plurum_skill_prints_the_guide_it_was_built_with() {
    let world = World::new();
    let output = world.plurum().arg("skill").output().unwrap();
    assert!(output.status.success());
    assert_eq!(String::from_utf8(output.stdout).unwrap().trim_end(), SKILL.trim_end());
    let meta = world.json(&["skill"]);
    assert_eq!(meta["name"], "plurum-cli");
    assert_eq!(meta["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(meta["markdown"], SKILL);
    let version = world.plurum().args(["skill", "--jq", ".version"]).output().unwrap();
    assert_eq!(
        String::from_utf8(version.stdout).unwrap().trim(),
        env!("CARGO_PKG_VERSION")
    );
}

#[test]
fn the_extractor_reads_what_an_agent_reads() {
    let text = "intro `plurum not-this`\n```sh\nplurum a --jq '.x'\n# a comment\n\nplurum b \\\n  --flag\nplurum c   # exit 2\n```\n```json\n{\"plurum\": 1}\n```\n";
    let lines = block_lines(text);
    let texts: Vec<(&str, i32)> = lines.iter().map(|l| (l.text.as_str(), l.exit)).collect();
    assert_eq!(
        texts,
        [("plurum a --jq '.x'", 0), ("plurum b --flag", 0), ("plurum c", 2)]
    );
    assert_eq!(lines[1].at, 6);
}
