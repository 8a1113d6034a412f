//! Exit codes (docs/json.md, "Error codes") and errors as values: the CLI's
//! own error type, how any error is classified (exit code, `code`, hint),
//! and what is shown for it: for people, one line and a hint (the cause
//! chain with `-v`); with `--json`, one document, `{"error": {"code",
//! "message", "hint", "status"?, "details"?}}`, with the same exit code. A
//! command that fails after doing part of its work (a heartbeat with a
//! failed step, a flush that left reports queued) prints its usual document
//! with the `error` member added. Printing is the output's job
//! ([`crate::output::Sink::report`]); this module depends on nothing of the
//! CLI but the key scrubber.

use std::fmt;

use plurum_sdk::Error as SdkError;
use serde_json::{Value, json};

/// Success (also: heartbeat not due, nothing found).
pub(crate) const OK: u8 = 0;
/// An error.
pub(crate) const ERROR: u8 = 1;
/// Bad usage or input.
pub(crate) const USAGE: u8 = 2;
/// The heartbeat found something the human should know.
pub(crate) const NEEDS_HUMAN: u8 = 3;
/// Not authenticated: no key, or the key was rejected.
pub(crate) const NOT_AUTHENTICATED: u8 = 4;
/// A temporary failure: network, timeout, 5xx, 429 after retries.
pub(crate) const TEMPORARY: u8 = 5;
/// Interrupted (Ctrl-C).
pub(crate) const INTERRUPTED: u8 = 130;

/// An error the CLI raises itself, with its exit code, a machine-readable
/// code for `--json`, a hint and details.
#[derive(Debug)]
pub(crate) struct CliError {
    pub(crate) exit: u8,
    pub(crate) code: &'static str,
    pub(crate) message: String,
    pub(crate) hint: Option<String>,
    pub(crate) details: Option<Value>,
    /// What the command did before it failed: printed with `--json` as the
    /// document, with the `error` member added.
    pub(crate) partial: Option<Value>,
}

/// The `--json` error code that goes with an exit code by default.
fn default_code(exit: u8) -> &'static str {
    match exit {
        USAGE => "usage",
        NOT_AUTHENTICATED => "unauthorized",
        TEMPORARY => "temporary",
        INTERRUPTED => "interrupted",
        _ => "error",
    }
}

impl CliError {
    pub(crate) fn new(exit: u8, message: impl Into<String>) -> Self {
        Self {
            exit,
            code: default_code(exit),
            message: message.into(),
            hint: None,
            details: None,
            partial: None,
        }
    }

    /// The document of a command that failed part-way (see the module doc).
    pub(crate) fn partial(mut self, document: Value) -> Self {
        self.partial = Some(document);
        self
    }

    pub(crate) fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The `--json` error code (default: from the exit code).
    pub(crate) fn code(mut self, code: &'static str) -> Self {
        self.code = code;
        self
    }

