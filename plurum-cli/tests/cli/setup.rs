//! `plurum setup` and `plurum doctor` as an agent's operator meets them, on
//! a fake HOME with fake `claude`, `crontab` and `systemctl` executables
//! on PATH that keep their state in files and record what they are asked.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::common::World;

/// A machine: a HOME, a bin folder of fakes first on PATH, their log.
struct Machine {
    home: PathBuf,
    bin: PathBuf,
    fakes: PathBuf,
}

const CRONTAB: &str = r#"#!/bin/sh
echo "crontab $*" >> "$FAKES/calls.log"
case "$1" in
  -l) if [ -f "$FAKES/crontab" ]; then cat "$FAKES/crontab"; else echo "no crontab for $USER" >&2; exit 1; fi ;;
  -) cat > "$FAKES/crontab" ;;
  -r) rm -f "$FAKES/crontab" ;;
  *) echo "fake crontab: $*" >&2; exit 2 ;;
esac
"#;

const SYSTEMCTL: &str = r#"#!/bin/sh
echo "systemctl $*" >> "$FAKES/calls.log"
[ "$1" = "--user" ] || exit 2
shift
mkdir -p "$FAKES/enabled"
case "$1" in
  daemon-reload) ;;
  enable) touch "$FAKES/enabled/$3" ;;
  disable) rm -f "$FAKES/enabled/$3" ;;
  is-enabled) [ -e "$FAKES/enabled/$3" ] ;;
  *) exit 2 ;;
esac
"#;

/// Claude Code's `claude mcp get|add-json|remove`, keeping user-scope
/// servers in ~/.claude.json and project ones in ./.mcp.json.
const CLAUDE: &str = r#"#!/usr/bin/env python3
import json, os, sys
args = sys.argv[1:]
with open(os.path.join(os.environ["FAKES"], "calls.log"), "a") as log:
    log.write("claude " + " ".join(args) + "\n")
if args[:1] != ["mcp"]:
    sys.exit(2)
verb, rest = args[1], args[2:]
scope = "local"
if "--scope" in rest:
    i = rest.index("--scope"); scope = rest[i + 1]; del rest[i:i + 2]
path = os.path.join(os.environ["HOME"], ".claude.json") if scope == "user" else ".mcp.json"
data = json.load(open(path)) if os.path.exists(path) else {}
servers = data.setdefault("mcpServers", {})
if verb == "get":
    found = False
    for p in [os.path.join(os.environ["HOME"], ".claude.json"), ".mcp.json"]:
        if os.path.exists(p) and rest[0] in json.load(open(p)).get("mcpServers", {}):
            found = True
    sys.exit(0 if found else 1)
if verb == "add-json":
    if rest[0] in servers:
        print(f"MCP server {rest[0]} already exists", file=sys.stderr); sys.exit(1)
    servers[rest[0]] = json.loads(rest[1])
elif verb == "remove":
    if rest[0] not in servers:
        print(f"No MCP server named {rest[0]}", file=sys.stderr); sys.exit(1)
    del servers[rest[0]]
else:
    sys.exit(2)
json.dump(data, open(path, "w"), indent=2)
"#;

/// Writes the fakes `names` into `bin` (they keep their state in the
/// folder `$FAKES` names); also used by the SKILL.md runner, so that the
/// guide's `plurum setup` never touches this machine's crontab.
pub(crate) fn install_fakes(bin: &Path, names: &[&str]) {
    std::fs::create_dir_all(bin).unwrap();
    for name in names {
        let text = match *name {
            "crontab" => CRONTAB,
            "systemctl" => SYSTEMCTL,
            "claude" => CLAUDE,
            other => panic!("no fake {other}"),
        };
        // The fake claude runs on the python3 of this test's PATH (by
        // its absolute path: the machine's PATH is the fakes and /usr/bin).
        let text = match python3() {
            Some(python) => text.replacen("#!/usr/bin/env python3", &format!("#!{}", python.display()), 1),
            None => text.to_owned(),
        };
        let path = bin.join(name);
        std::fs::write(&path, text).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
}

fn python3() -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("python3"))
        .find(|p| p.is_file())
}

