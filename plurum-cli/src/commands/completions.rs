//! `plurum completions bash|zsh|fish|powershell|elvish`: a script the shell
//! sources once. It calls `plurum` back on every TAB (with
//! `PLURUM_COMPLETE` set), so what is completed is what exists when the key
//! is pressed: subcommands, flags, enum values, the profiles (from
//! config.toml, credentials.toml and the state folders) and the config
//! keys. (clap_complete's dynamic completion, pinned to an exact version:
//! its interface between script and binary is not yet stable, so re-source
//! the script after upgrading plurum — the examples do it at shell start.)

use std::ffi::OsStr;

use clap_complete::engine::CompletionCandidate;

use crate::exit;

/// The variable the completion script sets when it calls plurum back.
pub(crate) const COMPLETE_VAR: &str = "PLURUM_COMPLETE";

/// `plurum completions` arguments.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  echo 'source <(plurum completions bash)' >> ~/.bashrc
  echo 'source <(plurum completions zsh)' >> ~/.zshrc
  plurum completions fish > ~/.config/fish/completions/plurum.fish
  plurum completions powershell | Out-String | Invoke-Expression

The script asks plurum for candidates on every TAB, so profiles and config
keys created later are completed too. Load it anew after upgrading plurum.")]
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
    Powershell,
    Elvish,
}

impl Shell {
    fn name(self) -> &'static str {
        match self {
            Self::Bash => "bash",
            Self::Zsh => "zsh",
            Self::Fish => "fish",
            Self::Powershell => "powershell",
            Self::Elvish => "elvish",
        }
    }
}

/// Answers the completion script's call-back and exits, when this process
/// is one (`PLURUM_COMPLETE` set); otherwise returns at once. Runs before
/// anything else in `main`.
pub(crate) fn answer_if_asked() {
    if std::env::var_os(COMPLETE_VAR).is_none_or(|v| v.is_empty()) {
        return;
    }
    use clap::CommandFactory as _;
    clap_complete::CompleteEnv::with_factory(crate::cli::Cli::command)
        .var(COMPLETE_VAR)
        .complete();
}

/// How the script calls plurum back: `plurum` when it was found on PATH,
/// else the path it was started by (made absolute).
fn completer() -> String {
    let argv0 = std::env::args_os().next().unwrap_or_else(|| "plurum".into());
    let path = std::path::Path::new(&argv0);
    if path.components().count() > 1 {
        std::env::current_dir()
            .map(|dir| dir.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
            .to_string_lossy()
            .into_owned()
    } else {
        argv0.to_string_lossy().into_owned()
    }
}

pub(crate) fn run(args: Args, options: &crate::context::Options) -> anyhow::Result<u8> {
    if options.json {
        return Err(
            crate::exit::CliError::new(exit::USAGE, "completions are a shell script, not JSON")
                .hint("run it without --json / --jq")
                .into(),
        );
    }
    let shells = clap_complete::env::Shells::builtins();
    let Some(shell) = shells.completer(args.shell.name()) else {
        return Err(
            crate::exit::CliError::new(exit::USAGE, format!("no completions for {}", args.shell.name())).into(),
        );
    };
    let mut buffer = Vec::new();
    shell.write_registration(COMPLETE_VAR, "plurum", "plurum", &completer(), &mut buffer)?;
    crate::output::Output::new(options.sink.clone(), false, false, None).write(&String::from_utf8_lossy(&buffer));
    Ok(exit::OK)
}

/// The profiles that exist now: configured in config.toml, holding a key in
/// credentials.toml, or with a state directory.
pub(crate) fn known_profiles() -> Vec<String> {
    let Ok(paths) = crate::paths::Paths::resolve() else {
        return Vec::new();
    };
    let mut names: Vec<String> = Vec::new();
    for file in [paths.config_file(), paths.credentials_file()] {
        let table: Option<toml::Table> = crate::files::read_regular_string(&file, crate::files::MAX_CONFIG)
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

/// Candidates for `--profile`, read when TAB is pressed.
pub(crate) fn profile_candidates() -> Vec<CompletionCandidate> {
    known_profiles().into_iter().map(CompletionCandidate::new).collect()
}

/// Candidates for a `plurum config` key, with what each one does.
pub(crate) fn config_key_candidates() -> Vec<CompletionCandidate> {
    crate::config::catalog()
        .into_iter()
        .map(|setting| CompletionCandidate::new(OsStr::new(&setting.key)).help(Some(setting.about.into())))
        .collect()
}