    /// Structured details for `--json` (e.g. the findings of the safety gate).
    pub(crate) fn details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// No key anywhere.
    pub(crate) fn not_logged_in(profile: &str) -> Self {
        Self::new(NOT_AUTHENTICATED, format!("no API key for profile '{profile}'")).hint(
            "set PLURUM_API_KEY, pass --api-key-file, run 'plurum auth login' (key on stdin), or 'plurum register'",
        )
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

fn sdk_error(error: &anyhow::Error) -> Option<&SdkError> {
    error.chain().find_map(|cause| cause.downcast_ref::<SdkError>())
}

fn pulse_error(error: &anyhow::Error) -> Option<&plurum_sdk::PulseError> {
    error
        .chain()
        .find_map(|cause| cause.downcast_ref::<plurum_sdk::PulseError>())
        .or_else(|| match sdk_error(error) {
            Some(SdkError::Pulse(inner)) => Some(inner.as_ref()),
            _ => None,
        })
}

/// What an error means for whoever ran the command.
#[derive(Debug)]
pub(crate) struct Classified {
    /// The exit code.
    pub(crate) exit: u8,
    /// The `--json` error code.
    pub(crate) code: &'static str,
    /// What to do next, for known cases.
    pub(crate) hint: Option<String>,
    /// The HTTP status, when a server answered.
    pub(crate) status: Option<u16>,
    /// Structured details (the server's, or the CLI's own).
    pub(crate) details: Option<Value>,
    /// The document of a command that failed part-way.
    pub(crate) partial: Option<Value>,
}

/// The hint for a rejected key: name the variable when the key came from it.
pub(crate) fn rejected_key_hint() -> String {
    if std::env::var("PLURUM_API_KEY").is_ok_and(|key| !key.trim().is_empty()) {
        "the key in PLURUM_API_KEY was rejected: fix or unset that variable (it wins over every stored key)".to_owned()
    } else {
        "the key was rejected; run 'plurum auth login' with a valid key, or 'plurum register' for a new agent"
            .to_owned()
    }
}

/// The exit code, error code and hint for an error.
pub(crate) fn classify(error: &anyhow::Error) -> Classified {
    let plain = |exit: u8, code: &'static str, hint: Option<String>| Classified {
        exit,
        code,
        hint,
        status: None,
        details: None,
        partial: None,
    };
    if let Some(cli) = error.chain().find_map(|c| c.downcast_ref::<CliError>()) {
        return Classified {
            exit: cli.exit,
            code: cli.code,
            hint: cli.hint.clone(),
            status: sdk_error(error).and_then(SdkError::status),
            details: cli.details.clone(),
            partial: cli.partial.clone(),
        };
    }
    if let Some(pulse) = pulse_error(error) {
        use plurum_sdk::PulseError;
        return match pulse {
            PulseError::AuthFailed { .. } | PulseError::MissingApiKey => {
                plain(NOT_AUTHENTICATED, "unauthorized", Some(rejected_key_hint()))
            }
            PulseError::Superseded => plain(
                ERROR,
                "superseded",
                Some("another connection with this agent's key took over (one socket per agent)".to_owned()),
            ),
            e if !e.is_fatal() => plain(
                TEMPORARY,
                "network",
                Some("check the network and the API URL; this is temporary".to_owned()),
            ),
            _ => plain(ERROR, "error", None),
        };
    }
    let Some(sdk) = sdk_error(error) else {
        return plain(ERROR, "error", None);
    };
    let mut classified = classify_sdk(sdk);
    classified.status = sdk.status();
    classified.details = sdk.api_error().and_then(|api| api.details.clone()).or_else(|| {
        sdk.api_error().filter(|api| !api.field_errors.is_empty()).map(|api| {
            json!(
                api.field_errors
                    .iter()
                    .map(|f| json!({"field": f.field, "message": f.message, "type": f.kind}))
                    .collect::<Vec<_>>()
            )
        })
    });
    classified
}

fn classify_sdk(sdk: &SdkError) -> Classified {
    let (exit, code, hint) = match sdk {
        SdkError::MissingApiKey => (
            NOT_AUTHENTICATED,
            "unauthorized",
            Some("set PLURUM_API_KEY, run 'plurum auth login' (key on stdin), or 'plurum register'".to_owned()),
        ),
        e if e.is_unauthorized() => (NOT_AUTHENTICATED, "unauthorized", Some(rejected_key_hint())),
        SdkError::InvalidInput { .. } => (USAGE, "usage", None),
        SdkError::Config(message) if message.contains("plain http://") => (
            USAGE,
            "insecure_http",
            Some("use https://, or pass --allow-insecure-http (or set PLURUM_ALLOW_INSECURE_HTTP=1) if you accept that the key travels unencrypted".to_owned()),
        ),
        SdkError::Config(_) => (USAGE, "usage", None),
        SdkError::RateLimited { retry_after, .. } => (
            TEMPORARY,
            "rate_limited",
            Some(match retry_after {
                Some(delay) => format!("rate limited; try again in {} s", delay.as_secs().max(1)),
                None => "rate limited; try again later".to_owned(),
            }),
        ),
        SdkError::Transport { .. } => (
            TEMPORARY,
            "network",
            Some("check the network and the API URL (--api-url or PLURUM_API_URL); this is temporary".to_owned()),
        ),
        SdkError::Timeout { .. } => (
            TEMPORARY,
            "timeout",
            Some("the server did not answer in time; this is temporary".to_owned()),
        ),
        e if e.is_temporary() => (
            TEMPORARY,
            "server_error",
            Some("the server had a temporary problem; try again later".to_owned()),
        ),
        SdkError::NotFound(_) => (ERROR, "not_found", None),
        e if e.status() == Some(405) => (
            ERROR,
            "method_not_allowed",
            Some("the route does not take this method (plurum api -X METHOD PATH chooses one; see docs/api-contract.md for the routes)".to_owned()),
        ),
        SdkError::Forbidden(_) => (ERROR, "forbidden", None),
        SdkError::Conflict(_) => (ERROR, "conflict", None),
        SdkError::Validation(_) => (ERROR, "rejected", None),
        SdkError::TooLarge { .. } => (
            ERROR,
            "too_large",
            Some("something between you and the API answered instead (a captive portal, a proxy?)".to_owned()),
        ),
        SdkError::Decode { .. } => (
            ERROR,
            "bad_answer",
            Some("the answer was not the API's (a captive portal, a proxy?); check --api-url".to_owned()),
        ),
        _ => (ERROR, "error", None),
    };
    Classified {
        exit,
        code,
        hint,
        status: None,
        details: None,
        partial: None,
    }
}

/// The error as one line: the message, and the innermost cause when it
/// adds something (`could not reach …: Connection refused (os error 111)`).
pub(crate) fn one_line(error: &anyhow::Error) -> String {
    let top = error.to_string();
    let root = error.chain().last().map(ToString::to_string).unwrap_or_default();
    if root.is_empty() || top.contains(&root) {
        top
    } else {
        format!("{top}: {root}")
    }
}

/// The distinct causes below the top message (for `-v`).
fn causes(error: &anyhow::Error) -> Vec<String> {
    let mut lines = Vec::new();
    let mut previous = error.to_string();
    for cause in error.chain().skip(1) {
        let text = cause.to_string();
        if !text.is_empty() && !previous.contains(&text) {
            lines.push(text.clone());
        }
        previous = text;
    }
    lines
}

/// The `--json` document of a failure: `{"error": {...}}`, merged into
/// what the command made before it failed (`partial`) when that is an object.
pub(crate) fn error_document(error: &anyhow::Error, classified: &Classified, partial: Option<Value>) -> Value {
    let message = crate::logging::scrub(&one_line(error));
    let mut body = json!({"code": classified.code, "message": message, "hint": classified.hint});
    if let Some(status) = classified.status {
        body["status"] = json!(status);
    }
    if let Some(details) = &classified.details {
        body["details"] = details.clone();
    }
    match partial {
        Some(Value::Object(mut members)) => {
            members.insert("error".to_owned(), body);
            Value::Object(members)
        }
        _ => json!({ "error": body }),
    }
}

/// The lines people see on stderr for a failure: the error, its causes
/// with `-v`, the hint.
pub(crate) fn error_lines(error: &anyhow::Error, classified: &Classified, verbose: u8) -> Vec<String> {
    let message = crate::logging::scrub(&one_line(error));
    let mut lines = vec![format!("error: {message}")];
    if verbose > 0 {
        lines.extend(causes(error).into_iter().map(|c| format!("  caused by: {c}")));
    }
    if let Some(hint) = &classified.hint {
        lines.push(format!("hint: {hint}"));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The codes the source can print: `.code("x")`, `"code": "x"`, the
    /// `(EXIT, "x", ...)` of the classifier and the defaults.
    fn codes_in_source() -> std::collections::BTreeSet<String> {
        fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    files(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    out.push(path);
                }
            }
        }
        let mut paths = Vec::new();
        files(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut paths,
        );
        let mut codes = std::collections::BTreeSet::new();
        let quoted_after = |text: &str, marker: &str, codes: &mut std::collections::BTreeSet<String>| {
            for (index, _) in text.match_indices(marker) {
                let rest = text[index + marker.len()..].trim_start();
                if let Some(rest) = rest.strip_prefix('"')
                    && let Some(end) = rest.find('"')
                    && rest[..end].chars().all(|c| c.is_ascii_lowercase() || c == '_')
                    && !rest[..end].is_empty()
                {
                    codes.insert(rest[..end].to_owned());
                }
            }
        };
        for path in paths {
            let whole = std::fs::read_to_string(&path).unwrap();
            // Tests name made-up codes.
            let text = whole.split("#[cfg(test)]").next().unwrap_or_default();
            // The daemon's HTTP API has codes of its own (docs/daemon.md).
            if path.components().any(|c| c.as_os_str() == "daemon") {
                continue;
            }
            quoted_after(text, ".code(", &mut codes);
            quoted_after(text, "\"code\":", &mut codes);
            for exit in ["ERROR,", "USAGE,", "TEMPORARY,", "NOT_AUTHENTICATED,", "INTERRUPTED,"] {
                quoted_after(text, exit, &mut codes);
            }
        }
        for exit in [ERROR, USAGE, TEMPORARY, NOT_AUTHENTICATED, INTERRUPTED] {
            codes.insert(default_code(exit).to_owned());
        }
        codes
    }

