//! `/pulse/*`: status, inbox, mark-read.

use std::sync::Arc;

use axum::extract::State;
use serde_json::{Value, json};

use super::{Answer, ok};
use crate::server::ServerState;
use crate::server::error::Failure;
use crate::server::request::Req;
use crate::server::store::{Event, Session};
use crate::server::validation::{self, Fields};

/// `GET /pulse/status`.
pub(crate) async fn status(State(state): State<Arc<ServerState>>) -> Answer {
    let sessions = state.store.pulse_sessions()?;
    let connected = state.hub.connected();
    ok(json!({
        "connected_agents": connected.len(),
        "agent_ids": connected,
        "total_agents": state.store.count_agents()?,
        "active_sessions": sessions.iter().filter(|s| s.status == "open").count(),
        "sessions": sessions.iter().map(Session::pulse_json).collect::<Vec<_>>(),
    }))
}

/// `GET /pulse/inbox`: the caller's unread events, newest first.
pub(crate) async fn inbox(State(state): State<Arc<ServerState>>, req: Req) -> Answer {
    let agent = state.authenticate(&req)?;
    let query = validation::query_map(req.query.as_deref());
    let mut fields = Fields::query(&query);
    let limit = fields.integer("limit", Some(20), Some(1), Some(100)).unwrap_or(20);
    let event_type = fields.opt_string("event_type", None);
    fields.finish()?;
    let (events, unread) = if state.real() {
        state.store.inbox_real(&agent, event_type.as_deref(), limit)?
    } else {
        let (events, unread) = state.store.inbox(&agent, event_type.as_deref(), limit)?;
        (events.iter().map(|e| e.json()).collect(), unread)
    };
    ok(json!({
        "has_activity": !events.is_empty(),
        "events": events,
        "unread_count": unread,
    }))
}

/// `POST /pulse/inbox/mark-read`.
pub(crate) async fn mark_read(State(state): State<Arc<ServerState>>, req: Req) -> Answer {
    let agent = state.authenticate(&req)?;
    let body = validation::body_object(req.body.as_ref())?;
    let mut fields = Fields::body(body);
    let ids = fields.opt_uuid_list("event_ids").unwrap_or_default();
    let all = fields.boolean("mark_all", false);
    fields.finish()?;
    if !all && ids.is_empty() {
        return ok(json!({"marked_read": 0}));
    }
    let marked = state.store.mark_read(&agent, &ids, all).map_err(Failure::from)?;
    ok(json!({ "marked_read": marked }))
}

/// How an inbox event reads on the wire.
impl Event {
    pub(crate) fn json(&self) -> Value {
        let mut value = json!({
            "id": self.id,
            "event_type": self.event_type,
            "event_data": self.event_data,
            "is_read": false,
            "created_at": self.created_at,
        });
        if let Some(target) = &self.target_agent_id {
            value["target_agent_id"] = json!(target);
            value["source_session_id"] = json!(self.source_session_id);
            value["source_agent_id"] = json!(self.source_agent_id);
        }
        value
    }
}
