//! `plurum outcome report|pending|flush`: outcome reports with an offline outbox.

use serde_json::{Value, json};

use super::safety::{SafetyArgs, screen};
use crate::context::Ctx;
use crate::exit;
use crate::exit::CliError;
use crate::outbox::{self, Delivery, NotSent};
use crate::output::{clip, table};
use crate::state::{PendingReport, SavedReason, now};

/// `plurum outcome` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Report whether an experience worked; queued if the server cannot be reached.
    #[command(after_help = "Examples:
  plurum outcome report cdf0e8a3 --success --time-ms 45000
  plurum outcome report cdf0e8a3 --failure \\
      --error \"pg_basebackup needs superuser\" --context \"PostgreSQL 15\"

On a network error, a timeout, a 5xx or a 429 the report is queued in
state.json (pendingOutcomeReports), the command says so ({\"queued\": true} with
--json) and exits 0; 'plurum outcome flush' or the heartbeat sends it later.")]
    Report(ReportArgs),
    /// The queued reports (and those the server rejected for good).
    #[command(after_help = "Examples:\n  plurum outcome pending\n  plurum outcome pending --json")]
    Pending,
    /// Send the queued reports.
    #[command(after_help = "Examples:
  plurum outcome flush

Exit code 5 when some reports stay queued (temporary failure), 1 when the
server rejected some.")]
    Flush,
    /// Reports the server rejected for good, and state entries that did not parse: list, retry or drop them.
    #[command(after_help = "Examples:
  plurum outcome failed
  plurum outcome failed --json
  plurum outcome failed --retry 3f2a9c1e   # back into the queue
  plurum outcome failed --drop 3f2a9c1e         # forget it

IDs are the local ids shown in the list (the first 8 characters are enough).
They stay listed, and every heartbeat mentions them, until retried or dropped.")]
    Failed(FailedArgs),
}

/// `plurum outcome failed` arguments (and the `plurum_outcome_failed` tool's).
#[derive(Debug, clap::Args, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FailedArgs {
    /// Put this rejected report back into the queue (repeatable).
    #[arg(long, value_name = "ID")]
    #[serde(default)]
    retry: Vec<String>,
    /// Forget this rejected report or set-aside entry (repeatable).
    #[arg(long, value_name = "ID")]
    #[serde(default)]
    drop: Vec<String>,
}

/// `plurum outcome report` options, and the `plurum_report_outcome` tool's
/// arguments (named as the API names them: `id`, `execution_time_ms`,
/// `error_message`, `context_notes`).
#[derive(Debug, Clone, clap::Args, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReportArgs {
    /// The experience you used (its short id or UUID).
    #[serde(rename = "id")]
    pub(crate) experience: String,
    /// Whether it worked (on the command line: --success or --failure).
    #[arg(long, conflicts_with = "failure")]
    pub(crate) success: bool,
    /// It did not work (give this or --success).
    #[arg(long)]
    #[serde(skip)]
    #[schemars(skip)]
    pub(crate) failure: bool,
    /// How long it took, in milliseconds.
    #[arg(long, value_name = "MS")]
    #[serde(rename = "execution_time_ms", default)]
    pub(crate) time_ms: Option<u64>,
    /// What went wrong (for a failure).
    #[arg(long, value_name = "MESSAGE")]
    #[serde(rename = "error_message", default)]
    pub(crate) error: Option<String>,
    /// Context about your environment.
    #[arg(long, value_name = "NOTES")]
    #[serde(rename = "context_notes", default)]
    pub(crate) context: Option<String>,
    #[command(flatten)]
    #[serde(flatten)]
    pub(crate) safety: SafetyArgs,
}

pub(crate) async fn run(command: Command, ctx: &Ctx) -> anyhow::Result<u8> {
    match command {
        Command::Report(args) => report(args, ctx).await,
        Command::Pending => pending(ctx),
        Command::Flush => flush(ctx).await,
        Command::Failed(args) => failed(args, ctx),
    }
}

