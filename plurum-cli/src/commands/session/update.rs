//! `plurum session update`.

use plurum_sdk::types::UpdateSession;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use crate::commands::target::{session_id, unconfirmed};
use crate::context::Ctx;
use crate::exit::{self, CliError};
use crate::journal::{Op, Settled};

/// `plurum session update` options.
#[derive(Debug, Clone, clap::Args, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Options {
    /// The session's short id or UUID (default: the current session).
    #[serde(default)]
    pub(crate) session: Option<String>,
    /// Replaces the tools. Repeatable.
    #[arg(long = "tool", value_name = "TOOL")]
    #[serde(default)]
    pub(crate) tools: Vec<String>,
    /// The new domain.
    #[arg(long)]
    #[serde(default)]
    pub(crate) domain: Option<String>,
    /// Fail when the server cannot take it now, instead of keeping it in the journal to send later, in order with the session's other writes.
    #[arg(long)]
    #[serde(default)]
    pub(crate) no_queue: bool,
}

pub(crate) async fn run(ctx: &Ctx, options: Options) -> anyhow::Result<u8> {
    let Options {
        session,
        tools,
        domain,
        no_queue,
    } = options;
    let mut body = UpdateSession::new();
    if !tools.is_empty() {
        body = body.tools(tools);
    }
    if let Some(domain) = domain {
        body = body.domain(domain);
    }
    if body.is_empty() {
        return Err(CliError::new(exit::USAGE, "nothing to update")
            .hint(format!(
                "give {}",
                ctx.front.name("--tool or --domain", "tools or domain")
            ))
            .into());
    }
    let client = ctx.authed()?;
    let target = session_id(ctx, &client, session.as_deref()).await?;
    let journal = ctx.journal();
    crate::journal::refuse_after_end(&journal, target.id.as_str(), &target.short_id)?;
    if no_queue {
        crate::journal::clear_the_way(ctx, &journal, target.id.as_str(), &target.short_id).await?;
        let s = ctx
            .out
            .spin("updating", client.sessions().update(target.id.as_str(), body))
            .await
            .map_err(|e| {
                unconfirmed(
                    e,
                    "updating the session failed",
                    &format!("plurum session show {}", target.short_id),
                )
            })?;
        return print_updated(ctx, &serde_json::to_value(&s)?);
    }
    let (write, settled) = crate::journal::submit(
        ctx,
        &journal,
        Op::SessionUpdate {
            session_id: target.id.as_str().to_owned(),
            session_short_id: target.short_id.clone(),
            body: serde_json::to_value(&body)?,
        },
        "updating",
    )
    .await?;
    match settled {
        Settled::Answered(answer) => print_updated(ctx, &answer),
        // An update is never read back: it is simply sent again.
        Settled::Found => print_updated(
            ctx,
            &serde_json::to_value(client.sessions().get(target.id.as_str()).await?)?,
        ),
        Settled::Waiting(reason) => {
            let value = json!({
                "session_id": target.id.as_str(),
                "session_short_id": target.short_id,
                "delivery": "queued",
                "queued": crate::journal::queued(&write, &reason),
            });
            ctx.out.emit(&value, || {
                format!(
                    "Queued the update of session {} ({reason}); 'plurum sync' or the next heartbeat sends it.",
                    target.short_id
                )
            })?;
            Ok(exit::OK)
        }
    }
}

fn print_updated(ctx: &Ctx, answer: &serde_json::Value) -> anyhow::Result<u8> {
    let mut value = answer.clone();
    value["delivery"] = json!("delivered");
    let s: plurum_sdk::types::Session = serde_json::from_value(answer.clone())?;
    ctx.out.emit(&value, || {
        format!(
            "Updated session {}: tools {}, domain {}",
            s.short_id,
            if s.tools_used.is_empty() {
                "-".to_owned()
            } else {
                s.tools_used.join(", ")
            },
            s.domain.as_deref().unwrap_or("-")
        )
    })?;
    Ok(exit::OK)
}
