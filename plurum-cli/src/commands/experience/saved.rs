//! `plurum experience saved|save|unsave`: the experiences the heartbeat
//! watches.

use schemars::JsonSchema;
use serde::Deserialize;

use crate::context::Ctx;
use crate::exit::{self, CliError};
use crate::output::table;
use crate::state::{SavedExperience, SavedReason};

/// `plurum experience save` options.
#[derive(Debug, Clone, clap::Args, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SaveOptions {
    /// The experience's short id or UUID.
    pub(crate) id: String,
}

/// `plurum experience unsave` options.
#[derive(Debug, Clone, clap::Args, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UnsaveOptions {
    /// The experience's short id or UUID, as 'experience saved' lists it.
    pub(crate) id: String,
}

pub(crate) fn list(ctx: &Ctx) -> anyhow::Result<u8> {
    let saved = ctx.state().load()?.saved_experiences;
    let items: Vec<serde_json::Value> = saved.iter().rev().map(saved_json).collect();
    let value = serde_json::json!({"items": items, "total": items.len()});
    ctx.out.emit(&value, || {
        if saved.is_empty() {
            return "Nothing saved yet: 'plurum experience save ID', or acquire or report on one.".to_owned();
        }
        let rows: Vec<Vec<String>> = saved
            .iter()
            .rev()
            .map(|s| {
                vec![
                    s.short_id.clone(),
                    s.reason.as_str().to_owned(),
                    s.quality_score.map_or("-".to_owned(), |q| format!("{q:.2}")),
                    match (s.total_reports, s.success_rate) {
                        (Some(n), Some(rate)) if n > 0 => format!("{:.0}%", rate * 100.0),
                        _ => "-".to_owned(),
                    },
                    s.total_reports.map_or("-".to_owned(), |n| n.to_string()),
                    s.saved_at.map_or("-".to_owned(), crate::output::age),
                    crate::output::clip(s.goal.as_deref().unwrap_or("-"), 60),
                ]
            })
            .collect();
        table(&["ID", "WHY", "QUALITY", "SUCCESS", "REPORTS", "SAVED", "GOAL"], &rows)
    })?;
    Ok(exit::OK)
}

pub(crate) async fn save(ctx: &Ctx, options: SaveOptions) -> anyhow::Result<u8> {
    let id = options.id;
    let client = ctx.client()?;
    let experience = ctx.out.spin("looking it up", client.experiences().get(&id)).await?;
    let entry = ctx.state().update(|state| {
        state.rely_on(
            &id,
            Some(&experience.short_id),
            Some(experience.id.as_str()),
            SavedReason::Saved,
        );
        let entry = state
            .saved_experiences
            .iter_mut()
            .find(|s| s.named(&experience.short_id))
            .ok_or_else(|| anyhow::anyhow!("{} was not saved", experience.short_id))?;
        if entry.quality_score.is_none() {
            entry.goal = Some(experience.goal.clone());
            entry.quality_score = Some(experience.quality_score);
            entry.success_rate = Some(experience.success_rate);
            entry.total_reports = Some(experience.total_reports);
        }
        Ok(entry.clone())
    })?;
    ctx.out.emit(&saved_json(&entry), || {
        format!(
            "Saved {} (quality {:.2}): the heartbeat tells your human when it gets worse.",
            entry.short_id, experience.quality_score
        )
    })?;
    Ok(exit::OK)
}

pub(crate) fn unsave(ctx: &Ctx, options: UnsaveOptions) -> anyhow::Result<u8> {
    let id = options.id;
    let removed = ctx.state().update(|state| {
        let removed: Vec<SavedExperience> = state
            .saved_experiences
            .iter()
            .filter(|s| s.named(&id))
            .cloned()
            .collect();
        state.saved_experiences.retain(|s| !s.named(&id));
        Ok(removed)
    })?;
    let Some(first) = removed.first() else {
        return Err(CliError::new(exit::ERROR, format!("{id} is not saved"))
            .code("not_found")
            .hint("'plurum experience saved' lists what is")
            .into());
    };
    ctx.out.emit(&serde_json::json!({"removed": saved_json(first)}), || {
        format!("No longer watching {}.", first.short_id)
    })?;
    Ok(exit::OK)
}

/// A saved experience as `--json` prints it.
fn saved_json(saved: &SavedExperience) -> serde_json::Value {
    serde_json::json!({
        "short_id": saved.short_id,
        "id": saved.id,
        "reason": saved.reason.as_str(),
        "relied_on": saved.reason.relied_on(),
        "goal": saved.goal,
        "quality_score": saved.quality_score,
        "success_rate": saved.success_rate,
        "total_reports": saved.total_reports,
        "saved_at": saved.saved_at.map(crate::state::rfc3339_text),
        "readings": saved.history.len(),
    })
}
