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
    let page = ascii_roff(&String::from_utf8_lossy(&buffer));
    let path = out.join(&file);
    std::fs::write(&path, page).with_context(|| format!("could not write {}", path.display()))?;
    pages.push(file);
    // clap adds a `help` subcommand to every command with subcommands: it
    // is not a page of its own.
    for sub in command
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        render(sub, &format!("{name}-{}", sub.get_name()), out, pages)?;
    }
    Ok(())
}

/// roff source in ASCII: every other character as a `\[uXXXX]` escape, as
/// troff reads it everywhere (a raw `…` or `—` is an invalid input
/// character to groff without a UTF-8 preprocessor).
fn ascii_roff(page: &str) -> String {
    let mut out = String::with_capacity(page.len());
    for c in page.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            out.push_str(&format!("\\[u{:04X}]", u32::from(c)));
        }
    }
    out
}

pub(crate) fn run(args: Args, options: &Options) -> anyhow::Result<u8> {
    let out = options.output();
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

#[cfg(test)]
mod tests {
    use super::ascii_roff;

    #[test]
    fn non_ascii_becomes_a_troff_escape() {
        assert_eq!(ascii_roff("a … b — c"), "a \\[u2026] b \\[u2014] c");
        assert_eq!(ascii_roff("plain"), "plain");
    }
}
