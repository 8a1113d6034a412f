//! The daemon's local HTTP API (seed 004's, docs/seeds.md): `/health`, `/state`,
//! `/feedback`, `/trigger`, `/config`, `/metrics`, and `/inbox` for
//! `plurum inbox`. Errors are `{"error", "code", "message", "hint"}`.

use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::core::Core;
use super::wake::{self, WakeError};
use crate::kept::KeptEvent;
use crate::state::StateFile;

/// What the handlers share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) core: Mutex<Core>,
    pub(crate) token: Option<String>,
    pub(crate) state_file: StateFile,
    /// The port the API listens on (the only one a `Host` header may name).
    pub(crate) port: u16,
}

impl Shared {
    pub(crate) fn core(&self) -> MutexGuard<'_, Core> {
        self.core.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// An error answer: `{"error", "code", "message", "hint"}` (and
/// `Retry-After` for 429). `error` (the message) and `code` are what seed
/// 004's scripts read; `message` and `hint` match the CLI's error object.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after: Option<u64>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            axum::Json(json!({
                "error": self.message,
                "code": self.code,
                "message": self.message,
                "hint": hint(self.code),
            })),
        )
            .into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
        }
        response
    }
}

/// What to do about an error, by its code (`null` when the message says it all).
fn hint(code: &str) -> Option<&'static str> {
    Some(match code {
        "NOT_FOUND" => "the endpoints are /health, /state, /feedback, /trigger, /config, /metrics and /inbox",
        "FORBIDDEN_HOST" => "address the daemon as 127.0.0.1:PORT or localhost:PORT (the port in daemon.addr)",
        "ORIGIN_REFUSED" => "the local API does not answer web pages; call it from a program (curl, an agent)",
        "UNSUPPORTED_MEDIA_TYPE" => "send the body with Content-Type: application/json",
        "UNAUTHORIZED" => {
            "send Authorization: Bearer with the token in daemon.token (plurum daemon status shows where)"
        }
        "RATE_LIMITED" => {
            "wait for Retry-After seconds; the limits are daemon.wake.min_trigger_interval and max_turns_per_hour"
        }
        "NO_WAKE_TARGET" => "set daemon.wake.command or daemon.wake.webhook (plurum config set)",
        "MUTATION_DISABLED" => "daemon.mutator.enabled is false in config.toml",
        "FIELD_NOT_ALLOWED" => "GET /config lists the settings; daemon.mutator.allowed_fields says which may change",
        _ => return None,
    })
}

fn fail(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError {
        status,
        code,
        message: message.into(),
        retry_after: None,
    }
}

fn error(status: StatusCode, code: &'static str, message: impl Into<String>) -> Response {
    fail(status, code, message).into_response()
}

fn ok(value: Value) -> Response {
    (StatusCode::OK, axum::Json(value)).into_response()
}

fn body(bytes: &Bytes) -> Result<serde_json::Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(fail(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "the body must be a JSON object",
        )),
        Err(e) => Err(fail(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            format!("the body is not valid JSON: {e}"),
        )),
    }
}

/// The router.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/state", get(state))
        .route("/feedback", post(feedback))
        .route("/trigger", post(trigger))
        .route("/config", get(get_config).post(post_config))
        .route("/config/reset", post(reset_config))
        .route("/config/overrides", get(get_overrides))
        .route("/metrics", get(metrics))
        .route("/inbox", get(inbox))
        .route("/inbox/mark-read", post(mark_read))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "NOT_FOUND", "no such endpoint") })
        .method_not_allowed_fallback(|| async {
            error(
                StatusCode::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
                "this endpoint does not take that method",
            )
        })
        .layer(axum::middleware::from_fn_with_state(shared.clone(), guard))
        .with_state(shared)
}

/// Whether a `Host` header names this daemon by a loopback name or address
/// (a DNS-rebinding page names its own domain).
fn loopback_host(host: &str, port: u16) -> bool {
    let (name, given_port) = match host.rsplit_once(':') {
        Some((name, given)) if !given.ends_with(']') => (name, given.parse::<u16>().ok()),
        _ => (host, Some(80)),
    };
    given_port == Some(port) && (name.eq_ignore_ascii_case("localhost") || name == "127.0.0.1" || name == "[::1]")
}

/// What every request passes before a handler sees it: a loopback `Host`,
/// no `Origin` (browsers send one; local clients do not), a JSON body on
/// POST (a web page's "simple" cross-origin POST is text/plain or a form),
/// and the bearer token, when `api.auth` is on (everything but `/health`).
async fn guard(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !loopback_host(host, shared.port) {
        return error(
            StatusCode::FORBIDDEN,
            "FORBIDDEN_HOST",
            format!(
                "requests must name the daemon by a loopback address (Host: 127.0.0.1:{})",
                shared.port
            ),
        );
    }
    if headers.contains_key(header::ORIGIN) {
        return error(
            StatusCode::FORBIDDEN,
            "ORIGIN_REFUSED",
            "requests from web pages (with an Origin header) are refused",
        );
    }
    if request.method() == axum::http::Method::POST {
        let json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                "POST bodies must be sent as Content-Type: application/json",
            );
        }
    }
    if let Some(token) = &shared.token
        && request.uri().path() != "/health"
    {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if given != Some(token.as_str()) {
            return error(
                StatusCode::UNAUTHORIZED,
                "UNAUTHORIZED",
                "missing or wrong bearer token",
            );
        }
    }
    next.run(request).await
}

