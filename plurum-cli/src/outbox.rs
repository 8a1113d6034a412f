//! The outcome outbox: reports that could not be sent wait in
//! `pendingOutcomeReports` and leave it only once the server has them.
//!
//! A report leaves the queue after a 2xx, or a 409 from the API (already on
//! record: some servers reject a second report by the same agent). It moves
//! to `failedOutcomeReports` (visible, never silently gone) only when the
//! API itself rejects it for good: a JSON error in one of the API's shapes
//! with a permanent status (400, 403, 404, 410, 422). Everything else keeps
//! it queued: the network, a timeout, a 5xx, a 429, and any answer that is
//! not the API's (an HTML page, a redirect, a body that does not decode, an
//! oversized answer: a captive portal or a broken proxy). A 401 stops the
//! flush: the remaining reports are not even sent; so does a refused
//! connection (the server is down: see [`crate::reach`]). The first report
//! of a flush goes alone, so a refusal costs one connection attempt, not 32.
//!
//! Reports are removed from the file as soon as the server's answers
//! arrive, so a crash in the middle repeats at most the reports whose
//! answers were not written yet, which the server then answers with a 409.

use std::sync::{Mutex, PoisonError};

use futures_util::StreamExt;
use plurum_sdk::Client;
use plurum_sdk::types::{OutcomeReport, ReportOutcome};
use serde::Serialize;

use crate::state::{FailedReport, PendingReport, StateFile, now};

/// How many reports a flush sends at once (the heartbeat, `outcome flush`
/// and the daemon alike): enough to hide the latency of a slow link (200
/// reports take ⌈200 ÷ 32⌉ = 7 round trips), polite to the service: at most
/// 32 connections on HTTP/1.1, one multiplexed connection where the server
/// offers HTTP/2.
pub(crate) const FLUSH_CONCURRENCY: usize = 32;

/// What happened to one report.
#[derive(Debug)]
pub(crate) enum Delivery {
    /// The server stored it.
    Delivered(Box<OutcomeReport>),
    /// The server already had one from this agent (409).
    AlreadyReported,
    /// The key was rejected (401): nothing more is sent.
    Unauthorized(plurum_sdk::Error),
    /// Try again later (including answers that are not the API's).
    Temporary(plurum_sdk::Error),
    /// The API will never take it.
    Rejected(plurum_sdk::Error),
    /// Not sent: an earlier answer stopped the flush.
    NotSent(NotSent),
}

/// Why a report was not sent.
#[derive(Debug, Clone)]
pub(crate) enum NotSent {
    /// An earlier report's 401.
    Unauthorized,
    /// The server refused a connection (now, or a moment ago: the reason says).
    Down(String),
}

impl Delivery {
    /// Classifies the answer to a report.
    pub(crate) fn of(result: Result<OutcomeReport, plurum_sdk::Error>) -> Self {
        match result {
            Ok(report) => Self::Delivered(Box::new(report)),
            Err(e) if e.is_unauthorized() => Self::Unauthorized(e),
            Err(e) if from_api(&e) && e.is_conflict() => Self::AlreadyReported,
            Err(e) if from_api(&e) && e.status().is_some_and(is_permanent) => Self::Rejected(e),
            Err(e) => Self::Temporary(e),
        }
    }
}

/// The API's own answer (a JSON error in one of its shapes), not a page
/// from something in between.
fn from_api(error: &plurum_sdk::Error) -> bool {
    error.api_error().is_some_and(|api| api.is_from_api())
}

/// Statuses with which the API refuses a report for good.
pub(crate) fn is_permanent(status: u16) -> bool {
    matches!(status, 400 | 403 | 404 | 410 | 422)
}

/// The request a queued report becomes.
pub(crate) fn request(report: &PendingReport) -> ReportOutcome {
    let mut request = ReportOutcome::new(report.success);
    if let Some(ms) = report.execution_time_ms {
        request = request.execution_time_ms(ms);
    }
    if let Some(message) = &report.error_message {
        request = request.error_message(message.clone());
    }
    if let Some(notes) = &report.context_notes {
        request = request.context_notes(notes.clone());
    }
    request
}

