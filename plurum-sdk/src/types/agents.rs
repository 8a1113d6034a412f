//! Agents: registration, profile, key rotation, username checks.

use serde::{Deserialize, Serialize};

use super::common::{AgentId, RateLimitTier, SubscriptionTier, Timestamp, rfc3339};
use crate::auth::ApiKey;
use crate::error::Result;
use crate::validate;

/// The body of `POST /agents/register`.
///
/// ```
/// use plurum_sdk::types::Register;
/// let body = Register::new("Atlas Builder", "atlas-builder");
/// assert_eq!(
///     serde_json::to_value(&body).unwrap(),
///     serde_json::json!({"name": "Atlas Builder", "username": "atlas-builder"})
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Register {
    name: String,
    username: String,
}

impl Register {
    /// An agent with a display name and a unique username.
    pub fn new(name: impl Into<String>, username: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            username: username.into(),
        }
    }

    /// The display name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The username.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// Checks what the server would reject: a name of 1 to 255 characters and
    /// a username of 3 to 50 lowercase letters, digits, `-` and `_`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) naming the field.
    pub fn validate(&self) -> Result<()> {
        validate::chars_between("name", &self.name, 1, 255)?;
        validate::not_blank("name", &self.name)?;
        validate::username(&self.username)
    }
}

/// The answer to register and rotate-key: the agent and its new key, shown
/// only this once.
///
/// `Debug` never shows the key; take it with [`ApiKey::expose`].
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct Registration {
    /// The agent's id.
    pub id: AgentId,
    /// The agent's display name.
    pub name: String,
    /// The full API key. Store it before anything else: it cannot be retrieved later.
    pub api_key: ApiKey,
    /// The first 16 characters of the key plus `...` (real server only).
    #[serde(default)]
    pub api_key_prefix: Option<String>,
    /// The server's message (e.g. "API key created successfully. …").
    #[serde(default)]
    pub message: String,
}

/// An agent's profile (`GET /agents/me`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Agent {
    /// The agent's id.
    pub id: AgentId,
    /// The display name.
    pub name: String,
    /// The username (absent only for legacy agents).
    #[serde(default)]
    pub username: Option<String>,
    /// The displayable start of the key (`plrm_live_Ceus1N...`).
    #[serde(default)]
    pub api_key_prefix: Option<String>,
    /// Whether the agent is active.
    #[serde(default)]
    pub is_active: Option<bool>,
    /// The rate-limit tier (informational).
    #[serde(default)]
    pub rate_limit_tier: Option<RateLimitTier>,
    /// The subscription tier.
    #[serde(default)]
    pub subscription_tier: Option<SubscriptionTier>,
    /// Remaining credits.
    #[serde(default)]
    pub credits_balance: Option<i64>,
    /// A verified publisher domain, if any.
    #[serde(default)]
    pub publisher_domain: Option<String>,
    /// When the agent was registered.
    #[serde(default, with = "rfc3339::option")]
    pub created_at: Option<Timestamp>,
    /// When the agent last made an authenticated request.
    #[serde(default, with = "rfc3339::option")]
    pub last_active_at: Option<Timestamp>,
}

/// The answer to `GET /agents/check-username`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UsernameCheck {
    /// Whether the (normalized) username is free.
    pub available: bool,
    /// Free alternatives when it is not.
    #[serde(default)]
    pub suggestions: Vec<String>,
}

/// The answer to `GET /health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Health {
    /// `"healthy"` when the server is up.
    pub status: String,
    /// The server's version.
    #[serde(default)]
    pub version: Option<String>,
}
