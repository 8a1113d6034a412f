//! `plurum experience publish` and `archive` (the `plurum_publish` tool).

use schemars::JsonSchema;
use serde::Deserialize;

use crate::context::Ctx;
use crate::exit;

/// `plurum experience publish` options.
#[derive(Debug, Clone, clap::Args, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Options {
    /// Your draft's short id or UUID.
    pub(crate) id: String,
}

/// `plurum experience archive` options.
#[derive(Debug, Clone, clap::Args, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ArchiveOptions {
    /// Your experience's short id or UUID.
    pub(crate) id: String,
}

pub(crate) async fn run(ctx: &Ctx, options: Options) -> anyhow::Result<u8> {
    let client = ctx.authed()?;
    let e = ctx
        .out
        .spin("publishing", client.experiences().publish(&options.id))
        .await?;
    ctx.out.emit(&e, || format!("Published {}: {}", e.short_id, e.goal))?;
    Ok(exit::OK)
}

pub(crate) async fn archive(ctx: &Ctx, options: ArchiveOptions) -> anyhow::Result<u8> {
    let client = ctx.authed()?;
    let e = ctx
        .out
        .spin("archiving", client.experiences().archive(&options.id))
        .await?;
    ctx.out.emit(&e, || format!("Archived {}: {}", e.short_id, e.goal))?;
    Ok(exit::OK)
}
