//! `plurum doctor`: every check a user would otherwise do by hand, each
//! with a status (ok, warn, fail), what was seen and the fix. No side
//! effects: host configurations are read (never `claude mcp list`, which
//! starts every server), the keyring probe and every network call are
//! time-capped, state files are read without being repaired.

use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;

use super::setup::{hosts, schedule};
use crate::context::{Ctx, Options};
use crate::exit::{self, CliError};

/// `plurum doctor` arguments.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  plurum doctor
  plurum doctor --json --jq '.checks[] | select(.status != \"ok\")'
  plurum --profile work doctor

Checks: the binary and its TLS provider; the config and state directories
and their modes; where the key comes from and whether the server accepts
it; the API's reachability and round trip; clock skew against the server's
Date; the OS keyring (probed for at most 3 s); state.json and the journal
(damaged entries, schema); queued and failed writes and the oldest; the
heartbeat's schedule (a crontab line, a systemd unit or the daemon) and
whether the last heartbeat ran within its interval; the daemon (running,
address, token file mode); the MCP server in Claude Code, Codex and Cursor
(present, pointing at a binary that exists, naming this profile).

Exit 0 when nothing fails (warnings allowed), 1 otherwise. Nothing is
changed: each problem comes with the command that fixes it.")]
pub(crate) struct Args {}

/// One check.
#[derive(Debug, Serialize)]
struct Check {
    name: String,
    /// `ok`, `warn` or `fail`.
    status: &'static str,
    /// What was seen.
    seen: String,
    /// How to fix it (absent when it is fine).
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<String>,
}

#[derive(Default)]
struct Checks(Vec<Check>);

impl Checks {
    fn ok(&mut self, name: &str, seen: impl Into<String>) {
        self.push(name, "ok", seen.into(), None);
    }
    fn warn(&mut self, name: &str, seen: impl Into<String>, fix: impl Into<String>) {
        self.push(name, "warn", seen.into(), Some(fix.into()));
    }
    fn fail(&mut self, name: &str, seen: impl Into<String>, fix: impl Into<String>) {
        self.push(name, "fail", seen.into(), Some(fix.into()));
    }
    fn push(&mut self, name: &str, status: &'static str, seen: String, fix: Option<String>) {
        self.0.push(Check {
            name: name.to_owned(),
            status,
            seen: crate::logging::scrub(&seen),
            fix,
        });
    }
}

/// How long any one network check may take.
const NETWORK_CAP: Duration = Duration::from_secs(10);
/// How long the keyring probe may take (a locked desktop keyring can hang).
const KEYRING_CAP: Duration = Duration::from_secs(3);
/// Clock skew that is worth a warning (the journal's read-back allows 5 min).
const SKEW_WARN: i64 = 60;

pub(crate) async fn run(_args: Args, ctx: &Ctx, options: &Options) -> anyhow::Result<u8> {
    let mut checks = Checks::default();
    let build = crate::build_info::BuildInfo::get();
    checks.ok("binary", format!("plurum {}", build.line()));
    checks.ok("tls", format!("rustls with {}", build.tls_provider));
    directories(ctx, &mut checks);
    let key = key(ctx, &mut checks);
    server(ctx, key.as_ref(), &mut checks).await;
    keyring(key.as_ref(), &mut checks).await;
    let interval = state(ctx, &mut checks);
    schedule_checks(ctx, interval, &mut checks);
    daemon(ctx, &mut checks);
    mcp(ctx, options, &mut checks);

    let count = |status: &str| checks.0.iter().filter(|c| c.status == status).count();
    let (ok, warn, fail) = (count("ok"), count("warn"), count("fail"));
    let value = json!({
        "profile": ctx.profile,
        "ok": ok,
        "warn": warn,
        "fail": fail,
        "checks": checks.0,
    });
    let human = || {
        let mut text = String::new();
        for check in &checks.0 {
            text.push_str(&format!("{:<4}  {:<16} {}\n", check.status, check.name, check.seen));
            if let Some(fix) = &check.fix {
                text.push_str(&format!("{:<4}  {:<16} fix: {fix}\n", "", ""));
            }
        }
        text.push_str(&format!("{ok} ok, {warn} warning(s), {fail} failure(s)"));
        text
    };
    if fail > 0 {
        let names: Vec<&str> = checks
            .0
            .iter()
            .filter(|c| c.status == "fail")
            .map(|c| c.name.as_str())
            .collect();
        let error = CliError::new(exit::ERROR, format!("{fail} check(s) failed: {}", names.join(", ")))
            .code("doctor_failed")
            .hint("each failed check says its fix");
        return ctx.out.failed(&value, human, error);
    }
    ctx.out.emit(&value, human)?;
    Ok(exit::OK)
}

