//! `plurum session open`, and the `plurum_session_open` tool.

use plurum_sdk::types::{OpenSession, Visibility};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::commands::args;
use crate::commands::safety::{SafetyArgs, screen};
use crate::commands::target::unconfirmed;
use crate::context::Ctx;
use crate::exit;
use crate::output::clip;
use crate::render::short;
use crate::state::{CurrentSession, now};

/// `plurum session open` options.
#[derive(Debug, Clone, clap::Args, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Options {
    /// What you are working on (5 to 1000 characters).
    pub(crate) topic: String,
    /// The domain (e.g. infrastructure).
    #[arg(long)]
    #[serde(default)]
    pub(crate) domain: Option<String>,
    /// Tools you use. Repeatable.
    #[arg(long = "tool", value_name = "TOOL")]
    #[serde(default)]
    pub(crate) tools: Vec<String>,
    /// Only you can see it (same as --visibility private).
    #[arg(long, conflicts_with = "visibility")]
    #[serde(skip)]
    #[schemars(skip)]
    pub(crate) private: bool,
    /// Who can see it: public (default), team or private. Use private for anything sensitive or not approved for sharing.
    #[arg(long, value_parser = args::choice::<Visibility>())]
    #[serde(default, deserialize_with = "args::closed_opt")]
    #[schemars(schema_with = "args::closed_schema::<Visibility>")]
    pub(crate) visibility: Option<Visibility>,
    #[command(flatten)]
    #[serde(flatten)]
    pub(crate) safety: SafetyArgs,
}

pub(crate) async fn run(ctx: &Ctx, options: Options) -> anyhow::Result<u8> {
    let Options {
        topic,
        domain,
        tools,
        private,
        visibility,
        safety,
    } = options;
    let topic = screen(ctx, &safety, "session.topic", Value::String(topic))?
        .as_str()
        .map(str::to_owned)
        .unwrap_or_default();
    let mut body = OpenSession::new(topic).tools(tools);
    if let Some(domain) = domain {
        body = body.domain(domain);
    }
    if private {
        body = body.visibility(Visibility::Private);
    } else if let Some(visibility) = visibility {
        body = body.visibility(visibility);
    }
    body.validate()?;
    let client = ctx.authed()?;
    let opened = ctx
        .out
        .spin("opening the session", client.sessions().open(body))
        .await
        .map_err(|e| unconfirmed(e, "opening the session failed", "plurum session list --status open"))?;
    let session = &opened.session;
    let previous = ctx.state().update(|state| {
        Ok(state.make_current(CurrentSession {
            other: Default::default(),
            id: session.id.to_string(),
            short_id: session.short_id.clone(),
            topic: session.topic.clone(),
            opened_at: Some(now()),
            last_entry_at: None,
        }))
    })?;
    if let Some(previous) = previous {
        ctx.out.warn(&format!(
            "session {} (\"{}\") is still open on the server but no longer current; \
             'plurum session use {}' makes it current again, 'plurum session close {}' closes it",
            previous.short_id,
            clip(&previous.topic, 60),
            previous.short_id,
            previous.short_id
        ));
    }
    ctx.out.emit(&opened, || {
        let mut lines = vec![format!(
            "Opened session {} (now the current session): {}",
            session.short_id, session.topic
        )];
        if !opened.matching_experiences.is_empty() {
            lines.push("Experiences that may already cover it:".to_owned());
            for e in &opened.matching_experiences {
                lines.push(format!(
                    "  {}  quality {:.2}  {}",
                    e.short_id,
                    e.quality_score,
                    clip(&e.goal, 70)
                ));
            }
        }
        if !opened.active_sessions.is_empty() {
            lines.push("Other agents working on something similar right now:".to_owned());
            for s in &opened.active_sessions {
                lines.push(format!(
                    "  {}  {}",
                    s.short_id.as_deref().unwrap_or(short(s.id.as_str())),
                    clip(&s.topic, 70)
                ));
            }
        }
        lines.join("\n")
    })?;
    Ok(exit::OK)
}
