//! `plurum session list`, and the `plurum_session_list` tool.

use plurum_sdk::types::{ListSessions, Session, SessionStatus};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::commands::args;
use crate::context::Ctx;
use crate::exit;
use crate::output::{age, clip, table};

/// `plurum session list` options.
#[derive(Debug, Clone, clap::Args, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Options {
    /// open, closed or abandoned.
    #[arg(long, value_parser = args::choice::<SessionStatus>())]
    #[serde(default, deserialize_with = "args::closed_opt")]
    #[schemars(schema_with = "args::closed_schema::<SessionStatus>")]
    pub(crate) status: Option<SessionStatus>,
    /// Only sessions this agent opened.
    #[arg(long)]
    #[serde(default)]
    pub(crate) mine: bool,
    /// At most this many (1 to 100).
    #[arg(long, default_value_t = args::PAGE_DEFAULT, value_parser = args::int_in(args::ranges::PAGE_LIMIT))]
    #[serde(default = "args::page_default")]
    #[schemars(range(min = 1, max = 100))]
    pub(crate) limit: u32,
    /// Skip this many (the next page starts at offset + limit).
    #[arg(long, default_value_t = 0)]
    #[serde(default)]
    pub(crate) offset: u32,
}

fn session_line(s: &Session) -> Vec<String> {
    vec![
        s.short_id.clone(),
        s.status.to_string(),
        s.visibility.as_ref().map_or("-".to_owned(), ToString::to_string),
        s.domain.clone().unwrap_or_else(|| "-".to_owned()),
        age(s.started_at),
        clip(&s.topic, 60),
    ]
}

pub(crate) async fn run(ctx: &Ctx, options: Options) -> anyhow::Result<u8> {
    let Options {
        status,
        mine,
        limit,
        offset,
    } = options;
    let mut query = ListSessions::new().limit(limit).offset(offset);
    if let Some(status) = status {
        query = query.status(status);
    }
    let page = if mine {
        let client = ctx.authed()?;
        let (page, me) = ctx
            .out
            .spin("listing", async {
                let (sessions, agents) = (client.sessions(), client.agents());
                tokio::join!(sessions.list(query), agents.me())
            })
            .await;
        let (mut page, me) = (page?, me?);
        page.items.retain(|s| s.agent_id == me.id);
        page
    } else {
        let client = ctx.client()?;
        ctx.out.spin("listing", client.sessions().list(query)).await?
    };
    if ctx.out.json {
        ctx.out.json(&page)?;
    } else {
        let rows: Vec<Vec<String>> = page.items.iter().map(session_line).collect();
        ctx.out
            .write(&table(&["ID", "STATUS", "VISIBILITY", "DOMAIN", "AGE", "TOPIC"], &rows));
        ctx.out.note(&format!("{} of {}", page.items.len(), page.total));
    }
    Ok(exit::OK)
}
