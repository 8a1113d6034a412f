//! The daemon's state and rules: drives, wake-up limits, sensors, metrics,
//! configuration changes. Everything here is kept in `daemon.json` (written
//! atomically) so a restart keeps the pressures, the trigger history (and
//! with it the rate limits) and the runtime configuration.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use plurum_sdk::types::{InboxEvent, PulseEvent};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::audit::AuditLog;
use super::config::{self, DaemonConfig, Refusal};
use super::drives::{self, DRIVES, Drive, Inputs};
use super::wake::WakeCall;
use crate::paths;
use crate::state::State;

/// What `daemon.json` holds.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Saved {
    #[serde(default)]
    schema_version: u32,
    #[serde(default)]
    drives: BTreeMap<String, Drive>,
    /// Unix seconds of each wake-up in the last day.
    #[serde(default)]
    triggers: Vec<i64>,
    /// `POST /config` changes, by dotted key.
    #[serde(default)]
    config_overrides: BTreeMap<String, Value>,
    #[serde(default)]
    saved_at: Option<String>,
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    pub(crate) triggers: BTreeMap<&'static str, u64>,
    pub(crate) feedback: BTreeMap<String, u64>,
    pub(crate) pulse_events: BTreeMap<String, u64>,
    pub(crate) reports_flushed: u64,
    pub(crate) reconnects: u64,
    pub(crate) heartbeats: BTreeMap<String, u64>,
    pub(crate) heartbeat_duration_seconds: f64,
}

/// What the daemon knows of the world.
#[derive(Debug, Default, Clone, Serialize)]
pub(crate) struct Sensors {
    pub(crate) pulse_state: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub(crate) pulse_connected_since: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub(crate) last_heartbeat_run: Option<OffsetDateTime>,
    pub(crate) last_heartbeat_status: Option<String>,
    pub(crate) last_heartbeat_duration_ms: Option<u64>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub(crate) last_plurum_check: Option<OffsetDateTime>,
    pub(crate) pending_reports: usize,
    pub(crate) failed_reports: usize,
    pub(crate) oldest_report_age_seconds: Option<i64>,
    pub(crate) unread_events: usize,
    pub(crate) current_session: Option<String>,
    pub(crate) session_idle_seconds: Option<i64>,
    pub(crate) last_wake: Option<Value>,
}

/// The daemon's mind.
#[derive(Debug)]
pub(crate) struct Core {
    pub(crate) config: DaemonConfig,
    table: Option<toml::Value>,
    overrides: BTreeMap<String, Value>,
    pub(crate) drives: BTreeMap<String, Drive>,
    triggers: Vec<i64>,
    pub(crate) metrics: Metrics,
    pub(crate) sensors: Sensors,
    started: Instant,
    started_at: OffsetDateTime,
    last_tick: Option<OffsetDateTime>,
    pub(crate) wake_in_progress: bool,
    audit: AuditLog,
    file: PathBuf,
    /// This agent's id, domains and tools (to weigh sessions opened).
    pub(crate) me: Option<String>,
    domains: Vec<String>,
    tools: Vec<String>,
}

fn unix(ts: OffsetDateTime) -> i64 {
    ts.unix_timestamp()
}

fn rfc3339(ts: OffsetDateTime) -> String {
    ts.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
fn parse(ts: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339).ok()
}

/// Refused by the wake-up limits; seconds until allowed.
#[derive(Debug)]
pub(crate) struct Limited {
    pub(crate) reason: String,
    pub(crate) retry_after: u64,
}

