//! `plurum sync`: delivers what this profile has waiting: the journal
//! (session entries, closes and abandons, contributions, votes), then the
//! queued outcome reports (`outcome flush`).

use serde_json::json;

use crate::context::Ctx;
use crate::exit::{self, CliError};

/// `plurum sync` arguments.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  plurum sync                      # send everything waiting, in order
  plurum sync --json               # {journal, failed, outcomes}
  plurum sync --jq .journal.pending
  plurum sync --drop-failed        # forget the writes refused for good

Entries logged while the server could not take them wait in the journal
(journal.jsonl in the profile's state directory) and go in the order they
were logged; the heartbeat and the daemon send them too. An entry whose
answer was lost is looked up on the server before it is sent again, so
none lands twice. Exit 0 when nothing waits, 5 when writes stay queued,
1 when the API refused some for good, 4 when it refused the key.")]
pub(crate) struct Args {
    /// Forget the journaled writes the API refused for good (listed by this command).
    #[arg(long)]
    drop_failed: bool,
}

pub(crate) async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    let journal = ctx.journal();
    if args.drop_failed {
        let dropped = journal.drop_failed()?;
        ctx.out.emit(&json!({"dropped": dropped}), || {
            format!("Forgot {dropped} refused write(s).")
        })?;
        return Ok(exit::OK);
    }
    let client = ctx.queueing()?;
    // A bar on a terminal: one step per journaled write.
    let bar = ctx
        .out
        .progress(journal.read()?.pending.len() as u64, "sending the journal");
    let delivered = crate::journal::deliver_with(&journal, &client, None, None, bar.as_ref()).await;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let (mut summary, _) = delivered?;
    let outcomes = ctx
        .out
        .spin("sending queued reports", crate::outbox::flush(&ctx.state(), &client))
        .await?;
    // Outcome reports are counted by kind beside the journal's writes.
    if outcomes.queued_before > 0 {
        let counts = summary.by_kind.entry("outcome".to_owned()).or_default();
        counts.insert("delivered".to_owned(), outcomes.delivered);
        counts.insert("pending".to_owned(), outcomes.kept);
        counts.insert("failed".to_owned(), outcomes.failed);
    }
    let contents = journal.read()?;
    let (failed, unconfirmed) = (contents.failed, contents.unconfirmed);
    let value = json!({"journal": summary, "failed": failed, "unconfirmed": unconfirmed, "outcomes": outcomes});
    let error = if summary.unauthorized || outcomes.unauthorized {
        Some(
            CliError::new(
                exit::NOT_AUTHENTICATED,
                "the server rejected the key; everything stays queued",
            )
            .hint(crate::exit::rejected_key_hint()),
        )
    } else if !failed.is_empty() || outcomes.failed > 0 {
        Some(
            CliError::new(
                exit::ERROR,
                format!(
                    "the server refused {} write(s) for good",
                    failed.len() + outcomes.failed
                ),
            )
            .code("rejected")
            .hint("read them in this command's 'failed' (and 'plurum outcome failed'); 'plurum sync --drop-failed' forgets the journal's"),
        )
    } else if summary.pending > 0 || outcomes.kept > 0 {
        Some(
            CliError::new(
                exit::TEMPORARY,
                format!(
                    "{} write(s) stay queued: {}",
                    summary.pending + outcomes.kept,
                    summary
                        .reasons
                        .first()
                        .cloned()
                        .unwrap_or_else(|| "the server could not take them".to_owned())
                ),
            )
            .code("network")
            .hint("the next 'plurum sync' or heartbeat sends them"),
        )
    } else {
        None
    };
    let human = || {
        let mut text = format!(
            "Journal: {} delivered ({} found already there), {} waiting, {} refused. Outcome reports: {} sent, {} waiting.",
            summary.delivered,
            summary.found,
            summary.pending,
            failed.len(),
            outcomes.delivered,
            outcomes.kept
        );
        for f in &failed {
            text.push_str(&format!(
                "\n  refused: {} #{} for {}: {}",
                f.op, f.seq, f.session_short_id, f.reason
            ));
        }
        for u in &unconfirmed {
            text.push_str(&format!(
                "\n  unconfirmed: {} #{} for session {}: {}",
                u.op, u.seq, u.session_short_id, u.reason
            ));
        }
        text
    };
    match error {
        Some(error) => ctx.out.failed(&value, human, error),
        None => {
            ctx.out.emit(&value, human)?;
            Ok(exit::OK)
        }
    }
}
