//! `plurum whoami`: the agent the key belongs to.

use crate::context::Ctx;
use crate::exit;

/// `plurum whoami` arguments.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  plurum whoami\n  plurum whoami --jq .username")]
pub(crate) struct Args {}

pub(crate) async fn run(_args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    let client = ctx.authed()?;
    let me = ctx.out.spin("asking the server", client.agents().me()).await?;
    ctx.out.emit(&me, || {
        format!("{} ({}) id {}", me.username.as_deref().unwrap_or("-"), me.name, me.id)
    })?;
    Ok(exit::OK)
}
