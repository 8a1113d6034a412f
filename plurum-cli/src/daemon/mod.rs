//! `plurum daemon`: the always-on companion. It holds the pulse socket,
//! runs the heartbeat on its interval, is the only consumer of the inbox
//! while it runs, builds up drive pressure from what happens, wakes the
//! agent (a command or a webhook) when the pressure crosses the threshold,
//! within hard rate limits that survive restarts, and serves seed 004's (docs/seeds.md)
//! local HTTP API.
//!
//! Files, in the profile's state directory: `daemon.lock` (one daemon per
//! profile), `daemon.addr` (where the API listens, while running),
//! `daemon.json` (drives, trigger history, runtime configuration),
//! `daemon-audit.jsonl` (hash-chained configuration changes) and, with
//! `api.auth`, `daemon.token` (0600).

pub(crate) mod api;
pub(crate) mod audit;
pub(crate) mod config;
pub(crate) mod core;
pub(crate) mod drives;
mod limits;
mod message;
mod metrics;
mod saved;
mod view;
pub(crate) mod wake;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use futures_util::StreamExt;
use plurum_sdk::Client;
use plurum_sdk::pulse::{ConnectionState, PulseError};
use plurum_sdk::types::InboxEvent;
use time::OffsetDateTime;
use tokio::sync::watch;
use view::PulseSensor;

use self::api::Shared;
use self::core::Core;
use crate::context::Ctx;
use crate::exit::{self, CliError};
use crate::heartbeat;
use crate::paths;

/// What kind of line a log line is: its text with every run of digits
/// made `#`, so lines that differ only by a counter, a port or a time are
/// one kind.
fn kind_of(message: &str) -> String {
    let mut kind = String::with_capacity(message.len());
    let mut in_number = false;
    for c in message.chars() {
        if c.is_ascii_digit() {
            if !in_number {
                kind.push('#');
            }
            in_number = true;
        } else {
            kind.push(c);
            in_number = false;
        }
    }
    kind
}

/// A timestamped line on stderr (keys scrubbed, control characters
/// removed). Lines of one kind (the same text but for its numbers) beyond
/// [`BURST`] within [`BURST_WINDOW`] are a flood: they are counted, not
/// printed, and the count is printed with the next line of another kind (or
/// the next window).
pub(crate) fn log(message: &str) {
    struct Last {
        text: String,
        window: std::time::Instant,
        shown: u32,
        suppressed: u64,
    }
    static LAST: std::sync::Mutex<Option<Last>> = std::sync::Mutex::new(None);
    let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
    let now = std::time::Instant::now();
    let kind = kind_of(message);
    if let Some(previous) = last.as_mut()
        && previous.text == kind
        && now.duration_since(previous.window) < BURST_WINDOW
    {
        if previous.shown >= BURST {
            previous.suppressed += 1;
            return;
        }
        previous.shown += 1;
        crate::output::eprint_clean(&format!(
            "[{}] {message}",
            crate::state::rfc3339_text(crate::state::now())
        ));
        return;
    }
    if let Some(previous) = last.as_ref()
        && previous.suppressed > 0
    {
        crate::output::eprint_clean(&format!(
            "[{}] (lines like the previous one repeated {} more time(s))",
            crate::state::rfc3339_text(crate::state::now()),
            previous.suppressed
        ));
    }
    crate::output::eprint_clean(&format!(
        "[{}] {message}",
        crate::state::rfc3339_text(crate::state::now())
    ));
    *last = Some(Last {
        text: kind,
        window: now,
        shown: 1,
        suppressed: 0,
    });
}

/// Identical log lines printed per window before the rest are only counted.
const BURST: u32 = 5;
/// The window of [`BURST`].
const BURST_WINDOW: Duration = Duration::from_secs(10);

/// An HTTP client for the daemon's own calls (its API, webhooks) with the
/// SDK's TLS configuration; redirects are never followed, and `loopback`
/// calls never go through a proxy from the environment.
pub(crate) fn http_client(timeout: Duration, loopback: bool) -> anyhow::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .tls_backend_preconfigured(plurum_sdk::tls::client_config()?);
    if loopback {
        builder = builder.no_proxy();
    }
    Ok(builder.build()?)
}

