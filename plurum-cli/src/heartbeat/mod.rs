//! The heartbeat engine: the routine of HEARTBEAT.md (docs/seeds.md), run once by
//! `plurum heartbeat` (which adds the due check, the lock and the printing)
//! and on its interval by `plurum daemon`.
//!
//! 1. Verify the key (`/agents/me`); a rejected key is exit 4, state untouched.
//! 2. Read the inbox, keep the events in state.json, then mark them read.
//! 3. Flush the outcome outbox (a report leaves only once the server has it).
//! 4. Search for the current work and save new finds with their scores;
//!    re-read saved experiences to notice falling quality.
//! 5. Check the pulse for sessions in the profile's domains and tools.
//! 6. Write `lastPlurumCheck`.
//!
//! Steps 2 to 5 run concurrently over one connection pool. "When to tell
//! your human" becomes exit code 3 with a `needs_human` list.

mod attention;
pub(crate) mod cron;
mod steps;

use std::time::{Duration, Instant};

use plurum_sdk::types::{ExperienceSummary, InboxEvent, PulseSession, SearchExperiences};
use serde_json::{Value, json};

use self::attention::{Attention, record};
use self::steps::{Summary, inbox_step, refresh_saved, relevant_sessions, summary_line};
use crate::context::Ctx;
use crate::exit::{self, CliError};
use crate::interest::Interest;
use crate::outbox;
use crate::state::{Alert, SavedExperience, SavedReason, StateFile, Ts, raise_alert};

/// What one heartbeat found and did.
#[derive(Debug)]
pub(crate) struct Beat {
    /// The exit code: 0, 3 (needs the human), 4 (key rejected mid-way), 5 (incomplete).
    pub(crate) code: u8,
    /// The one-line summary of HEARTBEAT.md's response format (docs/seeds.md).
    pub(crate) line: String,
    /// The `--json` summary.
    pub(crate) summary: Value,
    /// What the human should hear now (raised, or changed, by this run),
    /// as sentences.
    pub(crate) needs_human: Vec<String>,
    /// Everything waiting for the human (new or not), until acknowledged.
    pub(crate) waiting: Vec<Alert>,
    /// Inbox events seen for the first time.
    pub(crate) new_events: Vec<InboxEvent>,
    /// Inbox events, one line each.
    pub(crate) inbox_lines: Vec<String>,
    /// Queued reports the server now has.
    pub(crate) flushed: usize,
    /// One failure in full per distinct cause (what stderr shows: one line
    /// when the server is down, not one per step).
    pub(crate) details: Vec<String>,
    /// How long it took.
    pub(crate) duration: Duration,
}

