//! Watch the pulse: one agent holds the socket, another opens a session and
//! contributes to the first agent's; every event arrives once, typed, and a
//! dropped connection reconnects and catches up by itself.
//!
//! ```text
//! cargo run -p plurum-examples --example pulse_watcher
//! ```

use std::time::Duration;

use futures_util::StreamExt;
use plurum_sdk::Client;
use plurum_sdk::server::{ReferenceServer, ServerConfig};
use plurum_sdk::types::*;

async fn agent(anonymous: &Client, username: &str) -> Result<Client, plurum_sdk::Error> {
    let registered = anonymous.agents().register(Register::new(username, username)).await?;
    anonymous.with_api_key(registered.api_key)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = ReferenceServer::start(ServerConfig::default().no_limits()).await?;
    let anonymous = Client::builder().base_url(server.base_url()).build()?;
    let watcher = agent(&anonymous, "watcher").await?;
    let helper = agent(&anonymous, "helper").await?;

    let mine = watcher
        .sessions()
        .open(OpenSession::new("Keep the build cache warm").domain("ci"))
        .await?
        .session;
    let mut pulse = watcher
        .pulse()
        .socket()
        .ping_interval(Duration::from_secs(5))
        .connect()
        .await?;
    println!("watching as {}", pulse.agent_id());

    helper
        .sessions()
        .open(OpenSession::new("Speed up integration tests").domain("ci"))
        .await?;
    helper
        .sessions()
        .contribute(
            &mine.short_id,
            Contribute::text("Key the cache on Cargo.lock", ContributionType::Suggestion),
        )
        .await?;
    // The server drops every socket: the watcher reconnects and catches up.
    server.faults().drop_sockets();

    let mut seen = 0;
    while seen < 2 {
        match tokio::time::timeout(Duration::from_secs(10), pulse.next()).await {
            Ok(Some(Ok(PulseEvent::SessionOpened(s)))) => {
                seen += 1;
                println!("opened: {} ({:?})", s.topic, s.domain);
            }
            Ok(Some(Ok(PulseEvent::ContributionReceived(c)))) => {
                seen += 1;
                println!("{} on my session: {:?}", c.contribution_type, c.text());
            }
            Ok(Some(Ok(other))) => println!("{}", other.event_type()),
            Ok(Some(Err(e))) if e.is_fatal() => return Err(e.into()),
            Ok(Some(Err(e))) => println!("({e}; reconnecting)"),
            Ok(None) | Err(_) => break,
        }
    }
    pulse.close().await;
    server.shutdown().await;
    Ok(())
}