impl Core {
    /// Loads `daemon.json` (a corrupt file is moved aside) and the configuration.
    pub(crate) fn load(
        dir: &std::path::Path,
        table: Option<toml::Value>,
        domains: Vec<String>,
        tools: Vec<String>,
    ) -> anyhow::Result<Self> {
        let file = dir.join("daemon.json");
        let saved: Saved = match std::fs::read_to_string(&file) {
            Ok(text) => match serde_json::from_str(&text) {
                Ok(saved) => saved,
                Err(error) => {
                    let aside = paths::move_aside(&file)?;
                    eprintln!(
                        "warning: {} did not parse ({error}); moved it to {}",
                        file.display(),
                        aside.display()
                    );
                    Saved::default()
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Saved::default(),
            Err(e) => return Err(e).with_context(|| format!("could not read {}", file.display())),
        };
        let base = DaemonConfig::load(table.as_ref(), &BTreeMap::new())?;
        let (overrides, dropped) = config::admissible(&base, saved.config_overrides);
        let config = DaemonConfig::load(table.as_ref(), &overrides)?;
        let mut drives = saved.drives;
        for name in DRIVES {
            drives.entry(name.to_owned()).or_default();
        }
        let mut core = Self {
            config,
            table,
            overrides,
            drives,
            triggers: saved.triggers,
            metrics: Metrics::default(),
            sensors: Sensors {
                pulse_state: "connecting".to_owned(),
                ..Sensors::default()
            },
            started: Instant::now(),
            started_at: OffsetDateTime::now_utc(),
            last_tick: None,
            wake_in_progress: false,
            audit: AuditLog::open(dir.join(super::audit::FILE))?,
            file,
            me: None,
            domains,
            tools,
        };
        if !dropped.is_empty() {
            core.record_dropped(&dropped, "start");
            core.persist()?;
        }
        Ok(core)
    }

    /// Logs and audits runtime overrides the file no longer allows.
    fn record_dropped(&mut self, dropped: &[config::Dropped], when: &str) {
        for (key, value, why) in dropped {
            super::log(&format!(
                "dropped the runtime change {key} = {value} ({why}); the value from config.toml applies"
            ));
            let entry = json!({
                "at": rfc3339(OffsetDateTime::now_utc()),
                "key": key,
                "old": value,
                "new": self.config.get(key),
                "source": when,
                "reason": why,
            });
            if let Err(error) = self.audit.append(entry) {
                eprintln!("warning: could not write the audit log: {error:#}");
            }
        }
    }

    /// Drops every runtime override (`plurum daemon config --reset`); the
    /// keys cleared.
    pub(crate) fn reset_overrides(&mut self, source: &str) -> anyhow::Result<Vec<String>> {
        let config = DaemonConfig::load(self.table.as_ref(), &BTreeMap::new())?;
        let cleared = std::mem::take(&mut self.overrides);
        self.config = config;
        let dropped: Vec<config::Dropped> = cleared
            .into_iter()
            .map(|(key, value)| (key, value, "reset".to_owned()))
            .collect();
        for (key, value, _) in &dropped {
            let entry = json!({
                "at": rfc3339(OffsetDateTime::now_utc()),
                "key": key,
                "old": value,
                "new": self.config.get(key),
                "source": source,
                "reason": "reset",
            });
            if let Err(error) = self.audit.append(entry) {
                eprintln!("warning: could not write the audit log: {error:#}");
            }
        }
        Ok(dropped.into_iter().map(|(key, ..)| key).collect())
    }

    /// The runtime overrides in effect.
    pub(crate) fn overrides(&self) -> &BTreeMap<String, Value> {
        &self.overrides
    }

    /// Writes `daemon.json` atomically.
    pub(crate) fn persist(&self) -> anyhow::Result<()> {
        let saved = Saved {
            schema_version: 1,
            drives: self.drives.clone(),
            triggers: self.triggers.clone(),
            config_overrides: self.overrides.clone(),
            saved_at: Some(rfc3339(OffsetDateTime::now_utc())),
        };
        paths::write_atomic(&self.file, &serde_json::to_vec_pretty(&saved)?)
    }

    /// Re-reads the `[daemon]` table (SIGHUP); runtime changes stay on top.
    pub(crate) fn reload(
        &mut self,
        table: Option<toml::Value>,
        domains: Vec<String>,
        tools: Vec<String>,
    ) -> anyhow::Result<()> {
        let base = DaemonConfig::load(table.as_ref(), &BTreeMap::new())?;
        let (overrides, dropped) = config::admissible(&base, self.overrides.clone());
        self.config = DaemonConfig::load(table.as_ref(), &overrides)?;
        self.overrides = overrides;
        self.table = table;
        self.domains = domains;
        self.tools = tools;
        if !dropped.is_empty() {
            self.record_dropped(&dropped, "reload");
            self.persist()?;
        }
        Ok(())
    }

    pub(crate) fn uptime_seconds(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    fn push(&mut self, drive: &str, amount: f64) {
        let max = self.config.drives.max_pressure;
        drives::push(self.drives.entry(drive.to_owned()).or_default(), amount, max);
    }

    /// New events (first seen): the inbox drive builds up.
    pub(crate) fn on_events(&mut self, events: &[InboxEvent]) {
        for event in events {
            *self
                .metrics
                .pulse_events
                .entry(event.event.event_type().to_owned())
                .or_default() += 1;
            let amount = match &event.event {
                PulseEvent::ContributionReceived(_) => self.config.drives.inbox.contribution,
                PulseEvent::SessionOpened(s) if s.agent_id.as_ref().map(|a| a.as_str()) != self.me.as_deref() => {
                    let domain = s
                        .domain
                        .as_ref()
                        .is_some_and(|d| self.domains.iter().any(|x| x.eq_ignore_ascii_case(d)));
                    let tool = s
                        .tools_used
                        .iter()
                        .any(|t| self.tools.iter().any(|x| x.eq_ignore_ascii_case(t)));
                    if domain || tool {
                        self.config.drives.inbox.session_match
                    } else {
                        0.0
                    }
                }
                _ => 0.0,
            };
            self.push("inbox", amount);
        }
    }

    /// Reads the sensors from state.json and lets time build the pressures.
    pub(crate) fn tick(&mut self, now: OffsetDateTime, state: &State) {
        let minutes = match self.last_tick {
            Some(last) => ((now - last).as_seconds_f64() / 60.0).max(0.0),
            None => 0.0,
        };
        self.last_tick = Some(now);
        let ages: Vec<f64> = state
            .pending_outcome_reports
            .iter()
            .map(|r| {
                r.queued_at
                    .map_or(0.0, |at| ((now - at).as_seconds_f64() / 3600.0).max(0.0))
            })
            .collect();
        let base = state.last_plurum_check.unwrap_or(self.started_at);
        let overdue = (now - base).as_seconds_f64() / 60.0 - self.config.heartbeat_interval_minutes;
        let idle = state.current_session.as_ref().map(|s| {
            let last = s.last_entry_at.or(s.opened_at).unwrap_or(now);
            ((now - last).as_seconds_f64() / 60.0).max(0.0)
        });
        let inputs = Inputs {
            report_ages_hours: ages.clone(),
            heartbeat_overdue_minutes: overdue.max(0.0),
            session_idle_minutes: idle,
        };
        for (drive, amount) in drives::increments(&self.config.drives, &inputs, minutes) {
            self.push(drive, amount);
        }
        self.sensors.pending_reports = state.pending_outcome_reports.len();
        self.sensors.failed_reports = state.failed_outcome_reports.len();
        self.sensors.oldest_report_age_seconds = ages.iter().cloned().reduce(f64::max).map(|h| (h * 3600.0) as i64);
        self.sensors.unread_events = crate::kept::waiting(state);
        self.sensors.last_plurum_check = state.last_plurum_check;
        self.sensors.current_session = state.current_session.as_ref().map(|s| s.short_id.clone());
        self.sensors.session_idle_seconds = idle.map(|m| (m * 60.0) as i64);
    }

    /// The sum of weighted pressures.
    pub(crate) fn total(&self) -> f64 {
        drives::total(&self.config.drives, &self.drives)
    }

    /// Whether a wake-up is allowed now (cooldown, then the hourly window).
    pub(crate) fn can_trigger(&self, now: OffsetDateTime) -> Result<(), Limited> {
        let now = unix(now);
        let cooldown = self.config.wake.min_trigger_interval.max(0.0) as i64;
        if let Some(last) = self.triggers.iter().max()
            && now - last < cooldown
        {
            return Err(Limited {
                reason: format!(
                    "the last wake-up was {} s ago; wake.min_trigger_interval is {cooldown} s",
                    now - last
                ),
                retry_after: (cooldown - (now - last)).max(1) as u64,
            });
        }
        let mut recent: Vec<i64> = self.triggers.iter().copied().filter(|t| now - t < 3600).collect();
        recent.sort_unstable();
        let cap = self.config.wake.max_turns_per_hour.max(0.0) as usize;
        if recent.len() >= cap {
            let oldest = recent.first().copied().unwrap_or(now);
            return Err(Limited {
                reason: format!(
                    "{} wake-ups in the last hour; wake.max_turns_per_hour is {cap}",
                    recent.len()
                ),
                retry_after: (3600 - (now - oldest)).max(1) as u64,
            });
        }
        Ok(())
    }

    /// Records a wake-up (before it is attempted: attempts count toward the limits).
    pub(crate) fn record_trigger(&mut self, now: OffsetDateTime) {
        let now = unix(now);
        self.triggers.retain(|t| now - t < 86_400);
        self.triggers.push(now);
    }

    /// The wake-up message: why, which drives, which events.
    pub(crate) fn wake_call(&self, reason: &str, emphasis: &[String], state: &State) -> WakeCall {
        let ranked = drives::ranked(&self.config.drives, &self.drives);
        let mut lines = vec![format!("Plurum: {reason}")];
        let mut drive_list = Vec::new();
        for (name, weighted) in &ranked {
            let pressure = self.drives.get(name).map_or(0.0, |d| d.pressure);
            let mark = if emphasis.contains(name) { " (emphasized)" } else { "" };
            let detail = match name.as_str() {
                "inbox" => format!("{} unread event(s)", self.sensors.unread_events),
                "outcomes" => format!("{} queued outcome report(s)", state.pending_outcome_reports.len()),
                "heartbeat" => format!(
                    "last check {}",
                    state.last_plurum_check.map_or_else(|| "never".to_owned(), crate::state::rfc3339_text)
                ),
                "session" => match &state.current_session {
                    Some(s) => format!("session {} open: {}", s.short_id, s.topic),
                    None => "no open session".to_owned(),
                },
                _ => String::new(),
            };
            if *weighted > 0.0 || mark.len() > 1 {
                lines.push(format!(
                    "- {name}: pressure {pressure:.2} (weighted {weighted:.2}){mark}: {detail}"
                ));
            }
            drive_list.push(json!({"drive": name, "pressure": pressure, "weighted": weighted, "detail": detail}));
        }
        let events: Vec<&crate::kept::KeptEvent> = state
            .inbox_events
            .iter()
            .rev()
            .filter(|e| e.is_waiting())
            .take(5)
            .collect();
        for event in &events {
            let text = event
                .event_data
                .pointer("/content/text")
                .or_else(|| event.event_data.pointer("/topic"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            lines.push(format!("- {} {}: {text}", event.event_type, event.short_id()));
        }
        lines.push(
            "Read them with `plurum inbox`, act, acknowledge them with `plurum inbox --ack ID...`, then tell \
             the daemon what you addressed: POST /feedback {\"drives_addressed\": [...], \"outcome\": \"success\"}."
                .to_owned(),
        );
        let message = lines.join("\n");
        WakeCall {
            payload: json!({
                "name": "plurum",
                "wakeMode": "now",
                "message": message,
                "reason": reason,
                "total_pressure": self.total(),
                "threshold": self.config.drives.trigger_threshold,
                "drives": drive_list,
                "events": events,
            }),
            message,
            reason: reason.to_owned(),
        }
    }

    /// Decays the addressed drives (`POST /feedback`).
    pub(crate) fn feedback(&mut self, addressed: &[String], outcome: &str) -> Result<Value, (String, &'static str)> {
        let Some(factor) = drives::decay_factor(outcome) else {
            return Err((
                format!("outcome must be success, partial or failure (got {outcome:?})"),
                "INVALID_OUTCOME",
            ));
        };
        if let Some(unknown) = addressed.iter().find(|d| !DRIVES.contains(&d.as_str())) {
            return Err((
                format!("unknown drive {unknown:?}; the drives are {}", DRIVES.join(", ")),
                "UNKNOWN_DRIVE",
            ));
        }
        let now = unix(OffsetDateTime::now_utc());
        let mut decayed = serde_json::Map::new();
        for name in addressed {
            let drive = self.drives.entry(name.clone()).or_default();
            let before = drive.pressure;
            drive.pressure = before * factor;
            drive.last_addressed = Some(now);
            decayed.insert(
                name.clone(),
                json!({"before": before, "after": drive.pressure, "decay_amount": before - drive.pressure}),
            );
        }
        *self.metrics.feedback.entry(outcome.to_owned()).or_default() += 1;
        Ok(json!({ "decayed": decayed }))
    }

    /// Applies `POST /config` changes: checked, all or nothing, audited, kept.
    pub(crate) fn change_config(&mut self, changes: &serde_json::Map<String, Value>) -> Result<Value, Refusal> {
        let checked = config::check_changes(&self.config, changes)?;
        let mut overrides = self.overrides.clone();
        for (key, _, new) in &checked {
            overrides.insert(key.clone(), new.clone());
        }
        let config =
            DaemonConfig::load(self.table.as_ref(), &overrides).map_err(|e| Refusal::Invalid(e.to_string()))?;
        self.config = config;
        self.overrides = overrides;
        let mut out = serde_json::Map::new();
        for (key, old, new) in checked {
            let entry = json!({
                "at": rfc3339(OffsetDateTime::now_utc()),
                "key": key,
                "old": old,
                "new": new,
                "source": "api",
            });
            if let Err(error) = self.audit.append(entry) {
                eprintln!("warning: could not write the audit log: {error:#}");
            }
            out.insert(key, json!({"old": old, "new": new}));
        }
        Ok(json!({"updated": true, "changes": out, "restart_required": false}))
    }

    /// `GET /state`.
    pub(crate) fn state_json(&self) -> Value {
        let mut drives = serde_json::Map::new();
        for name in DRIVES {
            let drive = self.drives.get(name).copied().unwrap_or_default();
            let weight = drives::weight(&self.config.drives, name);
            let sources: &[&str] = match name {
                "inbox" => &["pulse socket", "inbox (heartbeat)"],
                "outcomes" => &["pendingOutcomeReports"],
                "heartbeat" => &["lastPlurumCheck"],
                _ => &["currentSession"],
            };
            drives.insert(
                name.to_owned(),
                json!({
                    "pressure": drive.pressure,
                    "weighted": drive.pressure * weight,
                    "weight": weight,
                    "last_addressed": drive.last_addressed,
                    "sources": sources,
                }),
            );
        }
        let s = &self.sensors;
        let text = |ts: Option<OffsetDateTime>| ts.map(crate::state::rfc3339_text);
        json!({
            "drives": drives,
            "total_pressure": self.total(),
            "sensors": {
                "pulse": {"state": s.pulse_state, "connected_since": text(s.pulse_connected_since), "reconnects": self.metrics.reconnects},
                "heartbeat": {
                    "last_check": text(s.last_plurum_check),
                    "last_run": text(s.last_heartbeat_run),
                    "last_status": s.last_heartbeat_status,
                    "last_duration_ms": s.last_heartbeat_duration_ms,
                    "interval_minutes": self.config.heartbeat_interval_minutes,
                },
                "outcomes": {"pending": s.pending_reports, "failed": s.failed_reports, "oldest_age_seconds": s.oldest_report_age_seconds},
                "inbox": {"unread": s.unread_events},
                "session": {"current": s.current_session, "idle_seconds": s.session_idle_seconds},
                "wake": {"last": s.last_wake, "in_progress": self.wake_in_progress, "recent_triggers": self.triggers.len()},
            },
            "config": self.config,
            "uptime": self.uptime_seconds(),
            "version": env!("CARGO_PKG_VERSION"),
        })
    }

    /// `GET /metrics`, in the Prometheus text format.
    pub(crate) fn metrics_text(&self) -> String {
        let mut out = String::new();
        let mut family = |name: &str, kind: &str, help: &str, samples: Vec<(String, f64)>| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        let label =
            |key: &str, value: &str| format!("{{{key}=\"{}\"}}", value.replace('\\', "\\\\").replace('"', "\\\""));
        family(
            "plurum_daemon_uptime_seconds",
            "gauge",
            "Seconds since the daemon started.",
            vec![(String::new(), self.uptime_seconds() as f64)],
        );
        family(
            "plurum_daemon_drive_pressure",
            "gauge",
            "Pressure of each drive.",
            DRIVES
                .iter()
                .map(|d| (label("drive", d), self.drives.get(*d).map_or(0.0, |x| x.pressure)))
                .collect(),
        );
        family(
            "plurum_daemon_drive_weighted_pressure",
            "gauge",
            "Pressure times weight of each drive.",
            DRIVES
                .iter()
                .map(|d| {
                    (
                        label("drive", d),
                        self.drives.get(*d).map_or(0.0, |x| x.pressure) * drives::weight(&self.config.drives, d),
                    )
                })
                .collect(),
        );
        family(
            "plurum_daemon_trigger_threshold",
            "gauge",
            "Total weighted pressure that wakes the agent.",
            vec![(String::new(), self.config.drives.trigger_threshold)],
        );
        family(
            "plurum_daemon_triggers_total",
            "counter",
            "Wake-ups by result: woke, failed, or refused by the limits.",
            ["woke", "failed", "refused"]
                .iter()
                .map(|r| (label("result", r), *self.metrics.triggers.get(r).unwrap_or(&0) as f64))
                .collect(),
        );
        family(
            "plurum_daemon_feedback_total",
            "counter",
            "Feedback received, by outcome.",
            ["success", "partial", "failure"]
                .iter()
                .map(|o| (label("outcome", o), *self.metrics.feedback.get(*o).unwrap_or(&0) as f64))
                .collect(),
        );
        let mut events: Vec<(String, f64)> = ["contribution_received", "session_opened", "session_closed"]
            .iter()
            .map(|t| {
                (
                    label("type", t),
                    *self.metrics.pulse_events.get(*t).unwrap_or(&0) as f64,
                )
            })
            .collect();
        for (kind, count) in &self.metrics.pulse_events {
            if !["contribution_received", "session_opened", "session_closed"].contains(&kind.as_str()) {
                events.push((label("type", kind), *count as f64));
            }
        }
        family(
            "plurum_daemon_pulse_events_total",
            "counter",
            "Pulse events received, by type.",
            events,
        );
        family(
            "plurum_daemon_reports_flushed_total",
            "counter",
            "Queued outcome reports the server accepted.",
            vec![(String::new(), self.metrics.reports_flushed as f64)],
        );
        family(
            "plurum_daemon_socket_reconnects_total",
            "counter",
            "Times the pulse socket reconnected.",
            vec![(String::new(), self.metrics.reconnects as f64)],
        );
        family(
            "plurum_daemon_heartbeats_total",
            "counter",
            "Heartbeats run, by result.",
            ["ok", "needs_human", "incomplete", "failed"]
                .iter()
                .map(|r| {
                    (
                        label("result", r),
                        *self.metrics.heartbeats.get(*r).unwrap_or(&0) as f64,
                    )
                })
                .collect(),
        );
        family(
            "plurum_daemon_heartbeat_duration_seconds",
            "gauge",
            "How long the last heartbeat took.",
            vec![(String::new(), self.metrics.heartbeat_duration_seconds)],
        );
        family(
            "plurum_daemon_pending_reports",
            "gauge",
            "Outcome reports waiting in the outbox.",
            vec![(String::new(), self.sensors.pending_reports as f64)],
        );
        family(
            "plurum_daemon_unread_events",
            "gauge",
            "Inbox events the agent has not handled.",
            vec![(String::new(), self.sensors.unread_events as f64)],
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;

    fn at(text: &str) -> OffsetDateTime {
        parse(text).unwrap()
    }

    fn core(dir: &std::path::Path, table: &str) -> Core {
        let table: Option<toml::Value> = (!table.is_empty()).then(|| toml::from_str(table).unwrap());
        Core::load(dir, table, vec!["infrastructure".into()], vec!["postgresql".into()]).unwrap()
    }

    fn event(kind: &str, data: Value) -> InboxEvent {
        serde_json::from_value(json!({
            "id": null, "event_type": kind, "event_data": data, "is_read": false,
            "created_at": "2026-11-22T10:00:00Z",
        }))
        .unwrap()
    }

    #[test]
    fn events_weigh_by_kind_and_interest() {
        let dir = tempfile::tempdir().unwrap();
        let mut core = core(dir.path(), "");
        core.me = Some("9b2c1a8e-1111-4a5b-8c9d-000000000001".into());
        let session = "5f0c7a3e-2222-4a5b-8c9d-000000000002";
        core.on_events(&[
            event(
                "contribution_received",
                json!({"session_id": session, "contribution_id": "5f0c7a3e-2222-4a5b-8c9d-000000000003",
                       "contributor_agent_id": "5f0c7a3e-2222-4a5b-8c9d-000000000004",
                       "contribution_type": "warning", "content": {"text": "careful"}}),
            ),
            // In our domain: light; with one of our tools: light; neither: nothing.
            event("session_opened", json!({"session_id": session, "agent_id": "5f0c7a3e-2222-4a5b-8c9d-000000000005", "topic": "a", "domain": "Infrastructure"})),
            event("session_opened", json!({"session_id": session, "agent_id": "5f0c7a3e-2222-4a5b-8c9d-000000000005", "topic": "b", "tools_used": ["PostgreSQL"]})),
            event("session_opened", json!({"session_id": session, "agent_id": "5f0c7a3e-2222-4a5b-8c9d-000000000005", "topic": "c", "domain": "cooking"})),
            // Our own session: nothing.
            event("session_opened", json!({"session_id": session, "agent_id": "9b2c1a8e-1111-4a5b-8c9d-000000000001", "topic": "d", "domain": "infrastructure"})),
            event("session_closed", json!({"session_id": session, "agent_id": "5f0c7a3e-2222-4a5b-8c9d-000000000005"})),
        ]);
        assert!(
            (core.drives["inbox"].pressure - 3.0).abs() < 1e-9,
            "{:?}",
            core.drives["inbox"]
        );
        assert_eq!(core.metrics.pulse_events["session_opened"], 4);
        assert!((core.total() - 3.0).abs() < 1e-9);
    }

    #[test]
    fn time_builds_the_clock_drives_from_the_state() {
        let dir = tempfile::tempdir().unwrap();
        let mut core = core(dir.path(), "heartbeat_interval_minutes = 30\n");
        let state: State = serde_json::from_value(json!({
            "lastPlurumCheck": "2026-11-22T09:00:00Z",
            "pendingOutcomeReports": [
                {"identifier": "ab12cd34", "success": true, "queued_at": "2026-11-22T08:00:00Z"}
            ],
            "currentSession": {"id": "x", "short_id": "35009f33", "topic": "t",
                               "opened_at": "2026-11-22T08:00:00Z", "last_entry_at": "2026-11-22T09:00:00Z"}
        }))
        .unwrap();
        core.tick(at("2026-11-22T10:00:00Z"), &state);
        assert!(core.total() == 0.0, "the first tick only starts the clock");
        core.tick(at("2026-11-22T10:10:00Z"), &state);
        // outcomes: 0.01/min × 10 min × (1 + ~2.1 h); heartbeat: 0.1/min × 10 (70 min since check, 30 allowed);
        // session: 0.05/min × 10 (70 idle minutes, 30 allowed).
        let outcomes = core.drives["outcomes"].pressure;
        assert!((0.30..0.32).contains(&outcomes), "{outcomes}");
        assert!((core.drives["heartbeat"].pressure - 1.0).abs() < 1e-9);
        assert!((core.drives["session"].pressure - 0.5).abs() < 1e-9);
        assert_eq!(core.sensors.pending_reports, 1);
        assert_eq!(core.sensors.session_idle_seconds, Some(70 * 60));
    }

    #[test]
    fn the_limits_are_a_cooldown_and_a_sliding_hour_and_they_persist() {
        let dir = tempfile::tempdir().unwrap();
        let mut core = core(
            dir.path(),
            "[wake]\nmin_trigger_interval = 600\nmax_turns_per_hour = 3\n",
        );
        let t0 = at("2026-11-22T10:00:00Z");
        assert!(core.can_trigger(t0).is_ok());
        core.record_trigger(t0);
        let early = core.can_trigger(t0 + Duration::seconds(100)).unwrap_err();
        assert_eq!(early.retry_after, 500);
        core.record_trigger(t0 + Duration::seconds(600));
        core.record_trigger(t0 + Duration::seconds(1200));
        // Cooldown over, but three in the last hour.
        let capped = core.can_trigger(t0 + Duration::seconds(1800)).unwrap_err();
        assert!(
            capped.reason.contains("3 wake-ups in the last hour"),
            "{}",
            capped.reason
        );
        assert_eq!(capped.retry_after, 1800);
        // The window slides: an hour after the first, one slot frees up.
        assert!(core.can_trigger(t0 + Duration::seconds(3600)).is_ok());

        core.drives.get_mut("inbox").unwrap().pressure = 4.5;
        core.persist().unwrap();
        let restarted = self::core(
            dir.path(),
            "[wake]\nmin_trigger_interval = 600\nmax_turns_per_hour = 3\n",
        );
        assert!(restarted.can_trigger(t0 + Duration::seconds(1800)).is_err());
        assert!((restarted.drives["inbox"].pressure - 4.5).abs() < 1e-9);
    }

    #[test]
    fn a_corrupt_state_file_is_moved_aside() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("daemon.json"), "{ half").unwrap();
        let core = core(dir.path(), "");
        assert_eq!(core.total(), 0.0);
        let aside = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .any(|e| e.file_name().to_string_lossy().starts_with("daemon.json.corrupt-"));
        assert!(aside);
    }
}
