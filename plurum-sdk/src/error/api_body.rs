//! Error answers from the server, decoded from any of its body shapes into
//! one [`ApiError`] (status, message, field errors, the raw body), scrubbed
//! of the key.

use std::fmt;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::MAX_ERROR_BODY;
use crate::auth::{ApiKey, scrub};
use crate::retry;

/// Which of the server's error body shapes an [`ApiError`] was decoded from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorShape {
    /// `{"detail": "<msg>", "error": "<msg>", "details": {..}}`: errors the app raises itself.
    App,
    /// `{"detail": [{"type", "loc", "msg", "input", "ctx"?}]}`: request validation (422).
    Validation,
    /// `{"detail": "<msg>"}`: framework errors (404 route, 405, 413).
    Framework,
    /// `{"error": "Rate limit exceeded: …"}` (429).
    RateLimit,
    /// `{"error": "Internal server error", "details"?: {"message"}}` (500).
    Internal,
    /// JSON in none of the known shapes.
    Unrecognized,
    /// Not JSON at all (an HTML page from a proxy, an empty body, …).
    NotJson,
}

/// One item of a validation error (`detail[]` of a 422).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct FieldError {
    /// Where the problem is, as the server gives it (for example `["body", "query"]`).
    pub loc: Vec<Value>,
    /// `loc` joined with dots, without the leading `body`/`query`/`path` (for example `query`).
    pub field: String,
    /// The server's message (for example `String should have at least 2 characters`).
    pub message: String,
    /// The machine-readable kind (for example `string_too_short`).
    pub kind: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

/// An error answer from the server, decoded from any of its body shapes.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ApiError {
    /// The HTTP status code.
    pub status: u16,
    /// A one-line message: the server's own where it gave one, otherwise the
    /// status's reason phrase.
    pub message: String,
    /// Which body shape this was decoded from.
    pub shape: ErrorShape,
    /// The `details` object of app and internal errors, when not empty.
    pub details: Option<Value>,
    /// The JSON path of the offending value, for content-security rejections
    /// (`details.field`, e.g. `experience.artifacts[0].code`).
    pub field: Option<String>,
    /// The items of a validation error.
    pub field_errors: Vec<FieldError>,
    /// The delay the server asked for (`Retry-After`), or for a 429 without
    /// that header the window of the limit named in the body.
    pub retry_after: Option<Duration>,
    /// The raw body, truncated to [`MAX_ERROR_BODY`] bytes.
    pub body: String,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.status)
    }
}

impl ApiError {
    /// Decodes an error answer.
    ///
    /// `retry_after_header` is the raw `Retry-After` header value, if any;
    /// `now` is used to turn its HTTP-date form into a delay.
    pub fn from_response(status: u16, retry_after_header: Option<&str>, body: &[u8], now: SystemTime) -> Self {
        let raw = truncate_utf8(body, MAX_ERROR_BODY);
        let mut error = ApiError {
            status,
            message: String::new(),
            shape: ErrorShape::NotJson,
            details: None,
            field: None,
            field_errors: Vec::new(),
            retry_after: retry_after_header.and_then(|value| retry::parse_retry_after(value, now)),
            body: raw,
        };
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => error.decode_object(&map),
            Ok(_) => {
                error.shape = ErrorShape::Unrecognized;
                error.message = fallback_message(status, &error.body);
            }
            Err(_) => {
                error.shape = ErrorShape::NotJson;
                error.message = fallback_message(status, &error.body);
            }
        }
        if error.message.is_empty() {
            error.message = reason_phrase(status).to_owned();
        }
        if status == 429 && error.retry_after.is_none() {
            error.retry_after = retry::rate_limit_window(&error.message);
        }
        error
    }

    fn decode_object(&mut self, map: &serde_json::Map<String, Value>) {
        let details = map.get("details").filter(|d| !is_empty_json(d)).cloned();
        match (map.get("detail"), map.get("error")) {
            (Some(Value::String(detail)), error) => {
                self.message = detail.clone();
                self.shape = if error.is_some() || map.contains_key("details") {
                    ErrorShape::App
                } else {
                    ErrorShape::Framework
                };
                self.field = details
                    .as_ref()
                    .and_then(|d| d.get("field"))
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                self.details = details;
            }
            (Some(Value::Array(items)), _) => {
                self.shape = ErrorShape::Validation;
                self.field_errors = items.iter().map(decode_field_error).collect();
                self.message = self
                    .field_errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ");
            }
            (None, Some(Value::String(message))) => {
                self.message = message.clone();
                self.shape = if self.status == 429 {
                    ErrorShape::RateLimit
                } else if self.status >= 500 {
                    ErrorShape::Internal
                } else {
                    ErrorShape::Unrecognized
                };
                if let Some(inner) = details.as_ref().and_then(|d| d.get("message")).and_then(Value::as_str) {
                    self.message = format!("{message}: {inner}");
                }
                self.details = details;
            }
            _ => {
                self.shape = ErrorShape::Unrecognized;
                self.message = fallback_message(self.status, &self.body);
            }
        }
    }

    /// A one-line summary of the validation items, or the message.
    pub fn summary(&self) -> String {
        self.message.clone()
    }

    /// Whether this is the API's own error answer (a JSON body in one of the
    /// server's shapes), rather than a page from something in between (a
    /// captive portal, a proxy) or an unrecognised body.
    pub fn is_from_api(&self) -> bool {
        !matches!(self.shape, ErrorShape::NotJson | ErrorShape::Unrecognized)
    }

    /// Removes `key` and anything key-shaped from every text of this error
    /// (a server or proxy that echoes request headers would otherwise hand
    /// the key to whoever prints or stores the error).
    pub fn scrub(&mut self, key: Option<&ApiKey>) {
        let clean = |text: &mut String| {
            if let std::borrow::Cow::Owned(cleaned) = scrub(text, key) {
                *text = cleaned;
            }
        };
        clean(&mut self.message);
        clean(&mut self.body);
        if let Some(field) = &mut self.field {
            clean(field);
        }
        for item in &mut self.field_errors {
            clean(&mut item.message);
            clean(&mut item.field);
            for part in &mut item.loc {
                scrub_json(part, key);
            }
        }
        if let Some(details) = &mut self.details {
            scrub_json(details, key);
        }
    }
}

