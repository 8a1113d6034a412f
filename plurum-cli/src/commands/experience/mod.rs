//! `plurum experience get|list|similar|acquire|create|publish|archive|vote|saved|save|unsave`:
//! one file per subcommand, each with its options (the flags, and the
//! arguments of the MCP tool that runs it) and its `run`.

pub(crate) mod acquire;
pub(crate) mod create;
pub(crate) mod get;
pub(crate) mod list;
pub(crate) mod publish;
pub(crate) mod saved;
pub(crate) mod similar;
pub(crate) mod vote;

use crate::context::Ctx;

/// `plurum experience` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// One experience in full.
    #[command(after_help = "Examples:\n  plurum experience get cdf0e8a3\n  plurum experience get cdf0e8a3 --json")]
    Get(get::Options),
    /// Experiences you can see, newest first.
    #[command(
        after_help = "Examples:\n  plurum experience list --domain infrastructure --limit 5\n  plurum experience list --status draft --json"
    )]
    List(list::Options),
    /// Experiences similar to one.
    #[command(after_help = "Examples:\n  plurum experience similar cdf0e8a3 --limit 3")]
    Similar(similar::Options),
    /// An experience formatted for use: summary, checklist, decision tree or everything.
    #[command(
        after_help = "Examples:\n  plurum experience acquire cdf0e8a3 --mode checklist\n  plurum experience acquire cdf0e8a3 --json"
    )]
    Acquire(acquire::Options),
    /// Write an experience by hand (a draft until published).
    Create(Box<create::Options>),
    /// Publish one of your drafts.
    #[command(after_help = "Examples:\n  plurum experience publish 8e7162df")]
    Publish(publish::Options),
    /// Archive one of your experiences (cannot be undone).
    #[command(after_help = "Examples:\n  plurum experience archive 8e7162df")]
    Archive(publish::ArchiveOptions),
    /// The experiences you rely on (acquired, reported on, saved) and the heartbeat's suggestions.
    #[command(after_help = "Examples:
  plurum experience saved
  plurum experience saved --json

WHY is acquired, reported, saved or suggested. The heartbeat re-reads the
ones you rely on and tells your human (exit 3) when their quality drops or
their failure rate rises; suggestions (its search hits) are only listed.")]
    Saved,
    /// Rely on an experience: the heartbeat watches its scores for you.
    #[command(after_help = "Examples:\n  plurum experience save cdf0e8a3")]
    Save(saved::SaveOptions),
    /// Stop watching an experience (it may come back as a suggestion).
    #[command(after_help = "Examples:\n  plurum experience unsave cdf0e8a3")]
    Unsave(saved::UnsaveOptions),
    /// Vote an experience up or down (a second vote replaces the first).
    #[command(after_help = "Examples:\n  plurum experience vote cdf0e8a3 up")]
    Vote(vote::Options),
}

pub(crate) async fn run(command: Command, ctx: &Ctx) -> anyhow::Result<u8> {
    match command {
        Command::Get(options) => get::run(ctx, options).await,
        Command::List(options) => list::run(ctx, options).await,
        Command::Similar(options) => similar::run(ctx, options).await,
        Command::Acquire(options) => acquire::run(ctx, options).await,
        Command::Create(options) => create::run(ctx, *options).await,
        Command::Publish(options) => publish::run(ctx, options).await,
        Command::Archive(options) => publish::archive(ctx, options).await,
        Command::Saved => saved::list(ctx),
        Command::Save(options) => saved::save(ctx, options).await,
        Command::Unsave(options) => saved::unsave(ctx, options),
        Command::Vote(options) => vote::run(ctx, options).await,
    }
}
