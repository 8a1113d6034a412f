//! The real server's credential check (docs/api-contract.md §6.10): six token patterns,
//! searched in every string value, reported with the JSON path of the first
//! match. Narrower on purpose than the SDK's client-side scanner.

use serde_json::Value;

fn run_len(text: &str, allowed: impl Fn(char) -> bool) -> usize {
    text.chars().take_while(|c| allowed(*c)).count()
}

fn has_run(text: &str, prefix: &str, min: usize, allowed: impl Fn(char) -> bool + Copy) -> bool {
    text.match_indices(prefix)
        .any(|(at, _)| run_len(&text[at + prefix.len()..], allowed) >= min)
}

/// Whether a string contains one of the six key patterns.
pub(crate) fn looks_like_key(text: &str) -> bool {
    let alnum = |c: char| c.is_ascii_alphanumeric();
    has_run(text, "sk-", 20, alnum)
        || has_run(text, "sk-ant-", 20, |c| c.is_ascii_alphanumeric() || c == '-')
        || has_run(text, "ghp_", 36, alnum)
        || has_run(text, "gho_", 36, alnum)
        || has_run(text, "plrm_live_", 10, |c| {
            c.is_ascii_alphanumeric() || c == '_' || c == '-'
        })
        || has_run(text, "AKIA", 16, |c| c.is_ascii_digit() || c.is_ascii_uppercase())
}

/// The path of the first string value that looks like a key, e.g.
/// `experience.artifacts[0].code`.
pub(crate) fn find_key(root: &str, value: &Value) -> Option<String> {
    match value {
        Value::String(text) if looks_like_key(text) => Some(root.to_owned()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| find_key(&format!("{root}[{i}]"), item)),
        Value::Object(map) => map
            .iter()
            .find_map(|(key, item)| find_key(&format!("{root}.{key}"), item)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_six_patterns_match_and_their_neighbours_do_not() {
        for secret in [
            "sk-abcdefghijklmnopqrstuvwx",
            "key sk-ant-api03-abcdefghijklmnopqrst",
            "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
            "gho_abcdefghijklmnopqrstuvwxyz0123456789",
            "DATABASE_KEY=plrm_live_abcdefghijklmnop",
            "AKIAIOSFODNN7EXAMPLE",
        ] {
            assert!(looks_like_key(secret), "{secret}");
        }
        for harmless in [
            "sk-short",
            "ghp_short",
            "password=hunter2",
            "Bearer eyJhbGciOiJIUzI1NiJ9.payload.signature",
            "OPENAI_API_KEY=YOUR_OPENAI_API_KEY",
            "plrm_live_abc",
            "AKIAlowercase1234567",
            "postgresql://user:pw@10.0.0.5/db",
        ] {
            assert!(!looks_like_key(harmless), "{harmless}");
        }
    }

    #[test]
    fn reports_the_path_of_the_first_match() {
        let body = json!({
            "goal": "fine",
            "artifacts": [{"language": "sh", "code": "DATABASE_KEY=plrm_live_abcdefghijklmnop"}],
        });
        assert_eq!(
            find_key("experience", &body).as_deref(),
            Some("experience.artifacts[0].code")
        );
        assert_eq!(
            find_key(
                "outcome_report",
                &json!({"env_fingerprint": {"token": "AKIAIOSFODNN7EXAMPLE"}})
            )
            .as_deref(),
            Some("outcome_report.env_fingerprint.token")
        );
        assert_eq!(find_key("experience", &json!({"tags": ["a", "b"]})), None);
    }
}
