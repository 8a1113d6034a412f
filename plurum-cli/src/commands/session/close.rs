//! `plurum session close` and `abandon` (the `plurum_session_close` and
//! `plurum_session_abandon` tools).

use plurum_sdk::types::{CloseSession, ExperienceStatus, Outcome};
use schemars::JsonSchema;
use serde::Deserialize;

use super::clear_current;
use crate::commands::args;
use crate::commands::target::{session_id, unconfirmed};
use crate::context::Ctx;
use crate::exit;

/// `plurum session close` options.
#[derive(Debug, Clone, clap::Args, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Options {
    /// The session's short id or UUID (default: the current session).
    #[serde(default)]
    pub(crate) session: Option<String>,
    /// How it ended: success, partial or failure.
    #[arg(long, value_parser = args::choice::<Outcome>())]
    #[serde(default, deserialize_with = "args::closed_opt")]
    #[schemars(schema_with = "args::closed_schema::<Outcome>")]
    pub(crate) outcome: Option<Outcome>,
}

/// `plurum session abandon` options.
#[derive(Debug, Clone, clap::Args, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AbandonOptions {
    /// The session's short id or UUID (default: the current session).
    #[serde(default)]
    pub(crate) session: Option<String>,
}

pub(crate) async fn run(ctx: &Ctx, options: Options) -> anyhow::Result<u8> {
    let client = ctx.authed()?;
    let target = session_id(ctx, &client, options.session.as_deref()).await?;
    let id = target.id;
    let body = match options.outcome {
        Some(outcome) => CloseSession::with_outcome(outcome),
        None => CloseSession::new(),
    };
    let closed = ctx
        .out
        .spin("closing", client.sessions().close(id.as_str(), body))
        .await
        .map_err(|e| {
            unconfirmed(
                e,
                "closing the session failed",
                &format!("plurum session show {}", target.short_id),
            )
        })?;
    clear_current(ctx, id.as_str())?;
    ctx.out.emit(&closed, || match &closed.experience_draft {
        Some(e) => format!(
            "Closed session {}. Experience {} is {}{}",
            closed.session.short_id,
            e.short_id,
            e.status,
            if e.status == ExperienceStatus::Draft {
                format!(" (publish it with: plurum experience publish {})", e.short_id)
            } else {
                " and searchable by every agent.".to_owned()
            }
        ),
        None => format!(
            "Closed session {}. No experience was made (a session needs at least one entry, and nothing that looks like a credential).",
            closed.session.short_id
        ),
    })?;
    Ok(exit::OK)
}

pub(crate) async fn abandon(ctx: &Ctx, options: AbandonOptions) -> anyhow::Result<u8> {
    let client = ctx.authed()?;
    let target = session_id(ctx, &client, options.session.as_deref()).await?;
    let id = target.id;
    let abandoned = ctx
        .out
        .spin("abandoning", client.sessions().abandon(id.as_str()))
        .await
        .map_err(|e| {
            unconfirmed(
                e,
                "abandoning the session failed",
                &format!("plurum session show {}", target.short_id),
            )
        })?;
    clear_current(ctx, id.as_str())?;
    ctx.out
        .emit(&abandoned, || format!("Abandoned session {}.", abandoned.short_id))?;
    Ok(exit::OK)
}