/// Group and other bits of a file or directory (unix), if any are set.
fn shared_bits(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then_some(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

fn directories(ctx: &Ctx, checks: &mut Checks) {
    let state_dir = ctx.state().dir().to_owned();
    for (name, dir) in [("config_dir", ctx.paths.config_dir.clone()), ("state_dir", state_dir)] {
        if !dir.is_dir() {
            checks.warn(
                name,
                format!("{} does not exist yet", dir.display()),
                "plurum setup (or any command that stores something) creates it",
            );
        } else if let Some(mode) = shared_bits(&dir) {
            checks.warn(
                name,
                format!("{} is mode {mode:o}: others can look inside", dir.display()),
                format!("chmod 700 {}", dir.display()),
            );
        } else {
            checks.ok(name, dir.display().to_string());
        }
    }
}

fn key(ctx: &Ctx, checks: &mut Checks) -> Option<(plurum_sdk::ApiKey, crate::secrets::KeySource)> {
    match ctx.key() {
        Ok(Some((key, source))) => {
            let file = match &source {
                crate::secrets::KeySource::CredentialsFile(path) | crate::secrets::KeySource::KeyFile(path) => {
                    Some(path.clone())
                }
                _ => None,
            };
            match file.as_deref().and_then(|p| shared_bits(p).map(|m| (p, m))) {
                Some((path, mode)) => checks.fail(
                    "key",
                    format!(
                        "{} ({source}) is mode {mode:o}: other users can read the key",
                        path.display()
                    ),
                    format!("chmod 600 {}", path.display()),
                ),
                None => checks.ok("key", format!("{} ({source})", key.display_prefix())),
            }
            Some((key, source))
        }
        Ok(None) => {
            checks.fail(
                "key",
                format!("profile '{}' has no key", ctx.profile),
                "plurum setup --name NAME --username USER --yes (or --import hermes|openclaw, or --key-stdin)",
            );
            None
        }
        Err(e) => {
            checks.fail(
                "key",
                format!("the key could not be read: {e:#}"),
                "fix credentials.toml or the key file it names, or run plurum auth login",
            );
            None
        }
    }
}

async fn server(ctx: &Ctx, key: Option<&(plurum_sdk::ApiKey, crate::secrets::KeySource)>, checks: &mut Checks) {
    let url = ctx.api_url.clone();
    let Ok(anonymous) = ctx.anonymous() else {
        checks.fail(
            "api",
            format!("no client for {url}"),
            "check api_url (plurum config get api_url)",
        );
        return;
    };
    let started = Instant::now();
    match tokio::time::timeout(NETWORK_CAP, anonymous.health()).await {
        Ok(Ok(_)) => checks.ok(
            "api",
            format!("{url} answered in {} ms", started.elapsed().as_millis()),
        ),
        Ok(Err(e)) => checks.fail(
            "api",
            format!("{url} did not answer /health: {e}"),
            "check the network and api_url (plurum config get api_url; PLURUM_API_URL overrides it); writes wait in the journal meanwhile",
        ),
        Err(_) => checks.fail(
            "api",
            format!("{url} did not answer within {} s", NETWORK_CAP.as_secs()),
            "check the network, a proxy (HTTPS_PROXY) and api_url",
        ),
    }
    let Some((key, _)) = key else {
        return;
    };
    let Ok(client) = ctx.with_key(key.clone()) else {
        return;
    };
    let answer = tokio::time::timeout(
        NETWORK_CAP,
        client.raw_answer(plurum_sdk::RawRequest::get("/agents/me")),
    )
    .await;
    match answer {
        Ok(Ok(answer)) => {
            match &answer.error {
                None => {
                    let who = answer.response.body["username"]
                        .as_str()
                        .or_else(|| answer.response.body["name"].as_str())
                        .unwrap_or("?")
                        .to_owned();
                    checks.ok("server_key", format!("the server accepts the key: agent {who}"));
                }
                Some(e) if e.is_unauthorized() => checks.fail(
                    "server_key",
                    format!("the server rejects the key ({e})"),
                    "printf '%s' \"$KEY\" | plurum auth login (a working key), or plurum setup --name NAME --username USER --yes for a new agent",
                ),
                Some(e) => checks.fail(
                    "server_key",
                    format!("the server could not check the key: {e}"),
                    "try again later; plurum auth status shows more",
                ),
            }
            clock(&answer.response.headers, checks);
        }
        Ok(Err(e)) => checks.fail(
            "server_key",
            format!("the key could not be checked: {e}"),
            "fix the API's reachability first (see the api check)",
        ),
        Err(_) => checks.fail(
            "server_key",
            format!("no answer within {} s", NETWORK_CAP.as_secs()),
            "check the network",
        ),
    }
}

/// Clock skew against the server's `Date` header.
fn clock(headers: &[(String, String)], checks: &mut Checks) {
    let Some(date) = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("date"))
        .map(|(_, value)| value.clone())
    else {
        checks.warn("clock", "the server sent no Date header", "nothing to compare against");
        return;
    };
    let Some(server) = parse_http_date(&date) else {
        checks.warn(
            "clock",
            format!("the server's Date is not a date: {date}"),
            "nothing to compare against",
        );
        return;
    };
    let skew = (time::OffsetDateTime::now_utc() - server).whole_seconds();
    if skew.abs() > SKEW_WARN {
        checks.warn(
            "clock",
            format!("this clock is {skew} s off the server's"),
            "sync the clock (timedatectl set-ntp true); the journal's read-back allows 5 minutes",
        );
    } else {
        checks.ok("clock", format!("{skew} s off the server's clock"));
    }
}

/// An HTTP date (`Sun, 06 Dec 2026 01:30:00 GMT`).
fn parse_http_date(text: &str) -> Option<time::OffsetDateTime> {
    let format = time::format_description::parse_borrowed::<1>(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT",
    )
    .ok()?;
    time::PrimitiveDateTime::parse(text.trim(), &format)
        .ok()
        .map(time::PrimitiveDateTime::assume_utc)
}

async fn keyring(key: Option<&(plurum_sdk::ApiKey, crate::secrets::KeySource)>, checks: &mut Checks) {
    let in_keyring = key.is_some_and(|(_, source)| matches!(source, crate::secrets::KeySource::Keyring));
    let probe = tokio::task::spawn_blocking(crate::secrets::Secrets::keyring_status);
    match tokio::time::timeout(KEYRING_CAP, probe).await {
        Ok(Ok(Ok(()))) if in_keyring => checks.warn(
            "keyring",
            "works here, and holds the key",
            "cron, systemd and MCP hosts started without a desktop session may not reach it: PLURUM_NO_KEYRING=1 plurum auth login keeps it in credentials.toml (0600)",
        ),
        Ok(Ok(Ok(()))) => checks.ok("keyring", "works here"),
        Ok(Ok(Err(problem))) => checks.ok(
            "keyring",
            format!("not usable here ({problem}); keys go to credentials.toml (0600)"),
        ),
        Ok(Err(_)) | Err(_) => checks.warn(
            "keyring",
            format!("did not answer within {} s", KEYRING_CAP.as_secs()),
            "PLURUM_NO_KEYRING=1 keeps keys in credentials.toml (0600) and never asks the keyring",
        ),
    }
}

/// State and journal health, queued and failed writes; the interval the
/// heartbeat runs at (for the schedule check) comes later.
fn state(ctx: &Ctx, checks: &mut Checks) -> Option<time::OffsetDateTime> {
    let dir = ctx.state().dir().to_owned();
    let notices = crate::state::Notices::default();
    let file = crate::state::StateFile::new(dir.clone(), notices.clone());
    let state = match file.load() {
        Ok(state) => state,
        Err(e) => {
            checks.fail(
                "state",
                format!("{e:#}"),
                "plurum heartbeat (or any command that changes state) moves a broken state.json aside and starts afresh",
            );
            return None;
        }
    };
    let damaged = notices.take();
    if !damaged.is_empty() || !state.quarantined_entries.is_empty() {
        checks.fail(
            "state",
            format!(
                "{} entr(ies) do not parse{}{}",
                damaged.len().max(state.quarantined_entries.len()),
                if damaged.is_empty() { "" } else { ": " },
                damaged.join("; ")
            ),
            "plurum outcome failed lists the entries set aside; fix or drop them (plurum outcome failed --drop)",
        );
    } else {
        checks.ok(
            "state",
            format!("{} (schema {})", file.path().display(), state.schema_version),
        );
    }
    let journal = crate::journal::Journal::with_notices(&dir, crate::state::Notices::default());
    match journal.read() {
        Ok(contents) => {
            let oldest = contents
                .pending
                .iter()
                .map(|p| p.write.at.clone())
                .chain(
                    state
                        .pending_outcome_reports
                        .iter()
                        .filter_map(|r| r.queued_at.map(crate::state::rfc3339_text)),
                )
                .min();
            let pending = contents.pending.len() + state.pending_outcome_reports.len();
            let failed = contents.failed.len() + state.failed_outcome_reports.len();
            let damaged = contents.damaged();
            if damaged > 0 {
                checks.fail(
                    "journal",
                    format!("{damaged} line(s) of journal.jsonl do not parse"),
                    "plurum sync sets them aside into journal.corrupt.jsonl; redo what they described",
                );
            }
            if failed > 0 || !contents.unconfirmed.is_empty() {
                checks.warn(
                    "writes",
                    format!(
                        "{failed} write(s) refused for good, {} contribution(s) unconfirmed, {pending} queued",
                        contents.unconfirmed.len()
                    ),
                    "plurum sync lists them (plurum sync --drop-failed forgets them); plurum outcome failed for reports",
                );
            } else if pending > 0 {
                let age = oldest.as_deref().and_then(|at| {
                    time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).ok()
                });
                let old = age.is_some_and(|at| time::OffsetDateTime::now_utc() - at > time::Duration::hours(1));
                let seen = format!(
                    "{pending} write(s) queued, the oldest since {}{}",
                    oldest.as_deref().unwrap_or("?"),
                    age.map(|at| format!(" ({} ago)", crate::output::age(at)))
                        .unwrap_or_default()
                );
                if old {
                    checks.warn(
                        "writes",
                        seen,
                        "plurum sync sends them (the heartbeat does too, when it runs)",
                    );
                } else {
                    checks.ok("writes", seen);
                }
            } else {
                checks.ok("writes", "nothing queued, nothing failed");
            }
        }
        Err(e) => checks.fail("journal", format!("{e:#}"), "check the state directory's permissions"),
    }
    state.last_plurum_check
}

