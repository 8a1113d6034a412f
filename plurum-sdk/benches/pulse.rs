//! Pulse delivery: latency from a REST open-session to every connected
//! watcher receiving `session_opened` (p50/p99), with 100 and then 1,000
//! watchers, and events per second through one socket.
//!
//! ```text
//! cargo bench -p plurum-sdk --features server --bench pulse
//! PLURUM_BENCH_WATCHERS=20,200 PLURUM_BENCH_ROUNDS=20 cargo bench -p plurum-sdk --features server --bench pulse
//! ```
//!
//! The watchers are SDK pulse connections in this process, on the same
//! 2-core machine as the server: the figures include their side (TLS-free
//! loopback WebSocket reads, JSON decoding, the channel to the measuring
//! task).

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use plurum_sdk::server::{ReferenceServer, ServerConfig};
use plurum_sdk::types::*;
use plurum_sdk::{Client, RetryPolicy};
use tokio::sync::mpsc;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[(((sorted.len() as f64) - 1.0) * p).round() as usize]
}

async fn agent(anonymous: &Client, name: &str) -> Client {
    let registration = anonymous
        .agents()
        .register(Register::new(name, name))
        .await
        .expect("register");
    anonymous.with_api_key(registration.api_key).expect("key")
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let sizes: Vec<usize> = std::env::var("PLURUM_BENCH_WATCHERS")
            .unwrap_or_else(|_| "100,1000".to_owned())
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect();
        let rounds = env("PLURUM_BENCH_ROUNDS", 50);
        let burst = env("PLURUM_BENCH_EVENTS", 2_000);
        let server = ReferenceServer::start(ServerConfig::default().no_limits()).await.expect("server");
        let anonymous = Client::builder()
            .base_url(server.base_url())
            .retry(RetryPolicy::none())
            .build()
            .expect("client");
        let opener = agent(&anonymous, "opener").await;

        // Fan-out latency to many watchers: each reports when it saw which session.
        let (seen_tx, mut seen_rx) = mpsc::unbounded_channel::<(String, Instant)>();
        let mut sockets = Vec::new();
        for watchers in sizes {
            while sockets.len() < watchers {
                let client = agent(&anonymous, &format!("watcher-{}", sockets.len())).await;
                let mut pulse = client.pulse().connect().await.expect("connect");
                let seen_tx = seen_tx.clone();
                sockets.push(tokio::spawn(async move {
                    while let Some(item) = pulse.next().await {
                        if let Ok(PulseEvent::SessionOpened(opened)) = item {
                            let _ = seen_tx.send((opened.session_id.into_string(), Instant::now()));
                        }
                    }
                }));
            }
            let mut latencies = Vec::with_capacity(watchers * rounds);
            // Round 0 warms up (the new sockets' first pushes) and is not counted.
            for round in 0..=rounds {
                let started = Instant::now();
                let opened = opener
                    .sessions()
                    .open(OpenSession::new(format!("Fan-out round {round} to {watchers}")))
                    .await
                    .expect("open");
                let mut arrived = 0;
                while arrived < watchers {
                    let (session_id, at) = seen_rx.recv().await.expect("an event");
                    if session_id == opened.session.id.as_str() {
                        if round > 0 {
                            latencies.push(at.duration_since(started));
                        }
                        arrived += 1;
                    }
                }
            }
            latencies.sort();
            println!(
                "fan-out  {watchers:>5} watchers x {rounds} sessions: REST open -> session_opened  p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
                percentile(&latencies, 0.5).as_secs_f64() * 1e3,
                percentile(&latencies, 0.99).as_secs_f64() * 1e3,
                latencies[latencies.len() - 1].as_secs_f64() * 1e3,
            );
        }
        for socket in sockets {
            socket.abort();
        }

        // Throughput through one socket: contributions to one session from
        // eight agents, each arriving as contribution_received.
        let owner = agent(&anonymous, "busy-owner").await;
        let session = owner.sessions().open(OpenSession::new("A session everyone helps with")).await.expect("open").session;
        let mut pulse = owner.pulse().connect().await.expect("connect");
        let mut helpers = Vec::new();
        for i in 0..8 {
            helpers.push(agent(&anonymous, &format!("helper-{i}")).await);
        }
        let started = Instant::now();
        let senders: Vec<_> = helpers
            .into_iter()
            .enumerate()
            .map(|(h, helper)| {
                let id = session.id.clone();
                tokio::spawn(async move {
                    for n in (h..burst).step_by(8) {
                        helper
                            .sessions()
                            .contribute(id.as_str(), Contribute::text(format!("tip {n}"), ContributionType::Suggestion))
                            .await
                            .expect("contribute");
                    }
                })
            })
            .collect();
        let mut received = 0;
        while received < burst {
            if let Some(Ok(PulseEvent::ContributionReceived(_))) = pulse.next().await {
                received += 1;
            }
        }
        let elapsed = started.elapsed();
        for sender in senders {
            let _ = sender.await;
        }
        println!(
            "one socket  {burst} contribution_received events in {:.2} s: {:.0} events/s (end to end, 8 REST writers)",
            elapsed.as_secs_f64(),
            burst as f64 / elapsed.as_secs_f64()
        );
        pulse.close().await;
        server.shutdown().await;
    });
}
