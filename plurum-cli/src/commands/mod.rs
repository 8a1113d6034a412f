//! One module per command; `shared.rs` holds what several use.

pub(crate) mod auth;
pub(crate) mod completions;
pub(crate) mod daemon;
pub(crate) mod demo;
pub(crate) mod experience;
pub(crate) mod heartbeat;
pub(crate) mod inbox;
pub(crate) mod outcome;
pub(crate) mod pulse;
pub(crate) mod register;
pub(crate) mod search;
pub(crate) mod serve;
pub(crate) mod session;
pub(crate) mod shared;
pub(crate) mod whoami;
