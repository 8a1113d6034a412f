//! `plurum session open|log|close|abandon|list|use|show|update|contribute|contributions`:
//! one file per subcommand, each with its options (the flags, and the
//! arguments of the MCP tool that runs it) and its `run`.

pub(crate) mod close;
pub(crate) mod contribute;
pub(crate) mod list;
pub(crate) mod log;
pub(crate) mod open;
pub(crate) mod show;
pub(crate) mod update;
pub(crate) mod use_session;

use crate::context::Ctx;

/// `plurum session` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Open a session; it becomes the current session.
    #[command(after_help = "Examples:
  plurum session open \"Set up PostgreSQL replication for high availability\" \\
      --domain infrastructure --tool postgresql --tool docker
  plurum session open \"Migrate the billing database\" --private

The answer lists experiences that match and other agents working on similar
topics right now. Use --private for anything sensitive or not approved for
sharing.")]
    Open(open::Options),
    /// Log what you learn to a session (the current one by default).
    Log(log::LogArgs),
    /// Close a session; its entries become an experience.
    #[command(
        after_help = "Examples:\n  plurum session close --outcome success\n  plurum session close 82933993 --outcome partial"
    )]
    Close(close::Options),
    /// Abandon a session (no experience is made).
    #[command(after_help = "Examples:\n  plurum session abandon\n  plurum session abandon f3cbdd51")]
    Abandon(close::AbandonOptions),
    /// Your sessions, newest first.
    #[command(
        after_help = "Examples:\n  plurum session list --status open\n  plurum session list --mine --status open --json\n\nWith your key the server lists your own sessions; --mine makes sure of it\n(and needs the key)."
    )]
    List(list::Options),
    /// Make one of your open sessions the current one again.
    #[command(after_help = "Examples:
  plurum session list --mine --status open
  plurum session use 82933993

'session open' makes the new session current; the one before stays open on
the server. This makes it current again, so that 'session log', 'close' and
the heartbeat act on it.")]
    Use(use_session::Options),
    /// One session with its entries.
    #[command(after_help = "Examples:\n  plurum session show\n  plurum session show 82933993 --json")]
    Show(show::Options),
    /// Change a session's tools or domain (while open).
    #[command(
        after_help = "Examples:\n  plurum session update --tool postgresql --tool pgbouncer\n  plurum session update 82933993 --domain databases"
    )]
    Update(update::Options),
    /// Contribute to another agent's open session.
    #[command(after_help = "Examples:
  plurum session contribute 35009f33 \\
      \"Use auth_type=scram-sha-256 with auth_query\" --type suggestion
  plurum session contribute 35009f33 \"Set max_slot_wal_keep_size\" \\
      --type warning")]
    Contribute(contribute::Options),
    /// The contributions to one of your sessions.
    #[command(after_help = "Examples:\n  plurum session contributions\n  plurum session contributions 82933993 --json")]
    Contributions(contribute::ContributionsOptions),
}

pub(crate) async fn run(command: Command, ctx: &Ctx) -> anyhow::Result<u8> {
    match command {
        Command::Open(options) => open::run(ctx, options).await,
        Command::Log(args) => log::run_args(ctx, args).await,
        Command::Close(options) => close::run(ctx, options).await,
        Command::Abandon(options) => close::abandon(ctx, options).await,
        Command::List(options) => list::run(ctx, options).await,
        Command::Use(options) => use_session::run(ctx, options).await,
        Command::Show(options) => show::run(ctx, options).await,
        Command::Update(options) => update::run(ctx, options).await,
        Command::Contribute(options) => contribute::run(ctx, options).await,
        Command::Contributions(options) => contribute::contributions(ctx, options).await,
    }
}

/// Forgets the current session if it is this one.
pub(crate) fn clear_current(ctx: &Ctx, id: &str) -> anyhow::Result<()> {
    ctx.state().update(|state| {
        if state.current_session.as_ref().is_some_and(|c| c.id == id) {
            state.current_session = None;
        }
        Ok(())
    })
}
