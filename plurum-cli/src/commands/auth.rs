//! `plurum auth login|status|logout|rotate`.

use std::io::{IsTerminal, Read};

use plurum_sdk::ApiKey;
use serde_json::json;

use crate::context::{Ctx, UrlSource};
use crate::exit::{self, CliError};
use crate::secrets::{KeySource, Secrets};

/// `plurum auth` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Store a key read from stdin, after checking it with the server.
    #[command(after_help = "Examples:
  printf '%s' \"$KEY\" | plurum auth login
  plurum auth login < key.txt
  plurum --profile ci auth login < ci-key.txt

The key is read from stdin only, never from the command line (shell history,
ps). It is checked with /agents/me, then stored in the OS keyring, or in
credentials.toml (mode 0600) when the keyring is not available.")]
    Login,
    /// Show the agent, where the key comes from, and the API URL.
    #[command(
        after_help = "Examples:\n  plurum auth status\n  plurum auth status --json\n\nExit code 4 when there is no key or the server rejects it."
    )]
    Status,
    /// Remove the stored key of this profile.
    #[command(after_help = "Examples:\n  plurum auth logout\n  plurum --profile ci auth logout")]
    Logout,
    /// Take over the key a Hermes or OpenClaw plugin saved, after checking it with the server.
    #[command(after_help = "Examples:
  plurum auth import --from hermes
  plurum auth import --from openclaw --fix-permissions
  plurum --profile work auth import --from hermes --path ./plurum.json

Where the plugins keep their key: hermes in $HERMES_HOME/plurum.json, else
~/.hermes/plurum.json; openclaw in $OPENCLAW_HOME/.openclaw/plurum.json, else
~/.openclaw/plurum.json. The key is checked with /agents/me, then stored the
way plurum stores keys (OS keyring, or credentials.toml with mode 0600). The
source file is left in place; when others can read it (the Hermes plugin
writes it 0644) you are warned, and --fix-permissions makes it 0600. A key
this profile held before is saved to key-backups/ first.")]
    Import {
        /// The plugin whose key to import.
        #[arg(long, value_enum)]
        from: Plugin,
        /// Read the key from this file instead of the plugin's usual place.
        #[arg(long, value_name = "FILE")]
        path: Option<std::path::PathBuf>,
        /// Make the plugin's file readable by you only (0600).
        #[arg(long)]
        fix_permissions: bool,
    },
    /// Replace the key: the old key stops working at once; the new one is stored first.
    #[command(after_help = "Examples:\n  plurum auth rotate\n  plurum auth rotate --show-key")]
    Rotate {
        /// Also print the new key.
        #[arg(long)]
        show_key: bool,
    },
}

pub(crate) async fn run(command: Command, ctx: &Ctx) -> anyhow::Result<u8> {
    match command {
        Command::Login => login(ctx).await,
        Command::Status => status(ctx).await,
        Command::Logout => logout(ctx),
        Command::Rotate { show_key } => rotate(ctx, show_key).await,
        Command::Import {
            from,
            path,
            fix_permissions,
        } => import(ctx, from, path, fix_permissions).await,
    }
}

/// The plugins whose keys plurum can import.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum Plugin {
    Hermes,
    Openclaw,
}

impl Plugin {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Hermes => "hermes",
            Self::Openclaw => "openclaw",
        }
    }

    /// Where the plugin keeps its key, as the plugin resolves it.
    pub(crate) fn default_path(self) -> anyhow::Result<std::path::PathBuf> {
        let env = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(std::path::PathBuf::from)
        };
        let home = || {
            env("HOME")
                .or_else(|| directories::BaseDirs::new().map(|b| b.home_dir().to_owned()))
                .ok_or_else(|| {
                    anyhow::Error::new(
                        CliError::new(exit::USAGE, "no home directory to find the plugin's key in")
                            .hint("pass --path FILE"),
                    )
                })
        };
        Ok(match self {
            Self::Hermes => match env("HERMES_HOME") {
                Some(dir) => dir.join("plurum.json"),
                None => home()?.join(".hermes").join("plurum.json"),
            },
            Self::Openclaw => match env("OPENCLAW_HOME") {
                Some(dir) => dir.join(".openclaw").join("plurum.json"),
                None => home()?.join(".openclaw").join("plurum.json"),
            },
        })
    }
}

