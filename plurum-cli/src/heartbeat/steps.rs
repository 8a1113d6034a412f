//! The heartbeat's steps that talk to the server: the inbox, the saved
//! experiences, the pulse, and the one-line summary of what they found.

use futures_util::StreamExt;
use plurum_sdk::Client;
use plurum_sdk::types::{
    ContributionType, Experience, ExperienceSummary, InboxEvent, PulseEvent, PulseSession, PulseStatus, SessionStatus,
};
use serde::Serialize;
use serde_json::Value;

use super::attention::Attention;
use crate::interest::Interest;
use crate::kept;
use crate::outbox::FlushSummary;
use crate::output::clip;
use crate::render::{SessionNames, describe_event, kept_event_json};
use crate::state::{SavedExperience, StateFile};

/// Saved experiences re-read per heartbeat (the most recent).
const SAVED_REFRESH: usize = 20;

/// What the inbox step did.
#[derive(Debug, Default, Serialize)]
pub(crate) struct InboxStep {
    /// The events kept for the first time this run.
    pub(crate) events: Vec<Value>,
    /// Events read from the server this run.
    pub(crate) read: usize,
    pub(crate) new_events: usize,
    pub(crate) contributions: usize,
    pub(crate) sessions_opened: usize,
    pub(crate) sessions_closed: usize,
    pub(crate) marked_read: u64,
    /// Events left unread on the server because the local inbox is full.
    pub(crate) left_unread: usize,
    /// Events that could neither be kept nor left on the server (the real
    /// server's session events, which vanish after one read).
    pub(crate) not_kept: usize,
    /// Waiting events that asked nothing of the agent, dropped to make room
    /// for new ones (the local inbox was full).
    pub(crate) evicted: usize,
    /// Kept events waiting for the agent (`plurum inbox`).
    pub(crate) waiting: usize,
    #[serde(skip)]
    pub(crate) warnings: Vec<Attention>,
    #[serde(skip)]
    pub(crate) lines: Vec<String>,
    /// The events seen for the first time (for the daemon's drives).
    #[serde(skip)]
    pub(crate) added: Vec<InboxEvent>,
}

/// Reads the server's inbox (see [`kept::fetch`]) and counts what came.
pub(crate) async fn inbox_step(
    client: &Client,
    state_file: &StateFile,
    interest: &Interest,
) -> anyhow::Result<InboxStep> {
    let fetched = kept::fetch(client, state_file, interest).await?;
    let mut names = SessionNames::from_state(&state_file.load()?);
    names.fill(client, fetched.added.iter().map(|e| &e.event)).await;
    let mut step = InboxStep {
        read: fetched.read,
        new_events: fetched.added.len(),
        marked_read: fetched.marked_read,
        left_unread: fetched.left_unread,
        not_kept: fetched.not_kept,
        evicted: fetched.evicted,
        waiting: fetched.waiting,
        ..InboxStep::default()
    };
    for event in &fetched.added {
        // The id the event is kept under (`plurum inbox --ack` takes it).
        let key = event.event.dedup_key();
        let kept_id = fetched.kept.iter().find(|k| k.key() == key).map(|k| k.id.clone());
        count(&mut step, event, kept_id, &names);
    }
    step.events = fetched
        .kept
        .iter()
        .map(|k| kept_event_json(k, &names, interest))
        .collect();
    step.added = fetched.added;
    Ok(step)
}

fn count(step: &mut InboxStep, event: &InboxEvent, kept_id: Option<String>, names: &SessionNames) {
    step.lines.push(describe_event(&event.event, names));
    match &event.event {
        PulseEvent::ContributionReceived(c) => {
            step.contributions += 1;
            if c.contribution_type == ContributionType::Warning {
                step.warnings.push(Attention::WarningContributed {
                    event_id: kept_id,
                    session_id: c.session_id.to_string(),
                    session_short_id: names.short(c.session_id.as_str()).map(str::to_owned),
                    session_topic: names.topic(c.session_id.as_str()).map(str::to_owned),
                    from: c.contributor_agent_id.as_ref().map(ToString::to_string),
                    from_short: c
                        .contributor_agent_id
                        .as_ref()
                        .map(|a| crate::render::short(a.as_str()).to_owned()),
                    text: c.text().map(str::to_owned).unwrap_or_else(|| c.content.to_string()),
                });
            }
        }
        PulseEvent::SessionOpened(_) => step.sessions_opened += 1,
        PulseEvent::SessionClosed(_) => step.sessions_closed += 1,
        _ => {}
    }
}

