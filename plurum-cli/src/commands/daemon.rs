//! `plurum daemon`, `plurum daemon status`, `plurum daemon --print-systemd`.

use reqwest::Method;
use serde_json::{Value, json};

use crate::context::Ctx;
use crate::daemon;
use crate::exit::{self, CliError};

/// `plurum daemon` arguments.
#[derive(Debug, clap::Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "Examples:
  plurum daemon                  # in the foreground (one per profile)
  plurum daemon status
  plurum daemon --print-systemd > ~/.config/systemd/user/plurum.service
  systemctl --user daemon-reload && systemctl --user enable --now plurum

The daemon holds the pulse socket, runs the heartbeat every 30 minutes, keeps
every inbox event, and wakes the agent (a command or a webhook, see the
[daemon] table of config.toml) when its drives' pressure reaches the
threshold, at most once per wake.min_trigger_interval and
wake.max_turns_per_hour. Local API on a free loopback port (api.addr; the
address is in daemon.addr in the profile's state directory, and 'plurum daemon
status' shows it): /health /state /feedback /trigger /config /metrics /inbox.
Daemons of several profiles run side by side. SIGHUP reloads the
configuration; SIGTERM or Ctrl-C stop it after saving its state."
)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// Listen on this address instead of api.addr (loopback only; port 0 picks a free one).
    #[arg(long, value_name = "HOST:PORT")]
    api_addr: Option<String>,
    /// Print a systemd user unit for this profile and exit.
    #[arg(long)]
    print_systemd: bool,
}

/// `plurum daemon` subcommands.
#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Is the daemon running, and how is it doing (queries /health and /state)?
    #[command(after_help = "Examples:\n  plurum daemon status\n  plurum daemon status --json | jq .state.drives")]
    Status,
    /// Show the runtime configuration changes (POST /config) and check the audit log's hash chain.
    #[command(
        after_help = "Examples:\n  plurum daemon audit\n  plurum daemon audit --json | jq '.entries[-1]'\n\n\
Exits 1 when the chain is broken (a line was edited, removed or reordered)."
    )]
    Audit,
    /// The configuration in effect and the runtime changes on top of config.toml; --reset drops them.
    #[command(after_help = "Examples:
  plurum daemon config
  plurum daemon config --json | jq .overrides
  plurum daemon config --reset

Runtime changes (POST /config) survive restarts, but every start and SIGHUP
checks them against config.toml again: those its mutator settings no longer
allow are dropped, logged and written to the audit log. --reset drops them all
(audited), whether the daemon runs or not.")]
    Config(ConfigArgs),
}

/// `plurum daemon config` arguments.
#[derive(Debug, clap::Args)]
struct ConfigArgs {
    /// Drop every runtime change: config.toml's values apply again.
    #[arg(long)]
    reset: bool,
}

pub(crate) async fn run(args: Args, ctx: Ctx) -> anyhow::Result<u8> {
    if args.print_systemd {
        let unit = systemd_unit(&ctx);
        ctx.out.emit(
            &json!({
                "unit": unit,
                "file": format!("~/.config/systemd/user/plurum-{}.service", ctx.profile),
                "profile": ctx.profile,
            }),
            || unit.clone(),
        )?;
        return Ok(exit::OK);
    }
    match args.command {
        Some(Command::Status) => status(&ctx).await,
        Some(Command::Audit) => audit(&ctx),
        Some(Command::Config(config_args)) => config(config_args, &ctx).await,
        None => {
            daemon::run(
                ctx,
                daemon::Options {
                    api_addr: args.api_addr,
                },
            )
            .await
        }
    }
}