/// The heartbeat's schedule, and whether it ran within its interval.
fn schedule_checks(ctx: &Ctx, last: Option<time::OffsetDateTime>, checks: &mut Checks) {
    let dir = ctx.state().dir().to_owned();
    let mut found: Vec<(String, Duration)> = Vec::new();
    if hosts::on_path("crontab").is_some()
        && let Ok(Some(text)) = schedule::read_crontab()
        && let Some(line) = text.lines().find(|l| schedule::is_heartbeat_line(l, &ctx.profile))
    {
        let interval = line
            .split_whitespace()
            .skip_while(|w| *w != "--interval")
            .nth(1)
            .and_then(|d| crate::heartbeat::cron::parse_duration(d).ok())
            .unwrap_or(Duration::from_secs(30 * 60));
        found.push(("a crontab line".to_owned(), interval));
    }
    if let Some(units) = schedule::unit_dir() {
        let timer = units.join(format!("plurum-heartbeat-{}.timer", ctx.profile));
        if let Ok(text) = std::fs::read_to_string(&timer) {
            let minutes = text
                .lines()
                .find_map(|l| l.strip_prefix("OnUnitActiveSec="))
                .and_then(|v| v.trim_end_matches("min").parse::<u64>().ok())
                .unwrap_or(30);
            found.push((
                format!("the systemd timer {}", timer.display()),
                Duration::from_secs(minutes * 60),
            ));
        }
        let service = units.join(format!("plurum-{}.service", ctx.profile));
        if service.exists() {
            found.push((
                format!("the daemon's unit {}", service.display()),
                Duration::from_secs(30 * 60),
            ));
        }
    }
    if matches!(crate::daemon::running(&dir), Ok(Some(_))) && !found.iter().any(|f| f.0.contains("daemon")) {
        found.push(("the running daemon".to_owned(), Duration::from_secs(30 * 60)));
    }
    let Some((how, interval)) = found.first().cloned() else {
        checks.warn(
            "schedule",
            "nothing runs the heartbeat (no crontab line, systemd timer or daemon for this profile)",
            "plurum setup --schedule cron --yes (or systemd, or daemon)",
        );
        return;
    };
    checks.ok(
        "schedule",
        format!("{how}, every {}", crate::heartbeat::cron::format_duration(interval)),
    );
    let now = time::OffsetDateTime::now_utc();
    let allowed = time::Duration::try_from(interval * 2 + Duration::from_secs(300)).unwrap_or(time::Duration::HOUR);
    match last {
        None => checks.warn(
            "last_heartbeat",
            "no heartbeat has run yet",
            format!("wait one interval, or run plurum --profile {} heartbeat now", ctx.profile),
        ),
        Some(at) if now - at > allowed => checks.fail(
            "last_heartbeat",
            format!(
                "the last heartbeat ran at {} ({} ago), more than twice its interval",
                crate::state::rfc3339_text(at),
                crate::output::age(at)
            ),
            format!(
                "the schedule is not running it: read {} and run the heartbeat by hand (plurum heartbeat) to see the error",
                dir.join("heartbeat.log").display()
            ),
        ),
        Some(at) => checks.ok(
            "last_heartbeat",
            format!("ran {} ago", crate::output::age(at)),
        ),
    }
}