/// A report as the outbox reports it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Line {
    pub(crate) identifier: String,
    pub(crate) success: bool,
    pub(crate) result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
}

/// What a flush did.
#[derive(Debug, Default, Serialize)]
pub(crate) struct FlushSummary {
    /// Reports the server now has (including 409s).
    pub(crate) delivered: usize,
    /// Reports still queued (temporary failures, or not sent after a 401).
    pub(crate) kept: usize,
    /// Reports moved to the failed list.
    pub(crate) failed: usize,
    /// Reports queued before the flush.
    pub(crate) queued_before: usize,
    /// One line per report.
    pub(crate) reports: Vec<Line>,
    /// The key was rejected: the flush stopped.
    pub(crate) unauthorized: bool,
    /// The server refused the connection: the flush stopped at the first
    /// refusal (the rest stay queued, not sent).
    pub(crate) refused: bool,
}

/// Queues a report; the same report (same experience, result and details)
/// already waiting is not queued twice. Returns what is queued.
pub(crate) fn queue(state: &StateFile, mut report: PendingReport, error: &str) -> anyhow::Result<PendingReport> {
    report.queued_at = Some(now());
    report.attempts = 1;
    report.last_error = Some(error.to_owned());
    state.update(|s| {
        if let Some(existing) = s.pending_outcome_reports.iter_mut().find(|r| r.same_report(&report)) {
            existing.attempts += 1;
            existing.last_error = report.last_error.clone();
            return Ok(existing.clone());
        }
        s.pending_outcome_reports.push(report.clone());
        Ok(report)
    })
}

/// Sends every queued report, [`FLUSH_CONCURRENCY`] at a time, updating the
/// file as answers arrive.
pub(crate) async fn flush(state: &StateFile, client: &Client) -> anyhow::Result<FlushSummary> {
    let pending = state.load_for_change()?.pending_outcome_reports;
    send(state, client, pending).await
}