impl Machine {
    fn new(world: &World, fakes: &[&str]) -> Self {
        let root = world.dir.path().join("machine");
        let (home, bin, state) = (root.join("home"), root.join("bin"), root.join("fakes"));
        for dir in [&home, &bin, &state] {
            std::fs::create_dir_all(dir).unwrap();
        }
        install_fakes(&bin, fakes);
        Self {
            home,
            bin,
            fakes: state,
        }
    }

    fn run(&self, world: &World, args: &[&str]) -> Output {
        self.command(world, args).output().unwrap()
    }

    fn command(&self, world: &World, args: &[&str]) -> std::process::Command {
        let mut command = world.process();
        command
            .current_dir(&self.home)
            .env("HOME", &self.home)
            .env("PATH", format!("{}:/usr/bin:/bin", self.bin.display()))
            .env("FAKES", &self.fakes)
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("CODEX_HOME")
            .env_remove("HERMES_HOME")
            .env_remove("OPENCLAW_HOME")
            .env_remove("UV_CACHE_DIR")
            .env_remove("XDG_CACHE_HOME")
            .arg("--json")
            .args(args)
            .stdin(std::process::Stdio::null());
        command
    }

    fn json(&self, world: &World, args: &[&str]) -> Value {
        let output = self.run(world, args);
        assert!(
            output.status.success(),
            "plurum {args:?}: {:?}\n{}\n{}",
            output.status.code(),
            text(&output.stdout),
            text(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap()
    }

    /// Runs `plurum --json ARGS` with `input` on its stdin.
    fn with_stdin(&self, world: &World, args: &[&str], input: &[u8]) -> Output {
        use std::io::Write as _;
        let mut command = self.command(world, args);
        command
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped());
        let mut child = command.spawn().unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap()
    }

    fn calls(&self) -> String {
        std::fs::read_to_string(self.fakes.join("calls.log")).unwrap_or_default()
    }

    fn crontab(&self) -> Option<String> {
        std::fs::read_to_string(self.fakes.join("crontab")).ok()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Every file under `dir`, with its bytes (for "back to before").
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push((path.clone(), std::fs::read(&path).unwrap()));
            }
        }
    }
    files.sort();
    files
}

fn step<'a>(document: &'a Value, target: &str) -> &'a Value {
    document["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["target"] == target)
        .unwrap_or_else(|| panic!("no step for {target}: {document}"))
}

const CODEX_CONFIG: &str = "# my Codex settings\nmodel = \"o3\"  # the one I like\n\n[mcp_servers.docs]\n# the docs server\ncommand = \"docs-mcp\"\nargs = []\n";