async fn status(ctx: &Ctx) -> anyhow::Result<u8> {
    let Some(running) = daemon::running(ctx.state().dir())? else {
        return Err(CliError::new(
            exit::ERROR,
            format!("no daemon is running for profile '{}'", ctx.profile),
        )
        .code("not_running")
        .partial(json!({"running": false, "profile": ctx.profile}))
        .hint("start one with 'plurum daemon' (or install it with 'plurum daemon --print-systemd')")
        .into());
    };
    let health: Value = running
        .request(Method::GET, "/health")
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let state: Value = running
        .request(Method::GET, "/state")
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let value = json!({"running": true, "profile": ctx.profile, "api": running.addr, "health": health, "state": state});
    ctx.out.emit(&value, || {
        let mut lines = vec![format!(
            "plurum daemon for profile '{}': {} on http://{}, up {} s",
            ctx.profile,
            health["status"].as_str().unwrap_or("?"),
            running.addr,
            health["uptime"]
        )];
        let sensors = &state["sensors"];
        lines.push(format!(
            "pulse socket: {}; last heartbeat: {} ({}); queued reports: {}; unread events: {}",
            sensors["pulse"]["state"].as_str().unwrap_or("?"),
            sensors["heartbeat"]["last_run"].as_str().unwrap_or("never"),
            sensors["heartbeat"]["last_status"].as_str().unwrap_or("-"),
            sensors["outcomes"]["pending"],
            sensors["inbox"]["unread"],
        ));
        lines.push(format!(
            "pressure {:.2} of {:.2}:",
            state["total_pressure"].as_f64().unwrap_or(0.0),
            state["config"]["drives"]["trigger_threshold"].as_f64().unwrap_or(0.0)
        ));
        if let Some(drives) = state["drives"].as_object() {
            for (name, drive) in drives {
                lines.push(format!(
                    "  {name:<10} {:>6.2} (weighted {:.2})",
                    drive["pressure"].as_f64().unwrap_or(0.0),
                    drive["weighted"].as_f64().unwrap_or(0.0)
                ));
            }
        }
        lines.join("\n")
    })?;
    Ok(exit::OK)
}

async fn config(args: ConfigArgs, ctx: &Ctx) -> anyhow::Result<u8> {
    let dir = ctx.state().dir().to_owned();
    let (config, overrides, cleared, running) = match daemon::running(&dir)? {
        Some(running) => {
            let cleared = if args.reset {
                let answer: Value = running
                    .request(Method::POST, "/config/reset")
                    .json(&json!({}))
                    .send()
                    .await?
                    .error_for_status()?
                    .json()
                    .await?;
                answer["cleared"].clone()
            } else {
                json!([])
            };
            let config: Value = running
                .request(Method::GET, "/config")
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            let overrides: Value = running
                .request(Method::GET, "/config/overrides")
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            (config, overrides["overrides"].clone(), cleared, true)
        }
        None => {
            let Some(_lock) = crate::paths::try_lock(&dir.join("daemon.lock"))? else {
                return Err(CliError::new(exit::TEMPORARY, "the daemon is starting or stopping; try again").into());
            };
            let mut core = daemon::core::Core::load(
                &dir,
                ctx.settings.other.get("daemon").cloned(),
                crate::interest::Interest::of(&ctx.settings),
            )?;
            let cleared = if args.reset {
                let cleared = core.reset_overrides("cli")?;
                core.persist()?;
                cleared
            } else {
                Vec::new()
            };
            (
                serde_json::to_value(&core.config)?,
                serde_json::to_value(core.overrides())?,
                json!(cleared),
                false,
            )
        }
    };
    let value = json!({"running": running, "config": config, "overrides": overrides, "cleared": cleared});
    ctx.out.emit(&value, || {
        let mut lines = Vec::new();
        if let Some(cleared) = cleared.as_array().filter(|c| !c.is_empty()) {
            lines.push(format!(
                "Dropped {} runtime change(s): {}.",
                cleared.len(),
                cleared.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")
            ));
        }
        match overrides.as_object().filter(|o| !o.is_empty()) {
            Some(map) => {
                lines.push("Runtime changes on top of config.toml:".to_owned());
                for (key, value) in map {
                    lines.push(format!("  {key} = {value}"));
                }
            }
            None => lines.push("No runtime changes: config.toml's values apply.".to_owned()),
        }
        lines.push(format!(
            "In effect{}:\n{}",
            if running { " (the running daemon)" } else { "" },
            serde_json::to_string_pretty(&config).unwrap_or_default()
        ));
        lines.join("\n")
    })?;
    Ok(exit::OK)
}