fn daemon(ctx: &Ctx, checks: &mut Checks) {
    let dir = ctx.state().dir().to_owned();
    match crate::daemon::running(&dir) {
        Ok(Some(running)) => {
            let token = dir.join("daemon.token");
            match shared_bits(&token) {
                Some(mode) => checks.fail(
                    "daemon",
                    format!("running on {}, but {} is mode {mode:o}", running.addr, token.display()),
                    format!("chmod 600 {}", token.display()),
                ),
                None => checks.ok("daemon", format!("running on {}", running.addr)),
            }
        }
        Ok(None) => checks.ok(
            "daemon",
            "not running (optional: plurum daemon, or plurum setup --schedule daemon)",
        ),
        Err(e) => checks.warn("daemon", format!("{e:#}"), "plurum daemon status"),
    }
}

/// The MCP server in each host whose configuration exists here.
fn mcp(ctx: &Ctx, options: &Options, checks: &mut Checks) {
    let name = if ctx.profile == "default" {
        "plurum".to_owned()
    } else {
        format!("plurum-{}", ctx.profile)
    };
    let _ = options;
    let mut places: Vec<(&str, std::path::PathBuf, Option<serde_json::Value>)> = Vec::new();
    for (label, path) in [
        ("mcp.claude", hosts::claude_config(hosts::Scope::User)),
        ("mcp.claude_project", hosts::claude_config(hosts::Scope::Project)),
        ("mcp.cursor", hosts::cursor_config()),
    ] {
        if let Some(path) = path.filter(|p| p.is_file()) {
            let entry = hosts::json_entry(&path, &name);
            places.push((label, path, entry));
        }
    }
    if let (Some(entry), Some(path)) = (
        hosts::claude_local_entry(&name),
        hosts::claude_config(hosts::Scope::User),
    ) {
        places.push(("mcp.claude_local", path, Some(entry)));
    }
    if let Some(path) = hosts::codex_config().filter(|p| p.is_file()) {
        let entry = hosts::codex_entry(&path, &name);
        places.push(("mcp.codex", path, entry));
    }
    for (label, path, entry) in places {
        let host = label
            .trim_start_matches("mcp.")
            .trim_end_matches("_project")
            .trim_end_matches("_local");
        let Some(entry) = entry else {
            if label != "mcp.claude_project" {
                checks.warn(
                    label,
                    format!("{} has no server {name}", path.display()),
                    format!("plurum --profile {} setup --host {host} --yes", ctx.profile),
                );
            }
            continue;
        };
        let command = entry["command"].as_str().unwrap_or_default().to_owned();
        let args: Vec<String> = entry["args"]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        let exists = if Path::new(&command).is_absolute() {
            Path::new(&command).is_file()
        } else {
            hosts::on_path(&command).is_some()
        };
        let names_profile = if ctx.profile == "default" {
            !args.iter().any(|a| a == "--profile")
        } else {
            args.windows(2).any(|w| w[0] == "--profile" && w[1] == ctx.profile)
        };
        if !exists {
            checks.fail(
                label,
                format!(
                    "server {name} in {} starts {command}, which does not exist",
                    path.display()
                ),
                format!(
                    "plurum --profile {} setup --host {host} --yes (points it at this plurum)",
                    ctx.profile
                ),
            );
        } else if !names_profile {
            checks.fail(
                label,
                format!(
                    "server {name} in {} does not run profile '{}'",
                    path.display(),
                    ctx.profile
                ),
                format!("plurum --profile {} setup --host {host} --yes", ctx.profile),
            );
        } else {
            checks.ok(label, format!("server {name} in {} starts {command}", path.display()));
        }
    }
}
