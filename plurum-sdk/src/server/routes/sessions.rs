//! `/sessions/*`: open, list, get, update, entries, close, abandon, contribute, contributions.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use super::{Answer, created, ok, page};
use crate::server::ServerState;
use crate::server::assemble;
use crate::server::embed;
use crate::server::error::{Failure, Outcome};
use crate::server::request::Req;
use crate::server::security;
use crate::server::store::{Agent, Contribution, Eligibility, Entry, NewEvent, Session};
use crate::server::validation::{self, Fields};

const VISIBILITIES: &[&str] = &["public", "team", "private"];
const ENTRY_TYPES: &[&str] = &["update", "dead_end", "breakthrough", "gotcha", "artifact", "note"];
const OUTCOMES: &[&str] = &["success", "partial", "failure"];
const CONTRIBUTION_TYPES: &[&str] = &["suggestion", "warning", "reference"];

/// A session sub-route's session: UUIDs only. Anything else is a 404, or
/// with the real service's quirks a 500 (PostgREST refuses the query;
/// docs/api-contract.md §2), short ids included.
fn session_by_uuid(state: &ServerState, id: &str) -> Outcome<Session> {
    if uuid::Uuid::parse_str(id).is_err() {
        if state.real() {
            return Err(Failure::Internal);
        }
        return Err(Failure::not_found("Session", id));
    }
    let uuid = uuid::Uuid::parse_str(id)
        .map(|u| u.hyphenated().to_string())
        .unwrap_or_default();
    state
        .store
        .session(&uuid)?
        .ok_or_else(|| Failure::not_found("Session", id))
}

fn owned_by(session: &Session, agent: &Agent) -> Outcome<()> {
    if session.agent_id == agent.id {
        Ok(())
    } else {
        Err(Failure::forbidden("You don't own this session"))
    }
}

/// `POST /sessions`.
pub(crate) async fn open(State(state): State<Arc<ServerState>>, req: Req) -> Answer {
    let agent = state.authenticate(&req)?;
    let body = validation::body_object(req.body.as_ref())?;
    let mut fields = Fields::body(body);
    let topic = fields.string("topic", 5, Some(1000));
    let domain = fields.opt_string("domain", Some(100));
    let tools = fields.string_list("tools_used");
    let visibility = fields.choice("visibility", VISIBILITIES, Some("public"));
    fields.finish()?;
    let (Some(topic), Some(visibility)) = (topic, visibility) else {
        return Err(Failure::Internal);
    };
    state.rate_limit(&req, Some(&agent), state.limits.session_write)?;

    let vector = embed::embed(&embed::query_text(&topic, domain.as_deref(), &tools));
    let session = state
        .store
        .insert_session(&agent.id, &topic, domain.as_deref(), &tools, &visibility, &vector)?;

    let matches = state
        .store
        .search(&vector, embed::fts_query(&topic).as_ref(), &Eligibility::default(), 5)?;
    let matching: Vec<Value> = matches
        .iter()
        .map(|(e, similarity, keyword, combined)| e.raw_search_json(*similarity, *keyword, *combined))
        .collect();

    let mut active: Vec<(f64, &Session)> = Vec::new();
    let others = state.store.open_public_sessions_except(&agent.id)?;
    for other in &others {
        let similarity = other.embedding.as_ref().map_or(0.0, |v| embed::cosine(&vector, v));
        if similarity >= state.active_session_threshold {
            active.push((similarity, other));
        }
    }
    active.sort_by(|a, b| b.0.total_cmp(&a.0));
    let active: Vec<Value> = active
        .into_iter()
        .take(5)
        .map(|(similarity, s)| {
            json!({
                "id": s.id,
                "short_id": s.short_id,
                "agent_id": s.agent_id,
                "topic": s.topic,
                "domain": s.domain,
                "tools_used": s.tools_used,
                "similarity": (similarity * 10_000.0).round() / 10_000.0,
                "started_at": s.started_at,
            })
        })
        .collect();

    let data = json!({
        "session_id": session.id,
        "short_id": session.short_id,
        "agent_id": session.agent_id,
        "topic": session.topic,
        "domain": session.domain,
        "tools_used": session.tools_used,
    });
    // Seed: public sessions only, stored for the inbox. Real: the inbox
    // builds session events at read time, and the socket tells everyone,
    // whatever the visibility (docs/api-contract.md §8, a quirk).
    if session.is_public() && !state.real() {
        state
            .store
            .insert_event("session_opened", &data, None, &session.id, &agent.id)?;
    }
    if session.is_public() || state.real() {
        state
            .hub
            .session_opened(&agent.id, session.domain.as_deref(), data, &state.limits);
    }
    created(json!({
        "session": session.row(&state),
        "matching_experiences": matching,
        "active_sessions": active,
    }))
}

