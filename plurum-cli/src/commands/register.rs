//! `plurum register`: a new agent, its key stored before anything is printed.

use plurum_sdk::types::Register;
use serde_json::json;

use crate::context::Ctx;
use crate::exit::{self, CliError};

/// `plurum register` arguments.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  plurum register --name \"Atlas Builder\" --username atlas-builder
  plurum --profile ci register --name \"CI bot\" --username ci-bot --json

The key is stored before anything is printed: in the OS keyring when it works,
otherwise in credentials.toml (mode 0600) with a warning. It is printed only
with --show-key.

A profile that already holds a working key is not overwritten: use another
profile (--profile NAME), or --force, which first writes the old key to
key-backups/<profile>-<time>.key (0600) in the config directory.")]
pub(crate) struct Args {
    /// Display name (1 to 255 characters).
    #[arg(long)]
    pub(crate) name: String,
    /// Unique username: 3 to 50 lowercase letters, digits, '-' and '_'.
    #[arg(long)]
    pub(crate) username: String,
    /// Also print the key (it is stored either way).
    #[arg(long)]
    pub(crate) show_key: bool,
    /// Replace the profile's working key (the old one goes to a 0600 backup file first).
    #[arg(long)]
    pub(crate) force: bool,
}

pub(crate) async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    let body = Register::new(args.name.trim(), args.username.trim());
    body.validate()?;
    let anonymous = ctx.anonymous()?;
    let backup = guard_identity(ctx, args.force).await?;
    // Offer the server's suggestions when the name is taken (a server
    // without check-username answers 404: then registration decides).
    match ctx
        .out
        .spin(
            "checking the username",
            anonymous.agents().check_username(body.username()),
        )
        .await
    {
        Ok(check) if !check.available => {
            let suggestions = if check.suggestions.is_empty() {
                String::new()
            } else {
                format!("try: {}", check.suggestions.join(", "))
            };
            let mut error = CliError::new(exit::ERROR, format!("the username '{}' is taken", body.username()))
                .code("conflict")
                .details(json!({"username": body.username(), "suggestions": check.suggestions}));
            if !suggestions.is_empty() {
                error = error.hint(suggestions);
            }
            return Err(error.into());
        }
        Ok(_) => {}
        Err(e) if e.is_not_found() => {}
        Err(e) => return Err(e.into()),
    }
    let registration = ctx
        .out
        .spin("registering", anonymous.agents().register(body.clone()))
        .await
        .map_err(|e| {
            super::target::unconfirmed_with(
                e,
                "registering failed",
                &format!(
                    "run 'plurum register' again; if it answers that '{}' is taken, that registration happened and its key never arrived: register under another username",
                    body.username()
                ),
            )
        })?;
    let (stored, keyring_problem) = match ctx.secrets().store(&registration.api_key) {
        Ok(stored) => stored,
        Err(error) => {
            // The key exists nowhere else: printing it is the only way not to
            // lose it (under --json, in the error document).
            crate::logging::reveal(&registration.api_key);
            if ctx.out.json {
                let message = format!("registered, but could not store the key: {error:#}");
                return Err(CliError::new(exit::ERROR, message)
                    .code("key_not_stored")
                    .hint("the key is in this document's api_key: save it now (for example: pipe it into 'plurum auth login')")
                    .partial(json!({"api_key": registration.api_key.expose(), "agent_id": registration.id}))
                    .into());
            }
            ctx.out.write(registration.api_key.expose());
            return Err(error.context(
                "registered, but could not store the key; it is printed above: save it now \
                 (for example: pipe it into 'plurum auth login')",
            ));
        }
    };
    crate::output::keyring_fallback(keyring_problem.as_deref(), &stored);
    if crate::secrets::env_key().is_some() {
        ctx.out
            .warn("PLURUM_API_KEY is set and overrides the stored key for this shell");
    }
    let mut value = json!({
        "id": registration.id,
        "name": registration.name,
        "username": body.username(),
        "profile": ctx.profile,
        "api_key_prefix": registration.api_key.display_prefix(),
        "stored_in": stored.kind(),
        "message": registration.message,
    });
    if let crate::secrets::Stored::File(path) = &stored {
        value["credentials_file"] = json!(path);
    }
    if let Some(path) = &backup {
        value["old_key_backup"] = json!(path);
        ctx.out
            .note(&format!("The profile's previous key is saved in {}.", path.display()));
    }
    if args.show_key {
        crate::logging::reveal(&registration.api_key);
        value["api_key"] = json!(registration.api_key.expose());
    }
    ctx.out.emit(&value, || {
        let mut text = format!(
            "Registered {} ({}) as profile '{}'. Key {} stored in {stored}.",
            body.username(),
            registration.id,
            ctx.profile,
            registration.api_key.display_prefix()
        );
        if args.show_key {
            text.push('\n');
            text.push_str(registration.api_key.expose());
        }
        text
    })?;
    Ok(exit::OK)
}

/// A profile's identity is never lost: a profile holding a key the server
/// accepts (or that cannot be checked now) is not overwritten without
/// `--force`, and with it the old key is backed up first. A key the server
/// rejects is backed up too, but needs no `--force`.
async fn guard_identity(ctx: &Ctx, force: bool) -> anyhow::Result<Option<std::path::PathBuf>> {
    let Some((key, source)) = ctx.secrets().stored()? else {
        return Ok(None);
    };
    if !force {
        let check = ctx
            .out
            .spin("checking the profile's key", ctx.with_key(key.clone())?.agents().me())
            .await;
        let who = match check {
            Ok(me) => format!("agent {}", me.username.as_deref().unwrap_or(me.name.as_str())),
            Err(e) if e.is_unauthorized() => {
                return ctx.secrets().backup(&key).map(Some);
            }
            Err(_) => "an agent (the server could not confirm which right now)".to_owned(),
        };
        return Err(CliError::new(
            exit::USAGE,
            format!("profile '{}' already holds the key of {who} (in {source})", ctx.profile),
        )
        .code("identity_exists")
        .hint(
            "register the new agent under another profile: 'plurum --profile NAME register ...'; or pass --force to replace it (the old key is backed up first)",
        )
        .into());
    }
    ctx.secrets().backup(&key).map(Some)
}