/// The largest key file read (a plugin's is a few hundred bytes).
const MAX_PLUGIN_FILE: u64 = 64 * 1024;

pub(crate) async fn import(
    ctx: &Ctx,
    from: Plugin,
    path: Option<std::path::PathBuf>,
    fix_permissions: bool,
) -> anyhow::Result<u8> {
    let path = match path {
        Some(path) => path,
        None => from.default_path()?,
    };
    let metadata = std::fs::metadata(&path).map_err(|e| {
        anyhow::Error::new(
            CliError::new(
                exit::ERROR,
                format!("no {} key file at {} ({e})", from.name(), path.display()),
            )
            .code("not_found")
            .hint("pass --path FILE if the plugin keeps it elsewhere"),
        )
    })?;
    let linked = crate::files::is_link(&path);
    let text = crate::files::read_regular_string(&path, MAX_PLUGIN_FILE).map_err(|e| {
        anyhow::Error::new(CliError::new(
            exit::ERROR,
            format!("could not read {}: {e}", path.display()),
        ))
    })?;
    let parsed: serde_json::Value = serde_json::from_str(&text).map_err(|_| {
        anyhow::Error::new(CliError::new(
            exit::ERROR,
            format!(
                "{} is not JSON (its content is not shown: it may hold a key)",
                path.display()
            ),
        ))
    })?;
    let key = parsed
        .get("api_key")
        .or_else(|| parsed.get("apiKey"))
        .and_then(serde_json::Value::as_str)
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(ApiKey::new)
        .ok_or_else(|| {
            anyhow::Error::new(
                CliError::new(exit::ERROR, format!("{} holds no api_key", path.display()))
                    .code("not_found")
                    .hint(format!("set the plugin up first ({} plurum setup)", from.name())),
            )
        })?;
    crate::logging::remember(&key);
    // Others can read it: say so, and fix it when asked.
    let mode = file_mode(&metadata);
    let shared = mode.is_some_and(|m| m & 0o077 != 0);
    let mut fixed = false;
    if shared && fix_permissions && linked {
        // A link's target may be anything: its mode is left alone.
        ctx.out.warn(&format!(
            "{} is a symbolic link: its target's mode was left as it is (mode {:o}); make the file itself 0600",
            path.display(),
            mode.unwrap_or_default()
        ));
    } else if shared && fix_permissions {
        crate::files::make_private(&path)
            .map_err(|e| anyhow::anyhow!("could not make {} private: {e}", path.display()))?;
        fixed = true;
    } else if shared {
        ctx.out.warn(&format!(
            "{} is readable by others (mode {:o}): anyone on this machine can use the key; --fix-permissions makes it 0600",
            path.display(),
            mode.unwrap_or_default()
        ));
    }
    let me = ctx
        .out
        .spin("checking the key", ctx.with_key(key.clone())?.agents().me())
        .await
        .map_err(|e| {
            if e.is_unauthorized() {
                anyhow::Error::new(
                    CliError::new(exit::NOT_AUTHENTICATED, format!("the key in {} was rejected", path.display()))
                        .hint("the plugin's key no longer works: register again ('plurum register') or log in with a valid key"),
                )
            } else {
                e.into()
            }
        })?;
    let backup = backup_other_key(ctx, &key)?;
    let (stored, keyring_problem) = ctx.secrets().store(&key)?;
    crate::output::keyring_fallback(keyring_problem.as_deref(), &stored);
    let value = json!({
        "agent": me,
        "profile": ctx.profile,
        "stored_in": stored.kind(),
        "source": from.name(),
        "source_file": path,
        "source_mode": mode.map(|m| format!("{m:o}")),
        "fixed_permissions": fixed,
        "old_key_backup": backup,
    });
    ctx.out.emit(&value, || {
        let mut text = format!(
            "Imported the {} key of {} ({}) into profile '{}'. Key stored in {stored}.",
            from.name(),
            me.username.as_deref().unwrap_or("-"),
            me.name,
            ctx.profile
        );
        if fixed {
            text.push_str(&format!("\n{} is now readable by you only (0600).", path.display()));
        }
        if let Some(backup) = &backup {
            text.push_str(&format!(
                "\nThe profile's previous key is saved in {}.",
                backup.display()
            ));
        }
        text
    })?;
    Ok(exit::OK)
}