/// A daemon running for a profile: where its API is.
#[derive(Debug, Clone)]
pub(crate) struct Running {
    pub(crate) addr: String,
    pub(crate) token: Option<String>,
    client: reqwest::Client,
}

impl Running {
    /// An HTTP client request to the daemon's API.
    pub(crate) fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        // Loopback, with a token: never through a proxy from the environment.
        let mut request = self.client.request(method, format!("http://{}{path}", self.addr));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        request
    }

    /// `GET path`, as JSON.
    pub(crate) async fn get(&self, path: &str) -> anyhow::Result<serde_json::Value> {
        let response = self
            .request(reqwest::Method::GET, path)
            .timeout(Duration::from_secs(5))
            .send()
            .await?
            .error_for_status()?;
        Ok(response.json().await?)
    }
}

/// The daemon running for the profile whose state directory is `dir`, if any.
pub(crate) fn running(dir: &Path) -> anyhow::Result<Option<Running>> {
    let lock = dir.join("daemon.lock");
    if !lock.exists() {
        return Ok(None);
    }
    if paths::try_lock(&lock)?.is_some() {
        return Ok(None);
    }
    let Ok(addr) = crate::files::read_regular_string(&dir.join("daemon.addr"), crate::files::MAX_SECRET) else {
        return Ok(None);
    };
    let token = crate::files::read_regular_string(&dir.join("daemon.token"), crate::files::MAX_SECRET)
        .ok()
        .map(|t| t.trim().to_owned());
    Ok(Some(Running {
        addr: addr.trim().to_owned(),
        token,
        client: http_client(Duration::from_secs(10), true)?,
    }))
}

/// How `plurum daemon` was started.
#[derive(Debug, Default)]
pub(crate) struct Options {
    /// Listen here instead of `api.addr`.
    pub(crate) api_addr: Option<String>,
}

fn daemon_table(ctx: &Ctx) -> Option<toml::Value> {
    ctx.settings.other.get("daemon").cloned()
}

/// Where the daemon listens when `--api-addr` does not say: `daemon.api.addr`
/// when it is set (for the profile or every profile); otherwise seed 004's
/// `127.0.0.1:9720` for the default profile, and for another profile a free
/// port chosen now and saved as its `daemon.api.addr`, so it stays the same
/// across restarts (scrape configs and scripts keep working) and never
/// collides with the default profile's.
fn listen_addr(ctx: &Ctx, configured: &str) -> anyhow::Result<String> {
    let set = daemon_table(ctx)
        .as_ref()
        .and_then(|t| t.get("api"))
        .and_then(|api| api.get("addr"))
        .is_some();
    if set || ctx.profile == "default" {
        return Ok(configured.to_owned());
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|probe| probe.local_addr())
        .context("could not find a free port for the daemon's API")?
        .port();
    let addr = format!("127.0.0.1:{port}");
    crate::commands::config::save(&ctx.paths, &ctx.profile, "daemon.api.addr", serde_json::json!(addr))?;
    log(&format!(
        "profile '{}' listens on {addr} from now on (saved as daemon.api.addr in {})",
        ctx.profile,
        ctx.paths.config_file().display()
    ));
    Ok(addr)
}

fn token(dir: &Path) -> anyhow::Result<String> {
    let path = dir.join("daemon.token");
    if let Ok(existing) = crate::files::read_regular_string(&path, crate::files::MAX_SECRET)
        && existing.trim().len() >= 32
    {
        return Ok(existing.trim().to_owned());
    }
    let token = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    paths::write_atomic(&path, token.as_bytes())?;
    Ok(token)
}