#[test]
fn setup_on_an_empty_machine_then_again_then_undo_leaves_it_as_it_was() {
    let world = World::new();
    let machine = Machine::new(&world, &["crontab", "systemctl", "claude"]);
    std::fs::create_dir_all(machine.home.join(".codex")).unwrap();
    std::fs::write(machine.home.join(".codex/config.toml"), CODEX_CONFIG).unwrap();
    std::fs::create_dir_all(machine.home.join(".cursor")).unwrap();
    let before = snapshot(&machine.home);

    // The plan changes nothing.
    // The same command, as a plan (--dry-run) and applied (--yes).
    let setup = |last: &'static str| {
        [
            "setup",
            "--name",
            "Setup Agent",
            "--username",
            "setup-agent",
            "--host",
            "claude",
            "--host",
            "codex",
            "--host",
            "cursor",
            "--schedule",
            "cron",
            last,
        ]
    };
    let plan = machine.json(&world, &setup("--dry-run"));
    assert_eq!(plan["dry_run"], true, "{plan}");
    assert_eq!(plan["changes"], 5, "identity, three hosts, cron: {plan}");
    assert_eq!(step(&plan, "profile default")["action"], "register", "{plan}");
    assert_eq!(snapshot(&machine.home), before, "a dry run changes nothing");
    assert!(machine.crontab().is_none());
    assert!(!machine.calls().contains("add-json"), "{}", machine.calls());

    let args = setup("--yes");
    let done = machine.json(&world, &args);
    assert_eq!(done["applied"], true, "{done}");
    for target in ["profile default", "claude", "codex", "cursor", "cron"] {
        assert_eq!(step(&done, target)["result"], "done", "{target}: {done}");
    }
    // The agent exists and its key works.
    let me = world.json(&["whoami"]);
    assert_eq!(me["username"], "setup-agent", "{me}");
    // Claude Code through its own command, user scope.
    let calls = machine.calls();
    assert!(calls.contains("claude mcp add-json --scope user plurum {"), "{calls}");
    let claude: Value =
        serde_json::from_str(&std::fs::read_to_string(machine.home.join(".claude.json")).unwrap()).unwrap();
    let exe = claude["mcpServers"]["plurum"]["command"].as_str().unwrap().to_owned();
    assert!(Path::new(&exe).is_file(), "{claude}");
    // Codex: the user's comments and servers kept, ours added.
    let codex = std::fs::read_to_string(machine.home.join(".codex/config.toml")).unwrap();
    for kept in [
        "# my Codex settings",
        "# the one I like",
        "# the docs server",
        "[mcp_servers.docs]",
    ] {
        assert!(codex.contains(kept), "{kept} lost:\n{codex}");
    }
    assert!(codex.contains("[mcp_servers.plurum]"), "{codex}");
    let cursor: Value =
        serde_json::from_str(&std::fs::read_to_string(machine.home.join(".cursor/mcp.json")).unwrap()).unwrap();
    assert_eq!(cursor["mcpServers"]["plurum"]["command"], exe.as_str(), "{cursor}");
    // The crontab: a marked block running this profile's heartbeat.
    let crontab = machine.crontab().expect("a crontab");
    assert!(crontab.contains("# >>> plurum setup"), "{crontab}");
    assert!(crontab.contains("--profile default heartbeat --if-due"), "{crontab}");
    assert!(
        crontab.contains("credentials.toml") && !crontab.contains("No key yet"),
        "{crontab}"
    );
    // The key is in none of them.
    let key = world.stored_key("default");
    for (path, bytes) in snapshot(&machine.home) {
        assert!(!text(&bytes).contains(&key), "the key is in {}", path.display());
    }
    assert!(!crontab.contains(&key));

    // Twice: nothing changes, nothing is called that changes anything.
    let calls_before = machine.calls();
    let after_first = snapshot(&machine.home);
    let again = machine.json(&world, &args);
    assert_eq!(again["changes"], 0, "{again}");
    assert_eq!(snapshot(&machine.home), after_first, "the second run changed files");
    let new_calls = machine.calls()[calls_before.len()..].to_owned();
    assert!(
        !new_calls.contains("add-json") && !new_calls.contains("crontab -\n"),
        "{new_calls}"
    );
    assert_eq!(machine.crontab().unwrap(), crontab);

    // Undo: refused without --yes off a terminal, then back to before,
    // byte for byte; the key stays.
    let refused = machine.run(&world, &["setup", "--undo"]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stdout));
    let undone = machine.json(&world, &["setup", "--undo", "--yes"]);
    assert_eq!(undone["undone"].as_array().unwrap().len(), 4, "{undone}");
    let mut now = snapshot(&machine.home);
    // The fake claude leaves an empty ~/.claude.json behind; setup never writes it.
    now.retain(|(path, _)| !path.ends_with(".claude.json"));
    assert_eq!(now, before, "undo left the machine changed");
    let claude: Value =
        serde_json::from_str(&std::fs::read_to_string(machine.home.join(".claude.json")).unwrap()).unwrap();
    assert!(claude["mcpServers"].get("plurum").is_none(), "{claude}");
    assert!(machine.crontab().is_none(), "an empty crontab is removed as it was");
    assert_eq!(world.json(&["whoami"])["username"], "setup-agent", "the key stays");
    // Nothing left to undo.
    let nothing = machine.json(&world, &["setup", "--undo", "--yes"]);
    assert!(nothing["undone"].as_array().unwrap().is_empty(), "{nothing}");
}

