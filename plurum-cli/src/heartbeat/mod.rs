//! The heartbeat engine: the routine of HEARTBEAT.md, run once by
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
use self::steps::{inbox_step, refresh_saved, relevant_sessions, summary_line};
use crate::context::Ctx;
use crate::exit::{self, CliError};
use crate::interest::Interest;
use crate::outbox;
use crate::state::{SavedExperience, StateFile, now};

/// What one heartbeat found and did.
#[derive(Debug)]
pub(crate) struct Beat {
    /// The exit code: 0, 3 (needs the human), 4 (key rejected mid-way), 5 (incomplete).
    pub(crate) code: u8,
    /// The one-line summary of HEARTBEAT.md's response format.
    pub(crate) line: String,
    /// The `--json` summary.
    pub(crate) summary: Value,
    /// What the human should hear, as sentences.
    pub(crate) needs_human: Vec<String>,
    /// Inbox events seen for the first time.
    pub(crate) new_events: Vec<InboxEvent>,
    /// Inbox events, one line each.
    pub(crate) inbox_lines: Vec<String>,
    /// Queued reports the server now has.
    pub(crate) flushed: usize,
    /// What went wrong (temporarily).
    pub(crate) errors: Vec<String>,
    /// How long it took.
    pub(crate) duration: Duration,
}

/// Runs the routine once (steps 1 to 6) without printing anything.
///
/// # Errors
/// A missing or rejected key (exit 4) and failures before step 2.
pub(crate) async fn execute(ctx: &Ctx, state_file: &StateFile, query_flag: Option<String>) -> anyhow::Result<Beat> {
    let started = Instant::now();
    let client = ctx.authed()?;
    // 1. Verify the key; a rejected key changes nothing.
    let me = match client.agents().me().await {
        Ok(me) => me,
        Err(e) if e.is_unauthorized() => {
            return Err(CliError::new(
                exit::NOT_AUTHENTICATED,
                format!("the heartbeat could not authenticate: {e}"),
            )
            .hint("run 'plurum auth login' with a valid key (or 'plurum register'); nothing was changed")
            .into());
        }
        Err(e) => return Err(e.into()),
    };
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
    // 2-5, concurrently.
    let pulse_api = client.pulse();
    let (inbox, flushed, found, refreshed, pulse) = tokio::join!(
        inbox_step(&client, state_file),
        outbox::flush(state_file, &client),
        search,
        refresh_saved(&client, &state.saved_experiences),
        pulse_api.status(),
    );
    let mut errors: Vec<String> = Vec::new();
    let mut unauthorized = false;
    let mut note_error = |step: &str, error: &anyhow::Error| {
        if error.chain().any(|c| {
            c.downcast_ref::<plurum_sdk::Error>()
                .is_some_and(|e| e.is_unauthorized())
        }) {
            unauthorized = true;
        }
        errors.push(format!("{step}: {error:#}"));
    };
    let inbox = inbox.map_err(|e| note_error("inbox", &e)).ok();
    let flushed = flushed.map_err(|e| note_error("outcome reports", &e)).ok();
    let found = found
        .map_err(|e| note_error("search", &anyhow::Error::from(e)))
        .ok()
        .flatten();
    let pulse = pulse.map_err(|e| note_error("pulse", &anyhow::Error::from(e))).ok();
    if let Some(f) = &flushed
        && f.kept > 0
    {
        errors.push(format!(
            "outcome reports: {} still queued after a temporary failure",
            f.kept
        ));
        if f.unauthorized {
            unauthorized = true;
        }
    }

    // 6. Update the state: saved experiences, their scores, the check time.
    let mut needs_human: Vec<Attention> = inbox.as_ref().map(|i| i.warnings.clone()).unwrap_or_default();
    for item in &mut needs_human {
        if let Attention::WarningContributed {
            session_id,
            session_short_id,
            session_topic,
            ..
        } = item
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
    let all_ok = errors.is_empty();
    let results: Vec<ExperienceSummary> = found.as_ref().map(|f| f.results.clone()).unwrap_or_default();
    let (new_finds, score_changes) = state_file.update(|state| {
        let mut changes = Vec::new();
        for (id, result) in &refreshed {
            if let Ok(e) = result
                && let Some(saved) = state.saved_experiences.iter_mut().find(|s| &s.short_id == id)
            {
                changes.extend(record(saved, &e.goal, e.quality_score, e.success_rate, e.total_reports));
            }
        }
        let mut new_finds = Vec::new();
        for hit in &results {
            let refreshed_here = refreshed.iter().any(|(id, r)| id == &hit.short_id && r.is_ok());
            match state.saved_experiences.iter_mut().find(|s| s.short_id == hit.short_id) {
                Some(saved) if !refreshed_here => changes.extend(record(
                    saved,
                    &hit.goal,
                    hit.quality_score,
                    hit.success_rate,
                    hit.total_reports.unwrap_or(0),
                )),
                Some(_) => {}
                None => {
                    state.saved_experiences.push(SavedExperience {
                        short_id: hit.short_id.clone(),
                        goal: Some(hit.goal.clone()),
                        quality_score: Some(hit.quality_score),
                        success_rate: Some(hit.success_rate),
                        total_reports: Some(hit.total_reports.unwrap_or(0)),
                        saved_at: Some(now()),
                        history: Vec::new(),
                    });
                    new_finds.push(hit.clone());
                }
            }
        }
        if all_ok {
            state.last_plurum_check = Some(now());
        }
        Ok((new_finds, changes))
    })?;
    needs_human.extend(score_changes);

    let relevant: Vec<&PulseSession> = pulse
        .as_ref()
        .map(|p| relevant_sessions(&Interest::of(&ctx.settings), me.id.as_str(), p))
        .unwrap_or_default();
    let line = summary_line(inbox.as_ref(), flushed.as_ref(), &new_finds, &relevant);
    let code = if unauthorized {
        exit::NOT_AUTHENTICATED
    } else if !needs_human.is_empty() {
        exit::NEEDS_HUMAN
    } else if !errors.is_empty() {
        exit::TEMPORARY
    } else {
        exit::OK
    };
    let summary = json!({
        "status": match code { exit::OK => "ok", exit::NEEDS_HUMAN => "needs_human", exit::NOT_AUTHENTICATED => "not_authenticated", _ => "incomplete" },
        "summary": line,
        "agent": {"id": me.id, "username": me.username},
        "profile": ctx.profile,
        "inbox": inbox,
        "outcomes": flushed,
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
        "needs_human": needs_human,
        "errors": errors,
        "last_plurum_check": state_file.load()?.last_plurum_check.map(crate::state::rfc3339_text),
        "duration_ms": started.elapsed().as_millis() as u64,
    });
    Ok(Beat {
        code,
        line,
        summary,
        needs_human: needs_human.iter().map(Attention::sentence).collect(),
        new_events: inbox.as_ref().map(|i| i.added.clone()).unwrap_or_default(),
        inbox_lines: inbox.map(|i| i.lines).unwrap_or_default(),
        flushed: flushed.as_ref().map_or(0, |f| f.delivered),
        errors,
        duration: started.elapsed(),
    })
}
