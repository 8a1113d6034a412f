//! The outcome outbox: reports that could not be sent wait in
//! `pendingOutcomeReports` and leave it only once the server has them.
//!
//! A report leaves the queue after a 2xx, or a 409 (already on record: some
//! servers reject a second report by the same agent). It stays after a
//! temporary failure (network, timeout, 5xx, 429). A permanent rejection
//! (404, 422, …) moves it to `failedOutcomeReports`, visible, never silently
//! gone. Reports are removed from the file as soon as the server's answers
//! arrive, so a crash in the middle repeats at most the reports whose
//! answers were not written yet, which the server then answers with a 409.

use futures_util::StreamExt;
use plurum_sdk::Client;
use plurum_sdk::types::OutcomeReport;
use serde::Serialize;

use crate::state::{FailedReport, PendingReport, StateFile, now};

/// What happened to one report.
#[derive(Debug)]
pub(crate) enum Delivery {
    /// The server stored it.
    Delivered(Box<OutcomeReport>),
    /// The server already had one from this agent (409).
    AlreadyReported,
    /// Try again later.
    Temporary(plurum_sdk::Error),
    /// The server will never take it.
    Rejected(plurum_sdk::Error),
}

impl Delivery {
    /// Classifies the answer to a report.
    pub(crate) fn of(result: Result<OutcomeReport, plurum_sdk::Error>) -> Self {
        match result {
            Ok(report) => Self::Delivered(Box::new(report)),
            Err(e) if e.is_conflict() => Self::AlreadyReported,
            Err(e) if e.is_temporary() || e.is_unauthorized() => Self::Temporary(e),
            Err(e) => Self::Rejected(e),
        }
    }
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
    /// Reports still queued (temporary failures).
    pub(crate) kept: usize,
    /// Reports moved to the failed list.
    pub(crate) failed: usize,
    /// Reports queued before the flush.
    pub(crate) queued_before: usize,
    /// One line per report.
    pub(crate) reports: Vec<Line>,
    /// The key was rejected: the flush stopped.
    pub(crate) unauthorized: bool,
}

/// Queues a report.
pub(crate) fn queue(state: &StateFile, mut report: PendingReport, error: &str) -> anyhow::Result<PendingReport> {
    report.queued_at = Some(now());
    report.attempts = 1;
    report.last_error = Some(error.to_owned());
    let queued = report.clone();
    state.update(|s| {
        s.pending_outcome_reports.push(report);
        Ok(())
    })?;
    Ok(queued)
}

/// Sends every queued report, `concurrency` at a time, updating the file
/// as answers arrive.
pub(crate) async fn flush(state: &StateFile, client: &Client, concurrency: usize) -> anyhow::Result<FlushSummary> {
    let pending = state.load()?.pending_outcome_reports;
    let mut summary = FlushSummary {
        queued_before: pending.len(),
        ..FlushSummary::default()
    };
    let answers = futures_util::stream::iter(pending)
        .map(|report| async move {
            let delivery = Delivery::of(
                client
                    .experiences()
                    .report_outcome(&report.identifier, report.request())
                    .await,
            );
            (report, delivery)
        })
        .buffer_unordered(concurrency.max(1));
    // Answers are written to the file as soon as they arrive, a batch of
    // whatever is ready at a time: a crash loses at most that batch's
    // removals, and those reports come back as 409s (already on record).
    let mut batches = answers.ready_chunks(concurrency.max(1));
    while let Some(batch) = batches.next().await {
        state.update(|s| {
            for (report, delivery) in &batch {
                let Some(index) = s.pending_outcome_reports.iter().position(|r| r.id == report.id) else {
                    continue;
                };
                match delivery {
                    Delivery::Delivered(_) | Delivery::AlreadyReported => {
                        s.pending_outcome_reports.remove(index);
                    }
                    Delivery::Temporary(e) => {
                        let queued = &mut s.pending_outcome_reports[index];
                        queued.attempts += 1;
                        queued.last_error = Some(e.to_string());
                    }
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
                Delivery::Rejected(e) => ("failed", Some(format!("{e:#}"))),
            };
            match delivery {
                Delivery::Delivered(_) | Delivery::AlreadyReported => summary.delivered += 1,
                Delivery::Temporary(e) => {
                    summary.kept += 1;
                    summary.unauthorized |= e.is_unauthorized();
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
