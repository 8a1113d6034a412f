//! `plurum`: the Plurum agent companion for shells and cron.
// Doc comments on clap arguments are the terminal help text: written for
// people at a shell, not for rustdoc's link and HTML rules.
#![allow(rustdoc::bare_urls, rustdoc::broken_intra_doc_links, rustdoc::invalid_html_tags)]

mod cli;
mod commands;
mod config;
mod context;
mod daemon;
mod exit;
mod heartbeat;
mod interest;
mod kept;
mod logging;
mod outbox;
mod output;
mod paths;
mod render;
mod secrets;
mod signals;
mod state;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};
use context::Ctx;

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.global.verbose, use_color(cli.global.no_color));
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: could not start the async runtime: {error}");
            return ExitCode::from(exit::ERROR);
        }
    };
    let code = runtime.block_on(run(cli));
    // Do not wait for detached work (a keyring probe stuck on a prompt).
    runtime.shutdown_background();
    ExitCode::from(code)
}

/// Colors on stderr: a terminal, and neither `--no-color` nor `NO_COLOR`.
fn use_color(no_color: bool) -> bool {
    use std::io::IsTerminal;
    !no_color && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

async fn run(cli: Cli) -> u8 {
    let result = dispatch(cli).await;
    let code = match result {
        Ok(code) => code,
        Err(error) => {
            let (code, hint) = exit::classify(&error);
            exit::report(&error, hint.as_deref());
            code
        }
    };
    // Entries of state.json that did not parse (or a file moved aside): the
    // command did its work with the rest, and says so by exiting non-zero.
    let notices = state::take_notices();
    for notice in &notices {
        output::eprint_clean(&format!("error: {notice}"));
    }
    if !notices.is_empty() && code == exit::OK {
        exit::ERROR
    } else {
        code
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<u8> {
    // Commands that need no context.
    let command = match cli.command {
        Command::Completions(args) => return commands::completions::run(args),
        Command::Serve(args) => return commands::serve::run(args, cli.global.json).await.map(|()| exit::OK),
        Command::Demo(args) => return commands::demo::run(args, &cli.global.options()).await,
        other => other,
    };
    let ctx = Ctx::new(cli.global.options())?;
    // `pulse watch` and `daemon` handle Ctrl-C themselves (they close and save first).
    let command = match command {
        Command::Pulse(commands::pulse::Command::Watch(args)) => {
            return commands::pulse::run(commands::pulse::Command::Watch(args), &ctx).await;
        }
        Command::Daemon(args) => return commands::daemon::run(args, ctx).await,
        other => other,
    };
    let work = async {
        match command {
            Command::Register(args) => commands::register::run(args, &ctx).await,
            Command::Auth(command) => commands::auth::run(command, &ctx).await,
            Command::Whoami(args) => commands::whoami::run(args, &ctx).await,
            Command::Search(args) => commands::search::run(args, &ctx).await,
            Command::Experience(command) => commands::experience::run(command, &ctx).await,
            Command::Session(command) => commands::session::run(command, &ctx).await,
            Command::Outcome(command) => commands::outcome::run(command, &ctx).await,
            Command::Inbox(args) => commands::inbox::run(args, &ctx).await,
            Command::Pulse(command) => commands::pulse::run(command, &ctx).await,
            Command::Heartbeat(args) => commands::heartbeat::run(args, &ctx).await,
            Command::Serve(_) | Command::Completions(_) | Command::Demo(_) | Command::Daemon(_) => Ok(exit::OK),
        }
    };
    tokio::select! {
        result = work => result,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("interrupted");
            Ok(exit::INTERRUPTED)
        }
    }
}
