//! Timestamps and identifiers as the real server makes them.

use base64::Engine as _;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::FormatItem;
use time::macros::format_description;

const FORMAT: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]+00:00");

/// Now, in UTC.
pub(crate) fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// A timestamp in the PostgREST form: `2026-07-12T09:14:03.512874+00:00`.
pub(crate) fn format(ts: OffsetDateTime) -> String {
    ts.to_offset(time::UtcOffset::UTC)
        .format(FORMAT)
        .unwrap_or_else(|_| ts.unix_timestamp().to_string())
}

/// Now, formatted.
pub(crate) fn now_string() -> String {
    format(now())
}

/// Parses a stored timestamp.
pub(crate) fn parse(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
}

/// A random UUID v4, lowercase and hyphenated.
pub(crate) fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    if getrandom::fill(&mut bytes).is_err() {
        // The OS random source failed: fall back to a non-cryptographic one
        // rather than crash (the key space stays large).
        for b in &mut bytes {
            *b = fastrand::u8(..);
        }
    }
    bytes
}

/// A short id: 8 lowercase hex characters.
pub(crate) fn short_id() -> String {
    random_bytes::<4>().iter().map(|b| format!("{b:02x}")).collect()
}

/// A new API key: `plrm_live_` and 43 base64url characters.
pub(crate) fn api_key() -> String {
    let bytes = random_bytes::<32>();
    format!(
        "{}{}",
        crate::auth::KEY_PREFIX,
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// The stored form of a key: the SHA-256 hex digest.
pub(crate) fn hash_key(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The displayable start of a key: its first 16 characters and `...`.
pub(crate) fn key_prefix(key: &str) -> String {
    format!("{}...", &key[..key.len().min(16)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_have_the_real_shapes() {
        let key = api_key();
        assert_eq!(key.len(), 53);
        assert!(crate::ApiKey::new(key.clone()).looks_valid());
        assert_eq!(key_prefix(&key).len(), 19);
        let hash = hash_key(&key);
        assert_eq!(hash.len(), 64);
        assert_ne!(api_key(), key);
        let short = short_id();
        assert_eq!(short.len(), 8);
        assert!(short.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert!(uuid::Uuid::parse_str(&uuid()).is_ok());
    }

    #[test]
    fn timestamps_use_the_postgrest_form() {
        let ts = parse("2026-07-12T09:14:03.512874+00:00").unwrap();
        assert_eq!(format(ts), "2026-07-12T09:14:03.512874+00:00");
        assert!(now_string().ends_with("+00:00"));
    }
}
