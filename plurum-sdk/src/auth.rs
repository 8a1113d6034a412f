//! The agent API key, kept secret.

use std::borrow::Cow;
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

    /// `text` with this key, and anything else shaped like a key, replaced by
    /// `[redacted]` (see [`scrub`]).
    pub fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        scrub(text, Some(self))
    }
}

/// The shortest secret [`scrub`] replaces verbatim (shorter strings would
/// mangle ordinary text).
const MIN_SECRET_LEN: usize = 8;

/// Removes secrets from text that came from elsewhere (a server's error
/// message, a proxy's page, a log line): every occurrence of `key`, and every
/// key-shaped string (`plrm_live_` followed by key characters), becomes
/// `[redacted]` (the prefix of a key-shaped string is kept, so the reader
/// knows what was there).
///
/// ```
/// use plurum_sdk::auth::{ApiKey, scrub};
/// let key = ApiKey::new(format!("plrm_live_{}", "k".repeat(43)));
/// let echoed = format!("bad request: Authorization: Bearer {}", key.expose());
/// assert_eq!(scrub(&echoed, Some(&key)), "bad request: Authorization: Bearer plrm_live_[redacted]");
/// assert_eq!(scrub("token=hunter2-hunter2", None), "token=hunter2-hunter2");
/// ```
pub fn scrub<'a>(text: &'a str, key: Option<&ApiKey>) -> Cow<'a, str> {
    let mut out = Cow::Borrowed(text);
    if let Some(key) = key {
        let secret = key.expose();
        if secret.len() >= MIN_SECRET_LEN && out.contains(secret) {
            let replacement = if secret.starts_with(KEY_PREFIX) {
                "plrm_live_[redacted]"
            } else {
                "[redacted]"
            };
            out = Cow::Owned(out.replace(secret, replacement));
        }
    }
    if !out.contains(KEY_PREFIX) {
        return out;
    }
    let source = out.as_ref();
    let mut result = String::with_capacity(source.len());
    let mut rest = source;
    while let Some(at) = rest.find(KEY_PREFIX) {
        let after = &rest[at + KEY_PREFIX.len()..];
        let len = after
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
            .count();
        result.push_str(&rest[..at]);
        result.push_str(KEY_PREFIX);
        if len > 0 && !after.starts_with("[redacted]") {
            result.push_str("[redacted]");
        }
        rest = &after[len..];
    }
    result.push_str(rest);
    Cow::Owned(result)
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

    #[test]
    fn scrub_removes_the_key_and_anything_key_shaped() {
        let key = ApiKey::new(SENTINEL);
        let echoed = format!("401: header Authorization: Bearer {SENTINEL} and plrm_live_other-key_123 too");
        let clean = key.scrub(&echoed);
        assert!(!clean.contains("SENTINEL"), "{clean}");
        assert!(!clean.contains("other-key"), "{clean}");
        assert_eq!(
            clean,
            "401: header Authorization: Bearer plrm_live_[redacted] and plrm_live_[redacted] too"
        );
        // A key that does not look like one is still removed verbatim.
        let odd = ApiKey::new("not-a-plurum-key-but-secret");
        assert_eq!(scrub("x not-a-plurum-key-but-secret y", Some(&odd)), "x [redacted] y");
        // Ordinary text is borrowed, untouched.
        assert!(matches!(scrub("nothing here", Some(&key)), Cow::Borrowed(_)));
        assert_eq!(
            scrub("the prefix plrm_live_ alone", None),
            "the prefix plrm_live_ alone"
        );
        assert_eq!(scrub("plrm_live_[redacted]", None), "plrm_live_[redacted]");
    }
}
