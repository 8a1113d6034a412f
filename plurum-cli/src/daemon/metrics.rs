//! `GET /metrics`: counters and gauges in the Prometheus text format.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::core::Core;
use super::drives::{self, DRIVES};

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

impl Core {
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
