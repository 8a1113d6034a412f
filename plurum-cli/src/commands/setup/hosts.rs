//! The MCP server in agent hosts: Claude Code through its own `claude mcp`
//! commands (never by editing `~/.claude.json`, which is only read), Codex
//! and Cursor by editing their configuration files (Codex's comments and
//! other servers kept), a generic host by printing its JSON.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde_json::{Value, json};

use super::manifest::{self, Change};
use super::{Step, Work};
use crate::commands::mcp::{Host, ServerEntry};

/// Claude Code's scopes setup registers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Scope {
    /// Every project of this user (`~/.claude.json`).
    User,
    /// This directory's project (`.mcp.json`, meant to be committed).
    Project,
}

impl Scope {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Project => "project",
        }
    }
}

/// The home directory (`HOME`, else the OS's idea of it).
pub(crate) fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .or_else(|| directories::BaseDirs::new().map(|b| b.home_dir().to_owned()))
}

/// Where Codex keeps its configuration: `$CODEX_HOME/config.toml`, else
/// `~/.codex/config.toml`.
pub(crate) fn codex_config() -> Option<PathBuf> {
    match std::env::var_os("CODEX_HOME").filter(|h| !h.is_empty()) {
        Some(dir) => Some(PathBuf::from(dir).join("config.toml")),
        None => home().map(|h| h.join(".codex").join("config.toml")),
    }
}

/// Cursor's user configuration: `~/.cursor/mcp.json`.
pub(crate) fn cursor_config() -> Option<PathBuf> {
    home().map(|h| h.join(".cursor").join("mcp.json"))
}

/// Where Claude Code keeps a scope's servers: `~/.claude.json` (user) or
/// `./.mcp.json` (project); both hold `{"mcpServers": {NAME: …}}`.
pub(crate) fn claude_config(scope: Scope) -> Option<PathBuf> {
    match scope {
        Scope::User => home().map(|h| h.join(".claude.json")),
        Scope::Project => std::env::current_dir().ok().map(|d| d.join(".mcp.json")),
    }
}

/// An executable on PATH.
pub(crate) fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file() || path.with_extension("exe").is_file() || path.with_extension("cmd").is_file()
    }
}

/// The hosts setup registers with when `--host` is not given: those whose
/// traces are on this machine (`claude` on PATH, `~/.codex`, `~/.cursor`),
/// else the generic JSON, printed.
pub(crate) fn detected() -> Vec<Host> {
    let mut hosts = Vec::new();
    if on_path("claude").is_some() {
        hosts.push(Host::Claude);
    }
    if codex_config()
        .and_then(|p| p.parent().map(Path::is_dir))
        .unwrap_or(false)
    {
        hosts.push(Host::Codex);
    }
    if cursor_config()
        .and_then(|p| p.parent().map(Path::is_dir))
        .unwrap_or(false)
    {
        hosts.push(Host::Cursor);
    }
    if hosts.is_empty() {
        hosts.push(Host::Generic);
    }
    hosts
}

/// The entry Claude Code stores for a stdio server.
fn claude_json(entry: &ServerEntry) -> Value {
    let mut server = json!({"type": "stdio"});
    if let (Value::Object(members), Value::Object(rest)) = (&mut server, entry.json()) {
        members.extend(rest);
    }
    server
}

/// A JSON file's `mcpServers.NAME`, if the file parses.
pub(crate) fn json_entry(path: &Path, name: &str) -> Option<Value> {
    let text = crate::files::read_regular_string(path, 16 * 1024 * 1024).ok()?;
    let value: Value = serde_json::from_str(&text).ok()?;
    value.get("mcpServers")?.get(name).cloned()
}

/// Claude Code's local scope (this directory only, kept in
/// `~/.claude.json` under `projects[DIR].mcpServers`): the entry for the
/// current directory, if any.
pub(crate) fn claude_local_entry(name: &str) -> Option<Value> {
    let path = claude_config(Scope::User)?;
    let text = crate::files::read_regular_string(&path, 16 * 1024 * 1024).ok()?;
    let value: Value = serde_json::from_str(&text).ok()?;
    let dir = std::env::current_dir().ok()?;
    value
        .get("projects")?
        .get(dir.to_string_lossy().as_ref())?
        .get("mcpServers")?
        .get(name)
        .cloned()
}

/// Codex's `mcp_servers.NAME` as JSON (`{command, args, env?}`), if the file parses.
pub(crate) fn codex_entry(path: &Path, name: &str) -> Option<Value> {
    let text = crate::files::read_regular_string(path, 16 * 1024 * 1024).ok()?;
    let value: toml::Value = toml::from_str(&text).ok()?;
    let table = value.get("mcp_servers")?.get(name)?;
    serde_json::to_value(table).ok()
}