/// Re-reads the experiences the agent relies on (bounded concurrency).
pub(crate) async fn refresh_saved(
    client: &Client,
    saved: &[SavedExperience],
) -> Vec<(String, Result<Experience, plurum_sdk::Error>)> {
    let recent: Vec<String> = saved
        .iter()
        .rev()
        .filter(|s| s.reason.relied_on())
        .take(SAVED_REFRESH)
        .map(|s| s.short_id.clone())
        .collect();
    let read = |id: String| async move {
        let result = client.experiences().get(&id).await;
        (id, result)
    };
    // The first goes alone: a server that refuses the connection is not
    // asked again for the others (they are re-read next run).
    let mut recent = recent.into_iter();
    let Some(first) = recent.next() else {
        return Vec::new();
    };
    let first = read(first).await;
    if first.1.as_ref().is_err_and(plurum_sdk::Error::is_refused) {
        return vec![first];
    }
    let mut all = vec![first];
    all.extend(
        futures_util::stream::iter(recent)
            .map(read)
            .buffer_unordered(8)
            .collect::<Vec<_>>()
            .await,
    );
    all
}

/// The open sessions of other agents in the profile's domains or tools.
pub(crate) fn relevant_sessions<'a>(
    interest: &Interest,
    me: Option<&str>,
    status: &'a PulseStatus,
) -> Vec<&'a PulseSession> {
    status
        .sessions
        .iter()
        .filter(|s| s.status == SessionStatus::Open && Some(s.agent_id.as_str()) != me)
        .filter(|s| interest.covers(s.domain.as_deref(), &s.tools_used))
        .collect()
}

/// What the one-line summary is made of.
pub(crate) struct Summary<'a> {
    /// What waits for the human (the text, and whether it is new).
    pub(crate) alerts: &'a [(&'a str, bool)],
    pub(crate) inbox: Option<&'a InboxStep>,
    pub(crate) flushed: Option<&'a FlushSummary>,
    pub(crate) new_finds: &'a [ExperienceSummary],
    pub(crate) relevant: &'a [&'a PulseSession],
    /// Reports the server rejected for good, waiting in `outcome failed`.
    pub(crate) rejected_waiting: usize,
    /// No query, no current session, no focus.
    pub(crate) search_skipped: bool,
    /// The steps that failed, and why.
    pub(crate) failed: &'a [(&'static str, String)],
}

/// How a step is named for people.
fn step_name(step: &str) -> &str {
    match step {
        "key" => "key check",
        "outcomes" => "outcome reports",
        "saved" => "saved experiences",
        other => other,
    }
}