#[test]
fn setup_refuses_without_yes_off_a_terminal_and_changes_nothing() {
    let world = World::new();
    world.register("default", "careful-agent");
    let machine = Machine::new(&world, &["crontab"]);
    let output = machine.run(&world, &["setup", "--host", "cursor", "--schedule", "cron"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    let document: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(document["error"]["code"], "needs_approval", "{document}");
    assert_eq!(document["changes"], 2, "{document}");
    assert_eq!(step(&document, "profile default")["action"], "keep", "{document}");
    assert!(!machine.home.join(".cursor/mcp.json").exists());
    assert!(machine.crontab().is_none());
    // A key on stdin needs --yes even for the plan to be applied.
    let output = machine.run(&world, &["--profile", "other", "setup", "--key-stdin"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stdout));
}

#[test]
fn a_heartbeat_line_installed_earlier_is_recognised_not_doubled_and_edited_files_lose_only_our_entry() {
    let world = World::new();
    world.register("default", "crontab-agent");
    let machine = Machine::new(&world, &["crontab", "systemctl"]);
    let printed = machine.json(&world, &["heartbeat", "--print-cron"]);
    let line = printed["line"].as_str().unwrap().to_owned();
    std::fs::write(
        machine.fakes.join("crontab"),
        format!("MAILTO=ops@example.com\n{line}\n"),
    )
    .unwrap();
    let done = machine.json(&world, &["setup", "--host", "cursor", "--schedule", "cron", "--yes"]);
    assert_eq!(step(&done, "cron")["action"], "unchanged", "{done}");
    assert_eq!(machine.crontab().unwrap().matches(" heartbeat ").count(), 1);
    // The user edits Cursor's file after setup: undo removes only our entry.
    let path = machine.home.join(".cursor/mcp.json");
    let mut cursor: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    cursor["mcpServers"]["mine"] = serde_json::json!({"command": "my-server", "args": []});
    std::fs::write(&path, serde_json::to_string_pretty(&cursor).unwrap()).unwrap();
    let undone = machine.json(&world, &["setup", "--undo", "--yes"]);
    assert_eq!(undone["warnings"].as_array().unwrap().len(), 1, "{undone}");
    let cursor: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert!(cursor["mcpServers"].get("plurum").is_none(), "{cursor}");
    assert_eq!(cursor["mcpServers"]["mine"]["command"], "my-server", "{cursor}");
    // The earlier crontab line was not setup's: it stays.
    assert!(machine.crontab().unwrap().contains(&line));
}

#[test]
fn setup_with_systemd_writes_enables_and_undoes_the_timer() {
    let world = World::new();
    world.register("default", "systemd-agent");
    let machine = Machine::new(&world, &["systemctl"]);
    let done = machine.json(
        &world,
        &[
            "setup",
            "--host",
            "generic",
            "--schedule",
            "systemd",
            "--interval",
            "15m",
            "--yes",
        ],
    );
    assert_eq!(step(&done, "generic")["action"], "print", "{done}");
    assert!(
        step(&done, "generic")["snippet"]
            .as_str()
            .unwrap()
            .contains("mcpServers")
    );
    let units = machine.home.join(".config/systemd/user");
    let timer = std::fs::read_to_string(units.join("plurum-heartbeat-default.timer")).unwrap();
    assert!(timer.contains("OnUnitActiveSec=15min"), "{timer}");
    let service = std::fs::read_to_string(units.join("plurum-heartbeat-default.service")).unwrap();
    assert!(service.contains("--profile default heartbeat"), "{service}");
    assert!(!service.contains(&world.stored_key("default")));
    assert!(machine.fakes.join("enabled/plurum-heartbeat-default.timer").exists());
    let again = machine.json(
        &world,
        &[
            "setup",
            "--host",
            "generic",
            "--schedule",
            "systemd",
            "--interval",
            "15m",
            "--yes",
        ],
    );
    assert_eq!(again["changes"], 0, "{again}");
    machine.json(&world, &["setup", "--undo", "--yes"]);
    assert!(!units.join("plurum-heartbeat-default.timer").exists());
    assert!(!units.join("plurum-heartbeat-default.service").exists());
    assert!(!machine.fakes.join("enabled/plurum-heartbeat-default.timer").exists());
    assert!(
        machine
            .calls()
            .contains("systemctl --user disable --now plurum-heartbeat-default.timer")
    );
}

fn check<'a>(document: &'a Value, name: &str) -> &'a Value {
    document["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}: {document}"))
}

