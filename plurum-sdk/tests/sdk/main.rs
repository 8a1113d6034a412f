//! The SDK's integration tests, linked once: the wire format against
//! wiremock (every endpoint, retries, limits, every documented payload),
//! and with the `server` feature, flows, raw HTTP, WebSocket and generated
//! input against the reference server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod decode_fixtures;
mod http_endpoints;
mod http_experiences;
mod http_limits;
mod http_retry;
mod wire;

#[cfg(feature = "server")]
mod common;
#[cfg(all(feature = "server", feature = "pulse"))]
mod pulse_socket;
#[cfg(feature = "server")]
mod server_compat;
#[cfg(feature = "server")]
mod server_flows;
#[cfg(feature = "server")]
mod server_fuzz;
#[cfg(feature = "server")]
mod server_http;
#[cfg(feature = "server")]
mod server_strict;
#[cfg(feature = "server")]
mod server_ws;
