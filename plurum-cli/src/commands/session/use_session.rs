//! `plurum session use`, and the `plurum_session_use` tool: one of your open
//! sessions becomes the current one again.

use plurum_sdk::types::SessionStatus;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use crate::commands::target::check_session_id;
use crate::context::Ctx;
use crate::exit::{self, CliError};
use crate::state::CurrentSession;

/// `plurum session use` options.
#[derive(Debug, Clone, clap::Args, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Options {
    /// The session's short id or UUID.
    pub(crate) session: String,
}

pub(crate) async fn run(ctx: &Ctx, options: Options) -> anyhow::Result<u8> {
    let client = ctx.authed()?;
    let mut given = options.session.clone();
    if crate::journal::is_local(&given) {
        let target = crate::commands::target::session_id(ctx, &client, Some(&given)).await?;
        if crate::journal::is_local(target.id.as_str()) {
            // Opened here, not yet on the server: current all the same.
            let previous = ctx.state().update(|state| {
                Ok(state.make_current(CurrentSession {
                    other: Default::default(),
                    id: target.id.to_string(),
                    short_id: target.short_id.clone(),
                    topic: String::new(),
                    opened_at: None,
                    last_entry_at: None,
                }))
            })?;
            let value = json!({
                "session": {"id": target.id, "short_id": target.short_id, "delivery": "queued"},
                "previous": previous.as_ref().map(|p| json!({"id": p.id, "short_id": p.short_id, "topic": p.topic})),
            });
            ctx.out.emit(&value, || {
                format!(
                    "Session {} (opened here, not yet on the server) is the current session.",
                    target.short_id
                )
            })?;
            return Ok(exit::OK);
        }
        given = target.id.to_string();
    }
    let identifier = check_session_id(&given, "session")?;
    let (found, me) = ctx
        .out
        .spin("looking up the session", async {
            let (sessions, agents) = (client.sessions(), client.agents());
            tokio::join!(sessions.get(&identifier), agents.me())
        })
        .await;
    let (found, me) = (found?, me?);
    if found.agent_id != me.id {
        return Err(CliError::new(exit::USAGE, format!("session {} is not yours", found.short_id))
            .hint("only your own open sessions can be current; contribute to others' with 'plurum session contribute'")
            .into());
    }
    if found.status != SessionStatus::Open {
        return Err(CliError::new(
            exit::USAGE,
            format!("session {} is {}, not open", found.short_id, found.status),
        )
        .hint("'plurum session list --mine --status open' lists the ones you can use")
        .into());
    }
    let previous = ctx.state().update(|state| {
        Ok(state.make_current(CurrentSession {
            other: Default::default(),
            id: found.id.to_string(),
            short_id: found.short_id.clone(),
            topic: found.topic.clone(),
            opened_at: Some(found.started_at),
            last_entry_at: None,
        }))
    })?;
    let value = json!({
        "session": found,
        "previous": previous.as_ref().map(|p| json!({"id": p.id, "short_id": p.short_id, "topic": p.topic})),
    });
    ctx.out.emit(&value, || {
        let mut text = format!("Session {} is the current session: {}", found.short_id, found.topic);
        if let Some(previous) = &previous {
            text.push_str(&format!("\n(session {} stays open on the server)", previous.short_id));
        }
        text
    })?;
    Ok(exit::OK)
}
