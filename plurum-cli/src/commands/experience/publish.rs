//! `plurum experience publish` and `archive` (the `plurum_publish` tool).

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use crate::context::Ctx;
use crate::exit;
use crate::journal::{Op, Settled};

/// `plurum experience publish` options.
#[derive(Debug, Clone, clap::Args, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Options {
    /// Your draft's short id or UUID.
    pub(crate) id: String,
    /// Fail when the server cannot take it now, instead of keeping it in the journal to send later.
    #[arg(long)]
    #[serde(default)]
    pub(crate) no_queue: bool,
}

/// `plurum experience archive` options.
#[derive(Debug, Clone, clap::Args, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ArchiveOptions {
    /// Your experience's short id or UUID.
    pub(crate) id: String,
    /// Fail when the server cannot take it now, instead of keeping it in the journal to send later.
    #[arg(long)]
    #[serde(default)]
    pub(crate) no_queue: bool,
}

pub(crate) async fn run(ctx: &Ctx, options: Options) -> anyhow::Result<u8> {
    journaled(
        ctx,
        &options.id,
        options.no_queue,
        Op::ExperiencePublish {
            experience: options.id.clone(),
        },
        "publishing",
        "Published",
    )
    .await
}

pub(crate) async fn archive(ctx: &Ctx, options: ArchiveOptions) -> anyhow::Result<u8> {
    journaled(
        ctx,
        &options.id,
        options.no_queue,
        Op::ExperienceArchive {
            experience: options.id.clone(),
        },
        "archiving",
        "Archived",
    )
    .await
}

/// A publish or an archive, through the journal (or at once with
/// `no_queue`).
async fn journaled(ctx: &Ctx, id: &str, no_queue: bool, op: Op, doing: &str, done: &str) -> anyhow::Result<u8> {
    let resolved = crate::commands::target::experience_id(ctx, id)?;
    let id = resolved.as_str();
    let client = ctx.authed()?;
    let print = |answer: serde_json::Value| -> anyhow::Result<u8> {
        let mut value = answer;
        value["delivery"] = json!("delivered");
        let (short, goal) = (
            value["short_id"].as_str().unwrap_or(id).to_owned(),
            value["goal"].as_str().unwrap_or_default().to_owned(),
        );
        ctx.out.emit(&value, || format!("{done} {short}: {goal}"))?;
        Ok(exit::OK)
    };
    let op = match op {
        Op::ExperiencePublish { .. } => Op::ExperiencePublish {
            experience: id.to_owned(),
        },
        _ => Op::ExperienceArchive {
            experience: id.to_owned(),
        },
    };
    if no_queue {
        let id = crate::commands::target::server_experience_id(ctx, id)?;
        let id = id.as_str();
        let answer = match &op {
            Op::ExperiencePublish { .. } => ctx.out.spin(doing, client.experiences().publish(id)).await?,
            _ => ctx.out.spin(doing, client.experiences().archive(id)).await?,
        };
        return print(serde_json::to_value(&answer)?);
    }
    let journal = ctx.journal();
    let (write, settled) = crate::journal::submit(ctx, &journal, op, doing).await?;
    match settled {
        Settled::Answered(answer) => print(answer),
        Settled::Found => print(json!({"short_id": id})),
        Settled::Waiting(reason) => {
            let value = json!({
                "experience": id,
                "delivery": "queued",
                "queued": crate::journal::queued(&write, &reason),
            });
            ctx.out.emit(&value, || {
                format!("Queued ({reason}); 'plurum sync' or the next heartbeat sends it.")
            })?;
            Ok(exit::OK)
        }
    }
}