#[test]
fn doctor_passes_a_healthy_profile_and_names_each_problem_with_its_fix() {
    let world = World::new();
    world.register("default", "doctor-agent");
    let machine = Machine::new(&world, &["crontab", "claude"]);
    machine.json(&world, &["setup", "--host", "claude", "--schedule", "cron", "--yes"]);
    machine.json(&world, &["heartbeat", "-q"]);

    // No side effects: every file of the machine and the profile as it was.
    let before = (snapshot(world.dir.path()), machine.calls());
    let healthy = machine.json(&world, &["doctor"]);
    assert_eq!(healthy["fail"], 0, "{healthy}");
    let mut after = snapshot(world.dir.path());
    let calls = machine.calls();
    after.retain(|(path, _)| !path.ends_with("calls.log"));
    let mut was = before.0;
    was.retain(|(path, _)| !path.ends_with("calls.log"));
    assert_eq!(after, was, "doctor changed a file");
    let new_calls = &calls[before.1.len()..];
    assert!(
        new_calls.lines().all(|l| l == "crontab -l"),
        "doctor ran more than crontab -l: {new_calls}"
    );
    for name in [
        "key",
        "server_key",
        "api",
        "clock",
        "schedule",
        "last_heartbeat",
        "mcp.claude",
        "state",
        "writes",
    ] {
        assert_eq!(check(&healthy, name)["status"], "ok", "{name}: {healthy}");
    }

    let broken = |args: &[&str], env: &[(&str, &str)], name: &str| -> Value {
        let mut command = machine.command(&world, &[]);
        command.args(args).arg("doctor");
        for (k, v) in env {
            command.env(k, v);
        }
        let output = command.output().unwrap();
        let document: Value = serde_json::from_slice(&output.stdout).unwrap();
        let found = check(&document, name);
        assert_ne!(found["status"], "ok", "{name}: {document}");
        assert!(
            found["fix"].as_str().is_some_and(|f| !f.is_empty()),
            "{name}: {document}"
        );
        if found["status"] == "fail" {
            assert_eq!(output.status.code(), Some(1), "{document}");
            assert_eq!(document["error"]["code"], "doctor_failed", "{document}");
        }
        document
    };
    // A wrong key.
    let key_file = machine.home.join("wrong.key");
    std::fs::write(&key_file, "plrm_live_wrongwrongwrongwrongwrongwrongwrongwro").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    broken(&["--api-key-file", key_file.to_str().unwrap()], &[], "server_key");
    // The server down.
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/api/v1", listener.local_addr().unwrap())
    };
    broken(&[], &[("PLURUM_API_URL", dead.as_str())], "api");
    // A corrupt state entry.
    let state_path = world.state_file("default");
    let mut state: Value = serde_json::from_str(&std::fs::read_to_string(&state_path).unwrap()).unwrap();
    state["pendingOutcomeReports"] = serde_json::json!([{"identifier": 42, "success": "yes"}]);
    let good = std::fs::read_to_string(&state_path).unwrap();
    std::fs::write(&state_path, state.to_string()).unwrap();
    broken(&[], &[], "state");
    std::fs::write(&state_path, &good).unwrap();
    // A stale heartbeat.
    let mut state: Value = serde_json::from_str(&good).unwrap();
    state["lastPlurumCheck"] = serde_json::json!("2026-01-01T00:00:00Z");
    std::fs::write(&state_path, state.to_string()).unwrap();
    broken(&[], &[], "last_heartbeat");
    std::fs::write(&state_path, &good).unwrap();
    // A registration pointing at a missing binary.
    let path = machine.home.join(".claude.json");
    let mut claude: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    claude["mcpServers"]["plurum"]["command"] = serde_json::json!("/nowhere/plurum");
    std::fs::write(&path, claude.to_string()).unwrap();
    broken(&[], &[], "mcp.claude");
    // No schedule.
    std::fs::remove_file(machine.fakes.join("crontab")).unwrap();
    let document = broken(&[], &[], "schedule");
    assert!(
        check(&document, "schedule")["fix"]
            .as_str()
            .unwrap()
            .contains("plurum setup --schedule")
    );
    // A report queued while the server was down: counted, with its age.
    let queued = machine
        .command(&world, &["outcome", "report", "deadbeef", "--success"])
        .env("PLURUM_API_URL", dead.as_str())
        .output()
        .unwrap();
    assert_eq!(queued.status.code(), Some(0), "{}", text(&queued.stdout));
    let output = machine.run(&world, &["doctor"]);
    let document: Value = serde_json::from_slice(&output.stdout).unwrap();
    let writes = check(&document, "writes")["seen"].as_str().unwrap().to_owned();
    assert!(
        writes.starts_with("1 write(s) queued") && writes.contains(" ago)"),
        "{writes}"
    );
}

