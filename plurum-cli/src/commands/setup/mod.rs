//! `plurum setup`: a profile brought to a working state in one idempotent
//! command: an identity, the MCP server in the chosen hosts, the heartbeat
//! scheduled. It makes a plan first (printed by `--dry-run`, approved by
//! `--yes` or at a prompt on a terminal), applies it, and records every
//! change in a manifest so that `--undo` removes exactly what it added.
//! The key never goes into a host's configuration, a crontab or a unit.

pub(crate) mod hosts;
pub(crate) mod manifest;
pub(crate) mod schedule;

use std::io::{BufRead as _, IsTerminal as _, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

use self::hosts::Scope;
use self::manifest::Change;
use self::schedule::Schedule;
use crate::commands::auth::Plugin;
use crate::commands::mcp::{Host, Launch};
use crate::context::{Ctx, Options};
use crate::exit::{self, CliError};

/// `plurum setup` arguments.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  plurum setup --dry-run                 # the plan; nothing changes
  plurum setup --yes                     # the key kept, hosts found, cron
  plurum setup --name Atlas --username atlas --host claude --yes
  plurum setup --import hermes --host codex --schedule systemd --yes
  printf '%s' \"$KEY\" | plurum setup --key-stdin --yes
  plurum setup --undo --yes              # remove what setup added

Identity: a working key is kept; otherwise --name/--username registers a new
agent, --import takes a Hermes or OpenClaw plugin's key, --key-stdin reads
one (with --yes). Hosts (--host, repeatable; default: those found here):
claude through 'claude mcp add-json' (user scope, or --scope project),
codex in $CODEX_HOME/config.toml (comments kept), cursor in
~/.cursor/mcp.json, generic printed. Schedule: cron (a crontab block
between marker comments; a line from 'heartbeat --print-cron' counts),
systemd (a user timer), daemon (the daemon's user service) or none; cron
is the default where crontab exists. macOS: cron only; Windows: none (use
the Task Scheduler).

Off a terminal, setup changes nothing without --yes: it prints the plan
and exits 2. Running it again changes nothing. Every change is recorded in
setup.json in the profile's state directory; --undo removes exactly those
(a file nobody edited since comes back byte for byte; an edited one loses
only plurum's entry) and never the key.")]
pub(crate) struct Args {
    /// Register the MCP server with this host: claude, codex, cursor or generic. Repeatable (default: the hosts found here).
    #[arg(long = "host", value_enum, value_name = "HOST")]
    hosts: Vec<Host>,
    /// Claude Code's scope: user (every project) or project (this directory's .mcp.json).
    #[arg(long, value_enum, default_value = "user")]
    scope: Scope,
    /// How the heartbeat runs: cron, systemd, daemon or none (default: cron where crontab exists, else none).
    #[arg(long, value_enum)]
    schedule: Option<Schedule>,
    /// How often the heartbeat runs (cron and systemd).
    #[arg(long, default_value = "30m", value_parser = crate::heartbeat::cron::parse_duration)]
    interval: Duration,
    /// With --username: register a new agent under this display name when the profile has no working key.
    #[arg(long, requires = "username")]
    name: Option<String>,
    /// With --name: the new agent's username.
    #[arg(long, requires = "name")]
    username: Option<String>,
    /// Take over the key a Hermes or OpenClaw plugin saved, when the profile has no working key.
    #[arg(long = "import", value_enum, value_name = "PLUGIN", conflicts_with_all = ["name", "key_stdin"])]
    import: Option<Plugin>,
    /// Read the key from stdin (needs --yes), when the profile has no working key.
    #[arg(long, conflicts_with = "name")]
    key_stdin: bool,
    /// How hosts, cron and units start plurum: this binary's path, or uvx pinned to this version (default: path, or uvx when this plurum runs from uv's cache).
    #[arg(long, value_enum)]
    launch: Option<Launch>,
    /// Print the plan and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Apply without asking (needed when stdin is not a terminal).
    #[arg(long, short = 'y')]
    yes: bool,
    /// Remove what setup added (its manifest), and nothing else; the key stays.
    #[arg(long, conflicts_with_all = ["hosts", "schedule", "name", "import", "key_stdin"])]
    undo: bool,
}

/// What a step will do (`Work::None`: nothing, it is in place).
#[derive(Debug)]
pub(crate) enum Work {
    None,
    Register {
        name: String,
        username: String,
    },
    Import(Plugin),
    Login(plurum_sdk::ApiKey),
    Claude {
        claude: PathBuf,
        name: String,
        scope: Scope,
        json: Value,
        previous: Option<Value>,
    },
    HostFile {
        host: &'static str,
        path: PathBuf,
        entry: String,
        before: Option<Vec<u8>>,
        after: Vec<u8>,
    },
    /// The crontab as it was, and what the block is made of.
    Crontab {
        text: String,
        command: String,
        interval: Duration,
        had_crontab: bool,
    },
    /// Unit files to write, then enable.
    Units(Vec<UnitFile>),
    /// Shown to the user, who runs or pastes it.
    Print(String),
}

/// A systemd unit file setup writes.
#[derive(Debug)]
pub(crate) struct UnitFile {
    pub(crate) path: PathBuf,
    pub(crate) text: String,
    /// The unit to enable (a timer's service is started by its timer).
    pub(crate) enable: Option<String>,
    /// What the file held before.
    pub(crate) before: Option<Vec<u8>>,
}

/// One step of the plan.
#[derive(Debug, Serialize)]
pub(crate) struct Step {
    /// `identity`, `mcp` or `schedule`.
    step: &'static str,
    /// What it acts on: the profile, a host, a scheduler.
    target: String,
    /// `keep`, `register`, `import`, `login`, `add`, `replace`, `install`,
    /// `print` or `unchanged`.
    action: &'static str,
    /// What it does, for people.
    detail: String,
    /// Whether applying it changes something on this machine.
    changes: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    /// What to run or paste (`print` steps).
    #[serde(skip_serializing_if = "Option::is_none")]
    snippet: Option<String>,
    /// After applying: `done`, `unchanged`, `printed` or `failed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<&'static str>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip)]
    work: Work,
}

impl Step {
    pub(crate) fn new(step: &'static str, target: &str, action: &'static str, detail: String, work: Work) -> Self {
        let changes = !matches!(work, Work::None | Work::Print(_));
        let snippet = match &work {
            Work::Print(text) => Some(text.clone()),
            _ => None,
        };
        Self {
            step,
            target: target.to_owned(),
            action,
            detail,
            changes,
            path: None,
            snippet,
            result: None,
            error: None,
            work,
        }
    }

    pub(crate) fn unchanged(step: &'static str, target: &str, detail: String) -> Self {
        Self::new(step, target, "unchanged", detail, Work::None)
    }

    pub(crate) fn at(mut self, path: &Path) -> Self {
        self.path = Some(path.display().to_string());
        self
    }
}

pub(crate) async fn run(args: Args, ctx: &Ctx, options: &Options) -> anyhow::Result<u8> {
    let state_dir = ctx.state().dir().to_owned();
    // A manifest that does not read stops setup before it changes anything
    // (what it would add could not be undone).
    manifest::load(&state_dir, &ctx.profile).map_err(|e| {
        anyhow::Error::new(
            CliError::new(exit::ERROR, format!("{e:#}"))
                .code("manifest_damaged")
                .hint(format!(
                    "setup records what it changes there for --undo: fix {} or move it aside (what it listed is then yours to remove)",
                    manifest::path(&state_dir).display()
                )),
        )
    })?;
    if args.undo {
        return undo(ctx, &state_dir, &args);
    }
    if args.key_stdin && !args.yes && !args.dry_run {
        return Err(CliError::new(
            exit::USAGE,
            "--key-stdin needs --yes (stdin holds the key, so setup cannot ask)",
        )
        .hint("printf '%s' \"$KEY\" | plurum setup --key-stdin --yes")
        .into());
    }
    let mut plan = vec![identity(ctx, &args).await?];
    let out = options.output();
    let entry = crate::commands::mcp::server_entry(options, args.launch, &out)?;
    let hosts = if args.hosts.is_empty() {
        hosts::detected()
    } else {
        let mut unique = Vec::new();
        for host in &args.hosts {
            if !unique.contains(host) {
                unique.push(*host);
            }
        }
        unique
    };
    for host in hosts {
        plan.push(match hosts::plan(host, &entry, args.scope) {
            Ok(step) => step,
            Err(e) => failed_step("mcp", host.name(), e),
        });
    }
    let schedule = args.schedule.unwrap_or_else(|| {
        if cfg!(unix) && hosts::on_path("crontab").is_some() {
            Schedule::Cron
        } else {
            Schedule::None
        }
    });
    let command = launch_command(&entry, schedule)?;
    plan.push(match schedule::plan(ctx, schedule, &command, args.interval) {
        Ok(step) => step,
        Err(e) if e.downcast_ref::<CliError>().is_some_and(|c| c.exit == exit::USAGE) => return Err(e),
        Err(e) => failed_step("schedule", schedule.name(), e),
    });
    let changes = plan.iter().filter(|s| s.changes).count();
    let manifest_path = manifest::path(&state_dir);
    if args.dry_run {
        return report(ctx, &plan, true, false, &manifest_path, None);
    }
    if changes > 0 && !args.yes {
        let asked = std::io::stdin().is_terminal() && std::io::stderr().is_terminal() && !ctx.out.json;
        if !asked {
            let error = CliError::new(
                exit::USAGE,
                format!("setup would make {changes} change(s) and was not told to: nothing was changed"),
            )
            .code("needs_approval")
            .hint("read the plan, then run it again with --yes (or --dry-run to only look)");
            return report(ctx, &plan, false, false, &manifest_path, Some(error));
        }
        ctx.out.sink().eprint(&human_plan(&plan));
        eprint!("Make these {changes} change(s)? [y/N] ");
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            let error = CliError::new(exit::ERROR, "not approved: nothing was changed").code("declined");
            return report(ctx, &plan, false, false, &manifest_path, Some(error));
        }
    }
    let mut failures = plan.iter().filter(|s| s.error.is_some()).count();
    for step in &mut plan {
        if step.error.is_some() {
            continue;
        }
        match apply(ctx, options, &state_dir, step).await {
            Ok(result) => step.result = Some(result),
            Err(e) => {
                failures += 1;
                step.result = Some("failed");
                step.error = Some(crate::logging::scrub(&format!("{e:#}")));
            }
        }
    }
    let error = (failures > 0).then(|| {
        CliError::new(exit::ERROR, format!("{failures} step(s) of setup failed; the others were done"))
            .code("setup_failed")
            .hint("read each step's error, fix it, and run plurum setup again (what is done stays done); plurum doctor checks the whole profile")
    });
    report(ctx, &plan, false, true, &manifest_path, error)
}

/// A step that could not even be planned.
fn failed_step(step: &'static str, target: &str, error: anyhow::Error) -> Step {
    let mut failed = Step::new(step, target, "unchanged", "could not be planned".to_owned(), Work::None);
    failed.result = Some("failed");
    failed.error = Some(crate::logging::scrub(&format!("{error:#}")));
    failed
}

/// How cron and units start plurum: never a binary in uv's cache.
fn launch_command(entry: &crate::commands::mcp::ServerEntry, schedule: Schedule) -> anyhow::Result<String> {
    let quote = crate::heartbeat::cron::shell_quote;
    Ok(match entry.launch {
        Launch::Uvx => {
            if schedule != Schedule::None && hosts::on_path("uvx").is_none() {
                return Err(CliError::new(
                    exit::USAGE,
                    "the schedule would start plurum with uvx, which is not on PATH",
                )
                .hint("install uv (https://docs.astral.sh/uv/), or install plurum for good and run that plurum setup")
                .into());
            }
            let uvx = hosts::on_path("uvx").map_or_else(|| "uvx".to_owned(), |p| p.display().to_string());
            format!(
                "{} --from {} plurum",
                quote(&uvx),
                quote(&format!("plurum-cli=={}", crate::build_info::VERSION))
            )
        }
        Launch::Path => quote(&entry.command),
    })
}

/// The identity step: keep a working key, else what the flags say.
async fn identity(ctx: &Ctx, args: &Args) -> anyhow::Result<Step> {
    let target = format!("profile {}", ctx.profile);
    let key = ctx.key()?;
    let rejected = match &key {
        Some((key, source)) => match ctx.with_key(key.clone())?.agents().me().await {
            Ok(me) => {
                return Ok(Step::new(
                    "identity",
                    &target,
                    "keep",
                    format!(
                        "keep the key of agent {} ({source})",
                        me.username.as_deref().unwrap_or(me.name.as_str())
                    ),
                    Work::None,
                ));
            }
            Err(e) if e.is_unauthorized() => true,
            Err(e) => {
                return Ok(Step::new(
                    "identity",
                    &target,
                    "keep",
                    format!("keep the key in {source} (the server could not check it now: {e})"),
                    Work::None,
                ));
            }
        },
        None => false,
    };
    let why = if rejected {
        "the server rejects the profile's key"
    } else {
        "the profile has no key"
    };
    if let (Some(name), Some(username)) = (&args.name, &args.username) {
        let body = plurum_sdk::types::Register::new(name.trim(), username.trim());
        body.validate()?;
        return Ok(Step::new(
            "identity",
            &target,
            "register",
            format!("{why}: register agent {} ({})", username.trim(), name.trim()),
            Work::Register {
                name: name.trim().to_owned(),
                username: username.trim().to_owned(),
            },
        ));
    }
    if let Some(plugin) = args.import {
        let path = plugin.default_path()?;
        return Ok(Step::new(
            "identity",
            &target,
            "import",
            format!(
                "{why}: take over the {} plugin's key in {}",
                plugin.name(),
                path.display()
            ),
            Work::Import(plugin),
        ));
    }
    if args.key_stdin {
        let mut input = String::new();
        std::io::stdin().read_to_string(&mut input)?;
        let key = crate::commands::auth::key_from(&input)?;
        return Ok(Step::new(
            "identity",
            &target,
            "login",
            format!("{why}: check and store the key read from stdin"),
            Work::Login(key),
        ));
    }
    if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() && !ctx.out.json && !args.dry_run {
        let ask = |question: &str| -> anyhow::Result<String> {
            eprint!("{question}");
            let _ = std::io::stderr().flush();
            let mut answer = String::new();
            std::io::stdin().lock().read_line(&mut answer)?;
            Ok(answer.trim().to_owned())
        };
        eprintln!("{why}: setup registers a new agent.");
        let username = ask("Username (3 to 50 of a-z, 0-9, - and _): ")?;
        let name = ask("Display name: ")?;
        let body = plurum_sdk::types::Register::new(name.clone(), username.clone());
        body.validate()?;
        return Ok(Step::new(
            "identity",
            &target,
            "register",
            format!("{why}: register agent {username} ({name})"),
            Work::Register { name, username },
        ));
    }
    Err(CliError::new(exit::USAGE, format!("{why} (profile '{}')", ctx.profile))
        .code("no_identity")
        .hint("give --name NAME --username USER to register, --import hermes|openclaw, or --key-stdin (with --yes)")
        .into())
}

/// Applies one step; its result.
async fn apply(ctx: &Ctx, options: &Options, state_dir: &Path, step: &mut Step) -> anyhow::Result<&'static str> {
    let profile = ctx.profile.clone();
    match std::mem::replace(&mut step.work, Work::None) {
        Work::None => Ok("unchanged"),
        Work::Print(_) => Ok("printed"),
        Work::Register { name, username } => {
            let args = crate::commands::register::Args {
                name,
                username,
                show_key: false,
                force: false,
            };
            quietly(options, async |child| crate::commands::register::run(args, child).await).await
        }
        Work::Import(plugin) => {
            quietly(options, async |child| {
                crate::commands::auth::import(child, plugin, None, false).await
            })
            .await
        }
        Work::Login(key) => {
            quietly(options, async |child| {
                crate::commands::auth::login_with(child, key).await
            })
            .await
        }
        Work::Claude {
            claude,
            name,
            scope,
            json,
            previous,
        } => {
            if previous.is_some() {
                run_claude(&claude, &["mcp", "remove", "--scope", scope.name(), &name])?;
            }
            run_claude(
                &claude,
                &[
                    "mcp",
                    "add-json",
                    "--scope",
                    scope.name(),
                    &name,
                    &serde_json::to_string(&json)?,
                ],
            )?;
            manifest::record(
                state_dir,
                &profile,
                Change::Claude {
                    name,
                    scope: scope.name().to_owned(),
                    previous,
                },
            )?;
            Ok("done")
        }
        Work::HostFile {
            host,
            path,
            entry,
            before,
            after,
        } => {
            let change = hosts::write_host_file(state_dir, host, &path, &entry, before.as_deref(), &after)?;
            manifest::record(state_dir, &profile, change)?;
            Ok("done")
        }
        Work::Crontab {
            text,
            command,
            interval,
            had_crontab,
        } => {
            let block = schedule::crontab_block(ctx, &command, interval);
            schedule::write_crontab(&schedule::with_block(&text, &profile, &block))?;
            let (begin, end) = schedule::markers(&profile);
            manifest::record(
                state_dir,
                &profile,
                Change::Crontab {
                    begin,
                    end,
                    had_crontab,
                },
            )?;
            Ok("done")
        }
        Work::Units(units) => {
            for UnitFile {
                path,
                text,
                enable,
                before,
            } in &units
            {
                // A file that was there (even the same) comes back on undo.
                let backup = match before {
                    Some(bytes) => Some(manifest::backup(state_dir, &format!("{}.bak", file_name(path)), bytes)?),
                    None => None,
                };
                if before.as_deref() != Some(text.as_bytes()) {
                    hosts::write_keeping_mode(path, text.as_bytes())?;
                }
                manifest::record(
                    state_dir,
                    &profile,
                    Change::Unit {
                        path: path.clone(),
                        enabled: enable.clone(),
                        backup,
                        after_sha256: manifest::sha256(text.as_bytes()),
                    },
                )?;
            }
            if !schedule::systemctl(&["daemon-reload"])? {
                anyhow::bail!("systemctl --user daemon-reload failed");
            }
            for unit in units.iter().filter_map(|u| u.enable.as_deref()) {
                if !schedule::systemctl(&["enable", "--now", unit])? {
                    anyhow::bail!(
                        "systemctl --user enable --now {unit} failed (is a user session bus running? loginctl enable-linger $USER)"
                    );
                }
            }
            Ok("done")
        }
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Runs a command for setup with its output captured (setup prints one
/// document of its own); its error is setup's.
async fn quietly(
    options: &Options,
    work: impl AsyncFnOnce(&Ctx) -> anyhow::Result<u8>,
) -> anyhow::Result<&'static str> {
    let sink = crate::output::Sink::buffered();
    let mut child = options.clone();
    child.sink = sink.clone();
    child.json = true;
    child.jq = None;
    let ctx = Ctx::new(child)?;
    let code = work(&ctx).await?;
    if code != exit::OK {
        anyhow::bail!("it exited {code}");
    }
    Ok("done")
}

fn run_claude(claude: &Path, args: &[&str]) -> anyhow::Result<()> {
    let output = std::process::Command::new(claude)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| anyhow::anyhow!("could not run {}: {e}", claude.display()))?;
    if !output.status.success() {
        anyhow::bail!(
            "claude {} failed: {}",
            args.iter().take(2).copied().collect::<Vec<_>>().join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

fn human_plan(plan: &[Step]) -> String {
    plan.iter()
        .map(|s| {
            let mark = match (s.result, s.changes) {
                (Some("failed"), _) => "!",
                (Some("printed"), _) | (None, false) if s.snippet.is_some() => ">",
                (_, true) => "+",
                _ => "=",
            };
            let mut line = format!("{mark} {:<8} {:<12} {}", s.step, s.target, s.detail);
            if let Some(error) = &s.error {
                line.push_str(&format!("\n    failed: {error}"));
            }
            if let Some(snippet) = &s.snippet {
                line.push_str(&format!("\n    {}", snippet.replace('\n', "\n    ")));
            }
            line
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The document of a setup run (or its plan).
fn report(
    ctx: &Ctx,
    plan: &[Step],
    dry_run: bool,
    applied: bool,
    manifest_path: &Path,
    error: Option<CliError>,
) -> anyhow::Result<u8> {
    let changes = plan.iter().filter(|s| s.changes).count();
    let value = json!({
        "profile": ctx.profile,
        "dry_run": dry_run,
        "applied": applied,
        "changes": changes,
        "steps": plan,
        "manifest": manifest_path,
    });
    let said = error.as_ref().map(|e| (e.message.clone(), e.hint.clone()));
    let human = || {
        let head = if dry_run {
            format!(
                "The plan for profile '{}' ({changes} change(s); nothing was changed):",
                ctx.profile
            )
        } else if applied {
            format!("Set up profile '{}' ({changes} change(s)):", ctx.profile)
        } else {
            format!("The plan for profile '{}' ({changes} change(s)):", ctx.profile)
        };
        let mut text = format!("{head}\n{}", human_plan(plan));
        if applied && changes > 0 {
            text.push_str(&format!(
                "\nRecorded in {}: 'plurum setup --undo' removes it. 'plurum doctor' checks the whole profile.",
                manifest_path.display()
            ));
        }
        if let Some((message, hint)) = &said {
            text.push_str(&format!("\n{message}"));
            if let Some(hint) = hint {
                text.push_str(&format!(" ({hint})"));
            }
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

/// `--undo`: the manifest's changes, newest first.
fn undo(ctx: &Ctx, state_dir: &Path, args: &Args) -> anyhow::Result<u8> {
    let manifest = manifest::load(state_dir, &ctx.profile)?;
    let manifest_path = manifest::path(state_dir);
    let mut undone = Vec::new();
    let mut warnings = Vec::new();
    let mut failures = 0;
    let mut left = Vec::new();
    if !args.dry_run && !args.yes && !manifest.changes.is_empty() {
        let error = CliError::new(
            exit::USAGE,
            format!(
                "undo would revert {} change(s) and was not told to",
                manifest.changes.len()
            ),
        )
        .code("needs_approval")
        .hint("run plurum setup --undo --yes (or --dry-run to see what it would do)");
        let value = json!({"profile": ctx.profile, "dry_run": false, "undone": [], "changes": manifest.changes, "manifest": manifest_path});
        let human = || {
            manifest
                .changes
                .iter()
                .rev()
                .map(|c| format!("would undo: {}", describe(c)))
                .collect::<Vec<_>>()
                .join("\n")
        };
        return ctx.out.failed(&value, human, error);
    }
    let mut reload = false;
    for change in manifest.changes.iter().rev() {
        let (what, result) = if args.dry_run {
            (describe(change), Ok("would undo".to_owned()))
        } else {
            (
                describe(change),
                undo_one(state_dir, change, &mut warnings, &mut reload),
            )
        };
        match result {
            Ok(result) => undone.push(json!({"change": change, "what": what, "result": result})),
            Err(e) => {
                failures += 1;
                undone.push(json!({"change": change, "what": what, "result": "failed", "error": format!("{e:#}")}));
                left.push(change.clone());
            }
        }
    }
    if reload {
        let _ = schedule::systemctl(&["daemon-reload"]);
    }
    if !args.dry_run {
        if left.is_empty() {
            let _ = std::fs::remove_file(&manifest_path);
        } else {
            left.reverse();
            manifest::save(
                state_dir,
                &manifest::Manifest {
                    version: 1,
                    profile: ctx.profile.clone(),
                    changes: left,
                },
            )?;
        }
    }
    for warning in &warnings {
        ctx.out.warn(warning);
    }
    let value = json!({
        "profile": ctx.profile,
        "dry_run": args.dry_run,
        "undone": undone,
        "warnings": warnings,
        "manifest": manifest_path,
        "key": "kept (undo never removes a key)",
    });
    let human = || {
        if undone.is_empty() {
            return format!("Nothing to undo for profile '{}' (no setup manifest).", ctx.profile);
        }
        let mut text = format!(
            "{} for profile '{}' (the key stays):",
            if args.dry_run { "Would undo" } else { "Undid" },
            ctx.profile
        );
        for item in &undone {
            text.push_str(&format!(
                "\n  {}: {}",
                item["what"].as_str().unwrap_or_default(),
                item["result"].as_str().unwrap_or_default()
            ));
        }
        text
    };
    if failures > 0 {
        let error = CliError::new(exit::ERROR, format!("{failures} change(s) could not be undone"))
            .code("undo_failed")
            .hint("they stay in the manifest: fix the cause and run plurum setup --undo --yes again");
        return ctx.out.failed(&value, human, error);
    }
    ctx.out.emit(&value, human)?;
    Ok(exit::OK)
}

fn describe(change: &Change) -> String {
    match change {
        Change::HostFile { host, path, entry, .. } => format!("{host}: {entry} in {}", path.display()),
        Change::Claude { name, scope, .. } => format!("claude: server {name} ({scope} scope)"),
        Change::Crontab { .. } => "cron: the heartbeat's crontab block".to_owned(),
        Change::Unit { path, .. } => format!("systemd: {}", path.display()),
    }
}

fn undo_one(
    state_dir: &Path,
    change: &Change,
    warnings: &mut Vec<String>,
    reload: &mut bool,
) -> anyhow::Result<String> {
    let _ = state_dir;
    match change {
        Change::HostFile {
            host,
            path,
            entry,
            backup,
            after_sha256,
        } => {
            let Some(current) = hosts::read_optional(path)? else {
                return Ok("already gone".to_owned());
            };
            if manifest::sha256(&current) == *after_sha256 {
                match backup {
                    Some(backup) => {
                        let bytes = std::fs::read(backup)
                            .map_err(|e| anyhow::anyhow!("the backup {} is gone: {e}", backup.display()))?;
                        hosts::write_keeping_mode(path, &bytes)?;
                        let _ = std::fs::remove_file(backup);
                        Ok("restored".to_owned())
                    }
                    None => {
                        std::fs::remove_file(path)?;
                        Ok("removed (setup had created it)".to_owned())
                    }
                }
            } else {
                let without = hosts::without_entry(host, &current, entry)?;
                hosts::write_keeping_mode(path, &without)?;
                if let Some(backup) = backup {
                    let _ = std::fs::remove_file(backup);
                }
                warnings.push(format!(
                    "{} was edited since setup: only the {entry} entry was removed, the rest kept",
                    path.display()
                ));
                Ok("removed our entry".to_owned())
            }
        }
        Change::Claude { name, scope, previous } => {
            let Some(claude) = hosts::on_path("claude") else {
                anyhow::bail!("claude is not on PATH: run claude mcp remove --scope {scope} {name}");
            };
            run_claude(&claude, &["mcp", "remove", "--scope", scope, name])?;
            if let Some(previous) = previous {
                run_claude(
                    &claude,
                    &[
                        "mcp",
                        "add-json",
                        "--scope",
                        scope,
                        name,
                        &serde_json::to_string(previous)?,
                    ],
                )?;
                return Ok("put back the entry it replaced".to_owned());
            }
            Ok("removed".to_owned())
        }
        Change::Crontab {
            begin,
            end,
            had_crontab,
        } => {
            let Some(text) = schedule::read_crontab()? else {
                return Ok("already gone".to_owned());
            };
            if !text.lines().any(|l| l.trim() == begin) {
                return Ok("already gone".to_owned());
            }
            let rest = schedule::without_block(&text, begin, end);
            if !had_crontab && rest.trim().is_empty() {
                schedule::remove_crontab()?;
            } else {
                schedule::write_crontab(&rest)?;
            }
            Ok("removed".to_owned())
        }
        Change::Unit {
            path,
            enabled,
            backup,
            after_sha256,
        } => {
            if let Some(unit) = enabled {
                let _ = schedule::systemctl(&["disable", "--now", unit]);
            }
            *reload = true;
            if !path.exists() {
                return Ok("already gone".to_owned());
            }
            if !schedule::unchanged_since(path, after_sha256) {
                warnings.push(format!(
                    "{} was edited since setup; removed anyway (it is plurum's)",
                    path.display()
                ));
            }
            match backup {
                Some(backup) => {
                    let bytes = std::fs::read(backup)?;
                    hosts::write_keeping_mode(path, &bytes)?;
                    let _ = std::fs::remove_file(backup);
                    Ok("restored".to_owned())
                }
                None => {
                    std::fs::remove_file(path)?;
                    Ok("removed".to_owned())
                }
            }
        }
    }
}
