//! Exit codes (DESIGN.md, "CLI") and how errors are shown: one line, the
//! cause chain, a hint for known cases.

use std::fmt;

use plurum_sdk::Error as SdkError;

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

/// An error the CLI raises itself, with its exit code and a hint.
#[derive(Debug)]
pub(crate) struct CliError {
    pub(crate) code: u8,
    pub(crate) message: String,
    pub(crate) hint: Option<String>,
}

impl CliError {
    pub(crate) fn new(code: u8, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            hint: None,
        }
    }

    pub(crate) fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
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

fn pulse_error(error: &anyhow::Error) -> Option<&plurum_sdk::pulse::PulseError> {
    error
        .chain()
        .find_map(|cause| cause.downcast_ref::<plurum_sdk::pulse::PulseError>())
        .or_else(|| match sdk_error(error) {
            Some(SdkError::Pulse(inner)) => Some(inner.as_ref()),
            _ => None,
        })
}

/// The exit code and hint for an error.
pub(crate) fn classify(error: &anyhow::Error) -> (u8, Option<String>) {
    if let Some(cli) = error.chain().find_map(|c| c.downcast_ref::<CliError>()) {
        return (cli.code, cli.hint.clone());
    }
    if let Some(pulse) = pulse_error(error) {
        use plurum_sdk::pulse::PulseError;
        return match pulse {
            PulseError::AuthFailed { .. } | PulseError::MissingApiKey => (
                NOT_AUTHENTICATED,
                Some("run 'plurum auth login' with a valid key, or 'plurum register'".to_owned()),
            ),
            PulseError::Superseded => (
                ERROR,
                Some("another connection with this agent's key took over (one socket per agent)".to_owned()),
            ),
            e if !e.is_fatal() => (
                TEMPORARY,
                Some("check the network and the API URL; this is temporary".to_owned()),
            ),
            _ => (ERROR, None),
        };
    }
    let Some(sdk) = sdk_error(error) else {
        return (ERROR, None);
    };
    if sdk.is_unauthorized() {
        let hint = if matches!(sdk, SdkError::MissingApiKey) {
            "set PLURUM_API_KEY, run 'plurum auth login' (key on stdin), or 'plurum register'"
        } else {
            "the key was rejected; run 'plurum auth login' with a valid key, or 'plurum register' for a new agent"
        };
        return (NOT_AUTHENTICATED, Some(hint.to_owned()));
    }
    if let SdkError::InvalidInput { .. } = sdk {
        return (USAGE, None);
    }
    if sdk.is_temporary() {
        let hint = match sdk {
            SdkError::RateLimited { retry_after, .. } => Some(match retry_after {
                Some(delay) => format!("rate limited; try again in {} s", delay.as_secs().max(1)),
                None => "rate limited; try again later".to_owned(),
            }),
            SdkError::Transport { .. } | SdkError::Timeout { .. } => {
                Some("check the network and the API URL (--api-url or PLURUM_API_URL); this is temporary".to_owned())
            }
            _ => Some("the server had a temporary problem; try again later".to_owned()),
        };
        return (TEMPORARY, hint);
    }
    (ERROR, None)
}

/// Prints an error to stderr: `error: …`, each distinct cause, and a hint.
pub(crate) fn report(error: &anyhow::Error, hint: Option<&str>) {
    let mut lines = vec![format!("error: {error}")];
    let mut previous = error.to_string();
    for cause in error.chain().skip(1) {
        let text = cause.to_string();
        if !text.is_empty() && !previous.contains(&text) {
            lines.push(format!("  caused by: {text}"));
        }
        previous = text;
    }
    if let Some(hint) = hint {
        lines.push(format!("hint: {hint}"));
    }
    crate::output::eprint_clean(&lines.join("\n"));
}