/// Runs the daemon until SIGTERM or Ctrl-C.
pub(crate) async fn run(ctx: Ctx, options: Options) -> anyhow::Result<u8> {
    let ctx = Arc::new(ctx);
    let state_file = ctx.state();
    let dir = state_file.dir().to_owned();
    paths::create_private_dir(&dir)?;
    let Some(_lock) = paths::try_lock(&dir.join("daemon.lock"))? else {
        let addr =
            crate::files::read_regular_string(&dir.join("daemon.addr"), crate::files::MAX_SECRET).unwrap_or_default();
        return Err(CliError::new(
            exit::ERROR,
            format!("a daemon is already running for profile '{}'", ctx.profile),
        )
        .hint(if addr.trim().is_empty() {
            "see 'plurum daemon status'".to_owned()
        } else {
            format!("its API is on {}; see 'plurum daemon status'", addr.trim())
        })
        .into());
    };
    let mut core = Core::load(&dir, daemon_table(&ctx), crate::interest::Interest::of(&ctx.settings))?;
    let addr_text = match options.api_addr.clone() {
        Some(addr) => addr,
        None => listen_addr(&ctx, &core.config.api.addr)?,
    };
    let addr: SocketAddr = addr_text.parse().map_err(|e| {
        CliError::new(
            exit::USAGE,
            format!("the daemon API address {addr_text:?} is not HOST:PORT: {e}"),
        )
    })?;
    if !addr.ip().is_loopback() {
        return Err(CliError::new(
            exit::USAGE,
            format!("the daemon API listens on loopback only ({addr} is not)"),
        )
        .hint("use 127.0.0.1 or [::1]")
        .into());
    }
    let client = ctx.authed()?;
    match client.agents().me().await {
        Ok(me) => core.me = Some(me.id.to_string()),
        Err(e) if e.is_unauthorized() => {
            return Err(CliError::new(
                exit::NOT_AUTHENTICATED,
                format!("the daemon could not authenticate: {e}"),
            )
            .hint("run 'plurum auth login' with a valid key, or set PLURUM_API_KEY")
            .into());
        }
        Err(e) => log(&format!(
            "could not reach the server yet ({e}); the daemon starts anyway and keeps trying"
        )),
    }
    let token = if core.config.api.auth { Some(token(&dir)?) } else { None };
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            return Err(CliError::new(exit::ERROR, format!("could not listen on {addr}: the port is taken"))
                .code("port_taken")
                .hint(format!(
                    "another program (or another profile's daemon) listens there: set daemon.api.addr to another port, or to 127.0.0.1:0 to pick a free one ('plurum --profile {} config set daemon.api.addr 127.0.0.1:0'), or pass --api-addr",
                    ctx.profile
                ))
                .into());
        }
        Err(e) => return Err(e).with_context(|| format!("could not listen on {addr}")),
    };
    let bound = listener.local_addr()?;
    paths::write_atomic(&dir.join("daemon.addr"), bound.to_string().as_bytes())?;
    let tick = Duration::from_secs_f64(core.config.tick_seconds.clamp(0.05, 3600.0));
    let ping = Duration::from_secs_f64(core.config.pulse.ping_interval_seconds.clamp(0.05, 3600.0));
    let shared = Arc::new(Shared {
        core: Mutex::new(core),
        token,
        state_file: state_file.clone(),
        port: bound.port(),
    });
    let (stop_tx, stop_rx) = watch::channel(false);

    let api = {
        let mut stop = stop_rx.clone();
        let app = api::router(shared.clone());
        let limits = shared.core().config.api.connections();
        tokio::spawn(async move {
            plurum_sdk::server::listen::serve(listener, app, limits, async move { stopped(&mut stop).await }).await;
        })
    };
    let pulse = tokio::spawn(pulse_task(shared.clone(), client.clone(), ping, stop_rx.clone()));
    let beats = tokio::spawn(heartbeat_task(ctx.clone(), shared.clone(), stop_rx.clone()));
    let signals = crate::signals::Signals::install();
    log(&format!(
        "plurum daemon for profile '{}' running; API on http://{bound}{}",
        ctx.profile,
        if shared.token.is_some() {
            " (bearer token in daemon.token)"
        } else {
            ""
        }
    ));

    let code = supervise(&ctx, &shared, tick, signals).await;
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        let _ = pulse.await;
        let _ = beats.await;
        let _ = api.await;
    })
    .await;
    if let Err(e) = shared.core().persist() {
        log(&format!("could not save the daemon state: {e:#}"));
    }
    let _ = std::fs::remove_file(dir.join("daemon.addr"));
    log("stopped; state saved");
    Ok(code)
}

