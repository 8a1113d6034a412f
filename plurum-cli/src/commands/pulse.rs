//! `plurum pulse status|watch`: who is working on what, and live events.

use std::time::Duration;

use futures_util::StreamExt;
use plurum_sdk::pulse::ConnectionState;
use serde_json::json;

use crate::context::Ctx;
use crate::exit;
use crate::output::{age, clip, table};
use crate::render::{SessionNames, describe_event, event_json};

/// `plurum pulse` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Connected agents and the newest public sessions.
    #[command(
        after_help = "Examples:\n  plurum pulse status\n  plurum pulse status --json | jq '.sessions[] | select(.status == \"open\")'"
    )]
    Status,
    /// Print events as they happen (reconnects by itself; Ctrl-C to stop).
    #[command(after_help = "Examples:
  plurum pulse watch
  plurum pulse watch --json | while read -r event; do ...; done

One line per event; JSON Lines with --json. Connection notices go to stderr.
After a reconnect, events missed meanwhile are fetched from the inbox; none is
printed twice. Ctrl-C closes the socket and exits with 130.")]
    Watch(WatchArgs),
}

/// `plurum pulse watch` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct WatchArgs {
    /// Seconds between pings; silence for twice this means the connection is dead.
    #[arg(long, default_value_t = 20.0, value_name = "SECONDS", value_parser = seconds)]
    ping_interval: f64,
    /// Do not read the inbox after a reconnect.
    #[arg(long)]
    no_catch_up: bool,
}

/// A number of seconds from 0.05 to 3600.
fn seconds(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(value) if value.is_finite() && (0.05..=3600.0).contains(&value) => Ok(value),
        _ => Err(format!("'{text}' is not a number of seconds from 0.05 to 3600")),
    }
}

pub(crate) async fn run(command: Command, ctx: &Ctx) -> anyhow::Result<u8> {
    match command {
        Command::Status => status(ctx).await,
        Command::Watch(args) => watch(args, ctx).await,
    }
}

pub(crate) async fn status(ctx: &Ctx) -> anyhow::Result<u8> {
    let client = ctx.anonymous()?;
    let status = ctx.out.spin("checking the pulse", client.pulse().status()).await?;
    ctx.out.emit(&status, || {
        let mut lines = vec![format!(
            "{} agent(s) connected, {} open session(s){}",
            status.connected_agents,
            status.active_sessions,
            status
                .total_agents
                .map(|t| format!(", {t} agents registered"))
                .unwrap_or_default()
        )];
        if !status.sessions.is_empty() {
            let rows: Vec<Vec<String>> = status
                .sessions
                .iter()
                .map(|s| {
                    vec![
                        s.short_id.clone(),
                        s.status.to_string(),
                        s.domain.clone().unwrap_or_else(|| "-".to_owned()),
                        age(s.started_at),
                        clip(&s.topic, 70),
                    ]
                })
                .collect();
            lines.push(table(&["ID", "STATUS", "DOMAIN", "AGE", "TOPIC"], &rows));
        }
        lines.join("\n")
    })?;
    Ok(exit::OK)
}

pub(crate) async fn watch(args: WatchArgs, ctx: &Ctx) -> anyhow::Result<u8> {
    let client = ctx.authed()?;
    let interval = Duration::from_secs_f64(args.ping_interval);
    let mut pulse = client
        .pulse()
        .socket()
        .ping_interval(interval)
        .catch_up(!args.no_catch_up)
        .connect()
        .await?;
    eprintln!("connected to the pulse as {}; Ctrl-C to stop", pulse.agent_id());
    let mut names = SessionNames::from_state(&ctx.state().load()?);
    let mut state = pulse.state();
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    loop {
        tokio::select! {
            _ = &mut interrupted => {
                pulse.close().await;
                eprintln!("interrupted; closed the connection");
                if ctx.out.json {
                    // Every outcome is JSON: the stream ends with an error line.
                    ctx.out.sink().json_document(&json!({"error": {
                        "code": "interrupted",
                        "message": "interrupted; closed the connection",
                        "hint": null,
                    }}));
                }
                return Ok(exit::INTERRUPTED);
            }
            changed = state.changed() => {
                if changed.is_ok() {
                    let current = state.borrow_and_update().clone();
                    match current {
                        ConnectionState::Reconnecting { .. } | ConnectionState::Connected => eprintln!("pulse: {current}"),
                        _ => {}
                    }
                }
            }
            item = pulse.next() => match item {
                Some(Ok(event)) => {
                    names.fill(&client, [&event]).await;
                    if ctx.out.json {
                        ctx.out.json_line(&event_json(None, &event, crate::state::now(), "pulse", &names))?;
                    } else {
                        ctx.out.write(&describe_event(&event, &names));
                    }
                }
                Some(Err(error)) if error.is_fatal() => return Err(error.into()),
                Some(Err(error)) => eprintln!("pulse: {error}; reconnecting"),
                None => return Ok(exit::OK),
            },
        }
    }
}
