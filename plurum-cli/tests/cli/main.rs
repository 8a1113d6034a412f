//! The CLI's integration tests, linked once: `plurum` as a process against
//! the reference server (in-process) and against stand-ins for hostile
//! servers, proxies and portals.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

mod common;

mod agent;
mod api;
mod attack;

mod basics;
mod commands;
mod compat;
mod config;
mod contract;
mod contract_table;
mod daemon;
mod daemon_guard;
mod hardening;
mod heartbeat;
mod help;
mod identity;
mod inbox;
mod journal;
mod json_doc;
mod mcp;
mod pulse;
mod serve;
mod setup;
mod skill;
