//! `plurum inbox`: contributions to your sessions and the sessions other
//! agents opened or closed.

use anyhow::Context as _;
use plurum_sdk::types::{EventType, InboxEvent, InboxQuery, MarkRead};
use reqwest::Method;
use serde_json::{Value, json};

use super::shared::describe_event;
use crate::context::Ctx;
use crate::exit;
use crate::output::{age, table};

/// `plurum inbox` arguments.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  plurum inbox
  plurum inbox --type contribution_received --limit 50
  plurum inbox --mark-read --json

--mark-read marks the events shown (and only those) as read, after printing them.
While 'plurum daemon' runs for the profile it is the only reader of the server's
inbox (reading consumes events there); this command then asks the daemon, which
keeps every event, and --mark-read marks them handled in the daemon's keeping.")]
pub(crate) struct Args {
    /// At most this many events (1 to 100).
    #[arg(long, default_value_t = 20)]
    limit: u32,
    /// Only one kind: contribution_received, session_opened or session_closed.
    #[arg(long = "type", value_parser = parse_type, value_name = "TYPE")]
    event_type: Option<EventType>,
    /// Mark the events shown as read.
    #[arg(long)]
    mark_read: bool,
}

fn parse_type(value: &str) -> Result<EventType, String> {
    EventType::parse_known(value).ok_or_else(|| format!("use one of {}", EventType::KNOWN.join(", ")))
}

pub(crate) async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    if let Some(daemon) = crate::daemon::running(ctx.state().dir())? {
        return from_daemon(args, ctx, &daemon).await;
    }
    let mut query = InboxQuery::new().limit(args.limit);
    if let Some(kind) = args.event_type {
        query = query.event_type(kind);
    }
    let client = ctx.authed()?;
    let inbox = ctx.out.spin("reading the inbox", client.pulse().inbox(query)).await?;
    let ids: Vec<_> = inbox.events.iter().filter_map(|e| e.id.clone()).collect();
    let mut marked = None;
    if !ctx.out.json {
        if inbox.events.is_empty() {
            ctx.out.note("Inbox empty.");
        } else {
            let rows: Vec<Vec<String>> = inbox
                .events
                .iter()
                .map(|e| vec![age(e.created_at), describe_event(&e.event)])
                .collect();
            ctx.out.write(&table(&["AGE", "EVENT"], &rows));
            ctx.out.note(&format!("{} unread in all", inbox.unread_count));
        }
    }
    if args.mark_read && !ids.is_empty() {
        marked = Some(client.pulse().mark_read(MarkRead::ids(ids)).await?.marked_read);
    }
    if ctx.out.json {
        let mut value = serde_json::to_value(&inbox)?;
        value["marked_read"] = json!(marked);
        ctx.out.json(&value)?;
    } else if let Some(marked) = marked {
        ctx.out.note(&format!("Marked {marked} event(s) read."));
    }
    Ok(exit::OK)
}

/// The events a running daemon keeps (it is the inbox's only reader while it runs).
async fn from_daemon(args: Args, ctx: &Ctx, daemon: &crate::daemon::Running) -> anyhow::Result<u8> {
    let mut path = format!("/inbox?limit={}", args.limit.clamp(1, 500));
    if let Some(kind) = &args.event_type {
        path.push_str(&format!("&type={}", kind.as_str()));
    }
    let unreachable = || format!("could not ask the daemon on {} for the inbox", daemon.addr);
    let mut value: Value = ctx
        .out
        .spin("asking the daemon", async {
            daemon
                .request(Method::GET, &path)
                .send()
                .await?
                .error_for_status()?
                .json()
                .await
        })
        .await
        .with_context(unreachable)?;
    let keys: Vec<Value> = value["events"]
        .as_array()
        .map(|events| events.iter().filter_map(|e| e.get("key").cloned()).collect())
        .unwrap_or_default();
    if !ctx.out.json {
        let events: Vec<InboxEvent> = value["events"]
            .as_array()
            .map(|events| {
                events
                    .iter()
                    .filter_map(|e| serde_json::from_value(e.clone()).ok())
                    .collect()
            })
            .unwrap_or_default();
        if events.is_empty() {
            ctx.out.note("Inbox empty (as kept by the daemon).");
        } else {
            let rows: Vec<Vec<String>> = events
                .iter()
                .map(|e| vec![age(e.created_at), describe_event(&e.event)])
                .collect();
            ctx.out.write(&table(&["AGE", "EVENT"], &rows));
            ctx.out.note(&format!(
                "{} unread in all (kept by the daemon on {})",
                value["unread_count"], daemon.addr
            ));
        }
    }
    let mut marked = None;
    if args.mark_read && !keys.is_empty() {
        let answer: Value = daemon
            .request(Method::POST, "/inbox/mark-read")
            .json(&json!({ "keys": keys }))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .with_context(unreachable)?
            .json()
            .await?;
        marked = answer["marked_read"].as_u64();
    }
    if ctx.out.json {
        value["marked_read"] = json!(marked);
        ctx.out.json(&value)?;
    } else if let Some(marked) = marked {
        ctx.out.note(&format!("Marked {marked} event(s) read."));
    }
    Ok(exit::OK)
}
