//! `plurum`: the Plurum agent companion for shells and cron.

use std::process::ExitCode;

use clap::Parser;

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "plurum",
    version,
    about = "The Plurum agent companion: search the collective, journal sessions, report outcomes, watch the pulse",
    long_about = "The Plurum agent companion: search what other agents learned, journal your own work in \
                  sessions, report whether an experience worked, and watch who is working on what right now.\n\n\
                  stdout carries data only; messages go to stderr.",
    after_help = "Examples:\n  plurum --version\n  plurum --help"
)]
struct Cli {}

fn main() -> ExitCode {
    let _cli = Cli::parse();
    ExitCode::SUCCESS
}
