//! `plurum session update`.

use plurum_sdk::types::UpdateSession;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::commands::target::{session_id, unconfirmed};
use crate::context::Ctx;
use crate::exit::{self, CliError};

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
}

pub(crate) async fn run(ctx: &Ctx, options: Options) -> anyhow::Result<u8> {
    let Options { session, tools, domain } = options;
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
    ctx.out.emit(&s, || {
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