/// The one line HEARTBEAT.md's response format (docs/seeds.md) asks for. A heartbeat that
/// failed a step says so first, and never "complete".
pub(crate) fn summary_line(summary: &Summary<'_>) -> String {
    // Steps that failed the same way share one clause ("key check, inbox
    // and pulse: the server refused the connection").
    let mut causes: Vec<(&str, Vec<&str>)> = Vec::new();
    for (step, why) in summary.failed {
        match causes.iter_mut().find(|(cause, _)| cause == why) {
            Some((_, steps)) if !steps.contains(step) => steps.push(step),
            Some(_) => {}
            None => causes.push((why, vec![step])),
        }
    }
    let mut failures: Vec<String> = causes
        .iter()
        .map(|(why, steps)| {
            let names: Vec<&str> = steps.iter().map(|s| step_name(s)).collect();
            let names = match names.as_slice() {
                [one] => (*one).to_owned(),
                [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
                [] => String::new(),
            };
            format!("{names}: {} — will retry next run", clip(why, 120))
        })
        .collect();
    let mut parts = Vec::new();
    for (text, new) in summary.alerts {
        parts.push(format!(
            "tell your human{}: {text}",
            if *new { "" } else { " (told before, not acknowledged)" }
        ));
    }
    if let Some(inbox) = summary.inbox.filter(|i| !i.events.is_empty()) {
        let mut kinds = Vec::new();
        if inbox.contributions > 0 {
            kinds.push(format!("{} contribution(s) to your sessions", inbox.contributions));
        }
        if inbox.sessions_opened > 0 {
            kinds.push(format!("{} session(s) opened", inbox.sessions_opened));
        }
        if inbox.sessions_closed > 0 {
            kinds.push(format!("{} session(s) closed", inbox.sessions_closed));
        }
        parts.push(format!(
            "{} new inbox event(s) — {}",
            inbox.events.len(),
            kinds.join(", ")
        ));
    }
    if let Some(inbox) = summary.inbox {
        if inbox.left_unread > 0 {
            parts.push(format!(
                "{} more left unread on the server: {} events already wait, the most plurum keeps (acknowledge with 'plurum inbox --ack')",
                inbox.left_unread,
                kept::KEEP_UNACKNOWLEDGED
            ));
        }
        if inbox.not_kept > 0 {
            parts.push(format!(
                "{} session event(s) could not be kept (the local inbox is full)",
                inbox.not_kept
            ));
        }
        if inbox.evicted > 0 {
            parts.push(format!(
                "{} older event(s) that asked nothing of you were dropped to make room (the local inbox is full)",
                inbox.evicted
            ));
        }
        if inbox.waiting > 0 {
            parts.push(format!("{} event(s) waiting in 'plurum inbox'", inbox.waiting));
        }
    }
    if let Some(flushed) = summary.flushed.filter(|f| f.queued_before > 0) {
        let text = match (flushed.delivered, flushed.kept) {
            (0, kept) => format!("{kept} outcome report(s) still queued"),
            (delivered, 0) => format!("reported {delivered} queued outcome(s)"),
            (delivered, kept) => format!("reported {delivered} queued outcome(s), {kept} still queued"),
        };
        parts.push(text);
    }
    if summary.rejected_waiting > 0 {
        parts.push(format!(
            "{} rejected outcome report(s) wait in 'plurum outcome failed' (--retry or --drop them)",
            summary.rejected_waiting
        ));
    }
    for found in summary.new_finds {
        let reports = found.total_reports.unwrap_or(0);
        parts.push(format!(
            "found experience {} \"{}\" (quality {:.2}, {reports} report{}) — suggested",
            found.short_id,
            clip(&found.goal, 60),
            found.quality_score,
            if reports == 1 { "" } else { "s" }
        ));
    }
    if !summary.relevant.is_empty() {
        parts.push(format!(
            "{} active session(s) in your domains or tools: {}",
            summary.relevant.len(),
            summary
                .relevant
                .iter()
                .map(|s| format!("{} \"{}\"", s.short_id, clip(&s.topic, 50)))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let skipped = summary.search_skipped.then_some(
        "search skipped: no --query, no current session and no focus (set one: plurum config set focus \"what you work on\")",
    );
    if !failures.is_empty() {
        // The search advice waits for a run that reaches the server.
        failures.extend(parts);
        format!("Plurum heartbeat incomplete: {}.", failures.join("; "))
    } else if parts.is_empty() {
        match skipped {
            Some(skipped) => format!("Plurum heartbeat complete. No new findings; {skipped}."),
            None => "Plurum heartbeat complete. No new findings.".to_owned(),
        }
    } else {
        parts.extend(skipped.map(str::to_owned));
        format!("Plurum heartbeat: {}.", parts.join("; "))
    }
}
