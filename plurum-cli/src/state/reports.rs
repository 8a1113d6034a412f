//! The outbox's entries in state.json: reports waiting to be sent, those
//! the server rejected for good, and entries that did not parse.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::serde::rfc3339;

use super::Ts;

/// A queued outcome report, in the seed's field names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct PendingReport {
    /// A local id, so concurrent flushes remove exactly what they sent.
    #[serde(default = "new_id")]
    pub(crate) id: String,
    /// The experience (short id or UUID).
    pub(crate) identifier: String,
    /// Whether it worked.
    pub(crate) success: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) execution_time_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) error_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) context_notes: Option<String>,
    /// When it was queued.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "rfc3339::option")]
    pub(crate) queued_at: Option<Ts>,
    /// Delivery attempts so far.
    #[serde(default)]
    pub(crate) attempts: u32,
    /// Why the last attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) last_error: Option<String>,
    /// Fields a newer plurum wrote, kept as they are when this one rewrites the entry.
    #[serde(flatten)]
    pub(crate) other: serde_json::Map<String, serde_json::Value>,
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl PendingReport {
    /// Whether `other` reports the same thing (same experience, result and
    /// details), whatever its local id and delivery history.
    pub(crate) fn same_report(&self, other: &PendingReport) -> bool {
        self.identifier == other.identifier
            && self.success == other.success
            && self.execution_time_ms == other.execution_time_ms
            && self.error_message == other.error_message
            && self.context_notes == other.context_notes
    }
}

/// An entry of state.json that did not parse, kept as it was with why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Quarantined {
    /// A local id (for `plurum outcome failed --drop`).
    pub(crate) id: String,
    /// Where it was, e.g. `pendingOutcomeReports[1]`.
    pub(crate) field: String,
    /// Why it did not parse.
    pub(crate) reason: String,
    /// The entry as it was.
    pub(crate) value: Value,
    /// When it was set aside.
    #[serde(with = "rfc3339")]
    pub(crate) at: Ts,
}

/// A report the server rejected for good.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct FailedReport {
    #[serde(flatten)]
    pub(crate) report: PendingReport,
    /// When it was given up on.
    #[serde(with = "rfc3339")]
    pub(crate) failed_at: Ts,
    /// The HTTP status, when the server answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) status: Option<u16>,
    /// The server's answer.
    pub(crate) error: String,
}