/// Runs the routine once (steps 1 to 6) without printing anything.
///
/// `started_at` is when this run began (before any jitter): what
/// `lastPlurumCheck` records, so the next run is due an interval after it.
///
/// Every request goes out at once: the key check does not hold the other
/// steps up (a rejected key is the same 401 for all of them, and changes
/// nothing: the inbox keeps only what it could read, the outbox keeps what
/// it could not send), and the flush does not wait for it either.
///
/// # Errors
/// A missing or rejected key (exit 4), an unreadable state file.
pub(crate) async fn execute(
    ctx: &Ctx,
    state_file: &StateFile,
    query_flag: Option<String>,
    started_at: Ts,
) -> anyhow::Result<Beat> {
    let started = Instant::now();
    // A refused connection is not retried: the heartbeat runs again anyway.
    let client = ctx.queueing()?;
    let state = state_file.load_for_change()?;
    let (query, query_source) = match (&query_flag, &state.current_session, &ctx.settings.focus) {
        (Some(q), _, _) => (Some(q.clone()), "flag"),
        (None, Some(current), _) => (Some(current.topic.clone()), "current_session"),
        (None, None, Some(focus)) => (Some(focus.clone()), "profile_focus"),
        _ => (None, "none"),
    };
    let search = async {
        match &query {
            Some(q) => client
                .experiences()
                .search(SearchExperiences::new(q.clone()).limit(5))
                .await
                .map(Some),
            None => Ok(None),
        }
    };
    let interest = Interest::of(&ctx.settings);
    let (agents, pulse_api) = (client.agents(), client.pulse());
    let journal = ctx.journal();
    let (me, inbox, flushed, journaled, found, refreshed, pulse) = tokio::join!(
        agents.me(),
        inbox_step(&client, state_file, &interest),
        outbox::flush(state_file, &client),
        crate::journal::deliver(&journal, &client, None, None),
        search,
        refresh_saved(&client, &state.saved_experiences),
        pulse_api.status(),
    );
    // The key check says whether the server answered at all.
    ctx.reach().note(&me);
    if let Err(e) = &me
        && e.is_unauthorized()
    {
        return Err(CliError::new(
            exit::NOT_AUTHENTICATED,
            format!("the heartbeat could not authenticate: {e}"),
        )
        .hint(format!("{}; nothing was lost", crate::exit::rejected_key_hint()))
        .into());
    }

    let mut steps = Steps::default();
    let me = steps.outcome("key", me.map_err(anyhow::Error::from));
    let inbox = steps.outcome("inbox", inbox);
    let flushed = steps.outcome("outcomes", flushed);
    let journaled = steps.outcome("journal", journaled.map(|(summary, _)| summary));
    if let Some(j) = &journaled {
        if j.unauthorized {
            steps.unauthorized = true;
        }
        if j.pending > 0 && !j.busy {
            let why = format!(
                "{} journaled write(s) still queued: {}",
                j.pending,
                j.reasons.first().map_or("not sent", String::as_str)
            );
            steps.fail("journal", &why);
        }
    }
    let found = steps.outcome("search", found.map_err(anyhow::Error::from)).flatten();
    let pulse = steps.outcome("pulse", pulse.map_err(anyhow::Error::from));
    if query.is_none() {
        steps.skip("search");
    }
    if let Some(f) = &flushed {
        if f.unauthorized {
            steps.unauthorized = true;
        }
        if f.refused {
            steps.fail_because(
                "outcomes",
                &format!("{} report(s) still queued: the server refused the connection", f.kept),
                REFUSED.to_owned(),
            );
        } else if f.kept > 0 {
            steps.fail(
                "outcomes",
                &format!("{} report(s) still queued after a temporary failure", f.kept),
            );
        }
    }
    for (given, result) in &refreshed {
        if let Err(e) = result {
            steps.note_unauthorized(e);
            if !e.is_not_found() {
                let why = format!("{given}: {e}");
                let cause = if e.is_refused() {
                    REFUSED.to_owned()
                } else {
                    why.clone()
                };
                steps.fail_because("saved", &why, cause);
            }
        }
    }
    if steps.unauthorized {
        return Err(CliError::new(exit::NOT_AUTHENTICATED, "the server rejected the key")
            .hint(format!("{}; nothing was lost", crate::exit::rejected_key_hint()))
            .into());
    }

    // What the human should hear about.
    let mut needs_human: Vec<Attention> = inbox.as_ref().map(|i| i.warnings.clone()).unwrap_or_default();
    for item in &mut needs_human {
        if let Attention::WarningContributed {
            session_id,
            session_short_id,
            session_topic,
            ..
        } = item
            && (session_short_id.is_none() || session_topic.is_none())
            && let Ok(session) = client.sessions().get(&*session_id).await
        {
            *session_short_id = Some(session.short_id);
            *session_topic = Some(session.topic);
        }
    }
    if let Some(f) = &flushed
        && f.failed > 0
    {
        needs_human.push(Attention::ReportsRejected { count: f.failed });
    }

    // 6. Update the state: saved experiences, their scores, the check time.
    let all_ok = steps.failed.is_empty();
    let results: Vec<ExperienceSummary> = found.as_ref().map(|f| f.results.clone()).unwrap_or_default();
    let my_id = me.as_ref().map(|m| m.id.to_string());
    let (new_finds, alerts, new_alerts, rejected_waiting) = state_file.update(|state| {
        let mut changes = Vec::new();
        // An experience that is gone (404) is no longer watched.
        for (given, result) in &refreshed {
            if let Err(e) = result
                && e.is_not_found()
            {
                state.saved_experiences.retain(|s| !s.named(given));
            }
        }
        // Experiences the agent relies on: a fall in their scores is for
        // the human.
        for (given, result) in &refreshed {
            if let Ok(e) = result
                && let Some(saved) = state.saved_experiences.iter_mut().find(|s| s.named(given))
            {
                saved.short_id = e.short_id.clone();
                saved.id = Some(e.id.to_string());
                let change = record(saved, &e.goal, e.quality_score, e.success_rate, e.total_reports);
                if saved.reason.relied_on() {
                    changes.extend(change);
                }
            }
        }
        // Search hits: listed, kept as suggestions; their readings are
        // recorded quietly.
        let mut new_finds = Vec::new();
        // The agent's own experiences are not suggested back to it.
        let theirs = results
            .iter()
            .filter(|hit| my_id.is_none() || hit.agent_id.as_ref().map(ToString::to_string) != my_id);
        for hit in theirs {
            let refreshed_here = refreshed
                .iter()
                .any(|(given, r)| given == &hit.short_id || r.as_ref().is_ok_and(|e| e.short_id == hit.short_id));
            match state.saved_experiences.iter_mut().find(|s| s.named(&hit.short_id)) {
                Some(saved) if !refreshed_here => {
                    let change = record(
                        saved,
                        &hit.goal,
                        hit.quality_score,
                        hit.success_rate,
                        hit.total_reports.unwrap_or(0),
                    );
                    if saved.reason.relied_on() {
                        changes.extend(change);
                    }
                }
                Some(_) => {}
                None => {
                    let mut saved = SavedExperience::new(hit.short_id.clone(), SavedReason::Suggested);
                    saved.id = Some(hit.id.to_string());
                    saved.goal = Some(hit.goal.clone());
                    saved.quality_score = Some(hit.quality_score);
                    saved.success_rate = Some(hit.success_rate);
                    saved.total_reports = Some(hit.total_reports.unwrap_or(0));
                    state.saved_experiences.push(saved);
                    new_finds.push(hit.clone());
                }
            }
        }
        dedupe_saved(&mut state.saved_experiences);
        if all_ok {
            state.last_plurum_check = Some(started_at);
        }
        // What the human should hear waits until acknowledged; it is news
        // when raised or changed now. Rejected reports that were retried or
        // dropped no longer need anyone.
        if state.failed_outcome_reports.is_empty() {
            state.needs_human.retain(|a| a.key != "reports_rejected");
        }
        let mut new_alerts = Vec::new();
        for attention in needs_human.iter().chain(&changes) {
            let item = serde_json::to_value(attention).unwrap_or(Value::Null);
            let (id, new) = raise_alert(
                &mut state.needs_human,
                attention.event_id(),
                attention.key(),
                attention.sentence(),
                item,
            );
            if new {
                new_alerts.push(id);
            }
        }
        Ok((
            new_finds,
            state.needs_human.clone(),
            new_alerts,
            state.failed_outcome_reports.len(),
        ))
    })?;

    let own: Vec<&str> = state.opened_sessions.iter().map(|s| s.id.as_str()).collect();
    let relevant: Vec<&PulseSession> = pulse
        .as_ref()
        .map(|p| {
            relevant_sessions(&interest, me.as_ref().map(|m| m.id.as_str()), p)
                .into_iter()
                .filter(|s| !own.contains(&s.id.as_str()))
                .collect()
        })
        .unwrap_or_default();
    let alert_texts: Vec<(&str, bool)> = alerts
        .iter()
        .map(|a| (a.text.as_str(), new_alerts.contains(&a.id)))
        .collect();
    let line = summary_line(&Summary {
        alerts: &alert_texts,
        inbox: inbox.as_ref(),
        flushed: flushed.as_ref(),
        new_finds: &new_finds,
        relevant: &relevant,
        rejected_waiting,
        search_skipped: query.is_none(),
        failed: &steps.causes,
    });
    let code = if !new_alerts.is_empty() {
        exit::NEEDS_HUMAN
    } else if !steps.failed.is_empty() {
        exit::TEMPORARY
    } else {
        exit::OK
    };
    let status = steps.status();
    let errors: Vec<String> = steps
        .failed
        .iter()
        .map(|(step, error)| format!("{step}: {error}"))
        .collect();
    let mut details = Vec::new();
    let mut told: Vec<&str> = Vec::new();
    for (step, cause) in &steps.causes {
        if told.contains(&cause.as_str()) {
            continue;
        }
        told.push(cause);
        if let Some((step, error)) = steps.failed.iter().find(|(s, _)| s == step) {
            details.push(format!("{step}: {error}"));
        }
    }
    let summary = json!({
        "status": status,
        "summary": line,
        "steps": steps.states,
        "agent": me.as_ref().map(|me| json!({"id": me.id, "username": me.username})),
        "profile": ctx.profile,
        "inbox": inbox,
        "outcomes": flushed,
        "journal": journaled,
        "rejected_reports": rejected_waiting,
        "search": {
            "query": query,
            "source": query_source,
            "results": results,
            "new": new_finds.iter().map(|e| &e.short_id).collect::<Vec<_>>(),
        },
        "pulse": pulse.as_ref().map(|p| json!({
            "connected_agents": p.connected_agents,
            "active_sessions": p.active_sessions,
            "relevant": relevant,
        })),
        "needs_human": alerts.iter().map(|a| alert_json(a, new_alerts.contains(&a.id))).collect::<Vec<_>>(),
        "needs_human_new": new_alerts.len(),
        "errors": errors,
        "last_plurum_check": state_file.load()?.last_plurum_check.map(crate::state::rfc3339_text),
        "duration_ms": started.elapsed().as_millis() as u64,
    });
    Ok(Beat {
        code,
        line,
        summary,
        needs_human: alerts
            .iter()
            .filter(|a| new_alerts.contains(&a.id))
            .map(|a| a.text.clone())
            .collect(),
        waiting: alerts,
        new_events: inbox.as_ref().map(|i| i.added.clone()).unwrap_or_default(),
        inbox_lines: inbox.map(|i| i.lines).unwrap_or_default(),
        flushed: flushed.as_ref().map_or(0, |f| f.delivered),
        details,
        duration: started.elapsed(),
    })
}

