//! Pieces several commands use: the content-safety gate, session
//! resolution, and how experiences and events read for people.

use plurum_sdk::Client;
use plurum_sdk::safety;
use plurum_sdk::types::{ExperienceSummary, PulseEvent, SessionId};
use serde_json::{Value, json};

use crate::context::Ctx;
use crate::exit::{self, CliError};
use crate::output::clip;

/// `--allow-sensitive` and `--redact`, on every command that posts content.
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct SafetyArgs {
    /// Post even if the content looks like it holds keys, passwords, connection strings, private hosts or e-mails.
    #[arg(long)]
    pub(crate) allow_sensitive: bool,
    /// Mask what looks sensitive (as [REDACTED:<kind>]) and post the rest.
    #[arg(long, conflicts_with = "allow_sensitive")]
    pub(crate) redact: bool,
}

/// Scans what is about to be posted (SKILL.md, "Content safety"). A finding
/// stops the command (exit 1) unless `--allow-sensitive`; `--redact` masks.
pub(crate) fn screen(ctx: &Ctx, args: &SafetyArgs, root: &str, value: Value) -> anyhow::Result<Value> {
    let findings = safety::scan(root, &value);
    if findings.is_empty() {
        return Ok(value);
    }
    if args.allow_sensitive {
        ctx.out.warn(&format!(
            "posting content that looks sensitive ({} finding(s)) because of --allow-sensitive",
            findings.len()
        ));
        return Ok(value);
    }
    if args.redact {
        ctx.out
            .note(&format!("masked {} sensitive piece(s) before posting", findings.len()));
        return Ok(safety::redact(&value));
    }
    if ctx.out.json {
        ctx.out
            .json(&json!({"error": "sensitive_content", "findings": findings}))?;
    }
    let list: Vec<String> = findings
        .iter()
        .map(|f| format!("{} ({}: {})", f.path, f.category, f.category.describe()))
        .collect();
    Err(CliError::new(
        exit::ERROR,
        format!("refusing to post content that looks sensitive: {}", list.join("; ")),
    )
    .hint("remove it, pass --redact to mask it, or --allow-sensitive to post it anyway")
    .into())
}

/// A session a command acts on: its UUID (for the API) and how to name it.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) id: SessionId,
    pub(crate) label: String,
}

/// The session a command acts on: the given UUID or short id, or the
/// current session. Short ids are resolved to the UUID first (session
/// sub-routes take UUIDs only).
pub(crate) async fn session_id(ctx: &Ctx, client: &Client, given: Option<&str>) -> anyhow::Result<Target> {
    match given {
        Some(identifier) => Ok(Target {
            id: client.sessions().resolve(identifier).await?,
            label: identifier.to_owned(),
        }),
        None => match ctx.state().load()?.current_session {
            Some(current) => Ok(Target {
                id: SessionId::new(current.id),
                label: current.short_id,
            }),
            None => Err(CliError::new(exit::USAGE, "no current session")
                .hint("pass a session id, or open one with 'plurum session open TOPIC'")
                .into()),
        },
    }
}

/// One line per experience: a table for people.
pub(crate) fn experience_rows(items: &[ExperienceSummary]) -> Vec<Vec<String>> {
    items
        .iter()
        .map(|e| {
            vec![
                e.short_id.clone(),
                format!("{:.2}", e.quality_score),
                format!("{:.0}%", e.success_rate * 100.0),
                e.total_reports.map_or("-".to_owned(), |n| n.to_string()),
                e.similarity.map_or("-".to_owned(), |s| format!("{s:.2}")),
                clip(&e.goal, 70),
            ]
        })
        .collect()
}

/// The headers of [`experience_rows`].
pub(crate) const EXPERIENCE_HEADERS: &[&str] = &["ID", "QUALITY", "SUCCESS", "REPORTS", "SIMILARITY", "GOAL"];

/// An event in one line, for people.
pub(crate) fn describe_event(event: &PulseEvent) -> String {
    match event {
        PulseEvent::ContributionReceived(c) => format!(
            "{} on your session {}: {}",
            c.contribution_type,
            short(c.session_id.as_str()),
            clip(c.text().unwrap_or(&c.content.to_string()), 100)
        ),
        PulseEvent::SessionOpened(s) => format!(
            "session opened {}: {}{}",
            s.short_id.as_deref().unwrap_or(short(s.session_id.as_str())),
            clip(&s.topic, 80),
            s.domain.as_deref().map(|d| format!(" [{d}]")).unwrap_or_default()
        ),
        PulseEvent::SessionClosed(s) => format!(
            "session closed {}: {} ({}){}",
            s.short_id.as_deref().unwrap_or(short(s.session_id.as_str())),
            clip(&s.topic, 80),
            s.outcome.as_ref().map_or("no outcome".to_owned(), ToString::to_string),
            s.experience_short_id
                .as_deref()
                .map(|e| format!(", experience {e}"))
                .unwrap_or_default()
        ),
        PulseEvent::Unknown { event_type, data } => format!("{event_type}: {}", clip(&data.to_string(), 100)),
        _ => event.event_type().to_owned(),
    }
}

/// The first 8 characters of an id.
pub(crate) fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// A JSON value for an event (type and data).
pub(crate) fn event_json(event: &PulseEvent) -> Value {
    json!({"type": event.event_type(), "data": event.data()})
}