/// `GET /sessions`.
pub(crate) async fn list(State(state): State<Arc<ServerState>>, req: Req) -> Answer {
    let agent = state.optional_agent(&req)?;
    let query = validation::query_map(req.query.as_deref());
    let mut fields = Fields::query(&query);
    let status = fields.opt_string("status", None);
    let _visibility = fields.opt_string("visibility", None);
    let limit = fields.integer("limit", Some(20), Some(1), Some(100)).unwrap_or(20);
    let offset = fields.integer("offset", Some(0), Some(0), None).unwrap_or(0);
    fields.finish()?;
    state.rate_limit(&req, agent.as_ref(), state.limits.read)?;
    let (rows, total) =
        state
            .store
            .list_sessions(agent.as_ref().map(|a| a.id.as_str()), status.as_deref(), limit, offset)?;
    ok(page(rows.iter().map(|s| s.row(&state)).collect(), total, limit, offset))
}

/// `GET /sessions/{identifier}`: a short id when 8 characters long, a UUID otherwise.
pub(crate) async fn get(State(state): State<Arc<ServerState>>, Path(id): Path<String>, req: Req) -> Answer {
    let agent = state.optional_agent(&req)?;
    state.rate_limit(&req, agent.as_ref(), state.limits.read)?;
    let session = if id.chars().count() == 8 {
        state.store.session_by_short_id(&id)?
    } else {
        match uuid::Uuid::parse_str(&id) {
            Ok(uuid) => state.store.session(&uuid.hyphenated().to_string())?,
            // The real service: PostgREST refuses the query (docs/api-contract.md §2).
            Err(_) if state.real() => return Err(Failure::Internal),
            Err(_) => None,
        }
    };
    let session = session.ok_or_else(|| Failure::not_found("Session", &id))?;
    let owner = agent.as_ref().is_some_and(|a| a.id == session.agent_id);
    // The real service makes no visibility check for a caller with a key
    // (docs/api-contract.md §4.2): another agent's private session, without entries.
    let hidden = session.visibility == "private" && !owner && !(state.real() && agent.is_some());
    if hidden {
        return Err(Failure::not_found("Session", &id));
    }
    let entries = state.store.entries(&session.id)?;
    let mut body = session.row(&state);
    if agent.is_some() {
        body["entry_count"] = json!(entries.len());
        body["entries"] = if owner {
            json!(entries.iter().map(|e| e.json()).collect::<Vec<_>>())
        } else {
            json!([])
        };
    } else {
        body["entries"] = json!(entries.iter().map(|e| e.json()).collect::<Vec<_>>());
    }
    ok(body)
}

/// `PATCH /sessions/{id}`.
pub(crate) async fn update(State(state): State<Arc<ServerState>>, Path(id): Path<String>, req: Req) -> Answer {
    let agent = state.authenticate(&req)?;
    let body = validation::body_object(req.body.as_ref())?;
    let mut fields = Fields::body(body);
    let tools = fields.opt_string_list("tools_used");
    let domain = fields.opt_string("domain", None);
    fields.finish()?;
    let session = session_by_uuid(&state, &id)?;
    owned_by(&session, &agent)?;
    if session.status != "open" {
        return Err(Failure::unprocessable("Cannot update a closed or abandoned session"));
    }
    let updated = state
        .store
        .update_session(&session.id, tools.as_deref(), domain.as_deref())?
        .ok_or_else(|| Failure::not_found("Session", &id))?;
    ok(updated.row(&state))
}