/// The tick loop and the signals: pressure, wake-ups, reload, stop.
async fn supervise(ctx: &Ctx, shared: &Arc<Shared>, tick: Duration, mut signals: crate::signals::Signals) -> u8 {
    use crate::signals::Signal;
    let mut ticker = tokio::time::interval(tick);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => on_tick(shared),
            signal = signals.next() => match signal {
                Signal::Hangup => reload(ctx, shared),
                Signal::Terminate => {
                    log("SIGTERM: stopping");
                    return exit::OK;
                }
                Signal::Interrupt => {
                    log("interrupted: stopping");
                    return exit::OK;
                }
            },
        }
    }
}

fn on_tick(shared: &Arc<Shared>) {
    let state = match shared.state_file.load() {
        Ok(state) => state,
        Err(e) => {
            log(&format!("could not read state.json: {e:#}"));
            return;
        }
    };
    let fire = {
        let mut core = shared.core();
        let now = OffsetDateTime::now_utc();
        core.tick(now, &state);
        if let Err(e) = core.persist() {
            log(&format!("could not save the daemon state: {e:#}"));
        }
        let total = core.total();
        let threshold = core.config.drives.trigger_threshold;
        (total >= threshold && !core.wake_in_progress && core.can_trigger(now).is_ok())
            .then(|| format!("pressure {total:.2} reached the threshold {threshold:.2}"))
    };
    if let Some(reason) = fire {
        let shared = shared.clone();
        tokio::spawn(async move {
            let _ = api::fire(&shared, &reason, &[]).await;
        });
    }
}

fn reload(ctx: &Ctx, shared: &Arc<Shared>) {
    let reloaded = crate::config::Config::load(&ctx.paths.config_file()).map(|c| c.profile(&ctx.profile));
    match reloaded {
        Ok(profile) => {
            let table = profile.other.get("daemon").cloned();
            match shared.core().reload(table, crate::interest::Interest::of(&profile)) {
                Ok(()) => log("SIGHUP: configuration reloaded"),
                Err(e) => log(&format!("SIGHUP: kept the old configuration: {e:#}")),
            }
        }
        Err(e) => log(&format!("SIGHUP: kept the old configuration: {e:#}")),
    }
}