/// Queues a report that could not be sent and says so.
fn queue_and_say(
    ctx: &Ctx,
    report: PendingReport,
    experience: &str,
    reason: &str,
    down_since: Option<String>,
) -> anyhow::Result<()> {
    let queued = outbox::queue(&ctx.state(), report, reason)?;
    let mut document = json!({"queued": true, "report": queued, "reason": reason});
    if let Some(since) = down_since {
        document["down_since"] = json!(since);
    }
    ctx.out.emit(&document, || {
        format!("Queued the report on {experience} ({reason}); it will be sent by 'plurum outcome flush' or the next heartbeat.")
    })?;
    Ok(())
}

/// `plurum outcome report`, and the `plurum_report_outcome` tool.
pub(crate) async fn report(args: ReportArgs, ctx: &Ctx) -> anyhow::Result<u8> {
    if ctx.front == crate::context::Front::Cli && !args.success && !args.failure {
        return Err(
            CliError::new(exit::USAGE, "say whether it worked: give one of --success / --failure")
                .hint("e.g. plurum outcome report cdf0e8a3 --success --time-ms 45000")
                .into(),
        );
    }
    // A report with a bad id would be queued and fail for good later; an
    // experience created here offline must reach the server first.
    let mut args = args;
    args.experience = crate::commands::target::server_experience_id(ctx, &args.experience)?;
    let notes = screen(
        ctx,
        &args.safety,
        "outcome_report",
        json!({"error_message": args.error, "context_notes": args.context}),
    )?;
    let text = |key: &str| notes.get(key).and_then(Value::as_str).map(str::to_owned);
    let queued = PendingReport {
        other: Default::default(),
        id: uuid::Uuid::new_v4().to_string(),
        identifier: args.experience.clone(),
        success: args.success,
        execution_time_ms: args.time_ms,
        error_message: text("error_message"),
        context_notes: text("context_notes"),
        queued_at: None,
        attempts: 0,
        last_error: None,
    };
    let request = outbox::request(&queued);
    request.validate()?;
    let client = ctx.queueing()?;
    // Refused a moment ago: queued without knocking again (crate::reach).
    let reach = ctx.reach();
    let (delivery, down) = match reach.down() {
        Some(down) => (Delivery::NotSent(NotSent::Down(down.reason())), Some(down)),
        None => {
            let result = ctx
                .out
                .spin(
                    "reporting",
                    client.experiences().report_outcome(&args.experience, request),
                )
                .await;
            let down = reach.note(&result);
            (Delivery::of(result), down)
        }
    };
    if matches!(
        delivery,
        Delivery::Delivered(_) | Delivery::AlreadyReported | Delivery::Temporary(_) | Delivery::NotSent(_)
    ) {
        // Reported on: relied on, so the heartbeat watches its scores.
        let id = match &delivery {
            Delivery::Delivered(report) => Some(report.experience_id.to_string()),
            _ => None,
        };
        let delivered = matches!(delivery, Delivery::Delivered(_));
        ctx.state().update(|state| {
            state.rely_on(&args.experience, None, id.as_deref(), SavedReason::Reported);
            if delivered {
                state.count_own_report(&args.experience);
            }
            Ok(())
        })?;
    }
    let down_since = down.as_ref().map(|d| crate::state::rfc3339_text(d.since));
    match delivery {
        Delivery::Delivered(report) => {
            ctx.out.emit(&json!({"queued": false, "report": report}), || {
                format!(
                    "Reported {} on {}. Thank you: reports make quality scores trustworthy.",
                    if args.success { "a success" } else { "a failure" },
                    args.experience
                )
            })?;
        }
        Delivery::AlreadyReported => {
            ctx.out.emit(&json!({"queued": false, "already_reported": true}), || {
                format!(
                    "You had already reported on {}; the server keeps one report per agent.",
                    args.experience
                )
            })?;
        }
        Delivery::Unauthorized(error) => return Err(error.into()),
        Delivery::NotSent(NotSent::Unauthorized) => {}
        Delivery::NotSent(NotSent::Down(reason)) => queue_and_say(ctx, queued, &args.experience, &reason, down_since)?,
        Delivery::Temporary(error) => {
            queue_and_say(ctx, queued, &args.experience, &error.to_string(), down_since)?;
        }
        Delivery::Rejected(error) => return Err(error.into()),
    }
    Ok(exit::OK)
}

