//! `plurum experience acquire`, and the `plurum_acquire` tool.

use plurum_sdk::types::{AcquireMode, AcquiredContent};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::commands::args;
use crate::context::Ctx;
use crate::exit;
use crate::state::SavedReason;

/// `plurum experience acquire` options.
#[derive(Debug, Clone, clap::Args, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Options {
    /// The experience's short id or UUID.
    pub(crate) id: String,
    /// The format: summary, checklist, decision_tree (also decision-tree) or full (the default).
    #[arg(long, value_parser = args::choice::<AcquireMode>(), default_value = "full")]
    #[serde(default = "full", deserialize_with = "args::closed")]
    #[schemars(schema_with = "args::closed_schema::<AcquireMode>")]
    pub(crate) mode: AcquireMode,
}

fn full() -> AcquireMode {
    AcquireMode::Full
}

pub(crate) async fn run(ctx: &Ctx, options: Options) -> anyhow::Result<u8> {
    let Options { id, mode } = options;
    let id = crate::commands::target::server_experience_id(ctx, &id)?;
    let client = ctx.authed()?;
    let acquired = ctx
        .out
        .spin("acquiring", client.experiences().acquire(&id, mode))
        .await?;
    // Acquired: relied on, so the heartbeat watches its scores.
    ctx.state().update(|state| {
        state.rely_on(
            &id,
            Some(&acquired.short_id),
            Some(acquired.experience_id.as_str()),
            SavedReason::Acquired,
        );
        Ok(())
    })?;
    ctx.out.emit(&acquired, || match &acquired.content {
        AcquiredContent::Summary { summary } => summary.clone(),
        AcquiredContent::Checklist { do_, dont, watch } => {
            let mut lines = Vec::new();
            lines.extend(do_.iter().map(|d| format!("do:    {d}")));
            lines.extend(dont.iter().map(|d| format!("don't: {d}")));
            lines.extend(watch.iter().map(|w| format!("watch: {w}")));
            lines.join("\n")
        }
        AcquiredContent::DecisionTree { decisions } => decisions
            .iter()
            .map(|d| {
                if d.detail.is_empty() {
                    format!("{} -> {}", d.condition, d.action)
                } else {
                    format!("{} -> {} ({})", d.condition, d.action, d.detail)
                }
            })
            .collect::<Vec<_>>()
            .join("\n"),
        AcquiredContent::Full(_) | AcquiredContent::Other(_) => {
            serde_json::to_string_pretty(&acquired.content).unwrap_or_default()
        }
        _ => String::new(),
    })?;
    Ok(exit::OK)
}