/// Sends these queued reports (see [`flush`]).
pub(crate) async fn send(
    state: &StateFile,
    client: &Client,
    pending: Vec<PendingReport>,
) -> anyhow::Result<FlushSummary> {
    let mut summary = FlushSummary {
        queued_before: pending.len(),
        ..FlushSummary::default()
    };
    // The first report goes alone: if the server refuses the connection
    // (or the key), the others are not even sent; then 32 at a time.
    let stop: Mutex<Option<NotSent>> = Mutex::new(None);
    let stop = &stop;
    let deliver = |report: PendingReport| async move {
        if let Some(reason) = stop.lock().unwrap_or_else(PoisonError::into_inner).clone() {
            return (report, Delivery::NotSent(reason));
        }
        let delivery = Delivery::of(
            client
                .experiences()
                .report_outcome(&report.identifier, request(&report))
                .await,
        );
        let reason = match &delivery {
            Delivery::Unauthorized(_) => Some(NotSent::Unauthorized),
            Delivery::Temporary(e) if e.is_refused() => Some(NotSent::Down(format!("not sent: {e}"))),
            _ => None,
        };
        if let Some(reason) = reason {
            stop.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get_or_insert(reason);
        }
        (report, delivery)
    };
    let mut pending = pending.into_iter();
    let first = match pending.next() {
        Some(report) => Some(deliver(report).await),
        None => None,
    };
    let answers = futures_util::stream::iter(first).chain(
        futures_util::stream::iter(pending)
            .map(deliver)
            .buffer_unordered(FLUSH_CONCURRENCY),
    );
    // Answers are written to the file as soon as they arrive, a batch of
    // whatever is ready at a time: a crash loses at most that batch's
    // removals, and those reports come back as 409s (already on record).
    let mut batches = answers.ready_chunks(FLUSH_CONCURRENCY);
    while let Some(batch) = batches.next().await {
        state.update(|s| {
            for (report, delivery) in &batch {
                let Some(index) = s.pending_outcome_reports.iter().position(|r| r.id == report.id) else {
                    continue;
                };
                match delivery {
                    Delivery::Delivered(_) => {
                        let delivered = s.pending_outcome_reports.remove(index);
                        s.count_own_report(&delivered.identifier);
                    }
                    Delivery::AlreadyReported => {
                        s.pending_outcome_reports.remove(index);
                    }
                    Delivery::Temporary(e) | Delivery::Unauthorized(e) => {
                        let queued = &mut s.pending_outcome_reports[index];
                        queued.attempts += 1;
                        queued.last_error = Some(e.to_string());
                    }
                    Delivery::NotSent(_) => {}
                    Delivery::Rejected(e) => {
                        let queued = s.pending_outcome_reports.remove(index);
                        s.failed_outcome_reports.push(FailedReport {
                            report: queued,
                            failed_at: now(),
                            status: e.status(),
                            error: e.to_string(),
                        });
                    }
                }
            }
            Ok(())
        })?;
        for (report, delivery) in batch {
            let (result, error) = match &delivery {
                Delivery::Delivered(_) => ("delivered", None),
                Delivery::AlreadyReported => ("already_reported", None),
                Delivery::Temporary(e) => ("kept", Some(format!("{e:#}"))),
                Delivery::Unauthorized(e) => ("kept", Some(format!("{e:#}"))),
                Delivery::NotSent(NotSent::Unauthorized) => {
                    ("not_sent", Some("not sent: the key was rejected".to_owned()))
                }
                Delivery::NotSent(NotSent::Down(reason)) => ("not_sent", Some(reason.clone())),
                Delivery::Rejected(e) => ("failed", Some(format!("{e:#}"))),
            };
            match delivery {
                Delivery::Delivered(_) | Delivery::AlreadyReported => summary.delivered += 1,
                Delivery::Temporary(_) => summary.kept += 1,
                Delivery::Unauthorized(_) | Delivery::NotSent(NotSent::Unauthorized) => {
                    summary.kept += 1;
                    summary.unauthorized = true;
                }
                Delivery::NotSent(NotSent::Down(_)) => {
                    summary.kept += 1;
                    summary.refused = true;
                }
                Delivery::Rejected(_) => summary.failed += 1,
            }
            summary.reports.push(Line {
                identifier: report.identifier,
                success: report.success,
                result,
                error,
            });
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_error(status: u16, body: &str) -> plurum_sdk::Error {
        plurum_sdk::Error::from_api_error(plurum_sdk::ApiError::from_response(
            status,
            None,
            body.as_bytes(),
            std::time::SystemTime::now(),
        ))
    }

    #[test]
    fn only_the_apis_own_permanent_refusals_reject_a_report() {
        let rejected = |e| matches!(Delivery::of(Err(e)), Delivery::Rejected(_));
        let temporary = |e| matches!(Delivery::of(Err(e)), Delivery::Temporary(_));
        assert!(rejected(api_error(
            404,
            r#"{"detail": "Experience not found", "error": "Experience not found"}"#
        )));
        assert!(rejected(api_error(
            422,
            r#"{"detail": [{"type": "missing", "loc": ["body", "success"], "msg": "Field required"}]}"#
        )));
        assert!(rejected(api_error(403, r#"{"detail": "Not allowed"}"#)));
        // A captive portal or a proxy: never "for good".
        assert!(temporary(api_error(
            403,
            "<html><title>Sign in to Wi-Fi</title></html>"
        )));
        assert!(temporary(api_error(302, "")));
        assert!(temporary(api_error(404, "not json")));
        assert!(temporary(api_error(503, r#"{"error": "Internal server error"}"#)));
        assert!(matches!(
            Delivery::of(Err(api_error(409, r#"{"detail": "Already reported", "error": "x"}"#))),
            Delivery::AlreadyReported
        ));
        assert!(temporary(api_error(409, "<html>conflict?</html>")));
        assert!(matches!(
            Delivery::of(Err(api_error(401, r#"{"detail": "Invalid API key"}"#))),
            Delivery::Unauthorized(_)
        ));
    }
}
