//! `plurum session close` and `abandon` (the `plurum_session_close` and
//! `plurum_session_abandon` tools).

use plurum_sdk::types::{CloseSession, ClosedSession, ExperienceStatus, Outcome, Session};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::clear_current;
use crate::commands::args;
use crate::commands::target::{session_id, unconfirmed};
use crate::context::Ctx;
use crate::exit;
use crate::journal::{Op, Settled};

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
    /// Fail when the server cannot take the close now, instead of keeping it in the journal to send later, after the session's entries.
    #[arg(long)]
    #[serde(default)]
    pub(crate) no_queue: bool,
}

/// `plurum session abandon` options.
#[derive(Debug, Clone, clap::Args, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AbandonOptions {
    /// The session's short id or UUID (default: the current session).
    #[serde(default)]
    pub(crate) session: Option<String>,
    /// Fail when the server cannot take it now, instead of keeping it in the journal to send later, after the session's entries.
    #[arg(long)]
    #[serde(default)]
    pub(crate) no_queue: bool,
}

pub(crate) async fn run(ctx: &Ctx, options: Options) -> anyhow::Result<u8> {
    let client = ctx.authed()?;
    let target = session_id(ctx, &client, options.session.as_deref()).await?;
    let body = match options.outcome {
        Some(outcome) => CloseSession::with_outcome(outcome),
        None => CloseSession::new(),
    };
    let journal = ctx.journal();
    crate::journal::refuse_after_end(&journal, target.id.as_str(), &target.short_id)?;
    if options.no_queue {
        crate::journal::clear_the_way(ctx, &journal, target.id.as_str(), &target.short_id).await?;
        let closed = ctx
            .out
            .spin("closing", client.sessions().close(target.id.as_str(), body))
            .await
            .map_err(|e| {
                unconfirmed(
                    e,
                    "closing the session failed",
                    &format!("plurum session show {}", target.short_id),
                )
            })?;
        clear_current(ctx, target.id.as_str())?;
        return print_closed(ctx, &closed);
    }
    let op = Op::SessionClose {
        session_id: target.id.as_str().to_owned(),
        session_short_id: target.short_id.clone(),
        body: serde_json::to_value(&body)?,
    };
    let (write, settled) = crate::journal::submit(ctx, &journal, op, "closing").await?;
    // Closed now or later: the session is no longer the one to log to.
    clear_current(ctx, target.id.as_str())?;
    match settled {
        Settled::Answered(answer) => print_closed(ctx, &serde_json::from_value(answer)?),
        Settled::Found => ended(
            ctx,
            &target,
            "delivered",
            None,
            "Closed session {} (its answer had been lost; it is closed).",
        ),
        Settled::Waiting(reason) => ended(
            ctx,
            &target,
            "queued",
            Some(crate::journal::queued(&write, &reason)),
            "Queued the close of session {}: it is sent after the session's entries, by 'plurum sync' or the next heartbeat.",
        ),
    }
}

/// The document of a close or abandon that was not answered now.
fn ended(
    ctx: &Ctx,
    target: &crate::commands::target::Target,
    delivery: &str,
    queued: Option<serde_json::Value>,
    human: &str,
) -> anyhow::Result<u8> {
    let mut value = json!({
        "session_id": target.id.as_str(),
        "session_short_id": target.short_id,
        "delivery": delivery,
    });
    if let Some(queued) = queued {
        value["queued"] = queued;
    }
    ctx.out.emit(&value, || human.replace("{}", &target.short_id))?;
    Ok(exit::OK)
}

fn print_closed(ctx: &Ctx, closed: &ClosedSession) -> anyhow::Result<u8> {
    let mut value = serde_json::to_value(closed)?;
    value["delivery"] = json!("delivered");
    ctx.out.emit(&value, || match &closed.experience_draft {
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
    let journal = ctx.journal();
    crate::journal::refuse_after_end(&journal, target.id.as_str(), &target.short_id)?;
    if options.no_queue {
        crate::journal::clear_the_way(ctx, &journal, target.id.as_str(), &target.short_id).await?;
        let abandoned = ctx
            .out
            .spin("abandoning", client.sessions().abandon(target.id.as_str()))
            .await
            .map_err(|e| {
                unconfirmed(
                    e,
                    "abandoning the session failed",
                    &format!("plurum session show {}", target.short_id),
                )
            })?;
        clear_current(ctx, target.id.as_str())?;
        return print_abandoned(ctx, &abandoned);
    }
    let op = Op::SessionAbandon {
        session_id: target.id.as_str().to_owned(),
        session_short_id: target.short_id.clone(),
    };
    let (write, settled) = crate::journal::submit(ctx, &journal, op, "abandoning").await?;
    clear_current(ctx, target.id.as_str())?;
    match settled {
        Settled::Answered(answer) => print_abandoned(ctx, &serde_json::from_value(answer)?),
        Settled::Found => ended(
            ctx,
            &target,
            "delivered",
            None,
            "Abandoned session {} (its answer had been lost; it is abandoned).",
        ),
        Settled::Waiting(reason) => ended(
            ctx,
            &target,
            "queued",
            Some(crate::journal::queued(&write, &reason)),
            "Queued the abandon of session {}: it is sent after the session's entries, by 'plurum sync' or the next heartbeat.",
        ),
    }
}

fn print_abandoned(ctx: &Ctx, abandoned: &Session) -> anyhow::Result<u8> {
    let mut value = serde_json::to_value(abandoned)?;
    value["delivery"] = json!("delivered");
    ctx.out
        .emit(&value, || format!("Abandoned session {}.", abandoned.short_id))?;
    Ok(exit::OK)
}
