//! `plurum heartbeat`: the routine of HEARTBEAT.md, fast and safe for cron.
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

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use plurum_sdk::Client;
use plurum_sdk::types::{
    ContributionType, Experience, ExperienceSummary, InboxEvent, PulseEvent, PulseSession, PulseStatus,
    SearchExperiences, SessionStatus,
};
use serde::Serialize;
use serde_json::{Value, json};

use super::shared::describe_event;
use crate::context::Ctx;
use crate::exit::{self, CliError};
use crate::kept;
use crate::outbox::{self, FlushSummary};
use crate::output::clip;
use crate::paths;
use crate::state::{Reading, SavedExperience, State, StateFile, now};

/// Saved experiences re-read per heartbeat (the most recent).
const SAVED_REFRESH: usize = 20;
/// Score readings kept per saved experience.
const KEPT_READINGS: usize = 20;

/// `plurum heartbeat` arguments.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  plurum heartbeat
  plurum heartbeat --query \"PostgreSQL replication\" --json
  plurum heartbeat --if-due --interval 30m --jitter 2m -q     # from cron
  plurum heartbeat --print-cron >> my-crontab

Output: \"Plurum heartbeat complete. No new findings.\" or one line naming inbox
events, reports flushed and experiences found; --json prints a summary; -q prints
only what needs attention.

Exit codes: 0 done (or not due, or another heartbeat is running), 3 something for
your human (an experience you rely on lost quality, or a warning was contributed to
your session), 4 the key is missing or rejected, 5 a temporary failure.")]
pub(crate) struct Args {
    /// What to search for (default: the current session's topic, else the profile's focus).
    #[arg(long)]
    query: Option<String>,
    /// Exit at once (0) unless the last heartbeat is older than --interval.
    #[arg(long)]
    if_due: bool,
    /// How often the heartbeat should run (for --if-due and --print-cron), e.g. 30m, 1h.
    #[arg(long, default_value = "30m", value_parser = parse_duration)]
    interval: Duration,
    /// Wait a random time up to this long first, so many agents do not call at once (e.g. 2m).
    #[arg(long, value_parser = parse_duration)]
    jitter: Option<Duration>,
    /// Print a crontab line for this profile and exit.
    #[arg(long)]
    print_cron: bool,
}

/// The longest duration a flag takes (a year): far beyond any sensible
/// interval, far below what date arithmetic can hold.
const MAX_DURATION: Duration = Duration::from_secs(366 * 86_400);

/// Parses `90s`, `30m`, `1h`, `1h30m`, `500ms`, `2d`, or plain seconds, up
/// to a year.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let total = parse_unbounded(text)?;
    if total > MAX_DURATION {
        return Err(format!("'{}' is longer than a year; use e.g. 30m, 1h, 1d", text.trim()));
    }
    Ok(total)
}

fn parse_unbounded(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let too_long = || format!("'{text}' is longer than a year; use e.g. 30m, 1h, 1d");
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    if text.is_empty() {
        return Err("a duration is needed (e.g. 90s, 30m, 1h)".to_owned());
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let number: u64 = rest[..digits].parse().map_err(|e: std::num::ParseIntError| {
            if matches!(e.kind(), std::num::IntErrorKind::PosOverflow) {
                too_long()
            } else {
                format!("'{text}' is not a duration (use e.g. 90s, 30m, 1h)")
            }
        })?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let seconds_per = match unit {
            "ms" => {
                total = total.checked_add(Duration::from_millis(number)).ok_or_else(too_long)?;
                continue;
            }
            "s" => 1,
            "m" | "min" => 60,
            "h" => 3600,
            "d" => 86_400,
            _ => return Err(format!("'{text}' is not a duration (use e.g. 90s, 30m, 1h)")),
        };
        let step = number.checked_mul(seconds_per).ok_or_else(too_long)?;
        total = total.checked_add(Duration::from_secs(step)).ok_or_else(too_long)?;
    }
    Ok(total)
}

/// Something the human should hear about.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Attention {
    QualityDropped {
        experience: String,
        goal: Option<String>,
        from: f64,
        to: f64,
    },
    FailureRateRose {
        experience: String,
        goal: Option<String>,
        from: f64,
        to: f64,
        total_reports: u64,
    },
    WarningContributed {
        session_id: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        session_short_id: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        session_topic: Option<String>,
        from: Option<String>,
        text: String,
    },
    ReportsRejected {
        count: usize,
    },
}

