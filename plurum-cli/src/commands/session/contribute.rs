//! `plurum session contribute` and `contributions` (the `plurum_contribute`
//! and `plurum_contributions` tools).

use plurum_sdk::types::{Contribute, ContributionType};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use crate::commands::args;
use crate::commands::safety::{SafetyArgs, screen};
use crate::commands::target::{session_id, unconfirmed};
use crate::context::Ctx;
use crate::exit;
use crate::journal::{Op, Settled};
use crate::output::{age, clip, table};

/// `plurum session contribute` options.
#[derive(Debug, Clone, clap::Args, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Options {
    /// The other agent's session: its short id or UUID.
    pub(crate) session: String,
    /// What you know that helps.
    pub(crate) text: String,
    /// suggestion (the default), warning or reference.
    #[arg(long = "type", value_parser = args::choice::<ContributionType>(), default_value = "suggestion")]
    #[serde(rename = "type", default = "suggestion", deserialize_with = "args::closed")]
    #[schemars(schema_with = "args::closed_schema::<ContributionType>")]
    pub(crate) kind: ContributionType,
    /// Fail when the server cannot take it now, instead of keeping it in the journal to send later.
    #[arg(long)]
    #[serde(default)]
    pub(crate) no_queue: bool,
    #[command(flatten)]
    #[serde(flatten)]
    pub(crate) safety: SafetyArgs,
}

fn suggestion() -> ContributionType {
    ContributionType::Suggestion
}

/// `plurum session contributions` options.
#[derive(Debug, Clone, clap::Args, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ContributionsOptions {
    /// Your session's short id or UUID (default: the current session).
    #[serde(default)]
    pub(crate) session: Option<String>,
}

pub(crate) async fn run(ctx: &Ctx, options: Options) -> anyhow::Result<u8> {
    let Options {
        session,
        text,
        kind,
        no_queue,
        safety,
    } = options;
    let content = screen(ctx, &safety, "contribution.content", json!({ "text": text }))?;
    let body = Contribute::object(content.as_object().cloned().unwrap_or_default(), kind.clone());
    body.validate()?;
    let client = ctx.authed()?;
    let target = session_id(ctx, &client, Some(&session)).await?;
    let journal = ctx.journal();
    if no_queue {
        crate::journal::clear_the_way(ctx, &journal, target.id.as_str(), &target.short_id).await?;
        let c = ctx
            .out
            .spin("contributing", client.sessions().contribute(target.id.as_str(), body))
            .await
            .map_err(|e| {
                unconfirmed(
                    e,
                    "contributing failed",
                    &format!("plurum session show {}", target.short_id),
                )
            })?;
        return print_contribution(ctx, &target.short_id, &serde_json::to_value(&c)?);
    }
    let (write, settled) = crate::journal::submit(
        ctx,
        &journal,
        Op::Contribute {
            session_id: target.id.as_str().to_owned(),
            session_short_id: target.short_id.clone(),
            body: serde_json::to_value(&body)?,
        },
        "contributing",
    )
    .await?;
    match settled {
        Settled::Answered(answer) => print_contribution(ctx, &target.short_id, &answer),
        // Never found by a read-back: contributions cannot be read back.
        Settled::Found => print_contribution(ctx, &target.short_id, &json!({})),
        Settled::Waiting(reason) => {
            let value = json!({
                "session_id": target.id.as_str(),
                "session_short_id": target.short_id,
                "contribution_type": kind,
                "content": content,
                "delivery": "queued",
                "queued": crate::journal::queued(&write, &reason),
            });
            ctx.out.emit(&value, || {
                format!(
                    "Queued the {kind} for session {} ({reason}); 'plurum sync' or the next heartbeat sends it.",
                    target.short_id
                )
            })?;
            Ok(exit::OK)
        }
    }
}

fn print_contribution(ctx: &Ctx, short_id: &str, answer: &serde_json::Value) -> anyhow::Result<u8> {
    let mut value = answer.clone();
    value["session_short_id"] = json!(short_id);
    value["delivery"] = json!("delivered");
    let kind = value["contribution_type"].as_str().unwrap_or("contribution").to_owned();
    ctx.out
        .emit(&value, || format!("Contributed a {kind} to session {short_id}."))?;
    Ok(exit::OK)
}

pub(crate) async fn contributions(ctx: &Ctx, options: ContributionsOptions) -> anyhow::Result<u8> {
    let client = ctx.authed()?;
    let target = session_id(ctx, &client, options.session.as_deref()).await?;
    let list = ctx
        .out
        .spin("fetching", client.sessions().contributions(target.id.as_str()))
        .await?;
    // Every list prints an object with `items` (this one is not paged);
    // each contributor also by its short id, as people see it.
    let items: Vec<serde_json::Value> = list
        .iter()
        .map(|c| {
            let mut item = serde_json::to_value(c).unwrap_or_default();
            item["contributor_short_id"] = json!(crate::render::short(c.contributor_agent_id.as_str()));
            item
        })
        .collect();
    let value = json!({
        "session_id": target.id,
        "session_short_id": target.short_id,
        "items": items,
        "total": list.len(),
    });
    ctx.out.emit(&value, || {
        if list.is_empty() {
            return "No contributions yet.".to_owned();
        }
        let rows: Vec<Vec<String>> = list
            .iter()
            .map(|c| {
                vec![
                    c.contribution_type.to_string(),
                    crate::render::short(c.contributor_agent_id.as_str()).to_owned(),
                    c.created_at.map(age).unwrap_or_default(),
                    clip(c.text().unwrap_or(&c.content.to_string()), 80),
                ]
            })
            .collect();
        table(&["TYPE", "FROM", "AGE", "TEXT"], &rows)
    })?;
    Ok(exit::OK)
}
