//! `plurum mcp`: the MCP server (see [`crate::mcp`]), and the configuration
//! that registers it with agent hosts (`--print-config HOST`), printed as
//! exactly one thing that works when pasted or run.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::context::Options;
use crate::exit::{self, CliError};
use crate::output::Output;

/// `plurum mcp` arguments.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  plurum mcp --print-config claude | sh     # runs claude mcp add-json
  plurum mcp --print-config codex >> ~/.codex/config.toml
  plurum mcp --print-config cursor          # for ~/.cursor/mcp.json
  plurum --profile work mcp --print-config claude --launch uvx
  plurum --profile work mcp                 # what the host runs (stdio)

Serves the Model Context Protocol on stdin and stdout for agent hosts that
speak it (Claude Code, Codex, Cursor, OpenClaw, Hermes). Tools:
plurum_search, plurum_get_experience, plurum_get_artifact, plurum_acquire,
plurum_report_outcome, plurum_vote, plurum_session_open, plurum_session_log,
plurum_session_close, plurum_session_abandon, plurum_contribute,
plurum_contributions, plurum_inbox, plurum_pulse_status, plurum_heartbeat.
Each runs the plurum command it stands for, with this profile's key, state,
outbox and safety gate; a failure is a tool error holding the CLI's error
object.

The server is named plurum (plurum-PROFILE for another profile). The
configuration carries --profile, --api-url, --api-key-file (made absolute)
and PLURUM_CONFIG_DIR, PLURUM_STATE_DIR, PLURUM_API_URL and
PLURUM_NO_KEYRING as this shell has them; never a key, never a password in
a URL.")]
pub(crate) struct Args {
    /// Print the configuration that registers this server with a host, and exit.
    #[arg(long, value_enum, value_name = "HOST")]
    print_config: Option<Host>,
    /// How the host starts plurum: this binary's path (default), or uvx with
    /// the Python package pinned to this version.
    #[arg(long, value_enum, value_name = "HOW", requires = "print_config")]
    launch: Option<Launch>,
}

/// Agent hosts with a known configuration format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Host {
    /// Claude Code: one `claude mcp add-json` command line.
    Claude,
    /// Codex: a `[mcp_servers.NAME]` table for `~/.codex/config.toml`.
    Codex,
    /// Cursor: `{"mcpServers": …}` for `~/.cursor/mcp.json`.
    Cursor,
    /// Any host that reads `{"mcpServers": …}`.
    Generic,
}

impl Host {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Claude => "claude",
            Self::Codex => "codex",
            Self::Cursor => "cursor",
            Self::Generic => "generic",
        }
    }
}

/// How a host starts plurum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Launch {
    /// This binary, by its absolute path.
    Path,
    /// `uvx --from plurum-cli==VERSION plurum …` (the Python package).
    Uvx,
}

impl Launch {
    fn name(self) -> &'static str {
        match self {
            Self::Path => "path",
            Self::Uvx => "uvx",
        }
    }
}

pub(crate) async fn run(args: Args, options: &Options) -> anyhow::Result<u8> {
    match args.print_config {
        Some(host) => print_config(host, args.launch, options),
        None => crate::mcp::serve(options).await,
    }
}

/// The server entry a host runs: `{command, args, env?}`, and its name.
#[derive(Debug, Clone)]
pub(crate) struct ServerEntry {
    /// `plurum`, or `plurum-PROFILE`.
    pub(crate) name: String,
    pub(crate) command: String,
    pub(crate) args: Vec<String>,
    pub(crate) env: Map<String, Value>,
    pub(crate) launch: Launch,
}

impl ServerEntry {
    /// `{command, args, env?}`, as every host's JSON takes it.
    pub(crate) fn json(&self) -> Value {
        let mut server = json!({"command": self.command, "args": self.args});
        if !self.env.is_empty() {
            server["env"] = Value::Object(self.env.clone());
        }
        server
    }
}

