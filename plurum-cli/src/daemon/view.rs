//! `GET /state`: the daemon's drives, sensors and configuration as JSON.

use plurum_sdk::pulse::ConnectionState;
use serde::Serialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::core::Core;
use super::drives::{self, DRIVES};

/// The pulse socket as the daemon sees it: the SDK's connection state, or
/// why the last attempt to connect failed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PulseSensor {
    /// The socket's own state.
    Socket(ConnectionState),
    /// The key was refused: retried only at the longest backoff.
    AuthFailed,
    /// The last attempt to connect failed.
    Unreachable,
}

impl Default for PulseSensor {
    fn default() -> Self {
        Self::Socket(ConnectionState::Connecting)
    }
}

impl PulseSensor {
    /// How `GET /state` names it (`sensors.pulse.state`).
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::Socket(ConnectionState::Connecting) => "connecting",
            Self::Socket(ConnectionState::Connected) => "connected",
            Self::Socket(ConnectionState::Reconnecting { .. }) => "reconnecting",
            Self::Socket(_) => "closed",
            Self::AuthFailed => "auth_failed",
            Self::Unreachable => "disconnected",
        }
    }
}

impl Serialize for PulseSensor {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// What the daemon knows of the world.
#[derive(Debug, Default, Clone, Serialize)]
pub(crate) struct Sensors {
    pub(crate) pulse_state: PulseSensor,
    #[serde(with = "time::serde::rfc3339::option")]
    pub(crate) pulse_connected_since: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub(crate) last_heartbeat_run: Option<OffsetDateTime>,
    pub(crate) last_heartbeat_status: Option<String>,
    /// The last heartbeat's one-line summary.
    pub(crate) last_heartbeat_summary: Option<String>,
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

impl Core {
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
                "pulse": {"state": s.pulse_state.name(), "connected_since": text(s.pulse_connected_since), "reconnects": self.metrics.reconnects},
                "heartbeat": {
                    "last_check": text(s.last_plurum_check),
                    "last_run": text(s.last_heartbeat_run),
                    "last_status": s.last_heartbeat_status,
                    "last_summary": s.last_heartbeat_summary,
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
}
