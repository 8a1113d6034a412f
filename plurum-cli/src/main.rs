//! `plurum`: the Plurum agent companion for shells and cron.
// Doc comments on clap arguments are the terminal help text: written for
// people at a shell, not for rustdoc's link and HTML rules.
#![allow(rustdoc::bare_urls, rustdoc::broken_intra_doc_links, rustdoc::invalid_html_tags)]

mod build_info;
mod cli;
mod commands;
mod config;
mod context;
mod daemon;
mod exit;
mod files;
mod heartbeat;
mod interest;
mod journal;
mod jq;
mod kept;
mod logging;
mod mcp;
mod outbox;
mod output;
mod paths;
mod reach;
mod render;
mod secrets;
mod signals;
mod state;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

use cli::Cli;

fn main() -> ExitCode {
    // A TAB in a shell that sourced `plurum completions`: answer and exit.
    commands::completions::answer_if_asked();
    let args = gh_style_jq(std::env::args_os().collect());
    let args = commands::config::flags_after_values(args);
    let cli = match parse(&args) {
        Ok(cli) => cli,
        Err(code) => return ExitCode::from(code),
    };
    logging::init(cli.global.verbose, use_color(cli.global.no_color));
    let jq = match cli.global.jq.as_deref().map(jq::Filter::compile).transpose() {
        Ok(jq) => jq,
        Err(message) => {
            let error = anyhow::Error::new(
                exit::CliError::new(exit::USAGE, message)
                    .hint("--jq takes a jq filter, e.g. --jq '.results[0].short_id' (see https://jqlang.org/manual/)"),
            );
            output::Sink::process().report(&error, &exit::classify(&error), true, cli.global.verbose, None);
            return ExitCode::from(exit::USAGE);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: could not start the async runtime: {error}");
            return ExitCode::from(exit::ERROR);
        }
    };
    let code = runtime.block_on(run(cli, jq));
    // Do not wait for detached work (a keyring probe stuck on a prompt).
    runtime.shutdown_background();
    ExitCode::from(code)
}

/// In `plurum api`, `-q EXPR` is `--jq EXPR`, as in `gh api` (elsewhere,
/// and as a last argument, `-q` is `--quiet`).
fn gh_style_jq(mut args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let global_with_value = ["--api-url", "--profile", "--api-key-file", "--jq"];
    let mut position = 1;
    // Find the subcommand: the first word that is not a global flag or its value.
    while position < args.len() {
        let arg = args[position].to_string_lossy();
        if global_with_value.contains(&arg.as_ref()) {
            position += 2;
        } else if arg.starts_with('-') {
            position += 1;
        } else {
            break;
        }
    }
    if args.get(position).is_none_or(|a| a != "api") {
        return args;
    }
    for index in position + 1..args.len().saturating_sub(1) {
        if args[index] == "--" {
            break;
        }
        let next = args[index + 1].to_string_lossy().to_ascii_uppercase();
        let method = ["GET", "POST", "PATCH", "PUT", "DELETE", "HEAD"].contains(&next.as_str());
        if args[index] == "-q" && !next.starts_with('-') && !method {
            args[index] = "--jq".into();
        }
    }
    args
}

/// Whether the raw arguments ask for JSON (before clap has parsed them).
fn wants_json(args: &[std::ffi::OsString]) -> bool {
    args.iter()
        .skip(1)
        .take_while(|a| *a != "--")
        .any(|a| a == "--json" || a == "--jq" || a.to_string_lossy().starts_with("--jq="))
}

/// Parses the command line. Help and version print as usual; a usage error
/// is clap's message on stderr, or with `--json` one error document on
/// stdout (exit 2 either way). `--no-color` and `NO_COLOR` also turn off
/// clap's own colors.
fn parse(args: &[std::ffi::OsString]) -> Result<Cli, u8> {
    let no_color =
        args.iter().any(|a| a == "--no-color") || std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let mut command = Cli::command();
    if no_color {
        command = command.color(clap::ColorChoice::Never);
    }
    let error = match command.try_get_matches_from(args) {
        Ok(matches) => match Cli::from_arg_matches(&matches) {
            Ok(cli) => return Ok(cli),
            Err(error) => error,
        },
        Err(error) => error,
    };
    use clap::error::ErrorKind;
    if error.kind() == ErrorKind::DisplayVersion && wants_json(args) {
        return Err(print_version_json(args));
    }
    if matches!(error.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion)
        || error.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand && !wants_json(args)
        || !wants_json(args)
    {
        let _ = error.print();
        return Err(if error.use_stderr() { exit::USAGE } else { exit::OK });
    }
    let rendered = error.render().to_string();
    let usage = rendered
        .lines()
        .find(|l| l.trim_start().starts_with("Usage:"))
        .map(|l| l.trim().to_owned());
    // The command the error is about, from its usage line ("Usage: plurum
    // session open <TOPIC>" → "plurum session open").
    let command_path = usage
        .as_deref()
        .and_then(|u| u.strip_prefix("Usage: "))
        .map(|u| {
            u.split_whitespace()
                .take_while(|w| !w.starts_with(['<', '[', '-']))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| command_path_of(args));
    let message = if error.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        // clap rendered the whole help: say what is missing instead.
        let commands: Vec<&str> = rendered
            .lines()
            .skip_while(|l| !l.starts_with("Commands:"))
            .skip(1)
            .take_while(|l| l.starts_with("  "))
            .filter_map(|l| l.split_whitespace().next())
            .filter(|name| *name != "help")
            .collect();
        format!("{command_path} needs a subcommand: one of {}", commands.join(", "))
    } else {
        usage_message(&rendered)
    };
    // People read stderr even when a program reads stdout.
    eprintln!("error: {message}");
    let mut body = serde_json::json!({
        "code": "usage",
        "message": message,
        "hint": format!("see '{command_path} --help'"),
    });
    if let Some(usage) = usage {
        body["details"] = serde_json::json!({ "usage": usage });
    }
    output::Sink::process().json_document(&serde_json::json!({ "error": body }));
    Err(exit::USAGE)
}

