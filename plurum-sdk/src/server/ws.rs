//! `/api/v1/pulse/ws`: the pulse WebSocket (docs/api-contract.md §8).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::ServerState;
use super::clock;
use super::error::Failure;
use super::hub::Inbox;
use super::routes::sessions::contribute_to;
use super::store::Agent;

const CONTRIBUTION_TYPES: &[&str] = &["suggestion", "warning", "reference"];

/// Upgrades to the pulse socket; `?token=` authenticates at once, otherwise
/// the first message must be `{"type": "auth", "api_key": …}`.
pub(crate) async fn upgrade(
    State(state): State<Arc<ServerState>>,
    RawQuery(query): RawQuery,
    headers: axum::http::HeaderMap,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    // A browser page may only connect from an allowed origin (docs/api-contract.md
    // §8.1); native clients send no Origin and are always let in. The real
    // server closes before accepting, which uvicorn turns into a 403.
    if let Some(origin) = headers.get(axum::http::header::ORIGIN) {
        let allowed = origin.to_str().is_ok_and(|origin| {
            state.allowed_origins.iter().any(|a| {
                a.trim_end_matches('/')
                    .eq_ignore_ascii_case(origin.trim_end_matches('/'))
            })
        });
        if !allowed {
            return Failure::Framework {
                status: StatusCode::FORBIDDEN,
                message: "Forbidden",
            }
            .into_response();
        }
    }
    let Ok(upgrade) = upgrade else {
        return Failure::Framework {
            status: StatusCode::UPGRADE_REQUIRED,
            message: "Upgrade Required",
        }
        .into_response();
    };
    let token = query.as_deref().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v.into_owned())
    });
    upgrade
        .max_message_size(state.limits.ws_max_message_bytes.saturating_mul(4).max(1 << 20))
        .on_upgrade(move |socket| run(state, socket, token))
}

async fn send_json(socket: &mut WebSocket, value: Value) -> bool {
    socket.send(Message::Text(value.to_string().into())).await.is_ok()
}

async fn close(socket: &mut WebSocket, code: u16, reason: &str) {
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: reason.to_owned().into(),
        })))
        .await;
}

async fn fail(socket: &mut WebSocket, message: &str, code: u16) {
    send_json(socket, json!({"type": "error", "message": message})).await;
    close(socket, code, message).await;
}

/// A frame as a JSON object, or the close it earns.
enum Inbound {
    Object(Map<String, Value>),
    TooLarge,
    Invalid,
    Closed,
    Ignore,
}

fn classify(message: Option<Result<Message, axum::Error>>, max: usize) -> Inbound {
    match message {
        None | Some(Err(_)) | Some(Ok(Message::Close(_))) => Inbound::Closed,
        Some(Ok(Message::Ping(_) | Message::Pong(_))) => Inbound::Ignore,
        Some(Ok(Message::Binary(_))) => Inbound::Invalid,
        Some(Ok(Message::Text(text))) => {
            if text.len() > max {
                return Inbound::TooLarge;
            }
            match serde_json::from_str::<Value>(text.as_str()) {
                Ok(Value::Object(map)) => Inbound::Object(map),
                _ => Inbound::Invalid,
            }
        }
    }
}

fn ws_agent(state: &ServerState, key: &str) -> Option<Agent> {
    if !key.starts_with(crate::auth::KEY_PREFIX) {
        return None;
    }
    state
        .store
        .peek_agent_by_key(&clock::hash_key(key))
        .ok()
        .flatten()
        .filter(|a| a.is_active)
}

async fn authenticate(state: &ServerState, socket: &mut WebSocket) -> Option<Agent> {
    let max = state.limits.ws_max_message_bytes;
    let first = match tokio::time::timeout(state.limits.ws_auth_timeout, socket.recv()).await {
        Err(_) => {
            fail(socket, "Authentication timed out", 4001).await;
            return None;
        }
        Ok(message) => classify(message, max),
    };
    match first {
        Inbound::Object(map) => {
            let key = (map.get("type").and_then(Value::as_str) == Some("auth"))
                .then(|| map.get("api_key").and_then(Value::as_str))
                .flatten()
                .filter(|k| !k.is_empty());
            match key.and_then(|k| ws_agent(state, k)) {
                Some(agent) => Some(agent),
                None => {
                    fail(socket, "Authentication failed", 4001).await;
                    None
                }
            }
        }
        Inbound::TooLarge => {
            close(socket, 1009, "Message too big").await;
            None
        }
        Inbound::Invalid | Inbound::Ignore => {
            fail(socket, "Invalid message", 1003).await;
            None
        }
        Inbound::Closed => None,
    }
}

fn truthy(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) | Some(Value::Bool(false)) => false,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
        Some(Value::Bool(true)) => true,
    }
}

