//! `plurum session show`, and the `plurum_session_show` tool.

use plurum_sdk::types::Entry;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use crate::commands::target::session_id;
use crate::context::Ctx;
use crate::exit;
use crate::output::{age, clip};

/// `plurum session show` options.
#[derive(Debug, Clone, clap::Args, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Options {
    /// The session's short id or UUID (default: the current session).
    #[serde(default)]
    pub(crate) session: Option<String>,
}

pub(crate) async fn run(ctx: &Ctx, options: Options) -> anyhow::Result<u8> {
    let client = ctx.client()?;
    let identifier = match options.session {
        Some(s) if crate::journal::is_local(&s) => session_id(ctx, &client, Some(&s)).await?.id.into_string(),
        Some(s) => s,
        None => session_id(ctx, &client, None).await?.id.into_string(),
    };
    let journal = ctx.journal();
    if crate::journal::is_local(&identifier) {
        return show_local(ctx, &journal, &identifier);
    }
    let s = ctx.out.spin("fetching", client.sessions().get(&identifier)).await?;
    let mut value = serde_json::to_value(&s)?;
    let waiting = journaled(&journal, s.id.as_str())?;
    value["journaled"] = serde_json::Value::Array(waiting.clone());
    ctx.out.emit(&value, || {
        let mut lines = vec![
            format!("{}  {}", s.short_id, s.topic),
            format!(
                "status {}  visibility {}  started {} ago{}",
                s.status,
                s.visibility.as_ref().map_or("-".to_owned(), ToString::to_string),
                age(s.started_at),
                s.outcome.as_ref().map(|o| format!("  outcome {o}")).unwrap_or_default()
            ),
        ];
        for e in s.entries.iter().flatten() {
            let text = match e.entry() {
                Some(Entry::DeadEnd { what, why }) => format!("{what} - {why}"),
                Some(Entry::Breakthrough { insight, detail, .. }) => format!("{insight}: {detail}"),
                Some(Entry::Gotcha { warning, .. }) => warning,
                Some(Entry::Artifact {
                    language, description, ..
                }) => {
                    format!("[{language}] {}", description.unwrap_or_default())
                }
                Some(Entry::Update { text } | Entry::Note { text }) => text,
                _ => e.content.to_string(),
            };
            lines.push(format!(
                "  #{} {}: {}",
                e.ordinal.unwrap_or_default(),
                e.entry_type,
                clip(&text, 100)
            ));
        }
        lines.extend(waiting.iter().filter_map(not_yet_delivered));
        lines.join("\n")
    })?;
    Ok(exit::OK)
}

/// A journaled write as `session show` lists it (the open itself is not).
fn not_yet_delivered(write: &serde_json::Value) -> Option<String> {
    if write["op"] == "session_open" {
        return None;
    }
    Some(format!(
        "  (not yet delivered) {} {}",
        write["entry_type"]
            .as_str()
            .unwrap_or_else(|| write["op"].as_str().unwrap_or_default()),
        clip(&write["content"].to_string(), 90)
    ))
}

/// The session's writes still in the journal: `{seq, op, entry_type?,
/// content?, queued_at}`.
fn journaled(journal: &crate::journal::Journal, session: &str) -> anyhow::Result<Vec<serde_json::Value>> {
    let contents = journal.read()?;
    let key = contents.key(session);
    Ok(contents
        .pending
        .iter()
        .filter(|p| contents.key(p.write.op.session()) == key)
        .map(|p| {
            let mut item = json!({"seq": p.write.seq, "op": p.write.op.kind(), "queued_at": p.write.at});
            if let crate::journal::Op::SessionLog { entry, .. } = &p.write.op {
                item["entry_type"] = entry["entry_type"].clone();
                item["content"] = entry["content"].clone();
            }
            item
        })
        .collect())
}

/// A session opened while the server could not take it: what the journal
/// holds of it.
fn show_local(ctx: &Ctx, journal: &crate::journal::Journal, local: &str) -> anyhow::Result<u8> {
    let contents = journal.read()?;
    let topic = contents
        .pending
        .iter()
        .find_map(|p| match &p.write.op {
            crate::journal::Op::SessionOpen { local_id, body } if local_id == local => {
                body["topic"].as_str().map(str::to_owned)
            }
            _ => None,
        })
        .unwrap_or_default();
    let waiting = journaled(journal, local)?;
    let value = json!({
        "id": local,
        "short_id": local,
        "topic": topic,
        "status": "open",
        "delivery": "queued",
        "entries": [],
        "journaled": waiting,
    });
    ctx.out.emit(&value, || {
        let mut lines = vec![
            format!("{local}  {topic}"),
            "opened locally: not yet on the server ('plurum sync' sends it)".to_owned(),
        ];
        lines.extend(waiting.iter().filter_map(not_yet_delivered));
        lines.join("\n")
    })?;
    Ok(exit::OK)
}