/// Whether two server entries start the same thing (`type` aside).
fn same_server(a: &Value, b: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(map) = v.as_object_mut() {
            map.remove("type");
            if map
                .get("env")
                .is_some_and(|e| e.as_object().is_some_and(serde_json::Map::is_empty))
            {
                map.remove("env");
            }
        }
        v
    };
    strip(a) == strip(b)
}

/// The step that registers `entry` with `host`.
pub(crate) fn plan(host: Host, entry: &ServerEntry, scope: Scope) -> anyhow::Result<Step> {
    let name = entry.name.clone();
    Ok(match host {
        Host::Claude => {
            let desired = claude_json(entry);
            let add = format!(
                "claude mcp add-json --scope {} {} {}",
                scope.name(),
                crate::heartbeat::cron::shell_quote(&name),
                crate::heartbeat::cron::shell_quote(&serde_json::to_string(&desired)?)
            );
            let Some(claude) = on_path("claude") else {
                return Ok(Step::new(
                    "mcp",
                    "claude",
                    "print",
                    format!("claude is not on PATH: run this where it is: {add}"),
                    Work::Print(add),
                ));
            };
            let existing = claude_config(scope).and_then(|p| json_entry(&p, &name));
            // Not in this scope's file: `claude mcp get` says whether Claude
            // Code has it elsewhere (another scope takes precedence, and an
            // add would collide with it).
            if existing.is_none()
                && std::process::Command::new(&claude)
                    .args(["mcp", "get", &name])
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            {
                return Err(crate::exit::CliError::new(
                    crate::exit::ERROR,
                    format!(
                        "Claude Code has a server {name} in another scope than {}",
                        scope.name()
                    ),
                )
                .hint(format!(
                    "see it with 'claude mcp get {name}'; remove it there (claude mcp remove {name} --scope local|project|user) or run setup with that --scope"
                ))
                .into());
            }
            match existing {
                Some(existing) if same_server(&existing, &desired) => Step::unchanged(
                    "mcp",
                    "claude",
                    format!("server {name} is registered with Claude Code ({} scope)", scope.name()),
                ),
                previous => Step::new(
                    "mcp",
                    "claude",
                    if previous.is_some() { "replace" } else { "add" },
                    format!(
                        "{} server {name} with Claude Code ({} scope) through {}",
                        if previous.is_some() { "replace" } else { "add" },
                        scope.name(),
                        claude.display()
                    ),
                    Work::Claude {
                        claude,
                        name,
                        scope,
                        json: desired,
                        previous,
                    },
                ),
            }
        }
        Host::Codex => {
            let path = codex_config().context("no home directory for Codex's config.toml")?;
            let before = read_optional(&path)?;
            let text = String::from_utf8_lossy(before.as_deref().unwrap_or_default()).into_owned();
            let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e| {
                anyhow::Error::new(
                    crate::exit::CliError::new(
                        crate::exit::ERROR,
                        format!("{} is not valid TOML: {e}", path.display()),
                    )
                    .hint("fix it in an editor, then run plurum setup again (it is left as it is)"),
                )
            })?;
            if codex_entry(&path, &name).is_some_and(|e| same_server(&e, &entry.json())) {
                return Ok(
                    Step::unchanged("mcp", "codex", format!("server {name} is in {}", path.display())).at(&path),
                );
            }
            set_codex_entry(&mut doc, entry);
            let action = if codex_entry(&path, &name).is_some() {
                "replace"
            } else {
                "add"
            };
            Step::new(
                "mcp",
                "codex",
                action,
                format!("{action} [mcp_servers.{name}] in {}", path.display()),
                Work::HostFile {
                    host: "codex",
                    path: path.clone(),
                    entry: name,
                    before,
                    after: doc.to_string().into_bytes(),
                },
            )
            .at(&path)
        }
        Host::Cursor => {
            let path = cursor_config().context("no home directory for Cursor's mcp.json")?;
            let before = read_optional(&path)?;
            let mut value: Value = match &before {
                Some(bytes) if !bytes.iter().all(u8::is_ascii_whitespace) => {
                    serde_json::from_slice(bytes).map_err(|e| {
                        anyhow::Error::new(
                            crate::exit::CliError::new(
                                crate::exit::ERROR,
                                format!("{} is not valid JSON: {e}", path.display()),
                            )
                            .hint("fix it in an editor, then run plurum setup again (it is left as it is)"),
                        )
                    })?
                }
                _ => json!({}),
            };
            if json_entry(&path, &name).is_some_and(|e| same_server(&e, &entry.json())) {
                return Ok(
                    Step::unchanged("mcp", "cursor", format!("server {name} is in {}", path.display())).at(&path),
                );
            }
            let action = if json_entry(&path, &name).is_some() {
                "replace"
            } else {
                "add"
            };
            if !value.get("mcpServers").is_some_and(Value::is_object) {
                value["mcpServers"] = json!({});
            }
            value["mcpServers"][&name] = entry.json();
            let mut after = serde_json::to_string_pretty(&value)?;
            after.push('\n');
            Step::new(
                "mcp",
                "cursor",
                action,
                format!("{action} mcpServers.{name} in {}", path.display()),
                Work::HostFile {
                    host: "cursor",
                    path: path.clone(),
                    entry: name,
                    before,
                    after: after.into_bytes(),
                },
            )
            .at(&path)
        }
        Host::Generic => {
            let snippet = crate::commands::mcp::snippet(Host::Generic, entry)?;
            Step::new(
                "mcp",
                "generic",
                "print",
                "paste this into the host's MCP configuration".to_owned(),
                Work::Print(snippet),
            )
        }
    })
}

