//! The heartbeat's schedule: a crontab entry between marker comments
//! (through `crontab -l` and `crontab -`), a systemd user timer, or the
//! daemon's user service. macOS has cron (setup uses it; launchd is not
//! written); Windows has none of these: `--schedule` other than `none` is
//! refused there with the Task Scheduler line to use instead.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::Context as _;

use super::{Step, Work};
use crate::context::Ctx;
use crate::exit::{self, CliError};

/// How the heartbeat runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Schedule {
    /// A crontab line (`plurum heartbeat --if-due`), between marker comments.
    Cron,
    /// A systemd user timer and its service (Linux).
    Systemd,
    /// The daemon as a systemd user service: it runs the heartbeats itself (Linux).
    Daemon,
    /// Nothing: run `plurum heartbeat` yourself.
    None,
}

impl Schedule {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Cron => "cron",
            Self::Systemd => "systemd",
            Self::Daemon => "daemon",
            Self::None => "none",
        }
    }
}

/// The marker comments of the crontab block for `profile`.
pub(crate) fn markers(profile: &str) -> (String, String) {
    (
        format!("# >>> plurum setup: heartbeat of profile '{profile}' (plurum setup --undo removes it) >>>"),
        format!("# <<< plurum setup: heartbeat of profile '{profile}' <<<"),
    )
}

/// The user's crontab: `Some(text)`, or `None` when there is none yet
/// (`crontab -l` exits 1 with "no crontab for USER").
pub(crate) fn read_crontab() -> anyhow::Result<Option<String>> {
    let output = Command::new("crontab")
        .arg("-l")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            anyhow::Error::new(
                CliError::new(exit::ERROR, format!("could not run crontab -l: {e}"))
                    .code("no_scheduler")
                    .hint("install cron (e.g. apt install cron), or use --schedule systemd, daemon or none"),
            )
        })?;
    if output.status.success() {
        return Ok(Some(String::from_utf8_lossy(&output.stdout).into_owned()));
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.to_lowercase().contains("no crontab") {
        return Ok(None);
    }
    Err(
        CliError::new(exit::ERROR, format!("crontab -l failed: {}", stderr.trim()))
            .code("no_scheduler")
            .into(),
    )
}

/// Installs `text` as the user's crontab (`crontab -`).
pub(crate) fn write_crontab(text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut child = Command::new("crontab")
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("could not run crontab -")?;
    child
        .stdin
        .take()
        .context("crontab's stdin")?
        .write_all(text.as_bytes())
        .context("could not write to crontab -")?;
    let output = child.wait_with_output().context("crontab -")?;
    if !output.status.success() {
        anyhow::bail!("crontab - failed: {}", String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(())
}

/// Removes the user's crontab (`crontab -r`): undo of a crontab setup made.
pub(crate) fn remove_crontab() -> anyhow::Result<()> {
    let status = Command::new("crontab")
        .arg("-r")
        .stdin(Stdio::null())
        .status()
        .context("could not run crontab -r")?;
    if !status.success() {
        anyhow::bail!("crontab -r failed");
    }
    Ok(())
}

/// Whether `line` runs this profile's heartbeat (installed by hand from
/// `--print-cron`, or by setup).
pub(crate) fn is_heartbeat_line(line: &str, profile: &str) -> bool {
    let line = line.trim();
    !line.starts_with('#')
        && line.contains(" heartbeat ")
        && (line.contains(&format!("--profile {profile} ")) || (profile == "default" && !line.contains("--profile ")))
}

/// Where systemd reads a user's units.
pub(crate) fn unit_dir() -> Option<PathBuf> {
    match std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        Some(dir) => Some(PathBuf::from(dir).join("systemd").join("user")),
        None => super::hosts::home().map(|h| h.join(".config").join("systemd").join("user")),
    }
}

/// Runs `systemctl --user ARGS`; `Ok(false)` when it ran and failed.
pub(crate) fn systemctl(args: &[&str]) -> anyhow::Result<bool> {
    let status = Command::new("systemctl")
        .arg("--user")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| {
            anyhow::Error::new(
                CliError::new(exit::ERROR, format!("could not run systemctl --user: {e}"))
                    .code("no_scheduler")
                    .hint("systemd user services need systemd; use --schedule cron or none"),
            )
        })?;
    Ok(status.success())
}

/// The heartbeat's timer and service units for `profile`.
fn heartbeat_units(ctx: &Ctx, command: &str, interval: Duration) -> (String, String) {
    let minutes = (interval.as_secs() / 60).max(1);
    let log = ctx.state().dir().join("heartbeat.log");
    let mut env = String::new();
    for name in ["PLURUM_CONFIG_DIR", "PLURUM_STATE_DIR", "PLURUM_API_URL"] {
        if let Ok(value) = std::env::var(name)
            && !value.is_empty()
        {
            env.push_str(&format!("Environment={name}={value}\n"));
        }
    }
    let service = format!(
        "# plurum heartbeat for profile '{profile}' (written by plurum setup; plurum setup --undo removes it).
# A user service has no desktop keyring at boot: keep the key in
# credentials.toml (PLURUM_NO_KEYRING=1 plurum auth login) or --api-key-file.
[Unit]
Description=plurum heartbeat (profile {profile})
After=network-online.target

[Service]
Type=oneshot
ExecStart={command} --profile {profile} heartbeat -q --log-file {log}
{env}",
        profile = ctx.profile,
        log = log.display(),
    );
    let timer = format!(
        "# plurum heartbeat every {minutes} minutes for profile '{profile}' (written by plurum setup).
[Unit]
Description=plurum heartbeat every {minutes} minutes (profile {profile})

[Timer]
OnBootSec=2min
OnUnitActiveSec={minutes}min
RandomizedDelaySec={jitter}
Persistent=true

[Install]
WantedBy=timers.target
",
        profile = ctx.profile,
        jitter = (interval.as_secs() / 10).clamp(1, 300),
    );
    (service, timer)
}

