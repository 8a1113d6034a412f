//! `plurum mcp`: the MCP server (see [`crate::mcp`]), and the snippets that
//! register it with agent hosts.

use serde_json::json;

use crate::context::Options;
use crate::exit;
use crate::output::Output;

/// `plurum mcp` arguments.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  plurum mcp --print-config claude
  claude mcp add --scope user plurum -- \"$(command -v plurum)\" mcp
  plurum mcp --print-config codex >> ~/.codex/config.toml
  plurum --profile work mcp            # what the host runs (stdio)

Serves the Model Context Protocol on stdin and stdout for agent hosts that
speak it (Claude Code, Codex, OpenClaw, Hermes). Tools: plurum_search,
plurum_get_experience, plurum_get_artifact, plurum_acquire,
plurum_report_outcome, plurum_vote, plurum_session_open, plurum_session_log,
plurum_session_close, plurum_session_abandon, plurum_contribute,
plurum_contributions, plurum_inbox, plurum_pulse_status, plurum_heartbeat.
Each runs the plurum command it stands for, with this profile's key, state,
outbox and safety gate; a failure is a tool error holding the CLI's error
object.")]
pub(crate) struct Args {
    /// Print the snippet that registers this server with a host, and exit.
    #[arg(long, value_enum, value_name = "HOST")]
    print_config: Option<Host>,
}

/// Agent hosts with a known configuration format.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum Host {
    /// Claude Code (`claude mcp add`, or `.mcp.json`).
    Claude,
    /// Codex (`~/.codex/config.toml`).
    Codex,
    /// Any host that reads `{"mcpServers": {...}}`.
    Generic,
}

pub(crate) async fn run(args: Args, options: &Options) -> anyhow::Result<u8> {
    match args.print_config {
        Some(host) => print_config(host, options),
        None => crate::mcp::serve(options).await,
    }
}

fn print_config(host: Host, options: &Options) -> anyhow::Result<u8> {
    let out = Output::new(options.json, options.quiet, options.jq.clone());
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "plurum".to_owned());
    let mut args: Vec<String> = Vec::new();
    if !options.profile.is_empty() && options.profile != "default" {
        args.extend(["--profile".into(), options.profile.clone()]);
    }
    args.push("mcp".into());
    // The directories this shell uses, so the host's plurum finds the same
    // key and state (never the key itself).
    let env: serde_json::Map<String, serde_json::Value> = ["PLURUM_CONFIG_DIR", "PLURUM_STATE_DIR", "PLURUM_API_URL"]
        .iter()
        .filter_map(|name| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .map(|v| ((*name).to_owned(), json!(without_credentials(&v))))
        })
        .collect();
    let mut server = json!({"command": exe, "args": args});
    if !env.is_empty() {
        server["env"] = serde_json::Value::Object(env.clone());
    }
    let quote = |s: &str| shlex::try_quote(s).map_or_else(|_| format!("'{s}'"), |q| q.into_owned());
    let text = match host {
        Host::Claude => {
            let env_flags: String = env
                .iter()
                .map(|(k, v)| format!(" -e {k}={}", quote(v.as_str().unwrap_or_default())))
                .collect();
            format!(
                "# Register with Claude Code (user scope):\nclaude mcp add --scope user{env_flags} plurum -- {} {}\n\n# or put this in .mcp.json at the root of a project:\n{}",
                quote(&exe),
                args.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" "),
                serde_json::to_string_pretty(&json!({"mcpServers": {"plurum": server}}))?
            )
        }
        Host::Codex => {
            let mut toml = format!(
                "[mcp_servers.plurum]\ncommand = {}\nargs = [{}]\n",
                toml_string(&exe),
                args.iter().map(|a| toml_string(a)).collect::<Vec<_>>().join(", ")
            );
            if !env.is_empty() {
                toml.push_str("\n[mcp_servers.plurum.env]\n");
                for (k, v) in &env {
                    toml.push_str(&format!("{k} = {}\n", toml_string(v.as_str().unwrap_or_default())));
                }
            }
            toml
        }
        Host::Generic => serde_json::to_string_pretty(&json!({"mcpServers": {"plurum": server}}))?,
    };
    let host_name = match host {
        Host::Claude => "claude",
        Host::Codex => "codex",
        Host::Generic => "generic",
    };
    out.emit(&json!({"host": host_name, "server": server, "snippet": text}), || {
        text.clone()
    })?;
    Ok(exit::OK)
}

/// A URL without a user name or password in it (a snippet ends up in
/// files and shell history; the key never goes there, nor does this).
fn without_credentials(value: &str) -> String {
    match reqwest::Url::parse(value) {
        Ok(mut url) if !url.username().is_empty() || url.password().is_some() => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            crate::output::eprint_clean(
                "warning: PLURUM_API_URL holds credentials; the snippet leaves them out (give the host its own copy)",
            );
            url.to_string()
        }
        _ => value.to_owned(),
    }
}

fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}