async fn health(State(shared): State<Arc<Shared>>) -> Response {
    let core = shared.core();
    ok(json!({"status": "healthy", "uptime": core.uptime_seconds(), "version": env!("CARGO_PKG_VERSION")}))
}

async fn state(State(shared): State<Arc<Shared>>) -> Response {
    ok(shared.core().state_json())
}

async fn feedback(State(shared): State<Arc<Shared>>, bytes: Bytes) -> Response {
    let map = match body(&bytes) {
        Ok(map) => map,
        Err(e) => return e.into_response(),
    };
    let drives: Option<Vec<String>> = map
        .get("drives_addressed")
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect());
    let (Some(drives), Some(outcome)) = (drives, map.get("outcome").and_then(Value::as_str)) else {
        return error(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "drives_addressed (a list of drives) and outcome (success, partial or failure) are required",
        );
    };
    if drives.is_empty() {
        return error(StatusCode::BAD_REQUEST, "BAD_REQUEST", "drives_addressed is empty");
    }
    let mut core = shared.core();
    match core.feedback(&drives, outcome) {
        Ok(answer) => {
            if let Err(e) = core.persist() {
                eprintln!("warning: could not save the daemon state: {e:#}");
            }
            if let Some(summary) = map.get("summary").and_then(Value::as_str) {
                super::log(&format!("feedback {outcome} on {}: {summary}", drives.join(", ")));
            }
            ok(answer)
        }
        Err((message, code)) => error(StatusCode::BAD_REQUEST, code, message),
    }
}

