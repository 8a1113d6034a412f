//! `plurum inbox`: contributions to your sessions and the sessions other
//! agents opened or closed, kept until you acknowledge them.

use anyhow::Context as _;
use plurum_sdk::types::EventType;
use reqwest::Method;
use serde_json::{Value, json};

use super::args;
use crate::context::Ctx;
use crate::exit::{self, CliError};
use crate::interest::Interest;
use crate::kept::{self, KeptEvent};
use crate::output::{age, table};
use crate::render::{SessionNames, describe_event, kept_event_json};

/// `plurum inbox` options, and the `plurum_inbox` tool's arguments.
#[derive(Debug, Clone, clap::Args, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[command(after_help = "Examples:
  plurum inbox
  plurum inbox --type contribution_received --limit 50
  plurum inbox --ack 3f2a9c1e 77d0b1aa
  plurum inbox --all --json

Reading the server's inbox consumes events there, so plurum keeps every event
it reads (here or in the heartbeat) in the profile's state, and marks read on
the server only what it kept. They are listed here, newest first. An event
that asks you to act (a contribution to your session, a session opened in
your domains or tools; marked *) stays listed until you acknowledge it
(--ack ID..., --all, or --mark-read for the ones shown); the others are
acknowledged once shown. At most 500 wait at a time: beyond that, new events
stay unread on the server until you acknowledge some. While 'plurum daemon'
runs for the profile it is the only reader of the server's inbox; this
command then asks the daemon.")]
pub(crate) struct Args {
    /// Show at most this many events (1 to 500).
    #[arg(long, default_value_t = DEFAULT_LIMIT, value_parser = args::int_in(args::ranges::INBOX_LIMIT))]
    #[serde(default = "default_limit")]
    #[schemars(range(min = 1, max = 500))]
    pub(crate) limit: u32,
    /// Only one kind: contribution_received, session_opened or session_closed.
    #[arg(long = "type", value_parser = args::choice::<EventType>(), value_name = "TYPE")]
    #[serde(rename = "type", default, deserialize_with = "args::closed_opt")]
    #[schemars(schema_with = "args::closed_schema::<EventType>")]
    pub(crate) event_type: Option<EventType>,
    /// Acknowledge these events (ids as listed; the first 8 characters are enough).
    #[arg(long, value_name = "ID", num_args = 1..)]
    #[serde(default)]
    pub(crate) ack: Vec<String>,
    /// Acknowledge every waiting event.
    #[arg(long, conflicts_with = "ack")]
    #[serde(default)]
    pub(crate) all: bool,
    /// Acknowledge the events shown.
    #[arg(long, conflicts_with_all = ["ack", "all"])]
    #[serde(default)]
    pub(crate) mark_read: bool,
}

const DEFAULT_LIMIT: u32 = 20;

fn default_limit() -> u32 {
    DEFAULT_LIMIT
}

pub(crate) async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    if let Some(daemon) = crate::daemon::running(ctx.state().dir())? {
        return from_daemon(args, ctx, &daemon).await;
    }
    let state_file = ctx.state();
    let client = ctx.authed()?;
    let interest = Interest::of(&ctx.settings);
    let fetched = ctx
        .out
        .spin("reading the inbox", kept::fetch(&client, &state_file, &interest))
        .await?;
    // Acknowledge first (`--ack`, `--all`), so what is listed is what still
    // waits; `--mark-read` acknowledges the events listed, after.
    let (mut acknowledged, unknown) = if args.mark_read {
        (0, Vec::new())
    } else {
        acknowledge(&state_file, &args, &[])?
    };
    let state = state_file.load()?;
    let listed_ids: Vec<String> = kept::newest_first(&state.inbox_events)
        .into_iter()
        .filter(|e| e.is_waiting())
        .filter(|e| args.event_type.as_ref().is_none_or(|t| e.event_type == t.as_str()))
        .take(args.limit as usize)
        .map(|e| e.id.clone())
        .collect();
    let state = if args.mark_read && !listed_ids.is_empty() {
        acknowledged = acknowledge(&state_file, &args, &listed_ids)?.0;
        state_file.load()?
    } else {
        state
    };
    let listed: Vec<&KeptEvent> = listed_ids
        .iter()
        .filter_map(|id| state.inbox_events.iter().find(|e| &e.id == id))
        .collect();
    let mut names = SessionNames::from_state(&state);
    names
        .fill(&client, listed.iter().map(|e| e.event()).collect::<Vec<_>>().iter())
        .await;
    let events: Vec<Value> = listed.iter().map(|e| kept_event_json(e, &names, &interest)).collect();
    let human_list = listing(&listed, &names, &interest);
    let waiting = kept::waiting(&state);
    let value = json!({
        "events": events,
        "waiting": waiting,
        "acknowledged": acknowledged,
        // Deprecated: events are no longer acknowledged by being shown.
        "seen": 0,
        "fetched": {
            "read": fetched.read,
            "new": fetched.added.len(),
            "marked_read": fetched.marked_read,
            "left_unread": fetched.left_unread,
            "not_kept": fetched.not_kept,
            "evicted": fetched.evicted,
        },
        "source": "local",
    });
    ctx.out.emit(&value, || {
        if events.is_empty() {
            String::new()
        } else {
            human_list.clone()
        }
    })?;
    if !ctx.out.json {
        if events.is_empty() {
            ctx.out.note("Inbox empty.");
        }
        if fetched.left_unread > 0 {
            ctx.out.warn(&format!(
                "{} more event(s) left unread on the server: {} that ask for action already wait here, the most plurum keeps; acknowledge some with --ack or --all",
                fetched.left_unread,
                kept::KEEP_UNACKNOWLEDGED
            ));
        }
        notes(ctx, acknowledged, waiting, events.len());
    }
    unknown_ids(unknown)
}

