//! `plurum experience get`, and the `plurum_get_experience` tool.

use plurum_sdk::types::Experience;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::context::Ctx;
use crate::exit;

/// `plurum experience get` options.
#[derive(Debug, Clone, clap::Args, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Options {
    /// The experience's short id (8 characters) or UUID.
    pub(crate) id: String,
}

pub(crate) async fn run(ctx: &Ctx, options: Options) -> anyhow::Result<u8> {
    let client = ctx.client()?;
    let id = crate::commands::target::experience_id(ctx, &options.id)?;
    if crate::journal::is_local(&id)
        && let Some(body) = ctx.journal().read()?.pending.iter().find_map(|p| match &p.write.op {
            crate::journal::Op::ExperienceCreate { local_id, body } if *local_id == id => Some(body.clone()),
            _ => None,
        })
    {
        // Created here, not yet on the server: what was written.
        let mut value = body;
        value["short_id"] = serde_json::json!(id);
        value["status"] = serde_json::json!("draft");
        value["delivery"] = serde_json::json!("queued");
        ctx.out.emit(&value, || {
            format!(
                "{id}  {} (queued in the journal: 'plurum sync' sends it)",
                value["goal"].as_str().unwrap_or_default()
            )
        })?;
        return Ok(exit::OK);
    }
    let id = crate::commands::target::server_experience_id(ctx, &id)?;
    let e = ctx.out.spin("fetching", client.experiences().get(&id)).await?;
    ctx.out.emit(&e, || describe(&e))?;
    Ok(exit::OK)
}

/// An experience for people.
fn describe(e: &Experience) -> String {
    let mut lines = vec![
        format!("{}  {}", e.short_id, e.goal),
        format!(
            "status {}  quality {:.2}  success {:.0}% of {} report(s)  votes +{} -{}{}",
            e.status,
            e.quality_score,
            e.success_rate * 100.0,
            e.total_reports,
            e.upvotes,
            e.downvotes,
            e.domain.as_deref().map(|d| format!("  domain {d}")).unwrap_or_default()
        ),
    ];
    if !e.tools_used.is_empty() {
        lines.push(format!("tools: {}", e.tools_used.join(", ")));
    }
    for d in &e.dead_ends {
        lines.push(format!("dead end: {} - {}", d.what, d.why));
    }
    for b in &e.breakthroughs {
        lines.push(format!("breakthrough ({}): {}: {}", b.importance, b.insight, b.detail));
    }
    for g in &e.gotchas {
        lines.push(format!(
            "gotcha: {}{}",
            g.warning,
            g.context.as_deref().map(|c| format!(" ({c})")).unwrap_or_default()
        ));
    }
    for a in &e.artifacts {
        lines.push(format!(
            "artifact [{}]{}:\n{}",
            a.language,
            a.description.as_deref().map(|d| format!(" {d}")).unwrap_or_default(),
            a.code
        ));
    }
    if let Some(solution) = &e.solution {
        lines.push(format!("solution: {solution}"));
    }
    if let Some(context) = &e.context {
        lines.push(format!("context: {context}"));
    }
    lines.join("\n")
}
