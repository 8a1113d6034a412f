//! Helpers shared by the reference-server tests.

use plurum_sdk::server::{Limits, ReferenceServer, ServerConfig, ServerHandle};
use plurum_sdk::types::Register;
use plurum_sdk::{ApiKey, Client, RetryPolicy};

/// A server without rate limits on a free loopback port.
pub async fn server() -> ServerHandle {
    ReferenceServer::start(ServerConfig::default().no_limits())
        .await
        .unwrap()
}

/// A server with these limits.
pub async fn server_with(limits: Limits) -> ServerHandle {
    ReferenceServer::start(ServerConfig::default().limits(limits))
        .await
        .unwrap()
}

/// A client without a key that never retries.
pub fn anonymous(server: &ServerHandle) -> Client {
    Client::builder()
        .base_url(server.base_url())
        .retry(RetryPolicy::none())
        .build()
        .unwrap()
}

/// Registers an agent and returns a client acting as it, with its key.
pub async fn agent_with_key(server: &ServerHandle, username: &str) -> (Client, ApiKey) {
    let client = anonymous(server);
    let reg = client
        .agents()
        .register(Register::new(format!("Agent {username}"), username))
        .await
        .unwrap();
    let key = reg.api_key.clone();
    (client.with_api_key(reg.api_key).unwrap(), key)
}

/// Registers an agent and returns a client acting as it.
pub async fn agent(server: &ServerHandle, username: &str) -> Client {
    agent_with_key(server, username).await.0
}