#[test]
fn a_claude_server_of_the_same_name_in_another_scope_is_named_not_collided_with() {
    let world = World::new();
    world.register("default", "scoped-agent");
    let machine = Machine::new(&world, &["claude", "crontab"]);
    std::fs::write(
        machine.home.join(".mcp.json"),
        r#"{"mcpServers": {"plurum": {"type": "stdio", "command": "old-plurum", "args": []}}}"#,
    )
    .unwrap();
    let output = machine.run(&world, &["setup", "--host", "claude", "--schedule", "none", "--yes"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let document: Value = serde_json::from_slice(&output.stdout).unwrap();
    let claude = step(&document, "claude");
    assert_eq!(claude["result"], "failed", "{document}");
    assert!(
        claude["error"].as_str().unwrap().contains("another scope"),
        "{document}"
    );
    assert!(!machine.calls().contains("add-json"), "{}", machine.calls());
    // With the project scope, the same server is replaced there.
    let done = machine.json(
        &world,
        &[
            "setup",
            "--host",
            "claude",
            "--scope",
            "project",
            "--schedule",
            "none",
            "--yes",
        ],
    );
    assert_eq!(step(&done, "claude")["action"], "replace", "{done}");
    let project: Value =
        serde_json::from_str(&std::fs::read_to_string(machine.home.join(".mcp.json")).unwrap()).unwrap();
    assert_ne!(project["mcpServers"]["plurum"]["command"], "old-plurum", "{project}");
    // Undo puts the replaced entry back.
    machine.json(&world, &["setup", "--undo", "--yes"]);
    let project: Value =
        serde_json::from_str(&std::fs::read_to_string(machine.home.join(".mcp.json")).unwrap()).unwrap();
    assert_eq!(project["mcpServers"]["plurum"]["command"], "old-plurum", "{project}");
}

#[test]
fn a_plurum_running_from_uvs_cache_is_never_written_into_a_crontab_or_a_host() {
    let world = World::new();
    world.register("default", "cached-agent");
    let machine = Machine::new(&world, &["crontab"]);
    // uvx on PATH (never run here), and plurum unpacked in uv's cache.
    let uvx = machine.bin.join("uvx");
    std::fs::write(&uvx, "#!/bin/sh\nexit 0\n").unwrap();
    let cache = machine.home.join(".cache/uv/archive-v0/abc123/bin");
    std::fs::create_dir_all(&cache).unwrap();
    let cached = cache.join("plurum");
    std::fs::copy(env!("CARGO_BIN_EXE_plurum"), &cached).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&uvx, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let command = machine.command(&world, &["setup", "--host", "cursor", "--schedule", "cron", "--yes"]);
    let mut cached_command = std::process::Command::new(&cached);
    for (name, value) in command.get_envs() {
        match value {
            Some(value) => cached_command.env(name, value),
            None => cached_command.env_remove(name),
        };
    }
    cached_command
        .current_dir(&machine.home)
        .args(command.get_args())
        .stdin(std::process::Stdio::null());
    let output = cached_command.output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    let crontab = machine.crontab().unwrap();
    assert!(crontab.contains("uvx --from 'plurum-cli=="), "{crontab}");
    assert!(!crontab.contains(".cache/uv"), "{crontab}");
    let cursor = std::fs::read_to_string(machine.home.join(".cursor/mcp.json")).unwrap();
    assert!(cursor.contains("\"uvx\"") && !cursor.contains(".cache/uv"), "{cursor}");
    // Asked for the path, it refuses.
    let mut refused = std::process::Command::new(&cached);
    for (name, value) in command.get_envs() {
        match value {
            Some(value) => refused.env(name, value),
            None => refused.env_remove(name),
        };
    }
    let output = refused
        .current_dir(&machine.home)
        .args(["--json", "setup", "--launch", "path", "--host", "cursor", "--yes"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stdout));
}

#[test]
fn setup_takes_a_key_from_stdin_or_a_plugin_and_checks_it_first() {
    let world = World::new();
    world.register("donor", "key-donor");
    let key = world.stored_key("donor");
    let machine = Machine::new(&world, &[]);
    // From stdin (with --yes): checked with the server, then stored.
    let args = |profile: &'static str| {
        [
            "--profile",
            profile,
            "setup",
            "--key-stdin",
            "--host",
            "generic",
            "--schedule",
            "none",
            "--yes",
        ]
    };
    let output = machine.with_stdin(&world, &args("piped"), format!("{key}\n").as_bytes());
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stdout));
    let document: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(step(&document, "profile piped")["action"], "login", "{document}");
    assert!(!text(&output.stdout).contains(&key), "the key is never printed");
    assert_eq!(world.json(&["--profile", "piped", "whoami"])["username"], "key-donor");
    // From the Hermes plugin's file.
    let hermes = machine.home.join(".hermes");
    std::fs::create_dir_all(&hermes).unwrap();
    std::fs::write(
        hermes.join("plurum.json"),
        serde_json::json!({"api_key": key}).to_string(),
    )
    .unwrap();
    let done = machine.json(
        &world,
        &[
            "--profile",
            "imported",
            "setup",
            "--import",
            "hermes",
            "--host",
            "generic",
            "--schedule",
            "none",
            "--yes",
        ],
    );
    assert_eq!(step(&done, "profile imported")["result"], "done", "{done}");
    assert_eq!(
        world.json(&["--profile", "imported", "whoami"])["username"],
        "key-donor"
    );
    // A wrong key on stdin: the identity step fails, nothing is stored.
    let output = machine.with_stdin(
        &world,
        &args("wrong"),
        b"plrm_live_wrongwrongwrongwrongwrongwrongwrongwro\n",
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stdout));
    let document: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(step(&document, "profile wrong")["result"], "failed", "{document}");
    let status = machine.run(&world, &["--profile", "wrong", "whoami"]);
    assert_eq!(status.status.code(), Some(4), "no key was stored");
}

