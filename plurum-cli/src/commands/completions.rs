//! `plurum completions bash|zsh|fish`.

use clap::CommandFactory;

use crate::cli::Cli;
use crate::exit;

/// `plurum completions` arguments.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  plurum completions bash > ~/.local/share/bash-completion/completions/plurum
  plurum completions zsh > \"${fpath[1]}/_plurum\"
  plurum completions fish > ~/.config/fish/completions/plurum.fish")]
pub(crate) struct Args {
    /// The shell.
    #[arg(value_enum)]
    shell: Shell,
}

/// The profiles that exist now: configured in config.toml, holding a key in
/// credentials.toml, or with a state directory (regenerate the completions
/// after adding one).
fn known_profiles() -> Vec<String> {
    let Ok(paths) = crate::paths::Paths::resolve() else {
        return Vec::new();
    };
    let mut names: Vec<String> = Vec::new();
    for file in [paths.config_file(), paths.credentials_file()] {
        let table: Option<toml::Table> = std::fs::read_to_string(&file)
            .ok()
            .and_then(|t| toml::from_str(&t).ok());
        if let Some(profiles) = table
            .as_ref()
            .and_then(|t| t.get("profiles"))
            .and_then(toml::Value::as_table)
        {
            names.extend(profiles.keys().cloned());
        }
    }
    if let Ok(entries) = std::fs::read_dir(&paths.state_dir) {
        names.extend(
            entries
                .flatten()
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().into_owned()),
        );
    }
    names.retain(|n| !n.starts_with('.'));
    names.sort();
    names.dedup();
    names
}

/// The shells completions exist for.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum Shell {
    Bash,
    Zsh,
    Fish,
}

pub(crate) fn run(args: Args, options: &crate::context::Options) -> anyhow::Result<u8> {
    if options.json {
        return Err(
            crate::exit::CliError::new(exit::USAGE, "completions are a shell script, not JSON")
                .hint("run it without --json / --jq")
                .into(),
        );
    }
    let shell = match args.shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut command = Cli::command();
    let profiles = known_profiles();
    if !profiles.is_empty() {
        // Offered to --profile; the flag still takes any name when parsing.
        command = command.mut_arg("profile", |arg| {
            arg.value_parser(clap::builder::PossibleValuesParser::new(profiles))
        });
    }
    let mut buffer = Vec::new();
    clap_complete::generate(shell, &mut command, "plurum", &mut buffer);
    crate::output::Output::new(false, false, None).write(&String::from_utf8_lossy(&buffer));
    Ok(exit::OK)
}