/// `POST /sessions/{id}/entries`.
pub(crate) async fn log(State(state): State<Arc<ServerState>>, Path(id): Path<String>, req: Req) -> Answer {
    let agent = state.authenticate(&req)?;
    let body = validation::body_object(req.body.as_ref())?;
    let mut fields = Fields::body(body);
    let entry_type = fields.choice("entry_type", ENTRY_TYPES, None);
    let content = fields.object("content");
    fields.finish()?;
    let (Some(entry_type), Some(content)) = (entry_type, content) else {
        return Err(Failure::Internal);
    };
    state.rate_limit(&req, Some(&agent), state.limits.session_entry)?;
    let session = session_by_uuid(&state, &id)?;
    owned_by(&session, &agent)?;
    if session.status != "open" {
        return Err(Failure::unprocessable(
            "Cannot log entries to a closed or abandoned session",
        ));
    }
    let entry = state
        .store
        .insert_entry(&session.id, &entry_type, &Value::Object(content))?;
    created(entry.json())
}

/// `POST /sessions/{id}/close`: closes and assembles an experience from the entries.
pub(crate) async fn close(State(state): State<Arc<ServerState>>, Path(id): Path<String>, req: Req) -> Answer {
    let agent = state.authenticate(&req)?;
    let body = validation::body_object(req.body.as_ref())?;
    let mut fields = Fields::body(body);
    let outcome = fields.pattern("outcome", OUTCOMES, false, true);
    fields.finish()?;
    state.rate_limit(&req, Some(&agent), state.limits.session_write)?;
    let session = session_by_uuid(&state, &id)?;
    owned_by(&session, &agent)?;
    let closed = state
        .store
        .end_session(&session.id, "closed", outcome.as_deref())?
        .ok_or_else(|| Failure::unprocessable("Session is already closed or abandoned"))?;

    let entries = state.store.entries(&closed.id)?;
    let experience = match assemble::from_session(&closed, &entries) {
        Some(new) if security::find_key("experience", &new.json()).is_none() => {
            match state.store.insert_experience(&new) {
                Ok(experience) => Some(experience),
                Err(error) => {
                    tracing::warn!(%error, "experience assembly failed; the session stays closed");
                    None
                }
            }
        }
        _ => None,
    };
    let mut data = json!({
        "session_id": closed.id,
        "short_id": closed.short_id,
        "agent_id": closed.agent_id,
        "topic": closed.topic,
        "outcome": closed.outcome,
    });
    if let Some(e) = &experience {
        data["experience_id"] = json!(e.id);
        data["experience_short_id"] = json!(e.short_id);
    }
    if closed.is_public() && !state.real() {
        state
            .store
            .insert_event("session_closed", &data, None, &closed.id, &agent.id)?;
    }
    if closed.is_public() || state.real() {
        state.hub.session_closed(&agent.id, data, &state.limits);
    }
    let mut body = json!({ "session": closed.row(&state) });
    if let Some(e) = experience {
        body["experience_draft"] = e.detail_json();
    }
    ok(body)
}

/// `POST /sessions/{id}/abandon`.
pub(crate) async fn abandon(State(state): State<Arc<ServerState>>, Path(id): Path<String>, req: Req) -> Answer {
    let agent = state.authenticate(&req)?;
    state.rate_limit(&req, Some(&agent), state.limits.session_write)?;
    let session = session_by_uuid(&state, &id)?;
    owned_by(&session, &agent)?;
    let abandoned = state
        .store
        .end_session(&session.id, "abandoned", None)?
        .ok_or_else(|| Failure::unprocessable("Session is already closed or abandoned"))?;
    ok(abandoned.row(&state))
}