#[test]
fn doctor_reads_claudes_local_scope_for_this_directory() {
    let world = World::new();
    world.register("default", "local-scope-agent");
    let machine = Machine::new(&world, &["crontab"]);
    let claude = serde_json::json!({"projects": {machine.home.to_str().unwrap(): {"mcpServers": {
        "plurum": {"type": "stdio", "command": "/gone/plurum", "args": ["mcp"]}
    }}}});
    std::fs::write(machine.home.join(".claude.json"), claude.to_string()).unwrap();
    let output = machine.run(&world, &["doctor"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stdout));
    let document: Value = serde_json::from_slice(&output.stdout).unwrap();
    let local = check(&document, "mcp.claude_local");
    assert_eq!(local["status"], "fail", "{document}");
    assert!(local["seen"].as_str().unwrap().contains("/gone/plurum"), "{document}");
    assert!(
        local["fix"].as_str().unwrap().contains("setup --host claude"),
        "{document}"
    );
}

#[test]
fn a_config_kept_elsewhere_through_a_symlink_stays_a_link_and_a_damaged_manifest_stops_setup() {
    let world = World::new();
    world.register("default", "dotfiles-agent");
    let machine = Machine::new(&world, &[]);
    // Codex's config lives in a dotfiles folder, linked into ~/.codex.
    let dotfiles = machine.home.join("dotfiles");
    std::fs::create_dir_all(&dotfiles).unwrap();
    std::fs::create_dir_all(machine.home.join(".codex")).unwrap();
    std::fs::write(dotfiles.join("codex.toml"), CODEX_CONFIG).unwrap();
    let link = machine.home.join(".codex/config.toml");
    #[cfg(unix)]
    std::os::unix::fs::symlink(dotfiles.join("codex.toml"), &link).unwrap();
    machine.json(&world, &["setup", "--host", "codex", "--schedule", "none", "--yes"]);
    assert!(
        std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(),
        "the link was replaced"
    );
    let written = std::fs::read_to_string(dotfiles.join("codex.toml")).unwrap();
    assert!(
        written.contains("[mcp_servers.plurum]") && written.contains("# my Codex settings"),
        "{written}"
    );
    machine.json(&world, &["setup", "--undo", "--yes"]);
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    assert_eq!(
        std::fs::read_to_string(dotfiles.join("codex.toml")).unwrap(),
        CODEX_CONFIG
    );

    // A manifest that does not read: nothing is changed.
    std::fs::write(world.state_dir().join("default").join("setup.json"), "{not json").unwrap();
    let output = machine.run(&world, &["setup", "--host", "codex", "--schedule", "none", "--yes"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stdout));
    let document: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(document["error"]["code"], "manifest_damaged", "{document}");
    assert_eq!(
        std::fs::read_to_string(dotfiles.join("codex.toml")).unwrap(),
        CODEX_CONFIG
    );
}
