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

/// The shortest run of a key's secret characters [`scrub`] removes: 12
/// characters of a random key are about 70 bits, never in ordinary text by
/// chance.
pub const MIN_SECRET_RUN: usize = 12;

/// Removes secrets from text that came from elsewhere (a server's error
/// message or answer, a proxy's page, a log line) before it is shown:
///
/// * `key` in the forms a server or proxy may echo it: as is, upper- or
///   lower-cased, cut into pieces (every run of [`MIN_SECRET_RUN`] or more
///   characters of its secret part, the part after `plrm_live_`), and with
///   characters written as JSON `\u00XX` escapes;
/// * every key-shaped string (`plrm_live_`, in any case, followed by 12
///   or more key characters), whoever's key it is; a shorter one is a
///   displayed prefix such as `plrm_live_Ceus1N...` and stays.
///
/// Each becomes `[redacted]` (a `plrm_live_` before it is kept, so the
/// reader knows what was there). What it cannot catch: a key re-encoded
/// (base64, reversed, hashed) or cut into pieces shorter than 12 characters
/// that are shown apart; a key that was never given to it and does not
/// start with `plrm_live_`.
///
/// ```
/// use plurum_sdk::auth::{ApiKey, scrub};
/// let key = ApiKey::new("plrm_live_EXAMPLEexampleEXAMPLEexampleEXAMPLEexampleE");
/// let echoed = format!("bad request: Authorization: Bearer {}", key.expose());
/// assert_eq!(scrub(&echoed, Some(&key)), "bad request: Authorization: Bearer plrm_live_[redacted]");
/// let shouted = echoed.to_uppercase();
/// assert_eq!(scrub(&shouted, Some(&key)), "BAD REQUEST: AUTHORIZATION: BEARER PLRM_LIVE_[redacted]");
/// let cut = format!("first {} then {}", &key.expose()[..30], &key.expose()[30..]);
/// assert_eq!(scrub(&cut, Some(&key)), "first plrm_live_[redacted] then [redacted]");
/// assert_eq!(scrub("token=hunter2-hunter2", None), "token=hunter2-hunter2");
/// ```
pub fn scrub<'a>(text: &'a str, key: Option<&ApiKey>) -> Cow<'a, str> {
    let mut out = Cow::Borrowed(text);
    if let Some(key) = key {
        let secret = key.expose();
        if secret.len() >= MIN_SECRET_LEN {
            let part = secret.strip_prefix(KEY_PREFIX).unwrap_or(secret);
            if let Cow::Owned(clean) = redact_runs(&out, part) {
                out = Cow::Owned(clean);
            }
        }
    }
    if !contains_prefix(&out) {
        return out;
    }
    let source = out.as_ref();
    let mut result = String::with_capacity(source.len());
    let mut rest = source;
    while let Some(at) = find_prefix(rest) {
        let after = &rest[at + KEY_PREFIX.len()..];
        let len = after
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
            .count();
        result.push_str(&rest[..at + KEY_PREFIX.len()]);
        // Fewer characters are a displayed prefix (`plrm_live_Ceus1N...`,
        // as the server's `api_key_prefix`), not a key.
        if len >= MIN_SECRET_RUN {
            result.push_str("[redacted]");
            rest = &after[len..];
        } else {
            rest = after;
        }
    }
    result.push_str(rest);
    Cow::Owned(result)
}

/// Where `plrm_live_` starts in `text`, in any case.
fn find_prefix(text: &str) -> Option<usize> {
    let prefix = KEY_PREFIX.as_bytes();
    text.as_bytes()
        .windows(prefix.len())
        .position(|w| w.eq_ignore_ascii_case(prefix))
}

fn contains_prefix(text: &str) -> bool {
    find_prefix(text).is_some()
}

/// `text` with every run of `MIN_SECRET_RUN` (or all, if shorter) characters
/// of `secret`, in any case and through JSON `\u00XX` escapes, replaced by
/// `[redacted]`.
fn redact_runs<'a>(text: &'a str, secret: &str) -> Cow<'a, str> {
    let window = MIN_SECRET_RUN.min(secret.len());
    if window == 0 || text.len() < window {
        return Cow::Borrowed(text);
    }
    let secret = secret.as_bytes();
    // The text as compared: lower-cased bytes, with `\u00XX` escapes of
    // ASCII decoded; `origin[i]` is where byte `i` starts in `text`.
    let bytes = text.as_bytes();
    let escaped = text.contains("\\u00") || text.contains("\\U00");
    let (view, origin): (Cow<'_, [u8]>, Option<Vec<usize>>) = if escaped {
        let (view, origin) = unescape(bytes);
        (Cow::Owned(view), Some(origin))
    } else {
        (Cow::Borrowed(bytes), None)
    };
    let spans = find_runs(&view, secret, window);
    if spans.is_empty() {
        return Cow::Borrowed(text);
    }
    let to_text = |i: usize| match &origin {
        Some(origin) => origin.get(i).copied().unwrap_or(bytes.len()),
        None => i,
    };
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end) in spans {
        let (start, end) = (to_text(start), to_text(end));
        out.push_str(&text[at..start]);
        out.push_str("[redacted]");
        at = end;
    }
    out.push_str(&text[at..]);
    Cow::Owned(out)
}

