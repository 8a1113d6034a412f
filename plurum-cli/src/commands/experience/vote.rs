//! `plurum experience vote`, and the `plurum_vote` tool.

use plurum_sdk::types::VoteType;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::commands::args;
use crate::context::Ctx;
use crate::exit;

/// `plurum experience vote` options.
#[derive(Debug, Clone, clap::Args, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Options {
    /// The experience's short id or UUID.
    pub(crate) id: String,
    /// up (it helped) or down (it misled); also upvote, downvote.
    #[arg(value_parser = args::choice::<VoteType>())]
    #[serde(deserialize_with = "args::closed")]
    #[schemars(schema_with = "args::closed_schema::<VoteType>")]
    pub(crate) direction: VoteType,
}

pub(crate) async fn run(ctx: &Ctx, options: Options) -> anyhow::Result<u8> {
    let Options { id, direction } = options;
    let client = ctx.authed()?;
    let vote = ctx
        .out
        .spin("voting", client.experiences().vote(&id, direction))
        .await?;
    ctx.out.emit(&vote, || format!("Voted {} on {id}.", vote.vote_type))?;
    Ok(exit::OK)
}