/// Resolves once the daemon is told to stop (or the sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Holds the pulse socket (reconnecting by itself); keeps every event and
/// lets the inbox drive build up.
async fn pulse_task(shared: Arc<Shared>, client: Client, ping: Duration, mut stop: watch::Receiver<bool>) {
    // The SDK's one backoff function: 1 s doubling to 5 min, jittered.
    let pacing = plurum_sdk::RetryPolicy::default()
        .base_delay(Duration::from_secs(1))
        .max_delay(Duration::from_secs(300));
    let mut attempt: u32 = 0;
    loop {
        if *stop.borrow() {
            return;
        }
        shared.core().sensors.pulse_state = PulseSensor::Socket(ConnectionState::Connecting);
        let connect = client.pulse().socket().ping_interval(ping).connect();
        let socket = tokio::select! {
            socket = connect => socket,
            () = stopped(&mut stop) => return,
        };
        match socket {
            Ok(mut pulse) => {
                attempt = 0;
                {
                    let mut core = shared.core();
                    core.sensors.pulse_state = PulseSensor::Socket(ConnectionState::Connected);
                    core.sensors.pulse_connected_since = Some(crate::state::now());
                }
                log("pulse socket connected");
                let mut state = pulse.state();
                loop {
                    tokio::select! {
                        () = stopped(&mut stop) => {
                            pulse.close().await;
                            return;
                        }
                        changed = state.changed() => {
                            if changed.is_err() {
                                break;
                            }
                            let current = state.borrow_and_update().clone();
                            let mut core = shared.core();
                            if current == ConnectionState::Connected {
                                core.metrics.reconnects += 1;
                                core.sensors.pulse_connected_since = Some(crate::state::now());
                            }
                            core.sensors.pulse_state = PulseSensor::Socket(current);
                        }
                        item = pulse.next() => match item {
                            Some(Ok(event)) => {
                                let inbox_event = InboxEvent::from_pulse(event, OffsetDateTime::now_utc());
                                let interest = shared.core().interest().clone();
                                let kept = shared
                                    .state_file
                                    .update(|state| Ok(crate::kept::keep(state, &[inbox_event], "pulse", &interest)));
                                match kept {
                                    Ok(kept) => shared.core().on_events(&kept.added),
                                    Err(e) => log(&format!("could not keep a pulse event: {e:#}")),
                                }
                            }
                            Some(Err(error)) if error.is_fatal() => {
                                log(&format!("pulse socket: {error}"));
                                // A key refused on a reconnect waits as long
                                // as one refused at first.
                                if matches!(error, PulseError::AuthFailed { .. }) {
                                    shared.core().sensors.pulse_state = PulseSensor::AuthFailed;
                                }
                                break;
                            }
                            Some(Err(error)) => log(&format!("pulse socket: {error}; reconnecting")),
                            None => break,
                        },
                    }
                }
            }
            Err(error) => {
                shared.core().sensors.pulse_state = if matches!(error, PulseError::AuthFailed { .. }) {
                    PulseSensor::AuthFailed
                } else {
                    PulseSensor::Unreachable
                };
                log(&format!("pulse socket: {error}; retrying"));
            }
        }
        let backoff = if shared.core().sensors.pulse_state == PulseSensor::AuthFailed {
            pacing.max_delay
        } else {
            pacing.backoff(attempt, fastrand::f64())
        };
        attempt = attempt.saturating_add(1);
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = stopped(&mut stop) => return,
        }
    }
}

/// Runs the heartbeat on its interval (the first right away).
async fn heartbeat_task(ctx: Arc<Ctx>, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    loop {
        let interval = {
            let core = shared.core();
            Duration::from_secs_f64((core.config.heartbeat_interval_minutes * 60.0).clamp(1.0, 86_400.0))
        };
        let state_file = ctx.state();
        let lock = paths::try_lock(&state_file.dir().join("heartbeat.lock"));
        if let Ok(Some(_running)) = lock {
            let started = std::time::Instant::now();
            let result = heartbeat::execute(&ctx, &state_file, None, crate::state::now()).await;
            let mut core = shared.core();
            let took = result.as_ref().map_or_else(|_| started.elapsed(), |beat| beat.duration);
            core.sensors.last_heartbeat_run = Some(crate::state::now());
            core.sensors.last_heartbeat_duration_ms = Some(took.as_millis() as u64);
            core.metrics.heartbeat_duration_seconds = took.as_secs_f64();
            let status = match result {
                Ok(beat) => {
                    core.sensors.last_heartbeat_summary = Some(beat.line.clone());
                    core.on_events(&beat.new_events);
                    core.metrics.reports_flushed += beat.flushed as u64;
                    for item in &beat.needs_human {
                        log(&format!("heartbeat: for the human: {item}"));
                    }
                    match beat.code {
                        exit::OK => "ok",
                        exit::NEEDS_HUMAN => "needs_human",
                        _ => "incomplete",
                    }
                }
                Err(e) => {
                    log(&format!("heartbeat failed: {e:#}"));
                    "failed"
                }
            };
            core.sensors.last_heartbeat_status = Some(status.to_owned());
            *core.metrics.heartbeats.entry(status.to_owned()).or_default() += 1;
        }
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = stopped(&mut stop) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::kind_of;

    #[test]
    fn lines_that_differ_only_in_their_numbers_are_one_kind() {
        assert_eq!(
            kind_of("pulse socket: error 12 of 3400; retrying"),
            kind_of("pulse socket: error 13 of 9; retrying")
        );
        assert_ne!(kind_of("heartbeat failed: 5"), kind_of("pulse socket: 5"));
        assert_eq!(kind_of("a1b22c"), "a#b#c");
    }
}
