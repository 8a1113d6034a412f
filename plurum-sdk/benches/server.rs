//! Reference-server throughput: requests per second and p50/p99 latency of
//! search and get with 10,000 and then 100,000 experiences loaded, with one
//! client and with eight in flight.
//!
//! ```text
//! cargo bench -p plurum-sdk --features server --bench server
//! PLURUM_BENCH_SIZES=2000 PLURUM_BENCH_REQUESTS=500 cargo bench -p plurum-sdk --features server --bench server
//! PLURUM_BENCH_SIZES=100000 PLURUM_BENCH_DATA=/tmp/bench.sqlite cargo bench -p plurum-sdk --features server --bench server
//! ```
//!
//! Server and client share the machine (and its cores), over loopback HTTP.
//! The experiences are loaded through the API (create and publish); each
//! size in `PLURUM_BENCH_SIZES` (default `10000,100000`) is measured once
//! the server holds that many, one request at a time (latency without
//! queueing) and with `PLURUM_BENCH_CONCURRENCY` (default 8) in flight. The
//! last line compares the two: how much more the server does with 8
//! clients than with one.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use plurum_sdk::server::{ReferenceServer, ServerConfig};
use plurum_sdk::types::*;
use plurum_sdk::{Client, RetryPolicy};

include!("common/corpus.rs");

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// Runs `requests` calls, `concurrency` at a time; prints and returns the
/// throughput.
async fn measure<F, Fut>(name: &str, requests: usize, concurrency: usize, call: F) -> f64
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
    let rate = requests as f64 / elapsed.as_secs_f64();
    println!(
        "{name:<8} {requests:>6} requests  {rate:>8.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  (concurrency {concurrency})",
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
    );
    rate
}

/// Creates and publishes experiences `from..to` (16 topics × 8 details, so
/// a search matches hundreds of them at 100k), `concurrency` at a time.
async fn load(client: &Client, from: usize, to: usize, concurrency: usize) -> Vec<String> {
    futures_util::stream::iter(from..to)
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
        .await
}

/// The process's peak resident memory (Linux), in MB.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let sizes: Vec<usize> = std::env::var("PLURUM_BENCH_SIZES")
            .unwrap_or_else(|_| "10000,100000".to_owned())
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect();
        let requests = env("PLURUM_BENCH_REQUESTS", 2_000);
        let concurrency = env("PLURUM_BENCH_CONCURRENCY", 8);
        // PLURUM_BENCH_DATA=FILE: keep the data in FILE (a new one) instead of
        // the default temporary database, and at the end time a restart that
        // reads it all back (the search indexes are rebuilt from the rows).
        let data = std::env::var_os("PLURUM_BENCH_DATA").map(std::path::PathBuf::from);
        let config = match &data {
            Some(path) => ServerConfig::default().no_limits().data(path),
            None => ServerConfig::default().no_limits(),
        };
        let server = ReferenceServer::start(config.clone()).await.expect("server");
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

        let mut short_ids: Vec<String> = Vec::new();
        for size in sizes {
            let started = Instant::now();
            let loaded = short_ids.len();
            short_ids.extend(load(&client, loaded, size.max(loaded), concurrency).await);
            println!(
                "\n{} experiences (loaded {} in {:.1} s, {:.0} create+publish per second)",
                short_ids.len(),
                short_ids.len() - loaded,
                started.elapsed().as_secs_f64(),
                (short_ids.len() - loaded) as f64 / started.elapsed().as_secs_f64()
            );
            if let Some(peak) = peak_rss_mb() {
                println!("peak RSS of this process (server and clients): {peak:.0} MB");
            }
            let mut search_rates = Vec::new();
            for c in [1, concurrency] {
                let rate = measure("search", requests, c, |i| {
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
                search_rates.push(rate);
                let ids = &short_ids;
                measure("get", requests, c, |i| {
                    let client = client.clone();
                    let id = ids[(i * 7919) % ids.len()].clone();
                    async move {
                        client.experiences().get(&id).await.expect("get");
                    }
                })
                .await;
            }
            println!(
                "search with {concurrency} clients: {:.2}x the throughput of one",
                search_rates[1] / search_rates[0]
            );
        }
        server.shutdown().await;
        if data.is_some() {
            let started = Instant::now();
            let server = ReferenceServer::start(config).await.expect("restart");
            println!(
                "\nrestart with {} experiences in the data file: {:.2} s to serve again",
                short_ids.len(),
                started.elapsed().as_secs_f64()
            );
            server.shutdown().await;
        }
    });
}