/// The step that schedules the heartbeat. `command`: how plurum is
/// started (shell words).
pub(crate) fn plan(ctx: &Ctx, schedule: Schedule, command: &str, interval: Duration) -> anyhow::Result<Step> {
    if cfg!(windows) && schedule != Schedule::None {
        return Err(CliError::new(
            exit::USAGE,
            format!("--schedule {} is not available on Windows", schedule.name()),
        )
        .hint("use --schedule none and the Task Scheduler: schtasks /Create /SC MINUTE /MO 30 /TN plurum-heartbeat /TR \"plurum heartbeat -q\"")
        .into());
    }
    if !cfg!(target_os = "linux") && matches!(schedule, Schedule::Systemd | Schedule::Daemon) {
        return Err(CliError::new(
            exit::USAGE,
            format!("--schedule {} needs systemd (Linux)", schedule.name()),
        )
        .hint("on macOS use --schedule cron")
        .into());
    }
    Ok(match schedule {
        Schedule::None => Step::unchanged(
            "schedule",
            "none",
            "no schedule: run 'plurum heartbeat' yourself".to_owned(),
        ),
        Schedule::Cron => {
            let current = read_crontab()?;
            let text = current.clone().unwrap_or_default();
            let (begin, _) = markers(&ctx.profile);
            if text.lines().any(|l| l.trim() == begin) {
                return Ok(Step::unchanged(
                    "schedule",
                    "cron",
                    "the heartbeat is in the crontab (installed by plurum setup)".to_owned(),
                ));
            }
            if let Some(line) = text.lines().find(|l| is_heartbeat_line(l, &ctx.profile)) {
                return Ok(Step::unchanged(
                    "schedule",
                    "cron",
                    format!(
                        "the crontab runs the heartbeat already (a line installed earlier: {})",
                        line.trim()
                    ),
                ));
            }
            let block = crontab_block(ctx, command, interval);
            let line = block.lines().last().unwrap_or_default().to_owned();
            Step::new(
                "schedule",
                "cron",
                "install",
                format!("add to the crontab: {line}"),
                Work::Crontab {
                    text,
                    command: command.to_owned(),
                    interval,
                    had_crontab: current.is_some(),
                },
            )
        }
        Schedule::Systemd | Schedule::Daemon => {
            let dir = unit_dir().context("no home directory for systemd's user units")?;
            let units: Vec<(PathBuf, String, Option<String>)> = if schedule == Schedule::Systemd {
                let (service, timer) = heartbeat_units(ctx, command, interval);
                let name = format!("plurum-heartbeat-{}", ctx.profile);
                vec![
                    (dir.join(format!("{name}.service")), service, None),
                    (dir.join(format!("{name}.timer")), timer, Some(format!("{name}.timer"))),
                ]
            } else {
                let name = format!("plurum-{}.service", ctx.profile);
                vec![(
                    dir.join(&name),
                    crate::commands::daemon::systemd_unit_with(ctx, command),
                    Some(name),
                )]
            };
            let same = units.iter().all(|(path, text, _)| {
                super::hosts::read_optional(path).ok().flatten().as_deref() == Some(text.as_bytes())
            });
            let enabled = units
                .iter()
                .filter_map(|u| u.2.as_deref())
                .all(|unit| systemctl(&["is-enabled", "--quiet", unit]).unwrap_or(false));
            let target = schedule.name();
            let names: Vec<String> = units.iter().filter_map(|u| u.2.clone()).collect();
            if same && enabled {
                return Ok(Step::unchanged(
                    "schedule",
                    target,
                    format!("{} is installed and enabled", names.join(", ")),
                )
                .at(&units[0].0));
            }
            Step::new(
                "schedule",
                target,
                "install",
                format!(
                    "write {} and run systemctl --user enable --now {}",
                    units
                        .iter()
                        .map(|u| u.0.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    names.join(" ")
                ),
                Work::Units(
                    units
                        .into_iter()
                        .map(|(path, text, enable)| {
                            let before = super::hosts::read_optional(&path).ok().flatten();
                            super::UnitFile {
                                path,
                                text,
                                enable,
                                before,
                            }
                        })
                        .collect(),
                ),
            )
            .at(&dir)
        }
    })
}

/// The heartbeat's crontab lines (their comment says where the key is:
/// made when applied, after the identity step stored a key).
pub(crate) fn crontab_block(ctx: &Ctx, command: &str, interval: Duration) -> String {
    let source = ctx.key().ok().flatten().map(|(_, source)| source);
    crate::heartbeat::cron::cron_line_with(ctx, command, interval, source.as_ref(), None)
}

/// `text` (the crontab as it was) with the marked block for `profile` added.
pub(crate) fn with_block(text: &str, profile: &str, block: &str) -> String {
    let (begin, end) = markers(profile);
    let mut new = text.to_owned();
    if !new.is_empty() && !new.ends_with('\n') {
        new.push('\n');
    }
    new.push_str(&format!("{begin}\n{block}\n{end}\n"));
    new
}

/// Removes the block between `begin` and `end` from a crontab's text.
pub(crate) fn without_block(text: &str, begin: &str, end: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in text.lines() {
        if line.trim() == begin {
            inside = true;
            continue;
        }
        if inside {
            if line.trim() == end {
                inside = false;
            }
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Whether `path` holds what setup wrote.
pub(crate) fn unchanged_since(path: &Path, sha256: &str) -> bool {
    super::hosts::read_optional(path)
        .ok()
        .flatten()
        .is_some_and(|bytes| super::manifest::sha256(&bytes) == sha256)
}
