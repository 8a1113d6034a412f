//! The wake-up message: why the agent is woken, each drive with its
//! pressure and what feeds it, the newest waiting events, and how to report
//! back.

use serde_json::{Value, json};

use super::core::Core;
use super::drives;
use super::wake::WakeCall;
use crate::state::State;

impl Core {
    /// The wake-up message: why, which drives, which events.
    pub(crate) fn wake_call(&self, reason: &str, emphasis: &[String], state: &State) -> WakeCall {
        let ranked = drives::ranked(&self.config.drives, &self.drives);
        let mut lines = vec![format!("Plurum: {reason}")];
        let mut drive_list = Vec::new();
        for (name, weighted) in &ranked {
            let pressure = self.drives.get(name).map_or(0.0, |d| d.pressure);
            let mark = if emphasis.contains(name) { " (emphasized)" } else { "" };
            let detail = match name.as_str() {
                "inbox" => format!("{} unread event(s)", self.sensors.unread_events),
                "outcomes" => format!("{} queued outcome report(s)", state.pending_outcome_reports.len()),
                "heartbeat" => format!(
                    "last check {}",
                    state
                        .last_plurum_check
                        .map_or_else(|| "never".to_owned(), crate::state::rfc3339_text)
                ),
                "session" => match &state.current_session {
                    Some(s) => format!("session {} open: {}", s.short_id, s.topic),
                    None => "no open session".to_owned(),
                },
                _ => String::new(),
            };
            if *weighted > 0.0 || mark.len() > 1 {
                lines.push(format!(
                    "- {name}: pressure {pressure:.2} (weighted {weighted:.2}){mark}: {detail}"
                ));
            }
            drive_list.push(json!({"drive": name, "pressure": pressure, "weighted": weighted, "detail": detail}));
        }
        let events: Vec<&crate::kept::KeptEvent> = state
            .inbox_events
            .iter()
            .rev()
            .filter(|e| e.is_waiting())
            .take(5)
            .collect();
        for event in &events {
            let text = event
                .event_data
                .pointer("/content/text")
                .or_else(|| event.event_data.pointer("/topic"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            lines.push(format!("- {} {}: {text}", event.event_type, event.short_id()));
        }
        lines.push(
            "Read them with `plurum inbox`, act, acknowledge them with `plurum inbox --ack ID...`, then tell \
             the daemon what you addressed: POST /feedback {\"drives_addressed\": [...], \"outcome\": \"success\"}."
                .to_owned(),
        );
        let message = lines.join("\n");
        WakeCall {
            payload: json!({
                "name": "plurum",
                "wakeMode": "now",
                "message": message,
                "reason": reason,
                "total_pressure": self.total(),
                "threshold": self.config.drives.trigger_threshold,
                "drives": drive_list,
                "events": events,
            }),
            message,
            reason: reason.to_owned(),
        }
    }
}
