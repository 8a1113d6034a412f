//! `plurum experience vote`, and the `plurum_vote` tool.

use plurum_sdk::types::VoteType;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use crate::commands::args;
use crate::context::Ctx;
use crate::exit;
use crate::journal::{Op, Settled};

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
    /// Fail when the server cannot take it now, instead of keeping it in the journal to send later.
    #[arg(long)]
    #[serde(default)]
    pub(crate) no_queue: bool,
}

pub(crate) async fn run(ctx: &Ctx, options: Options) -> anyhow::Result<u8> {
    let Options {
        id,
        direction,
        no_queue,
    } = options;
    let id = crate::commands::target::experience_id(ctx, &id)?;
    let client = ctx.authed()?;
    if no_queue {
        let id = crate::commands::target::server_experience_id(ctx, &id)?;
        let vote = ctx
            .out
            .spin("voting", client.experiences().vote(&id, direction))
            .await?;
        return print_vote(ctx, &id, &serde_json::to_value(&vote)?);
    }
    let journal = ctx.journal();
    let op = Op::Vote {
        experience: id.clone(),
        direction: direction.to_string(),
    };
    let (write, settled) = crate::journal::submit(ctx, &journal, op, "voting").await?;
    match settled {
        Settled::Answered(answer) => print_vote(ctx, &id, &answer),
        Settled::Found => print_vote(ctx, &id, &json!({"vote_type": direction})),
        Settled::Waiting(reason) => {
            let value = json!({
                "experience": id,
                "vote_type": direction,
                "delivery": "queued",
                "queued": crate::journal::queued(&write, &reason),
            });
            ctx.out.emit(&value, || {
                format!(
                    "Queued your {direction} vote on {id} ({reason}); 'plurum sync' or the next heartbeat sends it."
                )
            })?;
            Ok(exit::OK)
        }
    }
}

fn print_vote(ctx: &Ctx, id: &str, answer: &serde_json::Value) -> anyhow::Result<u8> {
    let mut value = answer.clone();
    value["delivery"] = json!("delivered");
    let kind = value["vote_type"].as_str().unwrap_or("a").to_owned();
    ctx.out.emit(&value, || format!("Voted {kind} on {id}."))?;
    Ok(exit::OK)
}