pub(crate) fn pending(ctx: &Ctx) -> anyhow::Result<u8> {
    let state = ctx.state().load()?;
    let value = json!({"pending": state.pending_outcome_reports, "failed": state.failed_outcome_reports});
    ctx.out.emit(&value, || {
        let mut text = if state.pending_outcome_reports.is_empty() {
            "No reports queued.".to_owned()
        } else {
            let rows: Vec<Vec<String>> = state
                .pending_outcome_reports
                .iter()
                .map(|r| {
                    vec![
                        r.identifier.clone(),
                        if r.success { "success" } else { "failure" }.to_owned(),
                        r.attempts.to_string(),
                        r.queued_at.map_or_else(|| "-".to_owned(), crate::output::age),
                        clip(r.last_error.as_deref().unwrap_or(""), 60),
                    ]
                })
                .collect();
            table(&["EXPERIENCE", "RESULT", "ATTEMPTS", "QUEUED", "LAST ERROR"], &rows)
        };
        if !state.failed_outcome_reports.is_empty() {
            text.push_str(&format!(
                "\n{} report(s) were rejected by the server for good:",
                state.failed_outcome_reports.len()
            ));
            for f in &state.failed_outcome_reports {
                text.push_str(&format!("\n  {}: {}", f.report.identifier, clip(&f.error, 90)));
            }
        }
        text
    })?;
    Ok(exit::OK)
}

pub(crate) async fn flush(ctx: &Ctx) -> anyhow::Result<u8> {
    let client = ctx.queueing()?;
    let summary = ctx
        .out
        .spin("sending queued reports", outbox::flush(&ctx.state(), &client))
        .await?;
    if summary.refused {
        ctx.reach().refused();
    } else if summary.delivered > 0 || summary.failed > 0 {
        ctx.reach().forget();
    }
    let human = || {
        if summary.queued_before == 0 {
            return "No reports queued.".to_owned();
        }
        let mut text = format!(
            "Sent {} of {} queued report(s).",
            summary.delivered, summary.queued_before
        );
        if summary.refused {
            text.push_str(&format!(
                " {} stay queued: the server refused the connection (nothing listens there now).",
                summary.kept
            ));
        } else if summary.kept > 0 {
            text.push_str(&format!(" {} stay queued (temporary failure).", summary.kept));
        }
        if summary.failed > 0 {
            text.push_str(&format!(
                " {} were rejected for good (see 'plurum outcome pending').",
                summary.failed
            ));
        }
        text
    };
    let error = if summary.unauthorized {
        CliError::new(
            exit::NOT_AUTHENTICATED,
            "the server rejected the key; the reports stay queued",
        )
        .hint(crate::exit::rejected_key_hint())
    } else if summary.failed > 0 {
        CliError::new(
            exit::ERROR,
            format!("the server rejected {} report(s) for good", summary.failed),
        )
        .code("rejected")
        .hint("see them with 'plurum outcome failed' (--retry ID puts one back in the queue)")
    } else if summary.refused {
        CliError::new(
            exit::TEMPORARY,
            format!(
                "the server refused the connection; {} report(s) stay queued",
                summary.kept
            ),
        )
        .code("network")
        .hint("the next 'plurum outcome flush' or heartbeat sends them")
    } else if summary.kept > 0 {
        CliError::new(
            exit::TEMPORARY,
            format!("{} report(s) stay queued after a temporary failure", summary.kept),
        )
        .hint("the next 'plurum outcome flush' or heartbeat sends them")
    } else {
        ctx.out.emit(&summary, human)?;
        return Ok(exit::OK);
    };
    ctx.out.failed(&summary, human, error)
}

/// Whether `given` names a local id (whole, or its first 8+ characters).
fn names(id: &str, given: &str) -> bool {
    given.len() >= 8 && id.starts_with(&given.to_ascii_lowercase())
}