/// The subcommands named in the arguments ("plurum search"), for a hint.
fn command_path_of(args: &[std::ffi::OsString]) -> String {
    let root = Cli::command();
    let mut command = &root;
    let mut path = vec!["plurum".to_owned()];
    for arg in args.iter().skip(1).take_while(|a| *a != "--") {
        let arg = arg.to_string_lossy();
        if let Some(sub) = command.find_subcommand(arg.as_ref()) {
            path.push(sub.get_name().to_owned());
            command = sub;
        }
    }
    path.join(" ")
}

/// clap's error as one line: its first line, with what a list after a
/// colon names ("the following required arguments were not provided:
/// --goal <GOAL>") and the values a closed set takes.
fn usage_message(rendered: &str) -> String {
    let mut lines = rendered.lines().skip_while(|l| l.trim().is_empty());
    let mut message = lines
        .next()
        .unwrap_or("invalid usage")
        .trim()
        .trim_start_matches("error: ")
        .to_owned();
    if message.ends_with(':') {
        let listed: Vec<&str> = lines
            .take_while(|l| l.starts_with(' ') && !l.trim().is_empty())
            .map(str::trim)
            .collect();
        if !listed.is_empty() {
            message.push(' ');
            message.push_str(&listed.join(", "));
        }
    }
    // A bad value of a closed set: name the values it takes.
    if let Some(values) = rendered
        .lines()
        .find_map(|l| l.trim().strip_prefix("[possible values: "))
        .and_then(|l| l.strip_suffix(']'))
    {
        message.push_str(&format!(" (possible values: {values})"));
    }
    message
}

/// `plurum --version --json` (or `--jq EXPR`): the build as one document.
fn print_version_json(args: &[std::ffi::OsString]) -> u8 {
    let info = serde_json::to_value(build_info::BuildInfo::get()).unwrap_or_default();
    // clap stopped before `--jq` was parsed: take its value from the arguments.
    let expr = args.iter().enumerate().find_map(|(i, a)| {
        let a = a.to_string_lossy();
        match a.strip_prefix("--jq=") {
            Some(expr) => Some(expr.to_owned()),
            None if a == "--jq" => args.get(i + 1).map(|e| e.to_string_lossy().into_owned()),
            None => None,
        }
    });
    let Some(expr) = expr else {
        output::Sink::process().json_document(&info);
        return exit::OK;
    };
    let out = jq::Filter::compile(&expr).and_then(|filter| filter.lines(&info));
    match out {
        Ok(lines) => {
            for line in lines {
                println!("{line}");
            }
            exit::OK
        }
        Err(message) => {
            let error = anyhow::Error::new(exit::CliError::new(exit::USAGE, message));
            output::Sink::process().report(&error, &exit::classify(&error), true, 0, None);
            exit::USAGE
        }
    }
}

/// Colors on stderr: a terminal, and neither `--no-color` nor `NO_COLOR`.
fn use_color(no_color: bool) -> bool {
    use std::io::IsTerminal;
    !no_color && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

async fn run(cli: Cli, jq: Option<jq::Filter>) -> u8 {
    let json = cli.global.json || jq.is_some();
    let verbose = cli.global.verbose;
    let sink = output::Sink::process();
    let filter = jq.clone();
    let result = dispatch(cli, jq, sink.clone()).await;
    let code = match result {
        Ok(code) => code,
        Err(error) => {
            let classified = exit::classify(&error);
            sink.report(&error, &classified, json, verbose, filter.as_ref());
            classified.exit
        }
    };
    // Entries of state.json that did not parse (or a file moved aside): the
    // command did its work with the rest, and says so by exiting non-zero.
    let notices = sink.notices().take();
    for notice in &notices {
        sink.eprint(&format!("error: {notice}"));
    }
    sink.finish(if code == exit::OK { &notices } else { &[] }, filter.as_ref());
    if !notices.is_empty() && code == exit::OK {
        exit::ERROR
    } else {
        code
    }
}

/// Runs the command `cli` names, its output going to `sink`.
pub(crate) async fn dispatch(cli: Cli, jq: Option<jq::Filter>, sink: output::Sink) -> anyhow::Result<u8> {
    let mut options = cli.global.options()?;
    options.jq = jq;
    options.sink = sink;
    cli.command.run(options).await
}
