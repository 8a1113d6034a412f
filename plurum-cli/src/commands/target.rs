//! Which session a command acts on: the one given (UUID or short id,
//! checked before anything is sent, then looked up once so that the
//! command has both its UUID and its short id), or the current session.
//! Also: what to say when a call that is never repeated fails for a
//! reason that leaves its effect unknown.

use plurum_sdk::Client;
use plurum_sdk::types::{Identifier, SessionId};

use crate::context::Ctx;
use crate::exit::{self, CliError};

/// A session a command acts on: its UUID (for the API) and its short id
/// (how people and agents name it).
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) id: SessionId,
    pub(crate) short_id: String,
}

/// Checks a session id argument (a usage error, exit 2, naming `what`).
pub(crate) fn check_session_id(given: &str, what: &str) -> anyhow::Result<Identifier> {
    Identifier::parse_as(given, what).map_err(|e| {
        CliError::new(exit::USAGE, e.to_string())
            .hint("session ids are the 8-character short ids (or UUIDs) that 'plurum session list' prints")
            .into()
    })
}

/// The session a command acts on: the given UUID or short id, or the
/// current session.
pub(crate) async fn session_id(ctx: &Ctx, client: &Client, given: Option<&str>) -> anyhow::Result<Target> {
    match given {
        // A session opened while the server could not take it.
        Some(local) if crate::journal::is_local(local) => match ctx.journal().local_session(local)? {
            Some((id, short_id)) => Ok(Target {
                id: SessionId::new(id),
                short_id,
            }),
            None => Err(CliError::new(exit::USAGE, format!("no session {local} in this profile's journal"))
                .hint("local ids (local-XXXXXXXX) name sessions opened here while the server was unreachable; 'plurum session list --mine' lists the server's")
                .into()),
        },
        Some(identifier) => {
            let identifier = check_session_id(identifier, "session")?;
            // Known here without asking the server (and so offline): the
            // current session, or one with writes in the journal.
            let given = identifier.to_string();
            if let Some(current) = ctx.state().load()?.current_session
                && (current.id == given || current.short_id == given)
            {
                return Ok(Target {
                    id: SessionId::new(current.id),
                    short_id: current.short_id,
                });
            }
            if let Some(known) = ctx.journal().known_session(&given)? {
                return Ok(Target {
                    id: SessionId::new(known.0),
                    short_id: known.1,
                });
            }
            match client.sessions().get(&identifier).await {
                Ok(session) => Ok(Target {
                    id: session.id,
                    short_id: session.short_id,
                }),
                // Offline, the id as given is enough for a write that is
                // journaled: a UUID stands in for the short id it has; a
                // short id is looked up when the journal is delivered (a
                // session that turns out not to exist fails then, listed
                // by `plurum sync`).
                Err(e) if e.is_refused() || matches!(e, plurum_sdk::Error::Transport { .. }) => Ok(Target {
                    short_id: given.clone(),
                    id: SessionId::new(given),
                }),
                Err(e) => Err(e.into()),
            }
        }
        None => match ctx.state().load()?.current_session {
            // A local current session bound since (its open was delivered).
            Some(current) if crate::journal::is_local(&current.id) => {
                let (id, short_id) = ctx
                    .journal()
                    .local_session(&current.id)?
                    .unwrap_or((current.id, current.short_id));
                Ok(Target {
                    id: SessionId::new(id),
                    short_id,
                })
            }
            Some(current) => Ok(Target {
                id: SessionId::new(current.id),
                short_id: current.short_id,
            }),
            None => Err(CliError::new(exit::USAGE, "no current session")
                .hint("pass a session id, open one with 'plurum session open TOPIC', or make an open one current with 'plurum session use ID'")
                .into()),
        },
    }
}

/// An experience id argument: a short id or UUID (checked before anything
/// is sent), or a local id of an experience created here while the server
/// could not take it: the server's id once its create was delivered, else
/// the local id itself.
pub(crate) fn experience_id(ctx: &Ctx, given: &str) -> anyhow::Result<String> {
    if crate::journal::is_local(given) {
        return match ctx.journal().local_session(given)? {
            Some((id, _)) => Ok(id),
            None => Err(CliError::new(exit::USAGE, format!("no experience {given} in this profile's journal"))
                .hint("local ids (local-XXXXXXXX) name experiences created here while the server was unreachable; 'plurum experience list --mine' lists the server's")
                .into()),
        };
    }
    Identifier::parse_as(given, "experience").map_err(|e| {
        anyhow::Error::from(
            CliError::new(exit::USAGE, e.to_string())
                .hint("experience ids are the 8-character short ids (or UUIDs) that 'plurum search' prints"),
        )
    })?;
    Ok(given.to_owned())
}

/// [`experience_id`] for a command that needs the experience on the
/// server now (a read, an acquire, a report).
pub(crate) fn server_experience_id(ctx: &Ctx, given: &str) -> anyhow::Result<String> {
    let id = experience_id(ctx, given)?;
    if crate::journal::is_local(&id) {
        return Err(CliError::new(
            exit::TEMPORARY,
            format!("experience {given} is not on the server yet: its create waits in the journal"),
        )
        .code("queued")
        .hint("'plurum sync' sends it when the server is back; then this id names it")
        .into());
    }
    Ok(id)
}

/// A failure of a call the SDK never repeats (open, log, contribute,
/// close, abandon, update, create, register). When the failure leaves it
/// unknown whether the server acted (the network, a timeout, a 5xx), the
/// error says so and how to check, instead of "try again later", which
/// could do it twice.
pub(crate) fn unconfirmed(error: plurum_sdk::Error, what: &str, check: &str) -> anyhow::Error {
    unconfirmed_with(error, what, &format!("check with '{check}' before trying again"))
}

/// [`unconfirmed`], with the whole advice given.
pub(crate) fn unconfirmed_with(error: plurum_sdk::Error, what: &str, advice: &str) -> anyhow::Error {
    if matches!(
        error,
        plurum_sdk::Error::Transport { .. } | plurum_sdk::Error::Timeout { .. } | plurum_sdk::Error::Server(_)
    ) {
        return CliError::new(exit::TEMPORARY, format!("{what}: {error}"))
            .code("unconfirmed")
            .hint(format!(
                "the server may have done it anyway (this call is never repeated): {advice}"
            ))
            .into();
    }
    error.into()
}
