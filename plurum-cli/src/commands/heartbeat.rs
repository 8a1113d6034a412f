//! `plurum heartbeat`: the routine of HEARTBEAT.md (docs/seeds.md) (see [`crate::heartbeat`]),
//! once, from a shell or cron: the due check, the lock against overlapping
//! runs, the jitter, and the printing.

use std::time::Duration;

use serde_json::json;

use crate::context::Ctx;
use crate::exit::{self, CliError};
use crate::heartbeat::cron::{cron_line, next_due, parse_duration};
use crate::heartbeat::execute;
use crate::paths;
use crate::state::StateFile;

/// `plurum heartbeat` options (the `plurum_heartbeat` tool takes `query`;
/// the scheduling flags are the command line's).
#[derive(Debug, Clone, clap::Args, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[command(after_help = "Examples:
  plurum heartbeat
  plurum heartbeat --query \"PostgreSQL replication\" --json
  plurum heartbeat --if-due --interval 30m --jitter 3m -q     # from cron
  plurum heartbeat --print-cron >> my-crontab
  plurum heartbeat -q --notify 'notify-send Plurum'

What steers it (plurum config set KEY VALUE):
  focus     what to search for when there is no --query and no current
            session (with neither, the search step is skipped)
  domains   sessions in these domains are pointed out, and their inbox
            events wait until acknowledged
  tools     the same, for sessions using these tools

Output: \"Plurum heartbeat complete. No new findings.\" or one line naming
inbox events, reports flushed and experiences found; a step that failed is
named first (\"Plurum heartbeat incomplete: inbox: ... — will retry next
run\"). --json prints a summary with status ok, partial or failed; -q prints
only what needs your human.

--if-due runs when the last successful run started at least --interval ago,
less a tolerance for the jitter and the run (so a cron tick every --interval
runs every time).

Exit codes: 0 done (or not due, or another heartbeat is running), 3 something
for your human (an experience you rely on lost quality, a warning was
contributed to your session, the server rejected queued reports), 4 the key
is missing or rejected, 5 a step failed (the others were done).")]
pub(crate) struct Args {
    /// What to search for (default: the current session's topic, else the profile's focus).
    #[arg(long)]
    #[serde(default)]
    pub(crate) query: Option<String>,
    /// Exit at once (0) unless the last heartbeat is older than --interval.
    #[arg(long)]
    #[serde(skip)]
    #[schemars(skip)]
    if_due: bool,
    /// How often the heartbeat should run (for --if-due and --print-cron), e.g. 30m, 1h.
    #[arg(long, default_value = "30m", value_parser = parse_duration)]
    #[serde(skip, default = "thirty_minutes")]
    #[schemars(skip)]
    interval: Duration,
    /// Wait a random time up to this long first, so many agents do not call at once (e.g. 2m).
    #[arg(long, value_parser = parse_duration)]
    #[serde(skip)]
    #[schemars(skip)]
    jitter: Option<Duration>,
    /// Print a crontab line for this profile and exit.
    #[arg(long)]
    #[serde(skip)]
    #[schemars(skip)]
    print_cron: bool,
    /// Run this shell command with what needs your human on stdin (one line each), when there is any (by `sh -c`; on Windows by `cmd /C`).
    #[arg(long, value_name = "CMD")]
    #[serde(skip)]
    #[schemars(skip)]
    notify: Option<String>,
    /// Append what would go to stderr to this file instead, each line with its time; past 1 MiB the older part moves to FILE.1 (what --print-cron uses).
    #[arg(long, value_name = "FILE")]
    #[serde(skip)]
    #[schemars(skip)]
    log_file: Option<std::path::PathBuf>,
    /// Acknowledge these items of needs_human (ids as listed; the first 8 characters are enough) instead of running the heartbeat.
    #[arg(long, value_name = "ID", num_args = 1.., conflicts_with_all = ["query", "if_due", "print_cron", "ack_all"])]
    #[serde(default)]
    pub(crate) ack: Vec<String>,
    /// Acknowledge every item of needs_human instead of running the heartbeat.
    #[arg(long, conflicts_with_all = ["query", "if_due", "print_cron"])]
    #[serde(default)]
    pub(crate) ack_all: bool,
}

fn thirty_minutes() -> Duration {
    Duration::from_secs(30 * 60)
}

pub(crate) async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    // When this run began: the next one is due an interval after it,
    // whatever the jitter and the run itself take.
    let started_at = crate::state::now();
    if let Some(path) = &args.log_file {
        ctx.out.sink().log_to(path.clone())?;
    }
    if let Some(query) = &args.query {
        plurum_sdk::types::SearchExperiences::new(query.clone())
            .validate()
            .map_err(|e| CliError::new(exit::USAGE, format!("--query: {e}")))?;
    }
    if args.print_cron {
        let source = ctx.key().ok().flatten().map(|(_, source)| source);
        let text = cron_line(ctx, args.interval, source.as_ref(), args.notify.as_deref());
        ctx.out.emit(
            &json!({
                "crontab": text,
                "line": text.lines().last(),
                "profile": ctx.profile,
            }),
            || text.clone(),
        )?;
        return Ok(exit::OK);
    }
    let state_file = ctx.state();
    if !args.ack.is_empty() || args.ack_all {
        return acknowledge(ctx, &state_file, &args.ack, args.ack_all);
    }
    if let Some(daemon) = crate::daemon::running(state_file.dir())? {
        return deferred(ctx, &state_file, &daemon).await;
    }
    if args.if_due
        && let Some(next) = next_due(&state_file.load_for_change()?, args.interval, args.jitter)
    {
        return not_due(ctx, next);
    }
    // The jitter is waited before the lock: a heartbeat run by hand
    // meanwhile runs, and this one then finds itself not due.
    if let Some(jitter) = args.jitter.filter(|j| !j.is_zero()) {
        let wait = jitter.mul_f64(fastrand::f64());
        ctx.out.note(&format!(
            "waiting {} (--jitter) before the heartbeat",
            humantime::format_duration(Duration::from_millis(wait.as_millis() as u64))
        ));
        tokio::time::sleep(wait).await;
    }
    let Some(_running) = paths::try_lock(&state_file.dir().join("heartbeat.lock"))? else {
        ctx.out.note(&format!(
            "another heartbeat is running for profile '{}'; skipping this one",
            ctx.profile
        ));
        if ctx.out.json {
            ctx.out
                .json(&json!({"status": "ok", "skipped": "already_running", "profile": ctx.profile}))?;
        }
        return Ok(exit::OK);
    };
    // Due again under the lock: one cron tick never runs twice.
    if args.if_due
        && let Some(next) = next_due(&state_file.load_for_change()?, args.interval, args.jitter)
    {
        return not_due(ctx, next);
    }
    beat(args, ctx, &state_file, started_at).await
}