/// The answer to one message after auth (`None`: nothing to answer).
fn handle(state: &ServerState, agent: &Agent, map: &Map<String, Value>) -> Option<Value> {
    match map.get("type").and_then(Value::as_str) {
        Some("ping") => Some(json!({"type": "pong"})),
        Some("contribute") => {
            if !truthy(map.get("session_id")) || !truthy(map.get("content")) {
                return Some(json!({"type": "error", "message": "Missing session_id or content"}));
            }
            let session_id = map.get("session_id").and_then(Value::as_str);
            let kind = map
                .get("contribution_type")
                .filter(|v| !v.is_null())
                .map_or(Some("suggestion"), Value::as_str)
                .filter(|k| CONTRIBUTION_TYPES.contains(k));
            let content = map.get("content").cloned().unwrap_or(Value::Null);
            let result = match (session_id, kind) {
                (Some(session_id), Some(kind)) => contribute_to(state, agent, session_id, content, kind).ok(),
                _ => None,
            };
            Some(match result {
                Some(contribution) => json!({"type": "contribute_ok", "data": contribution.json()}),
                None => json!({"type": "error", "message": "Contribution failed"}),
            })
        }
        _ => None,
    }
}

async fn run(state: Arc<ServerState>, mut socket: WebSocket, token: Option<String>) {
    let mut drops = state.faults.drops();
    drops.borrow_and_update();
    let mut stalls = state.faults.stalls();
    let agent = match token.as_deref().and_then(|t| ws_agent(&state, t)) {
        Some(agent) => agent,
        None => match authenticate(&state, &mut socket).await {
            Some(agent) => agent,
            None => return,
        },
    };
    let (connection, mut inbox) = state.hub.register(&agent.id, &state.limits);
    if send_json(&mut socket, json!({"type": "auth_ok", "agent_id": agent.id})).await {
        serve(&state, &agent, &mut socket, &mut inbox, &mut drops, &mut stalls).await;
    }
    state.hub.unregister(&agent.id, connection);
}

/// Sends one text frame within the write timeout; `false` when the socket
/// is gone or does not take it in time (a peer that stopped reading).
async fn send_text(socket: &mut WebSocket, text: axum::extract::ws::Utf8Bytes, timeout: Duration) -> bool {
    matches!(
        tokio::time::timeout(timeout, socket.send(Message::Text(text))).await,
        Ok(Ok(()))
    )
}

async fn serve(
    state: &ServerState,
    agent: &Agent,
    socket: &mut WebSocket,
    inbox: &mut Inbox,
    drops: &mut tokio::sync::watch::Receiver<u64>,
    stalls: &mut tokio::sync::watch::Receiver<bool>,
) {
    let mut recent: VecDeque<Instant> = VecDeque::new();
    let max = state.limits.ws_max_message_bytes;
    let per_minute = state.limits.ws_messages_per_minute as usize;
    let write_timeout = state.limits.ws_write_timeout;
    let ping_every = state.limits.ws_ping_interval;
    let mut pings = tokio::time::interval(ping_every.unwrap_or(Duration::from_secs(3600)));
    pings.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    pings.tick().await;
    let mut last_heard = Instant::now();
    loop {
        if *stalls.borrow_and_update() {
            // Silent: read nothing, answer nothing (pings included) until released.
            tokio::select! {
                changed = stalls.changed() => if changed.is_err() { return },
                _ = drops.changed() => return,
            }
            continue;
        }
        tokio::select! {
            biased;
            _ = drops.changed() => return,
            kicked = inbox.kick.changed() => {
                if kicked.is_err() {
                    return;
                }
                let close_with = *inbox.kick.borrow_and_update();
                if let Some((code, reason)) = close_with {
                    let _ = tokio::time::timeout(write_timeout, close(socket, code, reason)).await;
                    return;
                }
            }
            changed = stalls.changed() => if changed.is_err() { return },
            _ = pings.tick(), if ping_every.is_some() => {
                let every = ping_every.unwrap_or_default();
                if last_heard.elapsed() >= every * 2 {
                    // It stopped answering pings: drop it (no close handshake to wait for).
                    return;
                }
                let ping = tokio::time::timeout(write_timeout, socket.send(Message::Ping(Default::default()))).await;
                if !matches!(ping, Ok(Ok(()))) {
                    return;
                }
            }
            push = inbox.pushes.recv() => match push {
                Some(text) => {
                    inbox.taken(&text);
                    if !send_text(socket, text, write_timeout).await {
                        return;
                    }
                }
                None => return,
            },
            message = socket.recv() => {
                last_heard = Instant::now();
                match classify(message, max) {
                    Inbound::Closed => return,
                    Inbound::Ignore => {}
                    Inbound::TooLarge => {
                        close(socket, 1009, "Message too big").await;
                        return;
                    }
                    Inbound::Invalid => {
                        fail(socket, "Invalid message", 1003).await;
                        return;
                    }
                    Inbound::Object(map) => {
                        if per_minute > 0 {
                            let now = Instant::now();
                            while recent.front().is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60)) {
                                recent.pop_front();
                            }
                            if recent.len() >= per_minute {
                                fail(socket, "Message rate limit exceeded", 4008).await;
                                return;
                            }
                            recent.push_back(now);
                        }
                        if let Some(answer) = handle(state, agent, &map)
                            && !send_text(socket, answer.to_string().into(), write_timeout).await
                        {
                            return;
                        }
                    }
                }
            }
        }
    }
}
