//! The daemon's mind: the drives and what moves them (events, time,
//! feedback), and its configuration with the runtime changes on top. Its
//! other jobs live beside it: persistence (`saved.rs`), the wake-up limits
//! (`limits.rs`), the wake message (`message.rs`), the `/state` view
//! (`view.rs`) and `/metrics` (`metrics.rs`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use plurum_sdk::types::{InboxEvent, PulseEvent};
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::audit::AuditLog;
use super::config::{self, DaemonConfig, Refusal};
use super::drives::{self, DRIVES, Drive, Inputs};
use super::metrics::Metrics;
use super::saved::Saved;
use super::view::Sensors;
use crate::interest::Interest;
use crate::state::State;

/// The daemon's mind.
#[derive(Debug)]
pub(crate) struct Core {
    pub(crate) config: DaemonConfig,
    table: Option<toml::Value>,
    pub(super) overrides: BTreeMap<String, Value>,
    pub(crate) drives: BTreeMap<String, Drive>,
    /// Unix seconds of each wake-up in the last day.
    pub(super) triggers: Vec<i64>,
    pub(crate) metrics: Metrics,
    pub(crate) sensors: Sensors,
    started: Instant,
    started_at: OffsetDateTime,
    last_tick: Option<OffsetDateTime>,
    pub(crate) wake_in_progress: bool,
    audit: AuditLog,
    /// The profile's state directory.
    pub(super) dir: PathBuf,
    /// This agent's id (its own sessions weigh nothing).
    pub(crate) me: Option<String>,
    /// The domains and tools that make another agent's session relevant.
    interest: Interest,
}

impl Core {
    /// Loads `daemon.json` (a corrupt file is moved aside) and the configuration.
    pub(crate) fn load(dir: &std::path::Path, table: Option<toml::Value>, interest: Interest) -> anyhow::Result<Self> {
        let saved = Saved::read(dir)?;
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
                pulse_state: super::view::PulseSensor::default(),
                ..Sensors::default()
            },
            started: Instant::now(),
            started_at: OffsetDateTime::now_utc(),
            last_tick: None,
            wake_in_progress: false,
            audit: AuditLog::open(dir.join(super::audit::FILE))?,
            dir: dir.to_owned(),
            me: None,
            interest,
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
                "at": crate::state::rfc3339_text(OffsetDateTime::now_utc()),
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
                "at": crate::state::rfc3339_text(OffsetDateTime::now_utc()),
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

    /// Re-reads the `[daemon]` table (SIGHUP); runtime changes stay on top.
    /// The profile's domains and tools of interest.
    pub(crate) fn interest(&self) -> &Interest {
        &self.interest
    }

    pub(crate) fn reload(&mut self, table: Option<toml::Value>, interest: Interest) -> anyhow::Result<()> {
        let base = DaemonConfig::load(table.as_ref(), &BTreeMap::new())?;
        let (overrides, dropped) = config::admissible(&base, self.overrides.clone());
        self.config = DaemonConfig::load(table.as_ref(), &overrides)?;
        self.overrides = overrides;
        self.table = table;
        self.interest = interest;
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
                PulseEvent::SessionOpened(s)
                    if s.agent_id.as_ref().map(|a| a.as_str()) != self.me.as_deref()
                        && self.interest.covers(s.domain.as_deref(), &s.tools_used) =>
                {
                    self.config.drives.inbox.session_match
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
        let now = OffsetDateTime::now_utc().unix_timestamp();
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
                "at": crate::state::rfc3339_text(OffsetDateTime::now_utc()),
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
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(in crate::daemon) fn at(text: &str) -> OffsetDateTime {
        OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap()
    }

    pub(in crate::daemon) fn core(dir: &std::path::Path, table: &str) -> Core {
        let table: Option<toml::Value> = (!table.is_empty()).then(|| toml::from_str(table).unwrap());
        let interest = Interest::new(vec!["infrastructure".into()], vec!["postgresql".into()]);
        Core::load(dir, table, interest).unwrap()
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
}
