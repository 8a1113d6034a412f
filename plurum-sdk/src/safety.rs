//! Content safety: finds what SKILL.md says must never be shared (keys and
//! tokens, passwords, connection strings, private network details, e-mail
//! addresses) in any JSON value, with the JSON path of each finding, and
//! masks it on request.
//!
//! This is broader than the real server's check, which rejects only six key
//! patterns on experiences and outcome reports and nothing in session
//! entries or contributions.
//!
//! ```
//! use plurum_sdk::safety::{self, Category};
//! let entry = serde_json::json!({"content": {"code": "psql postgresql://app:hunter2@10.0.3.7/billing"}});
//! let findings = safety::scan("entry", &entry);
//! assert_eq!(findings[0].path, "entry.content.code");
//! assert!(findings.iter().any(|f| f.category == Category::ConnectionString));
//! assert!(findings.iter().any(|f| f.category == Category::PrivateNetwork));
//! let clean = safety::redact(&entry);
//! assert!(!clean.to_string().contains("hunter2"));
//! ```

use std::fmt;
use std::sync::OnceLock;

use regex::Regex;
use serde::Serialize;
use serde_json::Value;

/// What kind of sensitive content a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Category {
    /// An API key, access token, bearer token or private key.
    ApiKey,
    /// A password or secret assigned in a config or environment line.
    Password,
    /// A database or broker connection string.
    ConnectionString,
    /// A private IP address or an internal hostname.
    PrivateNetwork,
    /// An e-mail address (personal data).
    Email,
}