/// Runs a wake-up if the limits allow; shared by `/trigger` and the automatic loop.
pub(crate) async fn fire(shared: &Shared, reason: &str, emphasis: &[String]) -> Result<Value, ApiError> {
    let state = shared.state_file.load().unwrap_or_default();
    let (call, wake_config) = {
        let mut core = shared.core();
        let now = OffsetDateTime::now_utc();
        if let Err(limited) = core.can_trigger(now) {
            *core.metrics.triggers.entry("refused").or_default() += 1;
            return Err(ApiError {
                retry_after: Some(limited.retry_after),
                ..fail(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED", limited.reason)
            });
        }
        if core.config.wake.command.is_empty() && core.config.wake.webhook.is_none() {
            return Err(fail(
                StatusCode::SERVICE_UNAVAILABLE,
                "NO_WAKE_TARGET",
                WakeError::NoTarget.to_string(),
            ));
        }
        core.record_trigger(now);
        core.wake_in_progress = true;
        if let Err(e) = core.persist() {
            eprintln!("warning: could not save the daemon state: {e:#}");
        }
        (core.wake_call(reason, emphasis, &state), core.config.wake.clone())
    };
    super::log(&format!("waking the agent: {reason}"));
    let result = wake::wake(&wake_config, &call).await;
    let mut core = shared.core();
    core.wake_in_progress = false;
    match result {
        Ok(answer) => {
            *core.metrics.triggers.entry("woke").or_default() += 1;
            core.sensors.last_wake =
                Some(json!({"at": crate::state::rfc3339_text(crate::state::now()), "ok": true, "reason": reason}));
            Ok(answer)
        }
        Err(e) => {
            *core.metrics.triggers.entry("failed").or_default() += 1;
            core.sensors.last_wake = Some(
                json!({"at": crate::state::rfc3339_text(crate::state::now()), "ok": false, "error": e.to_string()}),
            );
            super::log(&format!("the wake-up failed: {e}"));
            let code = match e {
                WakeError::NoTarget => "NO_WAKE_TARGET",
                WakeError::Unreachable(_) => "WAKE_UNREACHABLE",
                WakeError::Failed(_) => "WAKE_FAILED",
            };
            Err(fail(StatusCode::SERVICE_UNAVAILABLE, code, e.to_string()))
        }
    }
}

async fn trigger(State(shared): State<Arc<Shared>>, bytes: Bytes) -> Response {
    let map = match body(&bytes) {
        Ok(map) => map,
        Err(e) => return e.into_response(),
    };
    let Some(reason) = map
        .get("reason")
        .and_then(Value::as_str)
        .filter(|r| !r.trim().is_empty())
    else {
        return error(StatusCode::BAD_REQUEST, "BAD_REQUEST", "reason is required");
    };
    let emphasis: Vec<String> = map
        .get("drives")
        .and_then(Value::as_array)
        .map(|d| d.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    match fire(&shared, &format!("manual trigger: {reason}"), &emphasis).await {
        Ok(answer) => {
            let target = if answer.get("command").is_some() {
                "command_result"
            } else {
                "webhook_response"
            };
            ok(json!({"triggered": true, target: answer}))
        }
        Err(e) => e.into_response(),
    }
}

async fn get_config(State(shared): State<Arc<Shared>>) -> Response {
    ok(serde_json::to_value(&shared.core().config).unwrap_or(Value::Null))
}

async fn post_config(State(shared): State<Arc<Shared>>, bytes: Bytes) -> Response {
    let map = match body(&bytes) {
        Ok(map) => map,
        Err(e) => return e.into_response(),
    };
    let mut core = shared.core();
    if !core.config.mutator.enabled {
        return error(
            StatusCode::FORBIDDEN,
            "MUTATION_DISABLED",
            "runtime changes are disabled (mutator.enabled = false)",
        );
    }
    if map.is_empty() {
        return error(StatusCode::BAD_REQUEST, "BAD_REQUEST", "no changes given");
    }
    match core.change_config(&map) {
        Ok(answer) => {
            if let Err(e) = core.persist() {
                eprintln!("warning: could not save the daemon state: {e:#}");
            }
            ok(answer)
        }
        Err(refusal) => {
            let code = match refusal {
                super::config::Refusal::NotAllowed(_) => "FIELD_NOT_ALLOWED",
                super::config::Refusal::Invalid(_) => "INVALID_VALUE",
                super::config::Refusal::OutsideGuardrails { .. } => "OUTSIDE_GUARDRAILS",
            };
            error(StatusCode::BAD_REQUEST, code, refusal.to_string())
        }
    }
}

/// The runtime changes in effect (made through `POST /config`).
async fn get_overrides(State(shared): State<Arc<Shared>>) -> Response {
    ok(json!({"overrides": shared.core().overrides()}))
}

/// Drops every runtime change: the file's configuration applies again.
async fn reset_config(State(shared): State<Arc<Shared>>) -> Response {
    let mut core = shared.core();
    match core.reset_overrides("api") {
        Ok(cleared) => {
            if let Err(e) = core.persist() {
                eprintln!("warning: could not save the daemon state: {e:#}");
            }
            ok(json!({"cleared": cleared, "config": core.config}))
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "INVALID_CONFIG", format!("{e:#}")),
    }
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    let text = shared.core().metrics_text();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        text,
    )
        .into_response()
}

/// The events kept for the agent, newest first: those waiting (or every
/// kept one with `?all=true`), optionally of one `type`.
async fn inbox(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let limit: usize = query
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(20)
        .clamp(1, 500);
    let kind = query.get("type").cloned();
    let all = query.get("all").is_some_and(|v| v == "true" || v == "1");
    let state = match shared.state_file.load() {
        Ok(state) => state,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, "STATE_UNREADABLE", format!("{e:#}")),
    };
    let listed: Vec<&KeptEvent> = crate::kept::newest_first(&state.inbox_events)
        .into_iter()
        .filter(|e| all || e.is_waiting())
        .filter(|e| kind.as_deref().is_none_or(|k| e.event_type == k))
        .collect();
    let names = crate::render::SessionNames::from_state(&state);
    let interest = shared.core().interest().clone();
    let events: Vec<Value> = listed
        .iter()
        .take(limit)
        .map(|e| crate::render::kept_event_json(e, &names, &interest))
        .collect();
    ok(json!({
        "events": events,
        "listed": listed.len(),
        "waiting": crate::kept::waiting(&state),
        "source": "daemon",
    }))
}

/// Acknowledges kept events (`{"ids": [...]}` or `{"all": true}`).
async fn mark_read(State(shared): State<Arc<Shared>>, bytes: Bytes) -> Response {
    let map = match body(&bytes) {
        Ok(map) => map,
        Err(e) => return e.into_response(),
    };
    let all = map.get("all").and_then(Value::as_bool).unwrap_or(false);
    let ids: Vec<String> = map
        .get("ids")
        .and_then(Value::as_array)
        .map(|k| k.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    if !all && ids.is_empty() {
        return error(StatusCode::BAD_REQUEST, "BAD_REQUEST", "give ids (a list) or all: true");
    }
    let acknowledged = shared
        .state_file
        .update(|state| Ok(crate::kept::acknowledge(state, &ids, all)));
    match acknowledged {
        Ok((count, unknown)) => ok(json!({"acknowledged": count, "unknown": unknown})),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "STATE_UNWRITABLE", format!("{e:#}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_names_with_our_port_pass() {
        for good in ["127.0.0.1:9720", "localhost:9720", "LOCALHOST:9720", "[::1]:9720"] {
            assert!(loopback_host(good, 9720), "{good}");
        }
        for bad in [
            "evil.example:9720",
            "127.0.0.1:80",
            "127.0.0.1",
            "localhost.evil.example:9720",
            "127.0.0.2:9720",
            "",
            "[::1]",
        ] {
            assert!(!loopback_host(bad, 9720), "{bad}");
        }
        assert!(loopback_host("localhost", 80));
    }
}