pub(crate) fn failed(args: FailedArgs, ctx: &Ctx) -> anyhow::Result<u8> {
    let state_file = ctx.state();
    if args.retry.is_empty() && args.drop.is_empty() {
        let state = state_file.load()?;
        let value = json!({"failed": state.failed_outcome_reports, "quarantined": state.quarantined_entries});
        ctx.out.emit(&value, || {
            if state.failed_outcome_reports.is_empty() && state.quarantined_entries.is_empty() {
                return "No rejected reports, nothing set aside.".to_owned();
            }
            let mut parts = Vec::new();
            if !state.failed_outcome_reports.is_empty() {
                let rows: Vec<Vec<String>> = state
                    .failed_outcome_reports
                    .iter()
                    .map(|f| {
                        vec![
                            f.report.id.get(..8).unwrap_or(&f.report.id).to_owned(),
                            f.report.identifier.clone(),
                            if f.report.success { "success" } else { "failure" }.to_owned(),
                            f.status.map_or("-".to_owned(), |s| s.to_string()),
                            clip(&f.error, 70),
                        ]
                    })
                    .collect();
                parts.push(format!(
                    "Rejected by the server ({}):\n{}",
                    rows.len(),
                    table(&["ID", "EXPERIENCE", "RESULT", "STATUS", "ERROR"], &rows)
                ));
            }
            if !state.quarantined_entries.is_empty() {
                let rows: Vec<Vec<String>> = state
                    .quarantined_entries
                    .iter()
                    .map(|q| {
                        vec![
                            q.id.get(..8).unwrap_or(&q.id).to_owned(),
                            q.field.clone(),
                            clip(&q.reason, 60),
                            clip(&q.value.to_string(), 50),
                        ]
                    })
                    .collect();
                parts.push(format!(
                    "Set aside from state.json because they did not parse ({}):\n{}",
                    rows.len(),
                    table(&["ID", "WAS AT", "WHY", "VALUE"], &rows)
                ));
            }
            parts.push("Retry with 'plurum outcome failed --retry ID', forget with --drop ID.".to_owned());
            parts.join("\n\n")
        })?;
        return Ok(exit::OK);
    }
    let (retried, dropped, unknown) = state_file.update(|state| {
        let mut retried = Vec::new();
        let mut dropped = Vec::new();
        let mut unknown = Vec::new();
        for given in &args.retry {
            match state
                .failed_outcome_reports
                .iter()
                .position(|f| names(&f.report.id, given))
            {
                Some(index) => {
                    let mut report = state.failed_outcome_reports.remove(index).report;
                    report.queued_at = Some(now());
                    report.last_error = None;
                    retried.push(report.id.clone());
                    state.pending_outcome_reports.push(report);
                }
                None => unknown.push(given.clone()),
            }
        }
        for given in &args.drop {
            if let Some(index) = state
                .failed_outcome_reports
                .iter()
                .position(|f| names(&f.report.id, given))
            {
                dropped.push(state.failed_outcome_reports.remove(index).report.id);
            } else if let Some(index) = state.quarantined_entries.iter().position(|q| names(&q.id, given)) {
                dropped.push(state.quarantined_entries.remove(index).id);
            } else {
                unknown.push(given.clone());
            }
        }
        Ok((retried, dropped, unknown))
    })?;
    if !unknown.is_empty() {
        return Err(CliError::new(
            exit::USAGE,
            format!(
                "no rejected report or set-aside entry has the id {}",
                unknown.join(", ")
            ),
        )
        .hint("see the ids with 'plurum outcome failed'")
        .into());
    }
    ctx.out.emit(&json!({"retried": retried, "dropped": dropped}), || {
        let mut text = Vec::new();
        if !retried.is_empty() {
            text.push(format!(
                "Queued {} report(s) again; 'plurum outcome flush' or the next heartbeat sends them.",
                retried.len()
            ));
        }
        if !dropped.is_empty() {
            text.push(format!(
                "Dropped {} entr{}.",
                dropped.len(),
                if dropped.len() == 1 { "y" } else { "ies" }
            ));
        }
        text.join(" ")
    })?;
    Ok(exit::OK)
}