impl Attention {
    fn sentence(&self) -> String {
        match self {
            Self::QualityDropped {
                experience,
                goal,
                from,
                to,
            } => format!(
                "the quality of experience {experience}{} dropped from {from:.2} to {to:.2}",
                goal.as_deref()
                    .map(|g| format!(" (\"{}\")", clip(g, 60)))
                    .unwrap_or_default()
            ),
            Self::FailureRateRose {
                experience,
                goal,
                from,
                to,
                total_reports,
            } => format!(
                "the failure rate of experience {experience}{} rose from {:.0}% to {:.0}% ({total_reports} reports)",
                goal.as_deref()
                    .map(|g| format!(" (\"{}\")", clip(g, 60)))
                    .unwrap_or_default(),
                from * 100.0,
                to * 100.0
            ),
            Self::WarningContributed {
                session_id,
                session_short_id,
                session_topic,
                text,
                ..
            } => format!(
                "another agent contributed a warning to your session {}{}: {}",
                session_short_id.as_deref().unwrap_or(super::shared::short(session_id)),
                session_topic
                    .as_deref()
                    .map(|t| format!(" (\"{}\")", clip(t, 60)))
                    .unwrap_or_default(),
                clip(text, 120)
            ),
            Self::ReportsRejected { count } => {
                format!("the server rejected {count} queued outcome report(s) for good (see 'plurum outcome pending')")
            }
        }
    }
}

pub(crate) async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    if args.print_cron {
        ctx.out.write(&cron_line(ctx, args.interval));
        return Ok(exit::OK);
    }
    let state_file = ctx.state();
    if let Some(daemon) = crate::daemon::running(state_file.dir())? {
        ctx.out.note(&format!(
            "the daemon (API on {}) runs the heartbeat for profile '{}'; skipping this one",
            daemon.addr, ctx.profile
        ));
        if ctx.out.json {
            ctx.out
                .json(&json!({"skipped": "daemon_running", "profile": ctx.profile, "daemon": daemon.addr}))?;
        }
        return Ok(exit::OK);
    }
    let Some(_running) = paths::try_lock(&state_file.dir().join("heartbeat.lock"))? else {
        ctx.out.note(&format!(
            "another heartbeat is running for profile '{}'; skipping this one",
            ctx.profile
        ));
        if ctx.out.json {
            ctx.out
                .json(&json!({"skipped": "already_running", "profile": ctx.profile}))?;
        }
        return Ok(exit::OK);
    };
    if args.if_due
        && let Some(next) = next_due(&state_file.load_for_change()?, args.interval)
    {
        ctx.out.note(&format!("heartbeat not due until {next}"));
        if ctx.out.json {
            ctx.out.json(&json!({"skipped": "not_due", "next_due_at": next}))?;
        }
        return Ok(exit::OK);
    }
    if let Some(jitter) = args.jitter.filter(|j| !j.is_zero()) {
        tokio::time::sleep(jitter.mul_f64(fastrand::f64())).await;
    }
    beat(args, ctx, &state_file).await
}

/// How far in the future a `lastPlurumCheck` may be (clock skew) before it
/// is treated as wrong, not as "just checked".
const FUTURE_SKEW: Duration = Duration::from_secs(300);

/// When the next heartbeat is due, if it is not due yet. A last check in
/// the future (a wrong clock, a hand-edited file) makes it due now, rather
/// than never.
fn next_due(state: &State, interval: Duration) -> Option<String> {
    let last = state.last_plurum_check?;
    let now = time::OffsetDateTime::now_utc();
    let skew = time::Duration::try_from(FUTURE_SKEW).ok()?;
    if now.checked_add(skew).is_none_or(|limit| last > limit) {
        eprintln!("warning: lastPlurumCheck ({last}) is in the future; running the heartbeat now");
        return None;
    }
    let next = last.checked_add(time::Duration::try_from(interval).ok()?)?;
    (now < next).then(|| {
        next.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    })
}

fn cron_line(ctx: &Ctx, interval: Duration) -> String {
    let minutes = (interval.as_secs() / 60).max(1);
    let schedule = if minutes < 60 && 60 % minutes == 0 {
        format!("*/{minutes} * * * *")
    } else if minutes < 60 {
        "* * * * *".to_owned()
    } else {
        "0 * * * *".to_owned()
    };
    let jitter = (interval.as_secs() / 10).clamp(1, 300);
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "plurum".to_owned());
    let mut env = String::new();
    for name in ["PLURUM_CONFIG_DIR", "PLURUM_STATE_DIR", "PLURUM_API_URL"] {
        if let Ok(value) = std::env::var(name)
            && !value.is_empty()
        {
            env.push_str(&format!("{name}={} ", shell_quote(&value)));
        }
    }
    let log = ctx.state().dir().join("heartbeat.log");
    format!(
        "# plurum heartbeat for profile '{profile}' every {minutes} min. Cron has no desktop keyring:\n\
         # put PLURUM_API_KEY=... above this line (crontab -e), or add --api-key-file PATH.\n\
         {schedule} {env}{exe} --profile {profile} heartbeat --if-due --interval {minutes}m --jitter {jitter}s -q >> {log} 2>&1",
        profile = ctx.profile,
        exe = shell_quote(&exe),
        log = shell_quote(&log.display().to_string()),
    )
}