/// A file's bytes, or `None` when there is none.
pub(crate) fn read_optional(path: &Path) -> anyhow::Result<Option<Vec<u8>>> {
    match crate::files::read_regular(path, 16 * 1024 * 1024) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("could not read {}", path.display())),
    }
}

fn set_codex_entry(doc: &mut toml_edit::DocumentMut, entry: &ServerEntry) {
    let servers = doc.entry("mcp_servers").or_insert_with(|| {
        let mut table = toml_edit::Table::new();
        table.set_implicit(true);
        toml_edit::Item::Table(table)
    });
    let mut table = toml_edit::Table::new();
    table["command"] = toml_edit::value(entry.command.clone());
    let mut args = toml_edit::Array::new();
    for arg in &entry.args {
        args.push(arg.as_str());
    }
    table["args"] = toml_edit::value(args);
    if !entry.env.is_empty() {
        let mut env = toml_edit::Table::new();
        for (k, v) in &entry.env {
            env[k.as_str()] = toml_edit::value(v.as_str().unwrap_or_default());
        }
        table["env"] = toml_edit::Item::Table(env);
    }
    if let Some(servers) = servers.as_table_like_mut() {
        servers.insert(&entry.name, toml_edit::Item::Table(table));
    }
}

/// Removes our entry from a host file's text (undo after the user edited
/// the file): the rest stays as it is.
pub(crate) fn without_entry(host: &str, text: &[u8], entry: &str) -> anyhow::Result<Vec<u8>> {
    let text = String::from_utf8_lossy(text);
    Ok(match host {
        "codex" => {
            let mut doc: toml_edit::DocumentMut = text.parse()?;
            if let Some(servers) = doc.get_mut("mcp_servers").and_then(toml_edit::Item::as_table_like_mut) {
                servers.remove(entry);
            }
            doc.to_string().into_bytes()
        }
        _ => {
            let mut value: Value = serde_json::from_str(&text)?;
            if let Some(servers) = value.get_mut("mcpServers").and_then(Value::as_object_mut) {
                servers.shift_remove(entry);
            }
            let mut out = serde_json::to_string_pretty(&value)?;
            out.push('\n');
            out.into_bytes()
        }
    })
}

/// Writes a host's file (its mode kept when it existed), returning the
/// manifest record.
pub(crate) fn write_host_file(
    state_dir: &Path,
    host: &str,
    path: &Path,
    entry: &str,
    before: Option<&[u8]>,
    after: &[u8],
) -> anyhow::Result<Change> {
    let backup = match before {
        Some(bytes) => Some(manifest::backup(state_dir, &format!("{host}.bak"), bytes)?),
        None => None,
    };
    write_keeping_mode(path, after)?;
    Ok(Change::HostFile {
        host: host.to_owned(),
        path: path.to_owned(),
        entry: entry.to_owned(),
        backup,
        after_sha256: manifest::sha256(after),
    })
}

/// Writes a file atomically, keeping the mode it had (new files: 0600). A
/// file reached through a symlink (dotfiles kept in a repository) is
/// written where it lives: the link stays a link.
pub(crate) fn write_keeping_mode(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let target = match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            std::fs::canonicalize(path).with_context(|| format!("{} is a link to nowhere", path.display()))?
        }
        _ => path.to_owned(),
    };
    let path = target.as_path();
    let mode = std::fs::metadata(path).ok().map(|m| m.permissions());
    crate::paths::write_atomic(path, bytes)?;
    if let Some(mode) = mode {
        std::fs::set_permissions(path, mode)
            .with_context(|| format!("could not set the mode of {}", path.display()))?;
    }
    Ok(())
}
