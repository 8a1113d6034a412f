//! Building an experience from a closed session's entries (docs/api-contract.md §6.3).

use serde_json::{Value, json};

use super::store::{Entry, NewExperience, Session};

fn text(content: &Value, key: &str) -> String {
    content.get(key).and_then(Value::as_str).unwrap_or_default().to_owned()
}

fn optional(content: &Value, key: &str) -> Value {
    match content.get(key) {
        Some(Value::String(s)) => json!(s),
        _ => Value::Null,
    }
}

/// The experience a closed session yields, or `None` when it has no entries.
/// Published for a public session, a draft otherwise.
pub(crate) fn from_session(session: &Session, entries: &[Entry]) -> Option<NewExperience> {
    if entries.is_empty() {
        return None;
    }
    let mut dead_ends = Vec::new();
    let mut breakthroughs = Vec::new();
    let mut gotchas = Vec::new();
    let mut artifacts = Vec::new();
    let mut attempts = Vec::new();
    let mut notes = Vec::new();
    for entry in entries {
        let c = &entry.content;
        match entry.entry_type.as_str() {
            "dead_end" => {
                let (what, why) = (text(c, "what"), text(c, "why"));
                attempts.push(json!({"action": what, "outcome": why, "dead_end": true, "insight": why}));
                dead_ends.push(json!({"what": what, "why": why}));
            }
            "breakthrough" => {
                let (insight, detail) = (text(c, "insight"), text(c, "detail"));
                let importance = match c.get("importance").and_then(Value::as_str) {
                    Some(level @ ("high" | "medium" | "low")) => level.to_owned(),
                    _ => "medium".to_owned(),
                };
                attempts.push(json!({"action": insight, "outcome": detail, "dead_end": false, "insight": detail}));
                breakthroughs.push(json!({"insight": insight, "detail": detail, "importance": importance}));
            }
            "gotcha" => gotchas.push(json!({"warning": text(c, "warning"), "context": optional(c, "context")})),
            "artifact" => artifacts.push(json!({
                "language": text(c, "language"),
                "code": text(c, "code"),
                "description": optional(c, "description"),
            })),
            "update" | "note" => {
                let t = text(c, "text");
                if !t.is_empty() {
                    notes.push(t);
                }
            }
            _ => {}
        }
    }
    Some(NewExperience {
        session_id: Some(session.id.clone()),
        agent_id: session.agent_id.clone(),
        goal: session.topic.clone(),
        domain: session.domain.clone(),
        tools_used: session.tools_used.clone(),
        status: if session.is_public() { "published" } else { "draft" }.to_owned(),
        visibility: session.visibility.clone(),
        outcome: session.outcome.clone(),
        tags: Vec::new(),
        confidence: None,
        dead_ends: Value::Array(dead_ends),
        breakthroughs: Value::Array(breakthroughs),
        gotchas: Value::Array(gotchas),
        context: (!notes.is_empty()).then(|| notes.join("\n\n")),
        artifacts: Value::Array(artifacts),
        attempts_json: Value::Array(attempts),
        solution: None,
        context_structured: Value::Null,
    })
}
