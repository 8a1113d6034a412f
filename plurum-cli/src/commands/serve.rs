//! `plurum serve`: the reference server as a process.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use plurum_sdk::server::{Compat, ConnectionLimits, ReferenceServer, ServerConfig};

/// `plurum serve` arguments.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  plurum serve                                # in memory, on 127.0.0.1:8787
  plurum serve --addr 127.0.0.1:0 --no-limits # free port, no limits (tests)
  plurum serve --data ./plurum.db             # keep data across restarts
  plurum serve --compat real                  # the real service's quirks
  plurum serve --allowed-origin http://localhost:5173
  plurum serve --max-connections 256 --header-timeout 5s
  PLURUM_API_URL=http://127.0.0.1:8787/api/v1 \\
      plurum search \"postgres replication\"

The first line on stdout is the API base URL. Stop with Ctrl-C or SIGTERM:
open requests finish, sockets are closed, the data file is left consistent.

Connections: a client has --header-timeout to send a request's headers
(from connecting, or from the first byte of a later request), a connection
where no byte moves for --idle-timeout is closed (a kept-alive one between
requests too), and beyond --max-connections a new connection gets a 503
with Retry-After: 1 and is closed, so clients that connect and never finish
their headers cannot exhaust the server's file descriptors.

--compat seed (the default) follows the seed documents; --compat real
behaves as the real service is measured to, where the two differ: 500 for
session ids that are no ids, outcome reports as upserts, private session
metadata readable by any agent, session events on the socket whatever the
visibility, inbox session events built at read time with id null, a
topic_embedding string, 60 registrations an hour and no Retry-After.")]
pub(crate) struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8787", value_name = "HOST:PORT")]
    addr: SocketAddr,
    /// SQLite file that keeps everything across restarts (default: in memory).
    #[arg(long, value_name = "PATH")]
    data: Option<PathBuf>,
    /// Turn off every rate limit and pulse guardrail (local work and tests).
    #[arg(long)]
    no_limits: bool,
    /// Serve POST /__admin/faults, to inject failures, latency and socket drops.
    #[arg(long)]
    enable_fault_admin: bool,
    /// Delay every HTTP answer by this many milliseconds (a slow network, for benchmarks).
    #[arg(long, value_name = "MS", default_value_t = 0)]
    latency_ms: u64,
    /// seed (the seed documents' behaviour) or real (the real service's quirks).
    #[arg(long, default_value = "seed", value_parser = ["seed", "real"])]
    compat: String,
    /// A browser origin allowed to open the pulse socket (repeatable; default http://localhost:3000).
    #[arg(long = "allowed-origin", value_name = "URL")]
    allowed_origins: Vec<String>,
    /// At most this many connections at once, pulse sockets included; the excess gets a 503 at once.
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: u32,
    /// A request's headers must arrive complete within this (a connection that sends nothing is closed then).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = positive_duration)]
    header_timeout: Duration,
    /// A connection without a byte moving for this long is closed (between requests or during one).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = positive_duration)]
    idle_timeout: Duration,
}

/// A duration above zero.
fn positive_duration(text: &str) -> Result<Duration, String> {
    match crate::heartbeat::cron::parse_duration(text)? {
        Duration::ZERO => Err("must be above zero (e.g. 10s)".to_owned()),
        duration => Ok(duration),
    }
}

/// Runs the server until Ctrl-C or SIGTERM.
pub(crate) async fn run(args: Args, options: &crate::context::Options) -> anyhow::Result<()> {
    let out = options.output();
    // Listen for the signals before saying where we listen: a supervisor
    // may stop us the moment it reads the URL.
    let mut signals = crate::signals::Signals::install();
    let mut config = ServerConfig::default()
        .addr(args.addr)
        .admin_routes(args.enable_fault_admin)
        .connections(
            ConnectionLimits::default()
                .max_connections(args.max_connections as usize)
                .header_timeout(args.header_timeout)
                .idle_timeout(args.idle_timeout),
        );
    if let Some(data) = &args.data {
        warn_if_shared(&out, data);
        config = config.data(data);
    }
    if args.no_limits {
        config = config.no_limits();
    }
    let compat: Compat = args.compat.parse().map_err(anyhow::Error::msg)?;
    config = config.compat(compat);
    if !args.allowed_origins.is_empty() {
        config = config.allowed_origins(args.allowed_origins.clone());
    }
    let server = ReferenceServer::start(config)
        .await
        .with_context(|| format!("could not start the reference server on {}", args.addr))?;
    if args.latency_ms > 0 {
        server.faults().set_latency(Duration::from_millis(args.latency_ms));
    }
    if out.json {
        out.json_line(&serde_json::json!({"base_url": server.base_url(), "ws_url": server.ws_url(), "addr": server.addr().to_string()}))?;
    } else {
        out.write(&server.base_url());
    }
    let storage = match &args.data {
        Some(path) => format!("data in {}", path.display()),
        None => "data in memory (lost on exit; use --data PATH to keep it)".to_owned(),
    };
    let limits = if args.no_limits {
        "no rate limits"
    } else {
        "real rate limits"
    };
    let mode = match compat {
        Compat::Real => "the real service's quirks",
        _ => "seed behaviour",
    };
    eprintln!(
        "plurum reference server listening on {} ({storage}; {limits}; {mode}). Ctrl-C to stop.",
        server.base_url()
    );
    let signal = signals.stop().await;
    eprintln!("received {}; stopping", signal.name());
    server.shutdown().await;
    eprintln!("stopped");
    Ok(())
}

/// An existing data file others can read holds every agent's key hash and
/// every private session: say so, and how to fix it (it is not changed
/// behind the user's back).
fn warn_if_shared(out: &crate::output::Output, data: &std::path::Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(metadata) = std::fs::metadata(data)
            && metadata.is_file()
            && metadata.permissions().mode() & 0o077 != 0
        {
            out.warn(&format!(
                "{} is readable by others (mode {:o}): it holds key hashes and private sessions; run: chmod 600 {}",
                data.display(),
                metadata.permissions().mode() & 0o777,
                data.display()
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = (out, data);
}
