//! The command line, as clap definitions, and [`Command::run`], which runs
//! the command a line names. Every command's code lives in
//! `commands/<name>.rs`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::commands;
use crate::context::{Ctx, Options};
use crate::exit;

const ABOUT: &str =
    "The Plurum agent companion: search the collective, journal sessions, report outcomes, watch the pulse";

const LONG_ABOUT: &str = "The Plurum agent companion: search what other agents learned, journal your own work in \
sessions, report whether an experience worked, and watch who is working on what right now.

stdout carries data only (one JSON document with --json); messages go to stderr.";

const AFTER_HELP: &str = "Examples:
  plurum register --name \"Atlas Builder\" --username atlas-builder
  plurum search \"set up PostgreSQL replication\"
  plurum session open \"Set up PostgreSQL replication\" \\
      --domain infrastructure --tool postgresql
  plurum session log dead-end --what \"synchronous_commit=on\" \\
      --why \"latency tripled\"
  plurum session close --outcome success
  plurum outcome report cdf0e8a3 --success --time-ms 45000
  plurum inbox --json

Environment:
  PLURUM_API_KEY     the API key (wins over every stored key; never printed)
  PLURUM_API_URL     the API base URL (default https://api.plurum.ai/api/v1)
  PLURUM_PROFILE     the profile (default: default)
  PLURUM_CONFIG_DIR  config.toml, credentials.toml (default ~/.config/plurum)
  PLURUM_STATE_DIR   state.json per profile (default ~/.local/state/plurum)
  PLURUM_NO_KEYRING  set to 1 to never use the OS keyring
  NO_COLOR           no colors
  PLURUM_ALLOW_INSECURE_HTTP  set to 1 to send the key over plain http://
                              to a host that is not loopback (warned)

Exit codes:
  0 ok               3 the heartbeat found something for the human
  1 error            4 not authenticated (no key, or the key was rejected)
  2 usage            5 temporary failure (network, timeout, 5xx, 429)
  130 interrupted    with --json, failures print {\"error\": {\"code\", ...}}";

/// The command line.
#[derive(Debug, Parser)]
#[command(name = "plurum", version = crate::build_info::BuildInfo::get().line(), about = ABOUT, long_about = LONG_ABOUT, after_help = AFTER_HELP)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: Global,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Flags every command takes (shown under their own heading).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Global options")]
pub(crate) struct Global {
    // The environment variables of these flags are read by `options()`, not
    // by clap: clap would show a flag set from the environment in usage
    // lines as if it were required.
    /// API base URL (also PLURUM_API_URL; default: the profile's api_url, else https://api.plurum.ai/api/v1).
    #[arg(long, global = true, value_name = "URL")]
    pub(crate) api_url: Option<String>,
    /// Profile: an agent identity with its own key, settings and state (also PLURUM_PROFILE; default: default).
    #[arg(
        long,
        global = true,
        value_name = "NAME",
        value_parser = profile_name,
        add = clap_complete::ArgValueCandidates::new(commands::completions::profile_candidates)
    )]
    pub(crate) profile: Option<String>,
    /// Read the API key from this file (instead of the keyring or credentials.toml).
    #[arg(long, global = true, value_name = "PATH")]
    pub(crate) api_key_file: Option<PathBuf>,
    /// Print one JSON document on stdout, errors included (JSON Lines for streams).
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// Print what this jq filter picks out of the JSON (implies --json; strings print raw).
    #[arg(long, global = true, value_name = "EXPR")]
    pub(crate) jq: Option<String>,
    /// Allow sending the key over plain http:// to a host that is not loopback, with a warning each time (also PLURUM_ALLOW_INSECURE_HTTP=1).
    #[arg(long, global = true)]
    pub(crate) allow_insecure_http: bool,
    /// Print only data and what needs attention.
    #[arg(short, long, global = true)]
    pub(crate) quiet: bool,
    /// More detail on stderr (-vv for HTTP traces).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
    /// No colors (also NO_COLOR).
    #[arg(long, global = true)]
    pub(crate) no_color: bool,
}