/// Whether `exe` lives in uv's cache (where `uvx` unpacks packages): uv
/// removes it on `uv cache clean` or prune, so it must never be written
/// into a host's configuration, a crontab or a unit.
pub(crate) fn in_uv_cache(exe: &Path) -> bool {
    let text = exe.to_string_lossy().replace('\\', "/");
    let mut caches: Vec<String> = Vec::new();
    if let Some(dir) = std::env::var_os("UV_CACHE_DIR").filter(|d| !d.is_empty()) {
        caches.push(PathBuf::from(dir).to_string_lossy().replace('\\', "/"));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        caches.push(format!(
            "{}/uv",
            PathBuf::from(dir).to_string_lossy().replace('\\', "/")
        ));
    }
    caches
        .iter()
        .any(|cache| text.starts_with(&format!("{}/", cache.trim_end_matches('/'))))
        || ["/.cache/uv/", "/Library/Caches/uv/", "/uv/cache/"]
            .iter()
            .any(|marker| text.contains(marker))
}

/// The server entry for this profile and this shell's settings.
///
/// # Errors
/// A usage error for `--launch path` when this binary runs from uv's cache.
pub(crate) fn server_entry(options: &Options, launch: Option<Launch>, out: &Output) -> anyhow::Result<ServerEntry> {
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("plurum"));
    let cached = in_uv_cache(&exe);
    let launch = match launch {
        Some(Launch::Path) if cached => {
            return Err(CliError::new(
                exit::USAGE,
                format!(
                    "this plurum runs from uv's cache ({}), which uv may delete",
                    exe.display()
                ),
            )
            .hint("use --launch uvx, or install it for good first: uv tool install plurum-cli (then run that plurum)")
            .into());
        }
        Some(launch) => launch,
        None if cached => {
            out.note(
                "note: this plurum runs from uv's cache, which uv may delete: the configuration starts it with uvx (pinned to this version)",
            );
            Launch::Uvx
        }
        None => Launch::Path,
    };
    let profile = if options.profile.is_empty() {
        "default"
    } else {
        options.profile.as_str()
    };
    let name = if profile == "default" {
        "plurum".to_owned()
    } else {
        format!("plurum-{profile}")
    };
    // The global flags this shell was given, so the host's plurum acts as
    // this one does.
    let mut globals: Vec<String> = Vec::new();
    if profile != "default" {
        globals.extend(["--profile".to_owned(), profile.to_owned()]);
    }
    let env_url = std::env::var("PLURUM_API_URL").ok().filter(|v| !v.trim().is_empty());
    if let Some(url) = &options.api_url
        && env_url.as_deref().map(str::trim) != Some(url.trim())
    {
        globals.extend(["--api-url".to_owned(), without_credentials(url, "--api-url", out)]);
    }
    if let Some(file) = &options.api_key_file {
        let absolute = std::path::absolute(file).unwrap_or_else(|_| file.clone());
        globals.extend(["--api-key-file".to_owned(), absolute.display().to_string()]);
    }
    // The directories this shell uses, so the host's plurum finds the same
    // key and state (never the key itself).
    let mut env = Map::new();
    for variable in [
        "PLURUM_CONFIG_DIR",
        "PLURUM_STATE_DIR",
        "PLURUM_API_URL",
        "PLURUM_NO_KEYRING",
    ] {
        if let Some(value) = std::env::var(variable).ok().filter(|v| !v.is_empty()) {
            let value = match variable {
                "PLURUM_API_URL" => without_credentials(&value, variable, out),
                "PLURUM_CONFIG_DIR" | "PLURUM_STATE_DIR" => std::path::absolute(&value)
                    .map(|p| p.display().to_string())
                    .unwrap_or(value),
                _ => value,
            };
            env.insert(variable.to_owned(), json!(value));
        }
    }
    let (command, mut args) = match launch {
        Launch::Path => (exe.display().to_string(), Vec::new()),
        Launch::Uvx => (
            "uvx".to_owned(),
            vec![
                "--from".to_owned(),
                format!("plurum-cli=={}", crate::build_info::VERSION),
                "plurum".to_owned(),
            ],
        ),
    };
    args.extend(globals);
    args.push("mcp".to_owned());
    Ok(ServerEntry {
        name,
        command,
        args,
        env,
        launch,
    })
}

/// Where the key the host's plurum will use comes from, said when it may
/// not reach it.
fn warn_about_the_key(options: &Options, out: &Output) {
    if std::env::var_os("PLURUM_API_KEY").is_some_and(|v| !v.is_empty()) {
        out.warn(
            "PLURUM_API_KEY is set in this shell, but a key never goes into a host's configuration: the host's plurum uses the profile's stored key (plurum auth login) or its own PLURUM_API_KEY",
        );
        return;
    }
    if options.api_key_file.is_some() {
        return;
    }
    let Ok(paths) = crate::paths::Paths::resolve() else {
        return;
    };
    let profile = if options.profile.is_empty() {
        "default"
    } else {
        options.profile.as_str()
    };
    if let Ok(Some((_, crate::secrets::KeySource::Keyring))) =
        crate::secrets::Secrets::new(&paths, profile).resolve(None)
    {
        out.note(
            "note: the key is in the OS keyring; a host started without a desktop session may not reach it (plurum doctor reports it); PLURUM_NO_KEYRING=1 plurum auth login stores it in the private file instead",
        );
    }
}

