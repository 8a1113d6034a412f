//! Diagnostics on stderr (`-v`, `-vv`, `RUST_LOG`) that never carry a key.
//!
//! Two guards sit between every log event and stderr:
//!
//! * WebSocket frames are never logged: tungstenite's trace lines print
//!   every frame, and the pulse's first frame carries the key (and on
//!   `plurum serve`, every agent's). Those lines are dropped whatever
//!   `RUST_LOG` asks for.
//! * Every line is scrubbed before it is written: the keys this process
//!   holds, and anything shaped like a key, become `[redacted]`.

use std::io::Write;
use std::sync::RwLock;

use plurum_sdk::ApiKey;
use tracing_subscriber::Layer as _;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// The keys this process knows (every one it resolved, stored or received).
static SECRETS: RwLock<Vec<ApiKey>> = RwLock::new(Vec::new());

/// Remembers a key so that no log line, error or warning shows it.
pub(crate) fn remember(key: &ApiKey) {
    let mut secrets = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    if !secrets.iter().any(|k| k.same_as(key)) {
        secrets.push(key.clone());
    }
}

/// `text` without any key this process knows and without anything key-shaped.
pub(crate) fn scrub(text: &str) -> String {
    let secrets = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    let mut out = plurum_sdk::auth::scrub(text, None).into_owned();
    for key in secrets.iter() {
        if let std::borrow::Cow::Owned(clean) = key.scrub(&out) {
            out = clean;
        }
    }
    out
}

/// Keys this run prints on purpose (`register --show-key`, `auth
/// rotate-key --show-key`, a key that could not be stored): stdout keeps
/// them as they are; stderr and logs never do.
static REVEALED: RwLock<Vec<ApiKey>> = RwLock::new(Vec::new());

/// Marks `key` as printed on stdout on purpose by this run.
pub(crate) fn reveal(key: &ApiKey) {
    remember(key);
    let mut revealed = REVEALED.write().unwrap_or_else(|e| e.into_inner());
    if !revealed.iter().any(|k| k.same_as(key)) {
        revealed.push(key.clone());
    }
}

/// `text` as it may go to stdout: scrubbed as [`scrub`] does (the keys this
/// process holds in every transform it knows, anything key-shaped), except
/// a key this run prints on purpose ([`reveal`]), where it appears whole.
pub(crate) fn scrub_stdout(text: &str) -> String {
    let revealed = REVEALED.read().unwrap_or_else(|e| e.into_inner());
    match revealed.iter().find(|k| text.contains(k.expose())) {
        Some(key) => text
            .split(key.expose())
            .map(scrub)
            .collect::<Vec<_>>()
            .join(key.expose()),
        None => scrub(text),
    }
}

/// Scrubs every string (and member name) in a JSON value, for documents
/// that leave the process without going through stdout (MCP results).
pub(crate) fn scrub_value(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::String(text) => {
            let clean = scrub_stdout(text);
            if clean != *text {
                *text = clean;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(scrub_value),
        Value::Object(members) => {
            let dirty: Vec<String> = members.keys().filter(|k| scrub(k) != **k).cloned().collect();
            for name in dirty {
                if let Some(v) = members.remove(&name) {
                    members.insert(scrub(&name), v);
                }
            }
            members.values_mut().for_each(scrub_value);
        }
        _ => {}
    }
}

/// `-v`: plurum's own events; `-vv`: HTTP details too. `RUST_LOG` overrides.
pub(crate) fn init(verbose: u8, color: bool) {
    let default = match verbose {
        0 => "warn",
        1 => "plurum_sdk=info,plurum_cli=info,warn",
        _ => "plurum_sdk=debug,plurum_cli=debug,reqwest=debug,info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let no_frames = tracing_subscriber::filter::filter_fn(|meta| !is_frame_trace(meta.target(), *meta.level()));
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(Scrubbed)
        .with_ansi(color)
        .with_target(false)
        .with_filter(no_frames)
        .with_filter(filter);
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

/// tungstenite's frame-level lines (trace): they print frame payloads.
fn is_frame_trace(target: &str, level: tracing::Level) -> bool {
    level == tracing::Level::TRACE && (target.starts_with("tungstenite") || target.starts_with("tokio_tungstenite"))
}

/// A stderr writer that scrubs each formatted line.
#[derive(Debug, Clone, Copy)]
struct Scrubbed;

/// Buffers one event's output and writes it scrubbed.
#[derive(Debug, Default)]
struct Line(Vec<u8>);

impl Write for Line {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        let text = scrub(&String::from_utf8_lossy(&self.0));
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }
}

impl<'a> MakeWriter<'a> for Scrubbed {
    type Writer = Line;

    fn make_writer(&'a self) -> Self::Writer {
        Line::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_never_traced_and_lines_are_scrubbed() {
        assert!(is_frame_trace("tungstenite::protocol", tracing::Level::TRACE));
        assert!(is_frame_trace("tokio_tungstenite::compat", tracing::Level::TRACE));
        assert!(!is_frame_trace("tungstenite::protocol", tracing::Level::DEBUG));
        assert!(!is_frame_trace("plurum_sdk::http", tracing::Level::TRACE));
        let key = ApiKey::new("an-odd-secret-that-is-not-key-shaped");
        remember(&key);
        let line = scrub("sent an-odd-secret-that-is-not-key-shaped and plrm_live_abcdefgh12345");
        assert_eq!(line, "sent [redacted] and plrm_live_[redacted]");
    }

    #[test]
    fn a_key_shown_on_purpose_stays_on_stdout_only_and_values_are_scrubbed() {
        let held = ApiKey::new("plrm_live_TESTheldTESTheldTESTheldTESTheldTESTheldTES");
        let shown = ApiKey::new("plrm_live_SHOWNshownSHOWNshownSHOWNshownSHOWNshown12");
        remember(&held);
        reveal(&shown);
        let line = format!("new {} old {}", shown.expose(), held.expose().to_uppercase());
        assert_eq!(
            scrub_stdout(&line),
            format!("new {} old PLRM_LIVE_[redacted]", shown.expose())
        );
        assert_eq!(scrub(&line), "new plrm_live_[redacted] old PLRM_LIVE_[redacted]");
        let mut value = serde_json::json!({
            "username": held.expose(),
            "list": [format!("x {}", &held.expose()[12..40])],
            held.expose(): 1,
        });
        scrub_value(&mut value);
        let text = value.to_string();
        assert!(!text.contains("TESTheldTESTheld"), "{text}");
        assert_eq!(value["username"], "plrm_live_[redacted]");
    }
}