/// Saves the profile's stored key to key-backups/ when it is about to be
/// replaced by a different one.
fn backup_other_key(ctx: &Ctx, new: &ApiKey) -> anyhow::Result<Option<std::path::PathBuf>> {
    match ctx.secrets().stored()? {
        Some((old, _)) if old.expose() != new.expose() => ctx.secrets().backup(&old).map(Some),
        _ => Ok(None),
    }
}

#[cfg(unix)]
fn file_mode(metadata: &std::fs::Metadata) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    Some(metadata.permissions().mode() & 0o777)
}

#[cfg(not(unix))]
fn file_mode(_: &std::fs::Metadata) -> Option<u32> {
    None
}

async fn login(ctx: &Ctx) -> anyhow::Result<u8> {
    if crate::secrets::env_key().is_some() {
        return Err(
            CliError::new(exit::ERROR, "PLURUM_API_KEY is set and would override any stored key")
                .hint("unset PLURUM_API_KEY first, or keep using it")
                .into(),
        );
    }
    if std::io::stdin().is_terminal() {
        eprintln!("Paste the API key and press Enter (then Ctrl-D if needed):");
    }
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input)?;
    let key = key_from(&input)?;
    login_with(ctx, key).await
}

/// The key in what was read from stdin: its first non-empty line.
pub(crate) fn key_from(input: &str) -> anyhow::Result<ApiKey> {
    let key = ApiKey::new(input.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or_default());
    if key.expose().is_empty() {
        return Err(CliError::new(exit::USAGE, "no key on stdin")
            .hint("printf '%s' \"$KEY\" | plurum auth login")
            .into());
    }
    Ok(key)
}

/// Checks `key` with the server, then stores it (the old key backed up).
pub(crate) async fn login_with(ctx: &Ctx, key: ApiKey) -> anyhow::Result<u8> {
    if !key.looks_valid() {
        ctx.out
            .warn("this does not look like a Plurum key (plrm_live_ and 43 characters); checking it anyway");
    }
    let me = ctx
        .out
        .spin("checking the key", ctx.with_key(key.clone())?.agents().me())
        .await?;
    let backup = backup_other_key(ctx, &key)?;
    let (stored, keyring_problem) = ctx.secrets().store(&key)?;
    crate::output::keyring_fallback(keyring_problem.as_deref(), &stored);
    if let Some(backup) = &backup {
        ctx.out
            .note(&format!("The profile's previous key is saved in {}.", backup.display()));
    }
    let value = json!({"agent": me, "profile": ctx.profile, "stored_in": stored.kind(), "old_key_backup": backup});
    ctx.out.emit(&value, || {
        format!(
            "Logged in as {} ({}) on profile '{}'. Key stored in {stored}.",
            me.username.as_deref().unwrap_or("-"),
            me.name,
            ctx.profile
        )
    })?;
    Ok(exit::OK)
}