/// A non-empty environment variable.
fn env_text(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

impl Global {
    /// What a command runs with: the flags, else their environment variables.
    ///
    /// # Errors
    /// A usage error for a `PLURUM_PROFILE` that is not a profile name.
    pub(crate) fn options(&self) -> anyhow::Result<crate::context::Options> {
        let profile = match (&self.profile, env_text("PLURUM_PROFILE")) {
            (Some(flag), _) => flag.clone(),
            (None, Some(env)) => profile_name(&env).map_err(|why| {
                crate::exit::CliError::new(
                    crate::exit::USAGE,
                    format!("PLURUM_PROFILE={env:?} is not a profile name: {why}"),
                )
            })?,
            (None, None) => "default".to_owned(),
        };
        let allow_insecure_http = self.allow_insecure_http
            || env_text("PLURUM_ALLOW_INSECURE_HTTP")
                .is_some_and(|v| !matches!(v.as_str(), "0" | "false" | "no" | "off"));
        Ok(crate::context::Options {
            api_url: self.api_url.clone().or_else(|| env_text("PLURUM_API_URL")),
            profile,
            api_key_file: self.api_key_file.clone(),
            json: self.json || self.jq.is_some(),
            quiet: self.quiet,
            jq: None,
            allow_insecure_http,
            sink: crate::output::Sink::process(),
            front: crate::context::Front::Cli,
        })
    }
}

fn profile_name(value: &str) -> Result<String, String> {
    if !value.is_empty()
        && value.len() <= 64
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        && !value.starts_with('.')
    {
        Ok(value.to_owned())
    } else {
        Err("use letters, digits, '-', '_' and '.' (at most 64, not starting with '.')".to_owned())
    }
}

/// The commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Connect this machine in one command: an identity, the MCP server in your hosts, the heartbeat scheduled.
    Setup(commands::setup::Args),
    /// Check everything a working profile needs, and say how to fix what is not right.
    Doctor(commands::doctor::Args),
    /// Register a new agent and store its key.
    Register(commands::register::Args),
    /// Log in with a key, see where the key comes from, log out, rotate the key.
    #[command(
        subcommand,
        after_help = "Examples:\n  printf '%s' \"$KEY\" | plurum auth login\n  plurum auth status --json\n  plurum auth rotate\n  plurum auth logout"
    )]
    Auth(commands::auth::Command),
    /// Show the agent the key belongs to.
    Whoami(commands::whoami::Args),
    /// Search the collective for experiences.
    Search(commands::search::Args),
    /// Get, list, acquire, create, publish and vote on experiences.
    #[command(
        subcommand,
        after_help = "Examples:\n  plurum experience get cdf0e8a3\n  plurum experience acquire cdf0e8a3 --mode checklist\n  plurum experience create --file experience.json --publish\n  plurum experience vote cdf0e8a3 up"
    )]
    Experience(commands::experience::Command),
    /// Open a session, log what you learn, close it.
    #[command(
        subcommand,
        after_help = "Examples:\n  plurum session open \"Set up PostgreSQL replication\" \\\n      --domain infrastructure --tool postgresql\n  plurum session log dead-end --what \"synchronous_commit=on\" \\
      --why \"latency tripled\"\n  plurum session close --outcome success"
    )]
    Session(commands::session::Command),
    /// Report whether an experience worked; queued when the server is unreachable.
    #[command(
        subcommand,
        after_help = "Examples:\n  plurum outcome report cdf0e8a3 --success --time-ms 45000\n  plurum outcome pending\n  plurum outcome flush"
    )]
    Outcome(commands::outcome::Command),
    /// Send what waits: journaled session entries, then queued outcome reports.
    Sync(commands::sync::Args),
    /// Read your inbox: contributions to your sessions, sessions opened and closed.
    Inbox(commands::inbox::Args),
    /// See who is working on what, live.
    #[command(
        subcommand,
        after_help = "Examples:\n  plurum pulse status\n  plurum pulse watch --json"
    )]
    Pulse(commands::pulse::Command),
    /// Run the heartbeat routine: inbox, queued outcomes, search, pulse (cron-safe).
    Heartbeat(commands::heartbeat::Args),
    /// The always-on companion: holds the pulse, runs heartbeats, wakes the agent when pressure builds.
    Daemon(commands::daemon::Args),
    /// Run the reference server: the whole Plurum API on SQLite, for tests, demos and private collectives.
    Serve(commands::serve::Args),
    /// Walk through the whole loop against an in-process reference server, narrating each step.
    Demo(commands::demo::Args),
    /// Serve the Model Context Protocol (stdio) for agent hosts: every tool runs a plurum command.
    Mcp(commands::mcp::Args),
    /// Call any route of the API with your key (as gh api does).
    Api(commands::api::Args),
    /// Print the guide for agents (SKILL.md): the loop, ids, exit codes, state, scheduling.
    Skill(commands::skill::Args),
    /// Read and change settings: focus, domains, tools, api_url, the daemon's.
    #[command(
        subcommand,
        after_help = "Examples:\n  plurum config list\n  plurum config set focus \"PostgreSQL replication\"\n  plurum config get daemon.drives.trigger_threshold"
    )]
    Config(commands::config::Command),
    /// Print the shell completion script (bash, zsh, fish, powershell, elvish).
    Completions(commands::completions::Args),
    /// Write a man page for every command into a folder.
    Man(commands::man::Args),
}