    #[test]
    fn every_error_code_is_documented() {
        let doc = include_str!("../docs/json.md");
        let table: std::collections::BTreeSet<String> = doc
            .split("## Error codes")
            .nth(1)
            .unwrap()
            .lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| l.split('`').next())
            .map(str::to_owned)
            .collect();
        let codes = codes_in_source();
        assert!(codes.len() >= 20, "found only {codes:?}");
        let undocumented: Vec<&String> = codes.iter().filter(|c| !table.contains(*c)).collect();
        assert!(
            undocumented.is_empty(),
            "codes missing from docs/json.md: {undocumented:?}"
        );
    }

    #[test]
    fn one_line_keeps_the_root_cause() {
        let io = std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "Connection refused (os error 111)",
        );
        let error = anyhow::Error::new(io)
            .context("client error (Connect)")
            .context("could not reach http://127.0.0.1:9/api/v1/agents/me");
        assert_eq!(
            one_line(&error),
            "could not reach http://127.0.0.1:9/api/v1/agents/me: Connection refused (os error 111)"
        );
        assert_eq!(causes(&error).len(), 2);
        let usage = anyhow::Error::new(CliError::new(USAGE, "nothing to update"));
        let classified = classify(&usage);
        assert_eq!((classified.exit, classified.code), (USAGE, "usage"));
    }
}
