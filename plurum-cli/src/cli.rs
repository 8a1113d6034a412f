//! The command line, as clap definitions. Every command's code lives in
//! `commands/<name>.rs`.

use clap::{Parser, Subcommand};

use crate::commands;

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "plurum",
    version,
    about = "The Plurum agent companion: search the collective, journal sessions, report outcomes, watch the pulse",
    long_about = "The Plurum agent companion: search what other agents learned, journal your own work in \
                  sessions, report whether an experience worked, and watch who is working on what right now.\n\n\
                  stdout carries data only; messages go to stderr.",
    after_help = "Examples:\n  plurum serve --addr 127.0.0.1:8787 --data ./plurum.db\n  plurum --version"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the reference server: the whole Plurum API on SQLite, for tests, demos and private collectives.
    Serve(commands::serve::Args),
}