fn shell_quote(text: &str) -> String {
    if text.chars().all(|c| c.is_ascii_alphanumeric() || "/._-:=".contains(c)) {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// What the inbox step did.
#[derive(Debug, Default, Serialize)]
struct InboxStep {
    /// The events kept for the first time this run.
    events: Vec<Value>,
    /// Events read from the server this run.
    read: usize,
    new_events: usize,
    contributions: usize,
    sessions_opened: usize,
    sessions_closed: usize,
    marked_read: u64,
    /// Events left unread on the server because the local inbox is full.
    left_unread: usize,
    /// Events that could neither be kept nor left on the server (the real
    /// server's session events, which vanish after one read).
    not_kept: usize,
    /// Kept events waiting for the agent (`plurum inbox`).
    waiting: usize,
    #[serde(skip)]
    warnings: Vec<Attention>,
    #[serde(skip)]
    lines: Vec<String>,
    /// The events seen for the first time (for the daemon's drives).
    #[serde(skip)]
    added: Vec<InboxEvent>,
}

/// Reads the server's inbox (see [`kept::fetch`]) and counts what came.
async fn inbox_step(client: &Client, state_file: &StateFile) -> anyhow::Result<InboxStep> {
    let fetched = kept::fetch(client, state_file).await?;
    let mut step = InboxStep {
        read: fetched.read,
        new_events: fetched.added.len(),
        marked_read: fetched.marked_read,
        left_unread: fetched.left_unread,
        not_kept: fetched.not_kept,
        waiting: fetched.waiting,
        ..InboxStep::default()
    };
    for event in &fetched.added {
        count(&mut step, event);
        step.events.push(serde_json::to_value(event)?);
    }
    step.added = fetched.added;
    Ok(step)
}

fn count(step: &mut InboxStep, event: &InboxEvent) {
    step.lines.push(describe_event(&event.event));
    match &event.event {
        PulseEvent::ContributionReceived(c) => {
            step.contributions += 1;
            if c.contribution_type == ContributionType::Warning {
                step.warnings.push(Attention::WarningContributed {
                    session_id: c.session_id.to_string(),
                    session_short_id: None,
                    session_topic: None,
                    from: c.contributor_agent_id.as_ref().map(ToString::to_string),
                    text: c.text().map(str::to_owned).unwrap_or_else(|| c.content.to_string()),
                });
            }
        }
        PulseEvent::SessionOpened(_) => step.sessions_opened += 1,
        PulseEvent::SessionClosed(_) => step.sessions_closed += 1,
        _ => {}
    }
}

/// Re-reads saved experiences (bounded concurrency).
async fn refresh_saved(
    client: &Client,
    saved: &[SavedExperience],
) -> Vec<(String, Result<Experience, plurum_sdk::Error>)> {
    let recent: Vec<String> = saved
        .iter()
        .rev()
        .take(SAVED_REFRESH)
        .map(|s| s.short_id.clone())
        .collect();
    futures_util::stream::iter(recent)
        .map(|id| async move {
            let result = client.experiences().get(&id).await;
            (id, result)
        })
        .buffer_unordered(8)
        .collect()
        .await
}

fn reading(quality: f64, success_rate: f64, total_reports: u64) -> Reading {
    Reading {
        at: now(),
        quality_score: quality,
        success_rate,
        total_reports,
    }
}

/// Records a new reading of a saved experience; says what got worse.
fn record(
    saved: &mut SavedExperience,
    goal: &str,
    quality: f64,
    success_rate: f64,
    total_reports: u64,
) -> Vec<Attention> {
    let mut attention = Vec::new();
    if let (Some(previous), Some(previous_total)) = (saved.quality_score, saved.total_reports) {
        if quality + 1e-9 < previous {
            attention.push(Attention::QualityDropped {
                experience: saved.short_id.clone(),
                goal: Some(goal.to_owned()),
                from: previous,
                to: quality,
            });
        }
        let before = (previous_total > 0).then(|| 1.0 - saved.success_rate.unwrap_or(0.0));
        let after = (total_reports > 0).then_some(1.0 - success_rate);
        if let (Some(before), Some(after)) = (before, after)
            && after > before + 1e-9
        {
            attention.push(Attention::FailureRateRose {
                experience: saved.short_id.clone(),
                goal: Some(goal.to_owned()),
                from: before,
                to: after,
                total_reports,
            });
        }
        saved
            .history
            .push(reading(previous, saved.success_rate.unwrap_or(0.0), previous_total));
        let excess = saved.history.len().saturating_sub(KEPT_READINGS);
        saved.history.drain(..excess);
    }
    saved.goal = Some(goal.to_owned());
    saved.quality_score = Some(quality);
    saved.success_rate = Some(success_rate);
    saved.total_reports = Some(total_reports);
    attention
}

fn relevant_sessions<'a>(ctx: &Ctx, me: &str, status: &'a PulseStatus) -> Vec<&'a PulseSession> {
    let domains = &ctx.settings.domains;
    let tools = &ctx.settings.tools;
    status
        .sessions
        .iter()
        .filter(|s| s.status == SessionStatus::Open && s.agent_id.as_str() != me)
        .filter(|s| {
            s.domain
                .as_ref()
                .is_some_and(|d| domains.iter().any(|x| x.eq_ignore_ascii_case(d)))
                || s.tools_used
                    .iter()
                    .any(|t| tools.iter().any(|x| x.eq_ignore_ascii_case(t)))
        })
        .collect()
}

