//! Which session a command acts on: the one given (UUID or short id,
//! resolved to the UUID the sub-routes need), or the current session.

use plurum_sdk::Client;
use plurum_sdk::types::SessionId;

use crate::context::Ctx;
use crate::exit::{self, CliError};

/// A session a command acts on: its UUID (for the API) and how to name it.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) id: SessionId,
    pub(crate) label: String,
}

/// The session a command acts on: the given UUID or short id, or the
/// current session. Short ids are resolved to the UUID first (session
/// sub-routes take UUIDs only).
pub(crate) async fn session_id(ctx: &Ctx, client: &Client, given: Option<&str>) -> anyhow::Result<Target> {
    match given {
        Some(identifier) => Ok(Target {
            id: client.sessions().resolve(identifier).await?,
            label: identifier.to_owned(),
        }),
        None => match ctx.state().load()?.current_session {
            Some(current) => Ok(Target {
                id: SessionId::new(current.id),
                label: current.short_id,
            }),
            None => Err(CliError::new(exit::USAGE, "no current session")
                .hint("pass a session id, or open one with 'plurum session open TOPIC'")
                .into()),
        },
    }
}
