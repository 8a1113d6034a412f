//! `plurum session show`, and the `plurum_session_show` tool.

use plurum_sdk::types::Entry;
use schemars::JsonSchema;
use serde::Deserialize;

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
        Some(s) => s,
        None => session_id(ctx, &client, None).await?.id.into_string(),
    };
    let s = ctx.out.spin("fetching", client.sessions().get(&identifier)).await?;
    ctx.out.emit(&s, || {
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
        lines.join("\n")
    })?;
    Ok(exit::OK)
}
