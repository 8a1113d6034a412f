//! What every handler starts from: the request's body (read within the size
//! cap and checked for JSON syntax first, as the real server does), the
//! caller's address, authentication and rate limiting.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequest, Request};
use axum::http::{HeaderMap, header};
use serde_json::{Value, json};

use super::ServerState;
use super::clock;
use super::error::{Failure, Outcome};
use super::limits::Rate;
use super::store::Agent;

/// The request body cap: 5 MiB.
pub(crate) const MAX_BODY_BYTES: usize = 5 * 1024 * 1024;

/// A request, read and syntax-checked.
#[derive(Debug)]
pub(crate) struct Req {
    pub(crate) headers: HeaderMap,
    pub(crate) path: String,
    pub(crate) query: Option<String>,
    pub(crate) ip: IpAddr,
    pub(crate) body: Option<Value>,
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .is_some_and(|v| v == "application/json" || (v.starts_with("application/") && v.ends_with("+json")))
}

impl FromRequest<Arc<ServerState>> for Req {
    type Rejection = Failure;

    async fn from_request(request: Request, _state: &Arc<ServerState>) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |c| c.0.ip());
        let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
            .await
            .map_err(|_| Failure::too_large())?;
        let body = if bytes.is_empty() {
            None
        } else if is_json(&parts.headers) {
            match serde_json::from_slice::<Value>(&bytes) {
                Ok(value) => Some(value),
                Err(error) => {
                    return Err(Failure::Validation(vec![json!({
                        "type": "json_invalid",
                        "loc": ["body", error.column()],
                        "msg": "JSON decode error",
                        "input": {},
                        "ctx": {"error": error.to_string()}
                    })]));
                }
            }
        } else {
            Some(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Ok(Self {
            headers: parts.headers,
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(str::to_owned),
            ip,
            body,
        })
    }
}

/// The bearer token of a request, or the 401 message explaining why there is none.
fn bearer(headers: &HeaderMap) -> Result<&str, &'static str> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or("Missing Authorization header")?
        .to_str()
        .map_err(|_| "Invalid Authorization header format. Use: Bearer <token>")?;
    let mut parts = value.split_whitespace();
    match (parts.next(), parts.next(), parts.next()) {
        (Some(scheme), Some(token), None) if scheme.eq_ignore_ascii_case("bearer") => Ok(token),
        _ => Err("Invalid Authorization header format. Use: Bearer <token>"),
    }
}

impl ServerState {
    /// The agent of a valid key, or the 401 the real server sends.
    pub(crate) fn authenticate(&self, req: &Req) -> Outcome<Agent> {
        let token = bearer(&req.headers).map_err(Failure::unauthorized)?;
        self.agent_for_key(token)
    }

    /// The agent of a key (header token or WebSocket auth), or a 401.
    pub(crate) fn agent_for_key(&self, token: &str) -> Outcome<Agent> {
        if !token.starts_with(crate::auth::KEY_PREFIX) {
            return Err(Failure::unauthorized("Invalid API key format"));
        }
        let agent = self
            .store
            .agent_by_key(&clock::hash_key(token))?
            .ok_or_else(|| Failure::unauthorized("Invalid API key"))?;
        if !agent.is_active {
            return Err(Failure::unauthorized("API key has been deactivated"));
        }
        Ok(agent)
    }

    /// The agent of a valid key, or `None` (a missing or bad key on a public
    /// route is treated as anonymous, never as a 401).
    pub(crate) fn optional_agent(&self, req: &Req) -> Outcome<Option<Agent>> {
        match self.authenticate(req) {
            Ok(agent) => Ok(Some(agent)),
            Err(Failure::App { .. }) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// Counts the request against `rate` for the agent (or the IP when anonymous).
    pub(crate) fn rate_limit(&self, req: &Req, agent: Option<&Agent>, rate: Rate) -> Outcome<()> {
        if !self.limits.enabled {
            return Ok(());
        }
        let key = match agent {
            Some(agent) => format!("agent:{}", agent.id),
            None => req.ip.to_string(),
        };
        self.limiter
            .check(&key, &req.path, rate)
            .map_err(|retry_after_secs| Failure::RateLimited {
                limit: rate.describe(),
                retry_after_secs: (!self.real()).then_some(retry_after_secs),
            })
    }
}