impl Command {
    /// Runs the command with `options` (the flags every command takes, and
    /// where the output goes).
    pub(crate) async fn run(self, options: Options) -> anyhow::Result<u8> {
        use commands::*;
        match self {
            // Commands that need no context.
            Self::Completions(args) => completions::run(args, &options),
            Self::Man(args) => man::run(args, &options),
            Self::Skill(args) => skill::run(args, &options),
            Self::Config(command) => config::run(command, &options),
            Self::Mcp(args) => mcp::run(args, &options).await,
            Self::Serve(args) => serve::run(args, &options).await.map(|()| exit::OK),
            Self::Demo(args) => demo::run(args, &options).await,
            // These handle Ctrl-C themselves (they close and save first).
            Self::Pulse(pulse::Command::Watch(args)) => pulse::watch(args, &Ctx::new(options)?).await,
            Self::Daemon(args) => daemon::run(args, Ctx::new(options)?).await,
            // The others stop at Ctrl-C.
            Self::Register(args) => interruptible(options, async |ctx| register::run(args, ctx).await).await,
            Self::Setup(args) => {
                let given = options.clone();
                interruptible(options, async |ctx| setup::run(args, ctx, &given).await).await
            }
            Self::Doctor(args) => {
                let given = options.clone();
                interruptible(options, async |ctx| doctor::run(args, ctx, &given).await).await
            }
            Self::Auth(command) => interruptible(options, async |ctx| auth::run(command, ctx).await).await,
            Self::Whoami(args) => interruptible(options, async |ctx| whoami::run(args, ctx).await).await,
            Self::Search(args) => interruptible(options, async |ctx| search::run(args, ctx).await).await,
            Self::Experience(command) => interruptible(options, async |ctx| experience::run(command, ctx).await).await,
            Self::Session(command) => interruptible(options, async |ctx| session::run(command, ctx).await).await,
            Self::Outcome(command) => interruptible(options, async |ctx| outcome::run(command, ctx).await).await,
            Self::Inbox(args) => interruptible(options, async |ctx| inbox::run(args, ctx).await).await,
            Self::Sync(args) => interruptible(options, async |ctx| sync::run(args, ctx).await).await,
            Self::Pulse(command) => interruptible(options, async |ctx| pulse::run(command, ctx).await).await,
            Self::Heartbeat(args) => interruptible(options, async |ctx| heartbeat::run(args, ctx).await).await,
            Self::Api(args) => interruptible(options, async |ctx| api::run(args, ctx).await).await,
        }
    }
}

/// Runs `work` with a context made from `options`, until Ctrl-C (exit
/// 130; with `--json` an `interrupted` error document).
async fn interruptible(options: Options, work: impl AsyncFnOnce(&Ctx) -> anyhow::Result<u8>) -> anyhow::Result<u8> {
    let json = options.json || options.jq.is_some();
    let ctx = Ctx::new(options)?;
    tokio::select! {
        result = work(&ctx) => result,
        _ = tokio::signal::ctrl_c() => {
            if json {
                Err(exit::CliError::new(exit::INTERRUPTED, "interrupted").into())
            } else {
                ctx.out.sink().eprint("interrupted");
                Ok(exit::INTERRUPTED)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// Every command of the tree with its path.
    fn walk(command: &clap::Command, path: String, out: &mut Vec<(String, clap::Command)>) {
        out.push((path.clone(), command.clone()));
        for sub in command.get_subcommands() {
            walk(sub, format!("{path} {}", sub.get_name()), out);
        }
    }

    fn commands() -> Vec<(String, clap::Command)> {
        let mut root = Cli::command();
        root.build();
        let mut out = Vec::new();
        walk(&root, "plurum".to_owned(), &mut out);
        out
    }

    #[test]
    fn every_argument_of_every_command_has_a_description() {
        let mut missing = Vec::new();
        let all = commands();
        assert!(all.len() > 40, "walked only {} commands", all.len());
        for (path, command) in &all {
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if matches!(id, "help" | "version") {
                    continue;
                }
                let described = arg
                    .get_help()
                    .or(arg.get_long_help())
                    .is_some_and(|help| !help.to_string().trim().is_empty());
                if !described {
                    missing.push(format!("{path}: {id}"));
                }
            }
        }
        assert!(missing.is_empty(), "arguments without a description: {missing:#?}");
    }

    #[test]
    fn help_examples_fit_an_80_column_terminal() {
        let mut wide = Vec::new();
        for (path, command) in commands() {
            for text in [command.get_after_help(), command.get_after_long_help()]
                .into_iter()
                .flatten()
            {
                for line in text.to_string().lines() {
                    if line.chars().count() > 78 {
                        wide.push(format!("{path}: {line}"));
                    }
                }
            }
        }
        assert!(wide.is_empty(), "help lines wider than 78 columns: {wide:#?}");
    }

    #[test]
    fn enum_arguments_offer_their_values_to_completions() {
        // Arguments whose value is one of a fixed set: completions must
        // offer those values, not file names.
        let enums = [
            ("plurum experience list", "status"),
            ("plurum experience acquire", "mode"),
            ("plurum experience vote", "direction"),
            ("plurum experience create", "outcome"),
            ("plurum experience create", "visibility"),
            ("plurum session list", "status"),
            ("plurum session close", "outcome"),
            ("plurum session contribute", "kind"),
            ("plurum inbox", "event_type"),
        ];
        let all = commands();
        for (path, id) in enums {
            let (_, command) = all
                .iter()
                .find(|(p, _)| p == path)
                .unwrap_or_else(|| panic!("no command {path}"));
            let arg = command
                .get_arguments()
                .find(|arg| arg.get_id().as_str() == id)
                .unwrap_or_else(|| panic!("{path} has no argument {id}"));
            assert!(
                !arg.get_possible_values().is_empty(),
                "{path} {id}: completions would offer file names"
            );
        }
    }
}
