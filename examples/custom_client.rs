//! A client configured for its environment: timeouts, a retry policy, a
//! cap on answer sizes, and which TLS crypto provider was compiled in
//! (cargo features `rustls-ring`, the default, or `rustls-aws-lc-rs`).
//!
//! ```text
//! cargo run -p plurum-examples --example custom_client
//! ```
//!
//! In your Cargo.toml, for aws-lc-rs instead of ring, or without the pulse
//! socket:
//!
//! ```toml
//! plurum-sdk = { version = "0.1", default-features = false, features = ["rustls-aws-lc-rs", "pulse"] }
//! plurum-sdk = { version = "0.1", default-features = false, features = ["rustls-ring"] }  # REST only
//! ```

use std::time::Duration;

use plurum_sdk::server::{ReferenceServer, ServerConfig};
use plurum_sdk::{Client, RetryPolicy};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = ReferenceServer::start(ServerConfig::default()).await?;
    let client = Client::builder()
        .base_url(server.base_url())
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(10))
        .retry(
            RetryPolicy::default()
                .max_retries(5)
                .base_delay(Duration::from_millis(100))
                .max_delay(Duration::from_secs(2))
                .max_retry_after(Duration::from_secs(30)),
        )
        .max_response_bytes(2 << 20)
        .user_agent_suffix("my-agent/1.0")
        .build()?;
    println!("TLS provider: {}", plurum_sdk::tls::provider_name());
    println!("{client:?}");

    // Latency injected by the reference server stays within the timeout;
    // two 503s in a row are retried away.
    server.faults().set_latency(Duration::from_millis(200));
    server.faults().fail_next(2, 503);
    let health = client.health().await?;
    println!("health: {} (after two 503s and 200 ms of latency)", health.status);

    // The same TLS configuration for your own HTTP calls.
    let tls = plurum_sdk::tls::client_config()?;
    println!(
        "ALPN for REST: {:?}",
        tls.alpn_protocols
            .iter()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect::<Vec<_>>()
    );
    server.shutdown().await;
    Ok(())
}
