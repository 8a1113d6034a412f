//! Reference-server throughput: requests per second and p50/p99 latency of
//! search and get with 10,000 experiences loaded.
//!
//! ```text
//! cargo bench -p plurum-sdk --features server --bench server
//! PLURUM_BENCH_EXPERIENCES=2000 PLURUM_BENCH_REQUESTS=500 cargo bench -p plurum-sdk --features server --bench server
//! ```
//!
//! Server and client share the machine (and its cores), over loopback HTTP.
//! Each operation runs once one request at a time (latency without
//! queueing) and once with `PLURUM_BENCH_CONCURRENCY` (default 8) in flight.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use plurum_sdk::server::{ReferenceServer, ServerConfig};
use plurum_sdk::types::*;
use plurum_sdk::{Client, RetryPolicy};

const TOPICS: &[&str] = &[
    "PostgreSQL streaming replication",
    "Redis cluster failover",
    "Kubernetes ingress TLS",
    "Docker multi-stage builds",
    "Terraform state locking",
    "Kafka consumer lag",
    "Nginx rate limiting",
    "Rust async cancellation",
    "Python packaging wheels",
    "GitHub Actions caching",
    "S3 lifecycle rules",
    "gRPC deadline propagation",
    "Prometheus alert routing",
    "SQLite WAL checkpoints",
    "OAuth token refresh",
    "WebSocket reconnect backoff",
];
const DETAILS: &[&str] = &[
    "under heavy write load",
    "across two regions",
    "with zero downtime",
    "on a tight memory budget",
    "behind a corporate proxy",
    "for a multi-tenant setup",
    "with strict latency goals",
    "in CI only",
];

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

async fn measure<F, Fut>(name: &str, requests: usize, concurrency: usize, call: F)
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let started = Instant::now();
    let mut latencies: Vec<Duration> = futures_util::stream::iter(0..requests)
        .map(|i| {
            let call = &call;
            async move {
                let t = Instant::now();
                call(i).await;
                t.elapsed()
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let elapsed = started.elapsed();
    latencies.sort();
    println!(
        "{name:<8} {requests:>6} requests  {:>8.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  (concurrency {concurrency})",
        requests as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let experiences = env("PLURUM_BENCH_EXPERIENCES", 10_000);
        let requests = env("PLURUM_BENCH_REQUESTS", 2_000);
        let concurrency = env("PLURUM_BENCH_CONCURRENCY", 8);
        let server = ReferenceServer::start(ServerConfig::default().no_limits())
            .await
            .expect("server");
        let anonymous = Client::builder()
            .base_url(server.base_url())
            .retry(RetryPolicy::none())
            .build()
            .expect("client");
        let registration = anonymous
            .agents()
            .register(Register::new("Bench", "bench"))
            .await
            .expect("register");
        let client = anonymous.with_api_key(registration.api_key).expect("key");

        let started = Instant::now();
        let short_ids: Vec<String> = futures_util::stream::iter(0..experiences)
            .map(|i| {
                let client = client.clone();
                async move {
                    let topic = TOPICS[i % TOPICS.len()];
                    let detail = DETAILS[(i / TOPICS.len()) % DETAILS.len()];
                    let body = CreateExperience::new(format!("{topic} {detail} (case {i})"))
                        .domain(if i % 2 == 0 { "infrastructure" } else { "development" })
                        .dead_end(
                            format!("Tried the default settings for {topic}"),
                            "It fell over at peak load",
                        )
                        .breakthrough(Breakthrough::new(
                            format!("Tune {topic} explicitly"),
                            format!("Measured {detail}"),
                            Importance::Medium,
                        ))
                        .tags([topic.split_whitespace().next().unwrap_or("misc").to_lowercase()]);
                    let created = client.experiences().create(body).await.expect("create");
                    client.experiences().publish(&created.short_id).await.expect("publish");
                    created.short_id
                }
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        println!(
            "loaded {} experiences in {:.1} s ({:.0} create+publish per second)",
            short_ids.len(),
            started.elapsed().as_secs_f64(),
            short_ids.len() as f64 / started.elapsed().as_secs_f64()
        );

        for c in [1, concurrency] {
            measure("search", requests, c, |i| {
                let client = client.clone();
                async move {
                    let query = format!("{} {}", TOPICS[i % TOPICS.len()], DETAILS[i % DETAILS.len()]);
                    let found = client
                        .experiences()
                        .search(SearchExperiences::new(query).limit(10))
                        .await
                        .expect("search");
                    assert!(!found.results.is_empty());
                }
            })
            .await;
            measure("get", requests, c, |i| {
                let client = client.clone();
                let id = short_ids[(i * 7919) % short_ids.len()].clone();
                async move {
                    client.experiences().get(&id).await.expect("get");
                }
            })
            .await;
        }
        server.shutdown().await;
    });
}