fn print_config(host: Host, launch: Option<Launch>, options: &Options) -> anyhow::Result<u8> {
    let out = options.output();
    let entry = server_entry(options, launch, &out)?;
    warn_about_the_key(options, &out);
    let snippet = snippet(host, &entry)?;
    out.emit(
        &json!({
            "host": host.name(),
            "name": entry.name,
            "launch": entry.launch.name(),
            "server": entry.json(),
            "snippet": snippet,
        }),
        || snippet.clone(),
    )?;
    Ok(exit::OK)
}

/// The one thing to paste or run for `host`.
pub(crate) fn snippet(host: Host, entry: &ServerEntry) -> anyhow::Result<String> {
    let quote = |s: &str| shlex::try_quote(s).map_or_else(|_| format!("'{s}'"), |q| q.into_owned());
    Ok(match host {
        Host::Claude => {
            // `add-json NAME JSON`: `claude mcp add -e K=V NAME` lets the
            // variadic -e swallow the name.
            let mut server = json!({"type": "stdio"});
            if let (Value::Object(members), Value::Object(rest)) = (&mut server, entry.json()) {
                members.extend(rest);
            }
            format!(
                "claude mcp add-json --scope user {} {}",
                quote(&entry.name),
                quote(&serde_json::to_string(&server)?)
            )
        }
        Host::Codex => {
            let key = toml_key(&entry.name);
            let mut toml = format!(
                "[mcp_servers.{key}]\ncommand = {}\nargs = [{}]\n",
                toml_string(&entry.command),
                entry.args.iter().map(|a| toml_string(a)).collect::<Vec<_>>().join(", ")
            );
            if !entry.env.is_empty() {
                toml.push_str(&format!("\n[mcp_servers.{key}.env]\n"));
                for (k, v) in &entry.env {
                    toml.push_str(&format!("{k} = {}\n", toml_string(v.as_str().unwrap_or_default())));
                }
            }
            toml
        }
        Host::Cursor | Host::Generic => {
            serde_json::to_string_pretty(&json!({"mcpServers": {entry.name.clone(): entry.json()}}))?
        }
    })
}

/// A URL without a user name or password in it (a configuration ends up in
/// files and shell history; the key never goes there, nor does this).
fn without_credentials(value: &str, what: &str, out: &Output) -> String {
    match reqwest::Url::parse(value.trim()) {
        Ok(mut url) if !url.username().is_empty() || url.password().is_some() => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            out.warn(&format!(
                "{what} holds credentials; the configuration leaves them out (give the host its own copy)"
            ));
            url.to_string()
        }
        _ => value.trim().to_owned(),
    }
}

fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

/// A TOML key, quoted unless it is a bare key (a profile name may hold a
/// dot, which would nest the table).
fn toml_key(name: &str) -> String {
    if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        name.to_owned()
    } else {
        toml_string(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_uvs_cache_counts_as_the_cache() {
        assert!(in_uv_cache(Path::new("/home/a/.cache/uv/archive-v0/abc/bin/plurum")));
        assert!(in_uv_cache(Path::new(
            "/Users/a/Library/Caches/uv/archive-v0/abc/bin/plurum"
        )));
        assert!(in_uv_cache(Path::new(
            "C:\\Users\\a\\AppData\\Local\\uv\\cache\\archive-v0\\x\\Scripts\\plurum.exe"
        )));
        assert!(!in_uv_cache(Path::new(
            "/home/a/.local/share/uv/tools/plurum-cli/bin/plurum"
        )));
        assert!(!in_uv_cache(Path::new("/usr/local/bin/plurum")));
    }

    #[test]
    fn dotted_profile_names_stay_one_toml_key() {
        assert_eq!(toml_key("plurum-work"), "plurum-work");
        assert_eq!(toml_key("plurum-my.team"), "\"plurum-my.team\"");
    }
}
