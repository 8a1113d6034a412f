//! `/agents/*`: register, check-username, me, rotate-key.

use std::sync::Arc;

use axum::extract::State;
use serde_json::{Value, json};

use super::{Answer, created, ok};
use crate::server::ServerState;
use crate::server::clock;
use crate::server::error::Failure;
use crate::server::request::Req;
use crate::server::store::Agent;
use crate::server::validation::{self, Fields};

const USERNAME_PATTERN: &str = "^[a-z0-9]([a-z0-9_-]*[a-z0-9])?$";

fn username_ok(username: &str) -> bool {
    crate::validate::username(username).is_ok()
}

/// `POST /agents/register`.
pub(crate) async fn register(State(state): State<Arc<ServerState>>, req: Req) -> Answer {
    let body = validation::body_object(req.body.as_ref())?;
    let mut fields = Fields::body(body);
    let name = fields.string("name", 1, Some(255));
    let username = fields.string("username", 3, Some(50));
    if let Some(username) = &username
        && !username_ok(username)
    {
        fields.error_at(
            &[json!("username")],
            "string_pattern_mismatch",
            &format!("String should match pattern '{USERNAME_PATTERN}'"),
            &json!(username),
            Some(json!({ "pattern": USERNAME_PATTERN })),
        );
    }
    fields.finish()?;
    let (Some(name), Some(username)) = (name, username) else {
        return Err(Failure::Internal);
    };
    state.rate_limit(&req, None, state.limits.register)?;
    let key = clock::api_key();
    let prefix = clock::key_prefix(&key);
    let agent = state
        .store
        .insert_agent(&name, &username, &clock::hash_key(&key), &prefix)?
        .ok_or_else(|| Failure::conflict(format!("Username '{username}' is already taken")))?;
    created(json!({
        "id": agent.id,
        "name": agent.name,
        "api_key": key,
        "api_key_prefix": prefix,
        "message": "API key created successfully. Store it securely - it cannot be retrieved later.",
    }))
}

/// `GET /agents/me`.
pub(crate) async fn me(State(state): State<Arc<ServerState>>, req: Req) -> Answer {
    let agent = state.authenticate(&req)?;
    ok(agent.public_json())
}

/// `POST /agents/me/rotate-key`.
pub(crate) async fn rotate_key(State(state): State<Arc<ServerState>>, req: Req) -> Answer {
    let agent = state.authenticate(&req)?;
    let key = clock::api_key();
    let prefix = clock::key_prefix(&key);
    state.store.rotate_key(&agent.id, &clock::hash_key(&key), &prefix)?;
    ok(json!({
        "id": agent.id,
        "name": agent.name,
        "api_key": key,
        "api_key_prefix": prefix,
        "message": "API key rotated successfully. Old key is now invalid.",
    }))
}

/// Lowercases, replaces runs of illegal characters with `-`, trims
/// non-alphanumerics from both ends and cuts to 50 characters.
fn normalize(input: &str) -> String {
    let mut out = String::new();
    let mut dash = false;
    for c in input.trim().to_lowercase().chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-' {
            out.push(c);
            dash = false;
        } else if !dash {
            out.push('-');
            dash = true;
        }
    }
    let trimmed: String = out
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .chars()
        .take(50)
        .collect();
    trimmed
        .trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_owned()
}

const ADJECTIVES: &[&str] = &[
    "amber", "brisk", "calm", "deft", "keen", "lucid", "nimble", "quiet", "swift", "vivid",
];
const NOUNS: &[&str] = &[
    "cedar", "falcon", "harbor", "heron", "lynx", "raven", "summit", "vector", "willow", "zephyr",
];

/// `GET /agents/check-username?username=`.
pub(crate) async fn check_username(State(state): State<Arc<ServerState>>, req: Req) -> Answer {
    let query = validation::query_map(req.query.as_deref());
    let mut fields = Fields::query(&query);
    let input = fields.string("username", 0, None);
    fields.finish()?;
    let input = input.unwrap_or_default();
    state.rate_limit(&req, None, state.limits.check_username)?;
    let seed = normalize(&input);
    let valid = username_ok(&seed);
    if valid && !state.store.username_taken(&seed)? {
        return ok(json!({"available": true, "suggestions": []}));
    }
    let mut candidates = Vec::new();
    if !seed.is_empty() {
        candidates.push(seed.clone());
        for noun in NOUNS.iter().take(3) {
            candidates.push(format!("{seed}-{noun}"));
        }
        for _ in 0..3 {
            candidates.push(format!("{seed}{}", fastrand::u32(10..100)));
        }
    }
    for _ in 0..8 {
        candidates.push(format!(
            "{}-{}-{}",
            ADJECTIVES[fastrand::usize(..ADJECTIVES.len())],
            NOUNS[fastrand::usize(..NOUNS.len())],
            fastrand::u32(10..1000)
        ));
    }
    let mut suggestions: Vec<Value> = Vec::new();
    for candidate in candidates {
        if suggestions.len() == 5 {
            break;
        }
        if candidate == seed || !username_ok(&candidate) || suggestions.contains(&json!(candidate)) {
            continue;
        }
        if !state.store.username_taken(&candidate)? {
            suggestions.push(json!(candidate));
        }
    }
    ok(json!({"available": false, "suggestions": suggestions}))
}

/// How an agent reads on the wire.
impl Agent {
    /// `AgentPublic`, with `Z` timestamps like the real server's Pydantic models.
    pub(crate) fn public_json(&self) -> Value {
        let z = |ts: &str| ts.replace("+00:00", "Z");
        json!({
            "id": self.id,
            "name": self.name,
            "username": self.username,
            "api_key_prefix": self.api_key_prefix,
            "is_active": self.is_active,
            "rate_limit_tier": "standard",
            "subscription_tier": "free",
            "credits_balance": 0,
            "publisher_domain": null,
            "created_at": z(&self.created_at),
            "last_active_at": self.last_active_at.as_deref().map(z),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn normalizes_like_the_real_server() {
        assert_eq!(normalize("Atlas Builder"), "atlas-builder");
        assert_eq!(normalize("  --Hello__World!!  "), "hello__world");
        assert_eq!(normalize("a".repeat(60).as_str()).len(), 50);
        assert_eq!(normalize("***"), "");
    }
}
