//! `plurum experience similar`, and the `plurum_similar` tool.

use schemars::JsonSchema;
use serde::Deserialize;

use crate::commands::args;
use crate::context::Ctx;
use crate::exit;
use crate::output::table;
use crate::render::{EXPERIENCE_HEADERS, experience_rows};

/// `plurum experience similar` options.
#[derive(Debug, Clone, clap::Args, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Options {
    /// The experience's short id or UUID.
    pub(crate) id: String,
    /// At most this many (1 to 20).
    #[arg(long, default_value_t = DEFAULT_LIMIT, value_parser = args::int_in(args::ranges::SIMILAR_LIMIT))]
    #[serde(default = "default_limit")]
    #[schemars(range(min = 1, max = 20))]
    pub(crate) limit: u32,
}

const DEFAULT_LIMIT: u32 = 5;

fn default_limit() -> u32 {
    DEFAULT_LIMIT
}

pub(crate) async fn run(ctx: &Ctx, options: Options) -> anyhow::Result<u8> {
    let client = ctx.client()?;
    let id = crate::commands::target::server_experience_id(ctx, &options.id)?;
    let items = ctx
        .out
        .spin("looking", client.experiences().similar(&id, Some(options.limit)))
        .await?;
    // Every list prints an object with `items` (this one is not paged).
    let value = serde_json::json!({"items": items, "total": items.len()});
    ctx.out
        .emit(&value, || table(EXPERIENCE_HEADERS, &experience_rows(&items)))?;
    Ok(exit::OK)
}