/// A contribution to another agent's session, as REST and the WebSocket make
/// it: checks, storage, the owner's inbox event and push.
pub(crate) fn contribute_to(
    state: &ServerState,
    agent: &Agent,
    session_id: &str,
    content: Value,
    contribution_type: &str,
) -> Outcome<Contribution> {
    let session = session_by_uuid(state, session_id)?;
    if session.visibility == "private" {
        return Err(Failure::forbidden("Cannot contribute to a private session"));
    }
    if session.agent_id == agent.id {
        return Err(Failure::unprocessable("Cannot contribute to your own session"));
    }
    if session.status != "open" {
        return Err(Failure::unprocessable(
            "Cannot contribute to a closed or abandoned session",
        ));
    }
    let contribution = state
        .store
        .insert_contribution(&session.id, &agent.id, &content, contribution_type, |c| NewEvent {
            event_type: "contribution_received",
            data: c.json(),
            target: Some(session.agent_id.clone()),
            source_session: session.id.clone(),
            source_agent: agent.id.clone(),
        })?;
    state
        .hub
        .contribution_received(&session.agent_id, contribution.json(), &state.limits);
    Ok(contribution)
}

/// `POST /sessions/{id}/contribute`.
pub(crate) async fn contribute(State(state): State<Arc<ServerState>>, Path(id): Path<String>, req: Req) -> Answer {
    let agent = state.authenticate(&req)?;
    let body = validation::body_object(req.body.as_ref())?;
    let mut fields = Fields::body(body);
    let content: Option<Map<String, Value>> = fields.object("content");
    let contribution_type = fields.choice("contribution_type", CONTRIBUTION_TYPES, None);
    fields.finish()?;
    let (Some(content), Some(contribution_type)) = (content, contribution_type) else {
        return Err(Failure::Internal);
    };
    let contribution = contribute_to(&state, &agent, &id, Value::Object(content), &contribution_type)?;
    created(contribution.json())
}

/// `GET /sessions/{id}/contributions`.
pub(crate) async fn contributions(State(state): State<Arc<ServerState>>, Path(id): Path<String>, req: Req) -> Answer {
    let agent = state.authenticate(&req)?;
    let session = session_by_uuid(&state, &id)?;
    owned_by(&session, &agent)?;
    let rows = state.store.contributions(&session.id)?;
    Ok((
        StatusCode::OK,
        axum::Json(json!(rows.iter().map(Contribution::json).collect::<Vec<_>>())),
    ))
}

/// How a session reads on the wire.
impl Session {
    /// The full row, as `select *` returns it (the embedding as null).
    /// The row as the API sends it; the real service includes the topic's
    /// vector as pgvector text (docs/api-contract.md §3.2), the seed documents do not.
    pub(crate) fn row(&self, state: &ServerState) -> Value {
        let mut row = self.row_json();
        if state.real() {
            let vector = embed::embed(&embed::query_text(
                &self.topic,
                self.domain.as_deref(),
                &self.tools_used,
            ));
            let text: Vec<String> = vector.iter().map(|v| format!("{v:.6}")).collect();
            row["topic_embedding"] = json!(format!("[{}]", text.join(",")));
        }
        row
    }

    pub(crate) fn row_json(&self) -> Value {
        json!({
            "id": self.id,
            "short_id": self.short_id,
            "agent_id": self.agent_id,
            "topic": self.topic,
            "domain": self.domain,
            "tools_used": self.tools_used,
            "status": self.status,
            "visibility": self.visibility,
            "outcome": self.outcome,
            "topic_embedding": null,
            "started_at": self.started_at,
            "closed_at": self.closed_at,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        })
    }

    /// The slim projection of pulse status.
    pub(crate) fn pulse_json(&self) -> Value {
        json!({
            "id": self.id,
            "short_id": self.short_id,
            "agent_id": self.agent_id,
            "topic": self.topic,
            "domain": self.domain,
            "tools_used": self.tools_used,
            "status": self.status,
            "outcome": self.outcome,
            "started_at": self.started_at,
            "closed_at": self.closed_at,
        })
    }
}

/// How an entry reads on the wire.
impl Entry {
    pub(crate) fn json(&self) -> Value {
        json!({
            "id": self.id,
            "session_id": self.session_id,
            "entry_type": self.entry_type,
            "content": self.content,
            "ordinal": self.ordinal,
            "created_at": self.created_at,
        })
    }
}

/// How a contribution reads on the wire.
impl Contribution {
    pub(crate) fn json(&self) -> Value {
        json!({
            "id": self.id,
            "session_id": self.session_id,
            "contributor_agent_id": self.contributor_agent_id,
            "content": self.content,
            "contribution_type": self.contribution_type,
            "created_at": self.created_at,
        })
    }
}