/// Decodes `\u00XX` escapes of printable ASCII; returns the bytes and
/// where each starts in the input (plus one entry for the end).
fn unescape(bytes: &[u8]) -> (Vec<u8>, Vec<usize>) {
    let mut view = Vec::with_capacity(bytes.len());
    let mut origin = Vec::with_capacity(bytes.len() + 1);
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 6 <= bytes.len()
            && bytes[i + 1].eq_ignore_ascii_case(&b'u')
            && let Ok(hex) = std::str::from_utf8(&bytes[i + 2..i + 6])
            && let Ok(code) = u16::from_str_radix(hex, 16)
            && let Ok(code) = u8::try_from(code)
            && (0x21..0x7f).contains(&code)
        {
            view.push(code);
            origin.push(i);
            i += 6;
            continue;
        }
        view.push(bytes[i]);
        origin.push(i);
        i += 1;
    }
    origin.push(bytes.len());
    (view, origin)
}

/// The spans of `view` (merged where they touch) made of runs of `window`
/// or more bytes of `secret`, compared case-insensitively: a rolling hash
/// over every `window` bytes, checked against the secret's own windows.
fn find_runs(view: &[u8], secret: &[u8], window: usize) -> Vec<(usize, usize)> {
    const BASE: u64 = 1_000_003;
    let lower = |b: u8| u64::from(b.to_ascii_lowercase());
    let hash = |bytes: &[u8]| {
        bytes
            .iter()
            .fold(0u64, |h, b| h.wrapping_mul(BASE).wrapping_add(lower(*b)))
    };
    let mut wanted: Vec<(u64, usize)> = (0..=secret.len() - window)
        .map(|j| (hash(&secret[j..j + window]), j))
        .collect();
    wanted.sort_unstable();
    let top = (1..window).fold(1u64, |p, _| p.wrapping_mul(BASE));
    let mut spans: Vec<(usize, usize)> = Vec::new();
    if view.len() < window {
        return spans;
    }
    let mut h = hash(&view[..window]);
    for i in 0..=view.len() - window {
        if i > 0 {
            h = h
                .wrapping_sub(lower(view[i - 1]).wrapping_mul(top))
                .wrapping_mul(BASE)
                .wrapping_add(lower(view[i + window - 1]));
        }
        let first = wanted.partition_point(|(w, _)| *w < h);
        let found = wanted[first..]
            .iter()
            .take_while(|(w, _)| *w == h)
            .any(|(_, j)| view[i..i + window].eq_ignore_ascii_case(&secret[*j..*j + window]));
        if found {
            match spans.last_mut() {
                Some(last) if last.1 >= i => last.1 = i + window,
                _ => spans.push((i, i + window)),
            }
        }
    }
    spans
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
        // A displayed prefix stays.
        assert_eq!(scrub("key plrm_live_Ceus1N...", None), "key plrm_live_Ceus1N...");
        // Ordinary text is borrowed, untouched.
        assert!(matches!(scrub("nothing here", Some(&key)), Cow::Borrowed(_)));
        assert_eq!(
            scrub("the prefix plrm_live_ alone", None),
            "the prefix plrm_live_ alone"
        );
        assert_eq!(scrub("plrm_live_[redacted]", None), "plrm_live_[redacted]");
    }

    #[test]
    fn scrub_removes_the_transforms_a_server_may_echo() {
        let key = ApiKey::new(SENTINEL);
        let secret = &SENTINEL[KEY_PREFIX.len()..];
        let cases = [
            SENTINEL.to_uppercase(),
            SENTINEL.to_lowercase(),
            format!("{{\"a\": \"{}\", \"b\": \"{}\"}}", &SENTINEL[..30], &SENTINEL[30..]),
            format!("middle {} only", &secret[10..22]),
            // JSON escapes, as a raw body could carry them.
            SENTINEL.bytes().map(|b| format!("\\u{:04x}", b)).collect::<String>(),
            format!("mixed {}\\u0053{}", &SENTINEL[..20], &SENTINEL[21..]),
        ];
        for text in &cases {
            let clean = scrub(text, Some(&key));
            let lowered = clean.to_lowercase();
            for start in 0..=secret.len() - MIN_SECRET_RUN {
                let run = secret[start..start + MIN_SECRET_RUN].to_lowercase();
                assert!(!lowered.contains(&run), "{text} -> {clean}");
            }
            assert!(clean.contains("[redacted]"), "{text} -> {clean}");
        }
        // An 11-character piece is left: too short to be told from text.
        let piece = &secret[..11];
        assert_eq!(scrub(piece, Some(&key)), piece);
        // Ordinary text around it is untouched.
        assert_eq!(
            scrub(&format!("key {} end", SENTINEL.to_uppercase()), Some(&key)),
            "key PLRM_LIVE_[redacted] end"
        );
    }

    #[test]
    fn scrub_scans_large_text_in_one_pass() {
        let key = ApiKey::new(SENTINEL);
        let text = "all work and no play ".repeat(50_000) + SENTINEL;
        let clean = scrub(&text, Some(&key));
        assert!(
            clean.ends_with("plrm_live_[redacted]"),
            "{}",
            &clean[clean.len() - 40..]
        );
    }
}