fn not_due(ctx: &Ctx, next: String) -> anyhow::Result<u8> {
    ctx.out.note(&format!("heartbeat not due until {next}"));
    if ctx.out.json {
        ctx.out
            .json(&json!({"status": "ok", "skipped": "not_due", "profile": ctx.profile, "next_due_at": next}))?;
    }
    Ok(exit::OK)
}

/// What needs the human, as it waits in the state (new or not).
fn waiting_json(state: &crate::state::State) -> Vec<serde_json::Value> {
    state
        .needs_human
        .iter()
        .map(|a| crate::heartbeat::alert_json(a, false))
        .collect()
}

/// While the daemon runs it is the one that runs the heartbeat: say so,
/// with its latest summary and what waits for the human.
async fn deferred(ctx: &Ctx, state_file: &StateFile, daemon: &crate::daemon::Running) -> anyhow::Result<u8> {
    let summary = daemon.get("/state").await.ok().and_then(|state| {
        state["sensors"]["heartbeat"]["last_summary"]
            .as_str()
            .map(str::to_owned)
    });
    let state = state_file.load()?;
    ctx.out.note(&format!(
        "the daemon (API on {}) runs the heartbeat for profile '{}'; skipping this one",
        daemon.addr, ctx.profile
    ));
    if ctx.out.json {
        ctx.out.json(&json!({
            "status": "ok",
            "skipped": "daemon_running",
            "profile": ctx.profile,
            "daemon": daemon.addr,
            "summary": summary,
            "needs_human": waiting_json(&state),
            "needs_human_new": 0,
        }))?;
    } else {
        if let Some(summary) = &summary
            && !ctx.out.quiet
        {
            ctx.out.write(&format!("The daemon's last heartbeat: {summary}"));
        }
        for alert in &state.needs_human {
            ctx.out.note(&format!(
                "For your human (since {} ago): {} (acknowledge: plurum heartbeat --ack {})",
                crate::output::age(alert.first_seen),
                alert.text,
                alert.short_id()
            ));
        }
    }
    Ok(exit::OK)
}