async fn status(ctx: &Ctx) -> anyhow::Result<u8> {
    let url_source = match ctx.url_source {
        UrlSource::Flag => "--api-url or PLURUM_API_URL",
        UrlSource::Config => "config.toml",
        UrlSource::Default => "default",
    };
    let keyring = match Secrets::keyring_status() {
        Ok(()) => "available".to_owned(),
        Err(problem) => format!("unavailable: {problem}"),
    };
    let key = ctx.key()?;
    let (agent, problem) = match &key {
        None => (None, Some("no API key".to_owned())),
        Some((key, _)) => match ctx
            .out
            .spin("checking the key", ctx.with_key(key.clone())?.agents().me())
            .await
        {
            Ok(me) => (Some(me), None),
            Err(e) if e.is_unauthorized() => (None, Some("the server rejected the key".to_owned())),
            Err(e) => return Err(e.into()),
        },
    };
    let value = json!({
        "authenticated": agent.is_some(),
        "profile": ctx.profile,
        "agent": agent,
        "key_source": key.as_ref().map(|(_, s)| s.kind()),
        "key_location": key.as_ref().map(|(_, s)| s.to_string()),
        "key_prefix": key.as_ref().map(|(k, _)| k.display_prefix()),
        "api_url": ctx.api_url,
        "api_url_source": url_source,
        "keyring": keyring,
        "config_dir": ctx.paths.config_dir,
        "state_dir": ctx.state().dir(),
        "problem": problem,
    });
    let human = || {
        let who = match &agent {
            Some(me) => format!("{} ({}), id {}", me.username.as_deref().unwrap_or("-"), me.name, me.id),
            None => format!("not authenticated: {}", problem.clone().unwrap_or_default()),
        };
        let source = match &key {
            Some((k, source)) => format!("{} from {source}", k.display_prefix()),
            None => "none (set PLURUM_API_KEY, or run 'plurum auth login' or 'plurum register')".to_owned(),
        };
        format!(
            "Agent:    {who}\nProfile:  {}\nKey:      {source}\nAPI URL:  {} ({url_source})\nKeyring:  {keyring}\nConfig:   {}\nState:    {}",
            ctx.profile,
            ctx.api_url,
            ctx.paths.config_dir.display(),
            ctx.state().dir().display()
        )
    };
    match problem.clone() {
        None => {
            ctx.out.emit(&value, human)?;
            Ok(exit::OK)
        }
        Some(problem) => {
            let hint = if key.is_some() {
                crate::exit::rejected_key_hint()
            } else {
                CliError::not_logged_in(&ctx.profile).hint.unwrap_or_default()
            };
            let error = CliError::new(exit::NOT_AUTHENTICATED, problem).hint(hint);
            ctx.out.failed(&value, human, error)
        }
    }
}

fn logout(ctx: &Ctx) -> anyhow::Result<u8> {
    let removed = ctx.secrets().delete()?;
    let env_set = crate::secrets::env_key().is_some();
    let value = json!({
        "profile": ctx.profile,
        "removed_from": removed.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        "env_key_still_set": env_set,
    });
    ctx.out.emit(&value, || {
        let mut text = if removed.is_empty() {
            format!("No stored key for profile '{}'.", ctx.profile)
        } else {
            format!(
                "Removed the key of profile '{}' from {}.",
                ctx.profile,
                removed.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(" and ")
            )
        };
        if env_set {
            text.push_str("\nPLURUM_API_KEY is still set in this environment.");
        }
        text
    })?;
    Ok(exit::OK)
}

async fn rotate(ctx: &Ctx, show_key: bool) -> anyhow::Result<u8> {
    let source = ctx.key()?.map(|(_, source)| source);
    let client = ctx.authed()?;
    let rotated = ctx.out.spin("rotating the key", client.agents().rotate_key()).await?;
    let (stored, keyring_problem) = match ctx.secrets().store(&rotated.api_key) {
        Ok(stored) => stored,
        Err(error) => {
            crate::logging::reveal(&rotated.api_key);
            ctx.out.write(rotated.api_key.expose());
            return Err(error.context(
                "the key was rotated and the old key no longer works, but the new key could not be stored; \
                 it is printed above: save it now (for example: pipe it into 'plurum auth login')",
            ));
        }
    };
    crate::output::keyring_fallback(keyring_problem.as_deref(), &stored);
    match source {
        Some(KeySource::Env) => ctx
            .out
            .warn("the old key came from PLURUM_API_KEY and no longer works: update or unset that variable"),
        Some(KeySource::KeyFile(path)) => ctx.out.warn(&format!(
            "the old key came from {} and no longer works: replace that file's content",
            path.display()
        )),
        _ => {}
    }
    let mut value = json!({
        "id": rotated.id,
        "api_key_prefix": rotated.api_key.display_prefix(),
        "stored_in": stored.kind(),
        "message": rotated.message,
    });
    if show_key {
        crate::logging::reveal(&rotated.api_key);
        value["api_key"] = json!(rotated.api_key.expose());
    }
    ctx.out.emit(&value, || {
        let mut text = format!(
            "Rotated the key of {}: the new key {} is stored in {stored}; the old key no longer works.",
            rotated.name,
            rotated.api_key.display_prefix()
        );
        if show_key {
            text.push('\n');
            text.push_str(rotated.api_key.expose());
        }
        text
    })?;
    Ok(exit::OK)
}