impl Category {
    /// The category's name, as in JSON output.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::ApiKey => "api_key",
            Self::Password => "password",
            Self::ConnectionString => "connection_string",
            Self::PrivateNetwork => "private_network",
            Self::Email => "email",
        }
    }

    /// What the category means, for people.
    pub fn describe(&self) -> &'static str {
        match self {
            Self::ApiKey => "an API key or token",
            Self::Password => "a password or secret",
            Self::ConnectionString => "a connection string",
            Self::PrivateNetwork => "a private IP address or internal hostname",
            Self::Email => "an e-mail address",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One piece of sensitive content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Finding {
    /// Where it is: the root name, `.key` per object key, `[i]` per array index.
    pub path: String,
    /// What kind it is.
    pub category: Category,
    /// The match with most of it masked (safe to print).
    pub preview: String,
}

struct Rule {
    category: Category,
    regex: Regex,
    /// Which capture group is the sensitive part (0: the whole match).
    group: usize,
}

fn rules() -> &'static [Rule] {
    static RULES: OnceLock<Vec<Rule>> = OnceLock::new();
    RULES.get_or_init(|| {
        let rule = |category, pattern: &str, group| Rule {
            category,
            regex: Regex::new(pattern).unwrap_or_else(|e| panic!("built-in pattern {pattern:?}: {e}")),
            group,
        };
        vec![
            // Keys and tokens.
            rule(Category::ApiKey, r"\bsk-ant-[A-Za-z0-9_-]{20,}", 0),
            rule(Category::ApiKey, r"\bsk-(?:proj-|live_|test_)?[A-Za-z0-9_-]{20,}", 0),
            rule(Category::ApiKey, r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,}", 0),
            rule(Category::ApiKey, r"\bgithub_pat_[A-Za-z0-9_]{40,}", 0),
            rule(Category::ApiKey, r"\bplrm_live_[A-Za-z0-9_-]{10,}", 0),
            rule(Category::ApiKey, r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b", 0),
            rule(Category::ApiKey, r"\bxox[abprs]-[A-Za-z0-9-]{10,}", 0),
            rule(Category::ApiKey, r"\bAIza[0-9A-Za-z_-]{35}\b", 0),
            rule(Category::ApiKey, r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}", 0),
            rule(Category::ApiKey, r"(?i)\bbearer\s+([A-Za-z0-9._~+/=-]{16,})", 1),
            rule(Category::ApiKey, r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----", 0),
            // Passwords and secrets in config or environment lines.
            rule(
                Category::Password,
                r#"(?i)\b[A-Za-z0-9_.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key)["']?\s*[:=]\s*["']?([^\s"',;]{4,})"#,
                1,
            ),
            // Connection strings.
            rule(
                Category::ConnectionString,
                r"(?i)\b(?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|redis|rediss|amqps?|mssql|sqlserver|oracle|cockroachdb|clickhouse|jdbc:[a-z0-9]+)://[^\s'\x22<>]+",
                0,
            ),
            rule(Category::ConnectionString, r"\b[a-z][a-z0-9+.-]*://[^\s/:@'\x22]+:[^\s/@'\x22]+@[^\s'\x22]+", 0),
            // Private networks.
            rule(
                Category::PrivateNetwork,
                r"\b(?:10\.(?:\d{1,3}\.){2}\d{1,3}|192\.168\.\d{1,3}\.\d{1,3}|172\.(?:1[6-9]|2\d|3[01])\.\d{1,3}\.\d{1,3}|169\.254\.\d{1,3}\.\d{1,3}|100\.(?:6[4-9]|[7-9]\d|1[01]\d|12[0-7])\.\d{1,3}\.\d{1,3})\b",
                0,
            ),
            rule(Category::PrivateNetwork, r"(?i)\bf[cd][0-9a-f]{2}(?::[0-9a-f]{0,4}){2,7}\b", 0),
            rule(
                Category::PrivateNetwork,
                r"(?i)\b[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*\.(?:internal|corp|intranet|lan|local|localdomain|private|home\.arpa)\b",
                0,
            ),
            // Personal data.
            rule(Category::Email, r"(?i)\b[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\b", 0),
        ]
    })
}

/// Values that only look like secrets: placeholders in documentation.
fn is_placeholder(value: &str) -> bool {
    let v = value.trim_matches(|c: char| c == '"' || c == '\'');
    let lower = v.to_ascii_lowercase();
    v.starts_with('<')
        || v.starts_with("${")
        || v.starts_with('$') && v[1..].chars().all(|c| c.is_ascii_uppercase() || c == '_')
        || v.chars().all(|c| c == '*' || c == 'x' || c == 'X' || c == '.')
        || lower.starts_with("your_")
        || lower.starts_with("your-")
        || lower.contains("placeholder")
        || lower.contains("example")
        || lower == "changeme"
        || lower == "redacted"
        || lower.starts_with("[redacted")
        || v.chars().all(|c| c.is_ascii_uppercase() || c == '_') && v.len() > 3
}

/// The sensitive spans of one string: `(start, end, category)`, in order.
/// Spans of different categories may overlap (a connection string holding a
/// private IP is both); spans of one category do not.
fn spans(text: &str) -> Vec<(usize, usize, Category)> {
    let mut found: Vec<(usize, usize, Category)> = Vec::new();
    for rule in rules() {
        for captures in rule.regex.captures_iter(text) {
            let Some(m) = captures.get(rule.group) else { continue };
            if matches!(rule.category, Category::Password | Category::ApiKey)
                && rule.group > 0
                && is_placeholder(m.as_str())
            {
                continue;
            }
            if rule.category == Category::Email && m.as_str().to_ascii_lowercase().ends_with("@example.com") {
                continue;
            }
            if found
                .iter()
                .any(|(s, e, c)| *c == rule.category && m.start() < *e && *s < m.end())
            {
                continue;
            }
            found.push((m.start(), m.end(), rule.category));
        }
    }
    found.sort_by_key(|(start, _, _)| *start);
    found
}

fn preview(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    let shown = if chars.len() > 12 { 4 } else { 1 };
    let head: String = chars.iter().take(shown).collect();
    format!("{head}…({} chars)", chars.len())
}

fn walk(path: &str, value: &Value, findings: &mut Vec<Finding>) {
    match value {
        Value::String(text) => {
            for (start, end, category) in spans(text) {
                findings.push(Finding {
                    path: path.to_owned(),
                    category,
                    preview: preview(&text[start..end]),
                });
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(&format!("{path}[{i}]"), item, findings);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                walk(&format!("{path}.{key}"), item, findings);
            }
        }
        _ => {}
    }
}

/// Every sensitive piece in the string values of `value` (object keys are
/// not checked), with paths rooted at `root`.
pub fn scan(root: &str, value: &Value) -> Vec<Finding> {
    let mut findings = Vec::new();
    walk(root, value, &mut findings);
    findings
}

/// Scans a plain string (a session topic, a note).
pub fn scan_text(root: &str, text: &str) -> Vec<Finding> {
    scan(root, &Value::String(text.to_owned()))
}

/// Masks one string: each sensitive piece becomes `[REDACTED:<category>]`
/// (overlapping pieces are masked together, named after the widest).
pub fn redact_text(text: &str) -> String {
    let mut merged: Vec<(usize, usize, Category)> = Vec::new();
    for (start, end, category) in spans(text) {
        match merged.last_mut() {
            Some(last) if start < last.1 => {
                if end - start > last.1 - last.0 {
                    last.2 = category;
                }
                last.1 = last.1.max(end);
            }
            _ => merged.push((start, end, category)),
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end, category) in merged {
        out.push_str(&text[at..start]);
        out.push_str(&format!("[REDACTED:{category}]"));
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

/// A copy of `value` with every sensitive piece masked.
pub fn redact(value: &Value) -> Value {
    match value {
        Value::String(text) => Value::String(redact_text(text)),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), redact(v))).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn categories(text: &str) -> Vec<Category> {
        scan_text("t", text).into_iter().map(|f| f.category).collect()
    }

    #[test]
    fn finds_keys_and_tokens() {
        // Built at run time so no key-shaped literal sits in the source.
        let plurum_key = format!("plrm_live_{}", "Ceus1Ng7VeTB-lBunK_g9".repeat(2) + "8"); // 43 characters, as issued
        for text in [
            "export OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwx",
            "sk-ant-api03-abcdefghijklmnopqrstuvwxyz",
            "token ghp_abcdefghijklmnopqrstuvwxyz0123456789",
            plurum_key.as_str(),
            "aws: AKIAIOSFODNN7EXAMPLE",
            "curl -H 'Authorization: Bearer abcdefghijklmnop1234567890'",
            "xoxb-1234567890-abcdefghij",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "-----BEGIN OPENSSH PRIVATE KEY-----",
        ] {
            assert!(
                categories(text).contains(&Category::ApiKey),
                "{text}: {:?}",
                categories(text)
            );
        }
        for text in [
            "use the sk- prefix",
            "ghp_short",
            "Authorization: Bearer <token>",
            "Bearer YOUR_API_KEY",
            "plrm_live_abc",
            "a task-oriented approach",
        ] {
            assert!(
                !categories(text).contains(&Category::ApiKey),
                "{text}: {:?}",
                categories(text)
            );
        }
    }

    #[test]
    fn finds_passwords_in_config_and_env_lines() {
        for text in [
            "password=hunter2",
            "DB_PASSWORD: s3cr3t!x",
            "\"client_secret\": \"abcd1234efgh\"",
            "export API_KEY=abcdef123456",
            "redis requirepass token=f00dbabe",
        ] {
            assert!(
                categories(text).contains(&Category::Password),
                "{text}: {:?}",
                categories(text)
            );
        }
        for text in [
            "password=<your password>",
            "OPENAI_API_KEY=YOUR_OPENAI_API_KEY",
            "password: ${DB_PASSWORD}",
            "secret=****",
            "rotate the password regularly",
            "token bucket rate limiting",
            "PASSWORD=$DB_PASSWORD",
        ] {
            assert!(
                !categories(text).contains(&Category::Password),
                "{text}: {:?}",
                categories(text)
            );
        }
    }

    #[test]
    fn finds_connection_strings() {
        for text in [
            "postgresql://app:hunter2@db.example.com:5432/app",
            "mongodb+srv://cluster0.mongodb.net/test",
            "redis://cache:6379/0",
            "amqp://guest:guest@rabbit/",
            "https://user:pass@git.example.com/repo.git",
        ] {
            assert!(
                categories(text).contains(&Category::ConnectionString),
                "{text}: {:?}",
                categories(text)
            );
        }
        for text in [
            "https://docs.plurum.ai/guide",
            "use PostgreSQL and Redis",
            "http://localhost:8080/health",
        ] {
            assert!(
                !categories(text).contains(&Category::ConnectionString),
                "{text}: {:?}",
                categories(text)
            );
        }
    }

    #[test]
    fn finds_private_networks() {
        for text in [
            "the primary is at 10.0.3.7",
            "192.168.1.20:5432",
            "172.20.0.5",
            "fd12:3456:789a:1::1",
            "billing-db.internal",
            "ssh build01.corp",
            "printer.local",
        ] {
            assert!(
                categories(text).contains(&Category::PrivateNetwork),
                "{text}: {:?}",
                categories(text)
            );
        }
        for text in ["8.8.8.8", "172.32.0.1", "version 10.2.3", "api.plurum.ai", "127.0.0.1"] {
            assert!(
                !categories(text).contains(&Category::PrivateNetwork),
                "{text}: {:?}",
                categories(text)
            );
        }
    }

    #[test]
    fn finds_email_addresses() {
        assert_eq!(categories("contact jane.doe@acme-corp.com"), [Category::Email]);
        assert!(categories("see user@example.com for the format").is_empty());
        assert!(categories("the @ sign and foo@bar").is_empty());
    }

    #[test]
    fn paths_point_at_the_value_and_redaction_masks_it() {
        let value = json!({
            "what": "fine",
            "artifacts": [{"code": "psql postgresql://app:hunter2@10.0.3.7/billing", "language": "sh"}],
        });
        let findings = scan("experience", &value);
        assert!(
            findings.iter().all(|f| f.path == "experience.artifacts[0].code"),
            "{findings:?}"
        );
        assert!(findings.iter().all(|f| !f.preview.contains("hunter2")));
        let clean = redact(&value);
        assert_eq!(clean["artifacts"][0]["code"], "psql [REDACTED:connection_string]");
        assert_eq!(clean["artifacts"][0]["language"], "sh");
        assert!(scan("experience", &clean).is_empty(), "redacted content scans clean");
    }
}
