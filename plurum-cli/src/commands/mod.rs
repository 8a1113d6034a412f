//! One module per command, plus what several commands share: the
//! content-safety gate (`safety.rs`), which session a command acts on
//! (`target.rs`) and the argument helpers (`args.rs`).

pub(crate) mod api;
pub(crate) mod args;
pub(crate) mod auth;
pub(crate) mod completions;
pub(crate) mod config;
pub(crate) mod daemon;
pub(crate) mod demo;
pub(crate) mod doctor;
pub(crate) mod experience;
pub(crate) mod heartbeat;
pub(crate) mod inbox;
pub(crate) mod man;
pub(crate) mod mcp;
pub(crate) mod outcome;
pub(crate) mod pulse;
pub(crate) mod register;
pub(crate) mod safety;
pub(crate) mod search;
pub(crate) mod serve;
pub(crate) mod session;
pub(crate) mod setup;
pub(crate) mod skill;
pub(crate) mod sync;
pub(crate) mod target;
pub(crate) mod whoami;
