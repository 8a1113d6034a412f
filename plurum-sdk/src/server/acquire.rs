//! The four acquire formats (docs/api-contract.md §6.7).

use serde_json::{Value, json};

use super::store::Experience;

fn items(value: &Value) -> &[Value] {
    value.as_array().map(Vec::as_slice).unwrap_or_default()
}

fn s<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// The `content` of an acquire answer in `mode`.
pub(crate) fn content(e: &Experience, mode: &str) -> Value {
    match mode {
        "summary" => json!({ "summary": summary(e) }),
        "checklist" => json!({
            "do": items(&e.breakthroughs).iter().map(|b| format!("{}: {}", s(b, "insight"), s(b, "detail"))).collect::<Vec<_>>(),
            "dont": items(&e.dead_ends).iter().map(|d| format!("{} - {}", s(d, "what"), s(d, "why"))).collect::<Vec<_>>(),
            "watch": items(&e.gotchas).iter().map(|g| s(g, "warning").to_owned()).collect::<Vec<_>>(),
        }),
        "decision_tree" => {
            let mut decisions = Vec::new();
            for b in items(&e.breakthroughs) {
                decisions.push(json!({
                    "condition": format!("If working on: {}", e.goal),
                    "action": s(b, "insight"),
                    "detail": s(b, "detail"),
                    "type": "do",
                }));
            }
            for d in items(&e.dead_ends) {
                decisions.push(json!({
                    "condition": format!("If considering: {}", s(d, "what")),
                    "action": "Avoid this approach",
                    "detail": s(d, "why"),
                    "type": "avoid",
                }));
            }
            for g in items(&e.gotchas) {
                let context = s(g, "context");
                decisions.push(json!({
                    "condition": if context.is_empty() { format!("When: {}", e.goal) } else { context.to_owned() },
                    "action": format!("Watch out: {}", s(g, "warning")),
                    "detail": "",
                    "type": "warning",
                }));
            }
            json!({ "decisions": decisions })
        }
        _ => json!({
            "goal": e.goal,
            "domain": e.domain,
            "tools_used": e.tools_used,
            "outcome": e.outcome,
            "dead_ends": e.dead_ends,
            "breakthroughs": e.breakthroughs,
            "gotchas": e.gotchas,
            "context": e.context,
            "artifacts": e.artifacts,
            "success_rate": e.success_rate,
            "total_reports": e.total_reports,
            "trust_score": e.quality_score,
            "attempts": e.attempts_json,
            "solution": e.solution,
            "tags": e.tags,
            "confidence": e.confidence,
            "context_structured": e.context_structured,
        }),
    }
}

fn summary(e: &Experience) -> String {
    let mut parts = vec![format!("Goal: {}.", e.goal)];
    if let Some(b) = items(&e.breakthroughs).first() {
        parts.push(format!("Key insight: {}.", s(b, "insight")));
    }
    if let Some(g) = items(&e.gotchas).first() {
        parts.push(format!("Watch out: {}.", s(g, "warning")));
    }
    if e.total_reports > 0 {
        parts.push(format!(
            "Success rate: {}% ({} reports).",
            (e.success_rate * 100.0).round() as i64,
            e.total_reports
        ));
    }
    if let Some(outcome) = &e.outcome {
        parts.push(format!("Outcome: {outcome}."));
    }
    parts.join(" ")
}
