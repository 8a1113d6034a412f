//! `plurum session open`, and the `plurum_session_open` tool.

use plurum_sdk::types::{OpenSession, Visibility};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::commands::args;
use crate::commands::safety::{SafetyArgs, screen};
use crate::commands::target::unconfirmed;
use crate::context::Ctx;
use crate::exit;
use crate::journal::Settled;
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
    /// Fail when the server cannot take it now, instead of opening it locally (a provisional id, local-XXXXXXXX) and sending it later.
    #[arg(long)]
    #[serde(default)]
    pub(crate) no_queue: bool,
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
        no_queue,
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
    if no_queue {
        let opened = ctx
            .out
            .spin("opening the session", client.sessions().open(body))
            .await
            .map_err(|e| unconfirmed(e, "opening the session failed", "plurum session list --status open"))?;
        return print_opened(ctx, &opened);
    }
    let journal = ctx.journal();
    let local = crate::journal::new_local_id();
    let topic = body.topic().to_owned();
    let (write, settled) = crate::journal::submit(
        ctx,
        &journal,
        crate::journal::Op::SessionOpen {
            local_id: local.clone(),
            body: serde_json::to_value(&body)?,
        },
        "opening the session",
    )
    .await?;
    match settled {
        Settled::Answered(answer) => print_opened(ctx, &serde_json::from_value(answer)?),
        settled @ (Settled::Found | Settled::Waiting(_)) => {
            let reason = match settled {
                Settled::Waiting(reason) => reason,
                _ => "delivered".to_owned(),
            };
            // Bound already (found after a lost answer), or local for now.
            let (id, short_id) = journal
                .local_session(&local)?
                .unwrap_or_else(|| (local.clone(), local.clone()));
            make_current(ctx, &id, &short_id, &topic)?;
            let mut value = json!({
                "session": {"id": id, "short_id": short_id, "topic": topic},
                "matching_experiences": [],
                "active_sessions": [],
                "delivery": if crate::journal::is_local(&id) { "queued" } else { "delivered" },
            });
            if crate::journal::is_local(&id) {
                value["queued"] = crate::journal::queued(&write, &reason);
            }
            ctx.out.emit(&value, || {
                if crate::journal::is_local(&id) {
                    format!(
                        "Opened session {id} locally (the server could not take it now; it is now the current session): {topic}\n\
                         Log to it as usual: 'plurum sync' or the next heartbeat opens it on the server and sends its entries in order."
                    )
                } else {
                    format!("Opened session {short_id} (now the current session): {topic}")
                }
            })?;
            Ok(exit::OK)
        }
    }
}

/// Makes the session current, warning about the one it replaces.
fn make_current(ctx: &Ctx, id: &str, short_id: &str, topic: &str) -> anyhow::Result<()> {
    let previous = ctx.state().update(|state| {
        Ok(state.make_current(CurrentSession {
            other: Default::default(),
            id: id.to_owned(),
            short_id: short_id.to_owned(),
            topic: topic.to_owned(),
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
    Ok(())
}

fn print_opened(ctx: &Ctx, opened: &plurum_sdk::types::OpenedSession) -> anyhow::Result<u8> {
    let session = &opened.session;
    make_current(ctx, session.id.as_str(), &session.short_id, &session.topic)?;
    let mut value = serde_json::to_value(opened)?;
    value["delivery"] = json!("delivered");
    ctx.out.emit(&value, || {
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