fn audit(ctx: &Ctx) -> anyhow::Result<u8> {
    let path = ctx.state().dir().join(daemon::audit::FILE);
    if !path.exists() {
        ctx.out.emit(
            &json!({"path": path, "entries": [], "intact": true, "broken_at": null}),
            || format!("No configuration changes recorded ({} does not exist).", path.display()),
        )?;
        return Ok(exit::OK);
    }
    let entries = daemon::audit::entries(&path)?;
    let verdict = daemon::audit::verify(&path);
    let value = json!({
        "path": path,
        "entries": entries,
        "intact": verdict.is_ok(),
        "broken_at": verdict.as_ref().err(),
    });
    let human = || {
        let rows: Vec<Vec<String>> = entries
            .iter()
            .map(|e| {
                let field = |k: &str| {
                    e.get(k)
                        .map_or_else(String::new, |v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                };
                let at = time::OffsetDateTime::parse(&field("at"), &time::format_description::well_known::Rfc3339)
                    .map_or_else(|_| field("at"), |t| format!("{} ago", crate::output::age(t)));
                vec![at, field("key"), field("old"), field("new"), field("source")]
            })
            .collect();
        let mut text = crate::output::table(&["WHEN", "KEY", "OLD", "NEW", "SOURCE"], &rows);
        text.push('\n');
        match &verdict {
            Ok(count) => text.push_str(&format!("chain intact: {count} entries in {}", path.display())),
            Err(at) => text.push_str(&format!("CHAIN BROKEN in {}: {at}", path.display())),
        }
        text
    };
    match &verdict {
        Ok(_) => {
            ctx.out.emit(&value, human)?;
            Ok(exit::OK)
        }
        Err(at) => {
            let error = CliError::new(exit::ERROR, format!("the audit log's chain is broken: {at}"))
                .code("audit_broken")
                .hint("someone edited or truncated the audit log; the entries before the break are intact");
            ctx.out.failed(&value, human, error)
        }
    }
}

fn systemd_unit(ctx: &Ctx) -> String {
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "/usr/local/bin/plurum".to_owned());
    systemd_unit_with(ctx, &exe)
}

/// [`systemd_unit`] with the command that starts plurum (a path, or the
/// pinned `uvx` form).
pub(crate) fn systemd_unit_with(ctx: &Ctx, exe: &str) -> String {
    let mut env = String::new();
    for name in ["PLURUM_CONFIG_DIR", "PLURUM_STATE_DIR", "PLURUM_API_URL"] {
        if let Ok(value) = std::env::var(name)
            && !value.is_empty()
        {
            env.push_str(&format!("Environment={name}={value}\n"));
        }
    }
    format!(
        "# plurum daemon for profile '{profile}', as a systemd user service:
#   plurum --profile {profile} daemon --print-systemd > ~/.config/systemd/user/plurum-{profile}.service
#   systemctl --user daemon-reload && systemctl --user enable --now plurum-{profile}
# A service has no desktop keyring at boot: put PLURUM_API_KEY=... (and the
# webhook token, if any) in the EnvironmentFile below, mode 0600.
[Unit]
Description=plurum daemon (profile {profile})
After=network-online.target
Wants=network-online.target

[Service]
ExecStart={exe} --profile {profile} daemon
ExecReload=/bin/kill -HUP $MAINPID
EnvironmentFile=-%h/.config/plurum/daemon-{profile}.env
{env}Restart=on-failure
RestartSec=10

[Install]
WantedBy=default.target
",
        profile = ctx.profile,
    )
}