/// A waiting alert as `needs_human` prints it: its details (`kind`, …)
/// with `id`, `short_id`, `text`, `new` and `first_seen`.
pub(crate) fn alert_json(alert: &Alert, new: bool) -> Value {
    let mut value = match &alert.item {
        Value::Object(members) => Value::Object(members.clone()),
        _ => json!({}),
    };
    value["id"] = json!(alert.id);
    value["short_id"] = json!(alert.short_id());
    value["text"] = json!(alert.text);
    value["new"] = json!(new);
    value["first_seen"] = json!(crate::state::rfc3339_text(alert.first_seen));
    value
}

/// What each step did: `ok`, `failed` or `skipped`, and why they failed.
#[derive(Debug, Default)]
pub(crate) struct Steps {
    states: std::collections::BTreeMap<&'static str, &'static str>,
    /// Each failure in full (the JSON's `errors`).
    failed: Vec<(&'static str, String)>,
    /// Each failed step's cause in a few words (the summary groups steps
    /// that failed the same way: one line when the server is down).
    causes: Vec<(&'static str, String)>,
    unauthorized: bool,
}

/// A failure in a few words, the same for every step it hit.
fn cause(error: &anyhow::Error) -> String {
    let sdk = error.chain().find_map(|c| c.downcast_ref::<plurum_sdk::Error>());
    match sdk {
        Some(e) if e.is_refused() => REFUSED.to_owned(),
        Some(plurum_sdk::Error::Transport { .. }) => "could not reach the server".to_owned(),
        Some(plurum_sdk::Error::Timeout { .. }) => "the server did not answer in time".to_owned(),
        _ => crate::exit::one_line(error),
    }
}

/// The cause of a failure when nothing listens at the API URL.
const REFUSED: &str = "the server refused the connection (nothing listens at the API URL)";

impl Steps {
    /// Records how a step ended; its value when it worked.
    fn outcome<T>(&mut self, step: &'static str, result: anyhow::Result<T>) -> Option<T> {
        match result {
            Ok(value) => {
                self.states.entry(step).or_insert("ok");
                Some(value)
            }
            Err(error) => {
                if let Some(sdk) = error.chain().find_map(|c| c.downcast_ref::<plurum_sdk::Error>()) {
                    self.note_unauthorized(sdk);
                }
                self.fail_because(step, &crate::exit::one_line(&error), cause(&error));
                None
            }
        }
    }

    fn note_unauthorized(&mut self, error: &plurum_sdk::Error) {
        if error.is_unauthorized() {
            self.unauthorized = true;
        }
    }

    fn fail(&mut self, step: &'static str, why: &str) {
        self.fail_because(step, why, why.to_owned());
    }

    fn fail_because(&mut self, step: &'static str, why: &str, cause: String) {
        self.states.insert(step, "failed");
        self.failed.push((step, crate::logging::scrub(why)));
        if !self.causes.iter().any(|(s, _)| *s == step) {
            self.causes.push((step, crate::logging::scrub(&cause)));
        }
    }

    fn skip(&mut self, step: &'static str) {
        self.states.insert(step, "skipped");
    }

    /// `ok` (every step worked or had nothing to do), `failed` (none did)
    /// or `partial`.
    fn status(&self) -> &'static str {
        let failed = self.states.values().filter(|s| **s == "failed").count();
        let worked = self.states.values().filter(|s| **s == "ok").count();
        match (failed, worked) {
            (0, _) => "ok",
            (_, 0) => "failed",
            _ => "partial",
        }
    }
}

/// Merges entries that turned out to name the same experience (one saved by
/// UUID, one by short id), keeping the strongest reason and the earliest
/// save.
fn dedupe_saved(saved: &mut Vec<SavedExperience>) {
    let mut merged: Vec<SavedExperience> = Vec::with_capacity(saved.len());
    for entry in saved.drain(..) {
        match merged.iter_mut().find(|m| m.short_id == entry.short_id) {
            Some(existing) => {
                existing.rely(entry.reason);
                existing.saved_at = match (existing.saved_at, entry.saved_at) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                if existing.id.is_none() {
                    existing.id = entry.id;
                }
            }
            None => merged.push(entry),
        }
    }
    *saved = merged;
}
