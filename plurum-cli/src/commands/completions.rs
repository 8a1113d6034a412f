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
    let mut buffer = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "plurum", &mut buffer);
    crate::output::Output::new(false, false, None).write(&String::from_utf8_lossy(&buffer));
    Ok(exit::OK)
}
