//! `plurum man --out DIR`: a man page for every command, made from the same
//! clap tree as `--help` (so they cannot disagree): `plurum.1`,
//! `plurum-session.1`, `plurum-session-open.1`, …

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::CommandFactory as _;
use serde::Serialize;

use crate::cli::Cli;
use crate::context::Options;
use crate::exit;
use crate::output::Output;

/// `plurum man` arguments.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  plurum man --out ~/.local/share/man/man1 && man plurum-session-open
  plurum man --out /usr/local/share/man/man1 --json")]
pub(crate) struct Args {
    /// The folder to write the pages into (created when missing; pages of
    /// the same name are replaced).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

/// What `plurum man --json` prints.
#[derive(Debug, Serialize)]
struct Written {
    /// The folder, as given.
    out: PathBuf,
    /// The file names written, `plurum.1` first.
    pages: Vec<String>,
}

/// Renders `command` and its subcommands (recursively) as `name.1` pages.
fn render(command: &clap::Command, name: &str, out: &Path, pages: &mut Vec<String>) -> anyhow::Result<()> {
    let command = command.clone().name(name.to_owned()).bin_name(name.replace('-', " "));
    let file = format!("{name}.1");
    let mut buffer = Vec::new();
    clap_mangen::Man::new(command.clone()).render(&mut buffer)?;
    let path = out.join(&file);
    std::fs::write(&path, buffer).with_context(|| format!("could not write {}", path.display()))?;
    pages.push(file);
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        render(sub, &format!("{name}-{}", sub.get_name()), out, pages)?;
    }
    Ok(())
}

pub(crate) fn run(args: Args, options: &Options) -> anyhow::Result<u8> {
    let out = Output::new(options.json, options.quiet, options.jq.clone());
    std::fs::create_dir_all(&args.out).map_err(|e| {
        exit::CliError::new(exit::ERROR, format!("could not create {}: {e}", args.out.display()))
            .code("io")
            .hint("give --out a folder you can write to")
    })?;
    let mut root = Cli::command();
    root.build();
    let mut pages = Vec::new();
    render(&root, "plurum", &args.out, &mut pages)?;
    let written = Written { out: args.out, pages };
    out.emit(&written, || {
        format!("Wrote {} man pages to {}.", written.pages.len(), written.out.display())
    })?;
    Ok(exit::OK)
}