fn summary_line(
    inbox: Option<&InboxStep>,
    flushed: Option<&FlushSummary>,
    new_finds: &[ExperienceSummary],
    relevant: &[&PulseSession],
) -> String {
    let mut parts = Vec::new();
    if let Some(inbox) = inbox.filter(|i| !i.events.is_empty()) {
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
    if let Some(inbox) = inbox {
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
        if inbox.waiting > 0 {
            parts.push(format!("{} event(s) waiting in 'plurum inbox'", inbox.waiting));
        }
    }
    if let Some(flushed) = flushed.filter(|f| f.queued_before > 0) {
        let mut text = format!("reported {} queued outcome(s)", flushed.delivered);
        if flushed.kept > 0 {
            text.push_str(&format!(", {} still queued", flushed.kept));
        }
        parts.push(text);
    }
    for found in new_finds {
        let reports = found.total_reports.unwrap_or(0);
        parts.push(format!(
            "found experience {} \"{}\" (quality {:.2}, {reports} report{}) — saved",
            found.short_id,
            clip(&found.goal, 60),
            found.quality_score,
            if reports == 1 { "" } else { "s" }
        ));
    }
    if !relevant.is_empty() {
        parts.push(format!(
            "{} active session(s) in your domains or tools: {}",
            relevant.len(),
            relevant
                .iter()
                .map(|s| format!("{} \"{}\"", s.short_id, clip(&s.topic, 50)))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if parts.is_empty() {
        "Plurum heartbeat complete. No new findings.".to_owned()
    } else {
        format!("Plurum heartbeat: {}.", parts.join("; "))
    }
}

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
        .map(|p| relevant_sessions(ctx, me.id.as_str(), p))
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

async fn beat(args: Args, ctx: &Ctx, state_file: &StateFile) -> anyhow::Result<u8> {
    let beat = execute(ctx, state_file, args.query).await?;
    if ctx.out.json {
        ctx.out.json(&beat.summary)?;
    } else {
        if !ctx.out.quiet {
            ctx.out.write(&beat.line);
            for event_line in &beat.inbox_lines {
                ctx.out.note(&format!("  inbox: {event_line}"));
            }
        }
        for item in &beat.needs_human {
            ctx.out.write(&format!("Tell your human: {item}."));
        }
        for error in &beat.errors {
            eprintln!("heartbeat: {error}");
        }
    }
    Ok(beat.code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5x").is_err());
        for huge in [
            "99999999999999999999d",
            "213503982334601d",
            "18446744073709551615h",
            "400d",
            "9999999999999999999",
        ] {
            let error = parse_duration(huge).unwrap_err();
            assert!(error.contains("longer than a year"), "{huge}: {error}");
        }
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn falling_scores_need_the_human() {
        let mut saved = SavedExperience {
            short_id: "cdf0e8a3".into(),
            goal: None,
            quality_score: Some(0.69),
            success_rate: Some(0.92),
            total_reports: Some(13),
            saved_at: None,
            history: Vec::new(),
        };
        let same = record(&mut saved, "g", 0.69, 0.92, 13);
        assert!(same.is_empty());
        let worse = record(&mut saved, "g", 0.60, 0.80, 15);
        assert_eq!(worse.len(), 2, "{worse:?}");
        assert!(matches!(worse[0], Attention::QualityDropped { from, to, .. } if from == 0.69 && to == 0.60));
        assert!(matches!(worse[1], Attention::FailureRateRose { total_reports: 15, .. }));
        assert_eq!(saved.history.len(), 2);
        // A first reading has nothing to compare with.
        let mut fresh = SavedExperience {
            quality_score: None,
            total_reports: None,
            ..saved.clone()
        };
        assert!(record(&mut fresh, "g", 0.1, 0.1, 1).is_empty());
    }
}