/// What happened to the waiting events, for people.
fn notes(ctx: &Ctx, acknowledged: usize, waiting: usize, shown: usize) {
    if acknowledged > 0 {
        ctx.out.note(&format!(
            "Acknowledged {acknowledged} event(s); {waiting} still waiting."
        ));
    } else if waiting > shown && waiting > 0 {
        ctx.out.note(&format!("{waiting} waiting in all (see --limit)."));
    }
    if waiting > 0 && acknowledged == 0 {
        ctx.out
            .note("Events wait until acknowledged: --ack ID..., --mark-read (those shown) or --all.");
    }
}

/// The table people see: id (`*` when it asks the agent to act), when it
/// happened, when it was read, what.
fn listing(events: &[&KeptEvent], names: &SessionNames, interest: &Interest) -> String {
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            let mark = if e.needs_action(interest) { "*" } else { "" };
            vec![
                format!("{}{mark}", e.short_id()),
                age(e.created_at),
                age(e.kept_at),
                describe_event(&e.event(), names),
            ]
        })
        .collect();
    table(&["ID", "AGE", "READ", "EVENT"], &rows)
}

/// Acknowledges what the flags ask for.
fn acknowledge(
    state_file: &crate::state::StateFile,
    args: &Args,
    shown: &[String],
) -> anyhow::Result<(usize, Vec<String>)> {
    let ids: Vec<String> = if args.mark_read {
        shown.to_vec()
    } else {
        args.ack.clone()
    };
    if ids.is_empty() && !args.all {
        return Ok((0, Vec::new()));
    }
    state_file.update(|state| Ok(kept::acknowledge(state, &ids, args.all)))
}

fn unknown_ids(unknown: Vec<String>) -> anyhow::Result<u8> {
    if unknown.is_empty() {
        return Ok(exit::OK);
    }
    Err(
        CliError::new(exit::USAGE, format!("no kept event has the id {}", unknown.join(", ")))
            .hint("the ids are those 'plurum inbox' lists")
            .into(),
    )
}

/// The events a running daemon keeps (it is the inbox's only reader while it runs).
async fn from_daemon(args: Args, ctx: &Ctx, daemon: &crate::daemon::Running) -> anyhow::Result<u8> {
    let unreachable = || format!("could not ask the daemon on {} for the inbox", daemon.addr);
    let list = |all: bool| {
        let mut path = format!("/inbox?limit={}", args.limit);
        if let Some(kind) = &args.event_type {
            path.push_str(&format!("&type={}", kind.as_str()));
        }
        if all {
            path.push_str("&all=true");
        }
        async move {
            let value: Value = daemon
                .request(Method::GET, &path)
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            anyhow::Ok(value)
        }
    };
    let acknowledge = |body: Value| async move {
        let answer: Value = daemon
            .request(Method::POST, "/inbox/mark-read")
            .json(&body)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .with_context(unreachable)?
            .json()
            .await?;
        let count = answer["acknowledged"].as_u64().unwrap_or(0) as usize;
        let unknown: Vec<String> = answer["unknown"]
            .as_array()
            .map(|u| u.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        anyhow::Ok((count, unknown))
    };
    let events_of = |value: &Value| -> Vec<KeptEvent> {
        value["events"]
            .as_array()
            .map(|events| {
                events
                    .iter()
                    .filter_map(|e| serde_json::from_value(e.clone()).ok())
                    .collect()
            })
            .unwrap_or_default()
    };
    // Acknowledge first, so what is listed is what still waits.
    let (mut acknowledged, unknown) = if !args.mark_read && (!args.ack.is_empty() || args.all) {
        acknowledge(json!({ "ids": args.ack, "all": args.all })).await?
    } else {
        (0, Vec::new())
    };
    let value = ctx
        .out
        .spin("asking the daemon", list(false))
        .await
        .with_context(unreachable)?;
    let mut listed = events_of(&value);
    let mut waiting = value["waiting"].as_u64().unwrap_or(0);
    if args.mark_read && !listed.is_empty() {
        let shown: Vec<String> = listed.iter().map(|e| e.id.clone()).collect();
        acknowledged = acknowledge(json!({ "ids": shown })).await?.0;
        waiting = waiting.saturating_sub(acknowledged as u64);
        // The same events, now acknowledged.
        let all = events_of(&list(true).await.with_context(unreachable)?);
        listed = shown
            .iter()
            .filter_map(|id| all.iter().find(|e| &e.id == id).cloned())
            .collect();
    }
    let interest = Interest::of(&ctx.settings);
    let names = SessionNames::from_state(&ctx.state().load()?);
    let document = json!({
        "events": listed.iter().map(|e| kept_event_json(e, &names, &interest)).collect::<Vec<_>>(),
        "waiting": waiting,
        "acknowledged": acknowledged,
        // Deprecated: events are no longer acknowledged by being shown.
        "seen": 0,
        "fetched": null,
        "source": "daemon",
    });
    if ctx.out.json {
        ctx.out.json(&document)?;
    } else {
        if listed.is_empty() {
            ctx.out.note("Inbox empty (as kept by the daemon).");
        } else {
            let refs: Vec<&KeptEvent> = listed.iter().collect();
            ctx.out.write(&listing(&refs, &names, &interest));
        }
        ctx.out.note(&format!("Kept by the daemon on {}.", daemon.addr));
        notes(ctx, acknowledged, waiting as usize, listed.len());
    }
    unknown_ids(unknown)
}