/// Scrubs every string in a JSON value (see [`crate::auth::scrub`]).
pub(crate) fn scrub_json(value: &mut Value, key: Option<&ApiKey>) {
    match value {
        Value::String(text) => {
            if let std::borrow::Cow::Owned(cleaned) = scrub(text, key) {
                *text = cleaned;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| scrub_json(v, key)),
        Value::Object(map) => map.values_mut().for_each(|v| scrub_json(v, key)),
        _ => {}
    }
}

fn decode_field_error(item: &Value) -> FieldError {
    let loc: Vec<Value> = item.get("loc").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut parts = loc.iter().peekable();
    if let Some(Value::String(first)) = parts.peek()
        && matches!(first.as_str(), "body" | "query" | "path" | "header")
        && loc.len() > 1
    {
        parts.next();
    }
    let mut field = String::new();
    for part in parts {
        match part {
            Value::Number(n) => field.push_str(&format!("[{n}]")),
            Value::String(s) => {
                if !field.is_empty() {
                    field.push('.');
                }
                field.push_str(s);
            }
            _ => {}
        }
    }
    FieldError {
        loc,
        field,
        message: item
            .get("msg")
            .and_then(Value::as_str)
            .unwrap_or("invalid value")
            .to_owned(),
        kind: item.get("type").and_then(Value::as_str).unwrap_or_default().to_owned(),
    }
}

fn is_empty_json(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(map) => map.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

/// A message for a body that carries none: an HTML `<title>`, a short plain
/// text, or the status's reason phrase.
fn fallback_message(status: u16, body: &str) -> String {
    let trimmed = body.trim();
    if let Some(start) = trimmed.find("<title>") {
        let rest = &trimmed[start + 7..];
        if let Some(end) = rest.find("</title>") {
            let title = rest[..end].trim();
            if !title.is_empty() {
                return title.to_owned();
            }
        }
    }
    if !trimmed.is_empty() && !trimmed.starts_with('<') && !trimmed.starts_with('{') && !trimmed.starts_with('[') {
        let line = trimmed.lines().next().unwrap_or_default();
        return truncate_chars(line, 200);
    }
    reason_phrase(status).to_owned()
}

fn reason_phrase(status: u16) -> &'static str {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Unexpected status")
}

/// Keeps at most `max` bytes of `bytes` as text, cut on a character boundary.
pub(crate) fn truncate_utf8(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    if text.len() <= max {
        return text.into_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

fn truncate_chars(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(max).collect();
        format!("{cut}…")
    }
}