/// `plurum heartbeat --ack ID…` / `--ack-all`: the items of needs_human
/// (and, for a warning, its inbox event) are acknowledged.
fn acknowledge(ctx: &Ctx, state_file: &StateFile, ids: &[String], all: bool) -> anyhow::Result<u8> {
    let (acknowledged, unknown, state) = state_file.update(|state| {
        let (count, unknown) = crate::state::acknowledge_alerts(&mut state.needs_human, ids, all);
        // A warning's inbox event goes with it.
        let events: Vec<String> = ids.iter().filter(|given| !unknown.contains(given)).cloned().collect();
        crate::kept::acknowledge(state, &events, false);
        Ok((count, unknown, state.clone()))
    })?;
    let value = json!({
        "acknowledged": acknowledged,
        "unknown": unknown,
        "needs_human": waiting_json(&state),
    });
    let human = || {
        let mut text = format!("Acknowledged {acknowledged}.");
        if !state.needs_human.is_empty() {
            text.push_str(&format!(" {} more wait for your human.", state.needs_human.len()));
        }
        text
    };
    if unknown.is_empty() {
        ctx.out.emit(&value, human)?;
        return Ok(exit::OK);
    }
    let error = CliError::new(
        exit::USAGE,
        format!("nothing for the human has the id {}", unknown.join(", ")),
    )
    .hint("the ids are those 'plurum heartbeat --json' lists in needs_human");
    if ctx.out.json {
        return Err(error.partial(value).into());
    }
    ctx.out.write(&human());
    Err(error.into())
}

/// The error of a heartbeat that could not do all its work (exit 4 or 5).
fn failure(beat: &crate::heartbeat::Beat) -> Option<CliError> {
    let errors = beat.summary["errors"]
        .as_array()
        .map(|errors| errors.iter().filter_map(|e| e.as_str()).collect::<Vec<_>>().join("; "))
        .unwrap_or_default();
    match beat.code {
        exit::NOT_AUTHENTICATED => Some(
            CliError::new(exit::NOT_AUTHENTICATED, "the server rejected the key")
                .hint(crate::exit::rejected_key_hint()),
        ),
        exit::TEMPORARY => Some(
            CliError::new(exit::TEMPORARY, format!("the heartbeat could not finish: {errors}"))
                .code("incomplete")
                .hint("the next heartbeat retries what failed; nothing was lost"),
        ),
        _ => None,
    }
}

async fn beat(args: Args, ctx: &Ctx, state_file: &StateFile, started_at: crate::state::Ts) -> anyhow::Result<u8> {
    let beat = execute(ctx, state_file, args.query, started_at).await?;
    if let Some(command) = &args.notify
        && !beat.needs_human.is_empty()
    {
        notify(ctx, command, &beat.needs_human).await;
    }
    if ctx.out.json {
        if let Some(error) = failure(&beat) {
            return Err(error.partial(beat.summary).into());
        }
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
        // Told before and not acknowledged: a reminder for the agent, not
        // news for cron mail.
        for alert in beat.waiting.iter().filter(|a| !beat.needs_human.contains(&a.text)) {
            ctx.out.note(&format!(
                "Still for your human (since {} ago): {} (acknowledge: plurum heartbeat --ack {})",
                crate::output::age(alert.first_seen),
                alert.text,
                alert.short_id()
            ));
        }
        for error in &beat.details {
            ctx.out.sink().eprint(&format!("heartbeat: {error}"));
        }
    }
    Ok(beat.code)
}

/// The shell `--notify` runs its command with: `sh -c`, or `cmd /C` on
/// Windows.
fn shell(command: &str) -> tokio::process::Command {
    #[cfg(windows)]
    let (program, flag) = ("cmd", "/C");
    #[cfg(not(windows))]
    let (program, flag) = ("sh", "-c");
    let mut shell = tokio::process::Command::new(program);
    shell.arg(flag).arg(command);
    shell
}

/// Hands what needs the human to `command` (run by [`shell`], one line per
/// item on stdin, `PLURUM_PROFILE` set); a failure is a warning, never a
/// reason to lose the heartbeat's own result.
async fn notify(ctx: &Ctx, command: &str, items: &[String]) {
    use tokio::io::AsyncWriteExt;
    let text: String = items.iter().map(|item| format!("Tell your human: {item}.\n")).collect();
    let spawned = shell(command)
        .env("PLURUM_PROFILE", &ctx.profile)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => {
            ctx.out.warn(&format!("--notify could not start: {e}"));
            return;
        }
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(text.as_bytes()).await;
    }
    match tokio::time::timeout(Duration::from_secs(60), child.wait()).await {
        Ok(Ok(status)) if status.success() => {}
        Ok(Ok(status)) => ctx.out.warn(&format!("--notify exited with {status}")),
        Ok(Err(e)) => ctx.out.warn(&format!("--notify failed: {e}")),
        Err(_) => ctx.out.warn("--notify took more than 60 s; stopped it"),
    }
}
