//! The agent API key, kept secret.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};

/// The prefix of every live Plurum API key.
pub const KEY_PREFIX: &str = "plrm_live_";

/// An agent API key (`plrm_live_…`).
///
/// The key never shows in `Debug` or `Display` output, logs or errors; read
/// it only with [`ApiKey::expose`]. It deserializes from a string (for the
/// register and rotate-key answers) but deliberately does not serialize.
#[derive(Clone)]
pub struct ApiKey(SecretString);

impl ApiKey {
    /// Wraps a key. Surrounding whitespace (a trailing newline from a file or
    /// stdin) is removed.
    pub fn new(key: impl Into<String>) -> Self {
        let key: String = key.into();
        let trimmed = key.trim();
        if trimmed.len() == key.len() {
            Self(SecretString::from(key))
        } else {
            Self(SecretString::from(trimmed.to_owned()))
        }
    }

    /// The key itself. Do not print or log it.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// Whether the key has the shape of a live Plurum key (`plrm_live_` plus 43
    /// base64url characters).
    pub fn looks_valid(&self) -> bool {
        let key = self.expose();
        key.strip_prefix(KEY_PREFIX).is_some_and(|rest| {
            rest.len() == 43
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
    }

    /// The part of the key that is safe to show: its first 16 characters and
    /// `...`, as the server's `api_key_prefix`.
    pub fn display_prefix(&self) -> String {
        let key = self.expose();
        let end = key.char_indices().nth(16).map_or(key.len(), |(i, _)| i);
        format!("{}...", &key[..end])
    }

    /// Whether two keys are the same (comparing the secrets).
    pub fn same_as(&self, other: &ApiKey) -> bool {
        self.expose() == other.expose()
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([redacted])")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for ApiKey {
    fn from(key: String) -> Self {
        Self::new(key)
    }
}

impl From<&str> for ApiKey {
    fn from(key: &str) -> Self {
        Self::new(key)
    }
}

impl<'de> Deserialize<'de> for ApiKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SENTINEL: &str = "plrm_live_SENTINELsentinelSENTINELsentinelSENTINEL123";

    #[test]
    fn never_shows_the_key() {
        let key = ApiKey::new(SENTINEL);
        assert!(!format!("{key:?}").contains("SENTINEL"));
        assert!(!format!("{key}").contains("SENTINEL"));
        assert_eq!(key.expose(), SENTINEL);
    }

    #[test]
    fn trims_whitespace_and_checks_shape() {
        let key = ApiKey::new(format!("  {SENTINEL}\n"));
        assert_eq!(key.expose(), SENTINEL);
        assert!(key.looks_valid());
        assert!(!ApiKey::new("plrm_live_short").looks_valid());
        assert!(!ApiKey::new("sk-abc").looks_valid());
        assert_eq!(key.display_prefix(), "plrm_live_SENTIN...");
    }
}
