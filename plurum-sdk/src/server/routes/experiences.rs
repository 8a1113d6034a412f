//! `/experiences/*`: search, list, get, similar, create, publish, archive, acquire, outcome, vote.

use std::sync::Arc;

use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::{Answer, created, ok, page};
use crate::server::ServerState;
use crate::server::acquire;
use crate::server::embed;
use crate::server::error::{Failure, Outcome};
use crate::server::request::Req;
use crate::server::security;
use crate::server::store::{Agent, Eligibility, Experience, NewExperience, OutcomeInput};
use crate::server::validation::{self, Fields};

const VISIBILITIES: &[&str] = &["public", "team", "private"];
const OUTCOMES: &[&str] = &["success", "partial", "failure"];
const IMPORTANCE: &[&str] = &["high", "medium", "low"];
const MODES: &[&str] = &["summary", "checklist", "decision_tree", "full"];

/// The experience if `viewer` may read it; otherwise the same 404 as a missing one.
fn readable(state: &ServerState, identifier: &str, viewer: Option<&Agent>) -> Outcome<Experience> {
    state
        .store
        .experience(identifier)?
        .filter(|e| e.readable_by(viewer.map(|a| a.id.as_str())))
        .ok_or_else(|| Failure::not_found("Experience", identifier))
}

/// `POST /experiences/search`.
pub(crate) async fn search(State(state): State<Arc<ServerState>>, req: Req) -> Answer {
    let agent = state.optional_agent(&req)?;
    let body = validation::body_object(req.body.as_ref())?;
    let mut fields = Fields::body(body);
    let query = fields.string("query", 2, Some(1000));
    let domain = fields.opt_string("domain", None);
    let tools = fields.string_list("tools");
    let min_quality = fields.number("min_quality", Some(0.0), 0.0, 1.0);
    let limit = fields.integer("limit", Some(10), Some(1), Some(50));
    let _include_archived = fields.boolean("include_archived", false);
    fields.finish()?;
    let (Some(query), Some(min_quality), Some(limit)) = (query, min_quality, limit) else {
        return Err(Failure::Internal);
    };
    state.rate_limit(&req, agent.as_ref(), state.limits.search)?;
    let vector = embed::embed(&embed::query_text(&query, domain.as_deref(), &tools));
    let eligibility = Eligibility { min_quality, domain };
    let results = state
        .store
        .search(&vector, embed::fts_query(&query).as_ref(), &eligibility, limit as usize)?;
    let results: Vec<Value> = results
        .iter()
        .map(|(e, similarity, keyword, combined)| e.search_json(*similarity, *keyword, *combined))
        .collect();
    ok(json!({"query": query, "total_found": results.len(), "results": results}))
}

/// `GET /experiences`.
pub(crate) async fn list(State(state): State<Arc<ServerState>>, req: Req) -> Answer {
    let agent = state.optional_agent(&req)?;
    let query = validation::query_map(req.query.as_deref());
    let mut fields = Fields::query(&query);
    let status = fields.opt_string("status", None);
    let domain = fields.opt_string("domain", None);
    let limit = fields.integer("limit", Some(20), Some(1), Some(100)).unwrap_or(20);
    let offset = fields.integer("offset", Some(0), Some(0), None).unwrap_or(0);
    let include_archived = fields.boolean("include_archived", false);
    fields.finish()?;
    state.rate_limit(&req, agent.as_ref(), state.limits.read)?;
    let (rows, total) = state.store.list_experiences(
        agent.as_ref().map(|a| a.id.as_str()),
        status.as_deref(),
        domain.as_deref(),
        include_archived,
        limit,
        offset,
    )?;
    ok(page(
        rows.iter().map(Experience::list_json).collect(),
        total,
        limit,
        offset,
    ))
}

/// `GET /experiences/{identifier}`.
pub(crate) async fn get(State(state): State<Arc<ServerState>>, Path(id): Path<String>, req: Req) -> Answer {
    let agent = state.optional_agent(&req)?;
    state.rate_limit(&req, agent.as_ref(), state.limits.read)?;
    ok(readable(&state, &id, agent.as_ref())?.detail_json())
}

/// `GET /experiences/{identifier}/similar`.
pub(crate) async fn similar(State(state): State<Arc<ServerState>>, Path(id): Path<String>, req: Req) -> Answer {
    let agent = state.optional_agent(&req)?;
    let query = validation::query_map(req.query.as_deref());
    let mut fields = Fields::query(&query);
    let limit = fields.integer("limit", Some(5), Some(1), Some(20)).unwrap_or(5);
    fields.finish()?;
    state.rate_limit(&req, agent.as_ref(), state.limits.read)?;
    let source = readable(&state, &id, agent.as_ref())?;
    let similar = state.store.similar(&source, state.similar_threshold, limit as usize)?;
    ok(json!(
        similar
            .iter()
            .map(|(e, similarity)| e.similar_json(*similarity))
            .collect::<Vec<_>>()
    ))
}

/// Validates a manual experience (docs/api-contract.md §4.3) into its normalized form.
fn new_experience(agent: &Agent, body: &serde_json::Map<String, Value>) -> Outcome<(NewExperience, Value)> {
    let mut f = Fields::body(body);
    let goal = f.string("goal", 10, Some(2000));
    let domain = f.opt_string("domain", Some(100));
    let tools = f.string_list("tools_used");
    let dead_ends = f.object_list("dead_ends", |d| {
        let what = d.string("what", 0, None)?;
        let why = d.string("why", 0, None)?;
        Some(json!({"what": what, "why": why}))
    });
    let breakthroughs = f.object_list("breakthroughs", |b| {
        let insight = b.string("insight", 0, None);
        let detail = b.string("detail", 0, None);
        let importance = if b.has("importance") {
            b.pattern("importance", IMPORTANCE, false, false)
        } else {
            Some("medium".to_owned())
        };
        Some(json!({"insight": insight?, "detail": detail?, "importance": importance?}))
    });
    // `Union[Gotcha, str]`: an item that is neither gets an error for each
    // member, tagged with the member's name, as Pydantic's smart unions do.
    let gotchas = f.list("gotchas", |fields, item, index| match item {
        Value::String(warning) => Some(json!({"warning": warning, "context": null})),
        Value::Object(map) => {
            let mut inner = Fields::nested_at(fields, &[json!("gotchas"), json!(index), json!("Gotcha")], map);
            let warning = inner.string("warning", 0, None);
            let context = inner.opt_string("context", None);
            let errors = inner.into_errors();
            if errors.is_empty() {
                return Some(json!({"warning": warning, "context": context}));
            }
            fields.push_errors(errors);
            fields.error_at(
                &[json!("gotchas"), json!(index), json!("str")],
                "string_type",
                "Input should be a valid string",
                item,
                None,
            );
            None
        }
        other => {
            fields.error_at(
                &[json!("gotchas"), json!(index), json!("Gotcha")],
                "model_type",
                "Input should be a valid dictionary or instance of Gotcha",
                other,
                Some(json!({"class_name": "Gotcha"})),
            );
            fields.error_at(
                &[json!("gotchas"), json!(index), json!("str")],
                "string_type",
                "Input should be a valid string",
                other,
                None,
            );
            None
        }
    });
    let context = f.opt_string("context", None);
    let artifacts = f.object_list("artifacts", |a| {
        let language = a.string("language", 1, Some(50));
        let code = a.string("code", 0, None);
        let description = a.opt_string("description", None);
        Some(json!({"language": language?, "code": code?, "description": description}))
    });
    let visibility = f.choice("visibility", VISIBILITIES, Some("public"));
    let outcome = f.pattern("outcome", OUTCOMES, false, true);
    let attempts = f.object_list("attempts", |a| {
        let action = a.string("action", 0, None);
        let outcome = a.string("outcome", 0, None);
        let dead_end = a.boolean("dead_end", false);
        let insight = a.opt_string("insight", None);
        Some(json!({"action": action?, "outcome": outcome?, "dead_end": dead_end, "insight": insight}))
    });
    let solution = f.opt_string("solution", None);
    let tags = f.string_list("tags");
    let confidence = f.opt_number("confidence", None, 0.0, 1.0);
    let context_structured = f.nested("context_structured", |c| {
        let tools = c.string_list("tools_used");
        let environment = c.opt_string("environment", None);
        let constraints = c.opt_string("constraints", None);
        Some(json!({"tools_used": tools, "environment": environment, "constraints": constraints}))
    });
    f.finish()?;
    let (Some(goal), Some(visibility)) = (goal, visibility) else {
        return Err(Failure::Internal);
    };
    let new = NewExperience {
        session_id: None,
        agent_id: agent.id.clone(),
        goal,
        domain,
        tools_used: tools,
        status: "draft".to_owned(),
        visibility,
        outcome,
        tags,
        confidence,
        dead_ends: Value::Array(dead_ends),
        breakthroughs: Value::Array(breakthroughs),
        gotchas: Value::Array(gotchas),
        context,
        artifacts: Value::Array(artifacts),
        attempts_json: Value::Array(attempts),
        solution,
        context_structured: context_structured.unwrap_or(Value::Null),
    };
    let normalized = new.json();
    Ok((new, normalized))
}

/// `POST /experiences`: a draft written by hand.
pub(crate) async fn create(State(state): State<Arc<ServerState>>, req: Req) -> Answer {
    let agent = state.authenticate(&req)?;
    let body = validation::body_object(req.body.as_ref())?;
    let (new, normalized) = new_experience(&agent, body)?;
    state.rate_limit(&req, Some(&agent), state.limits.experience_write)?;
    if let Some(field) = security::find_key("experience", &normalized) {
        return Err(Failure::credential(field));
    }
    created(state.store.insert_experience(&new)?.detail_json())
}

fn owned(experience: &Experience, agent: &Agent) -> Outcome<()> {
    if experience.agent_id == agent.id {
        Ok(())
    } else {
        Err(Failure::forbidden("You don't own this experience"))
    }
}

/// `POST /experiences/{identifier}/publish`.
pub(crate) async fn publish(State(state): State<Arc<ServerState>>, Path(id): Path<String>, req: Req) -> Answer {
    let agent = state.authenticate(&req)?;
    state.rate_limit(&req, Some(&agent), state.limits.experience_write)?;
    let experience = readable(&state, &id, Some(&agent))?;
    owned(&experience, &agent)?;
    if experience.status != "draft" {
        return Err(Failure::unprocessable(format!(
            "Can only publish draft experiences, current status: {}",
            experience.status
        )));
    }
    if let Some(field) = security::find_key("experience", &experience.detail_json()) {
        return Err(Failure::credential(field));
    }
    let published = state
        .store
        .set_experience_status(&experience.id, "published")?
        .ok_or_else(|| Failure::not_found("Experience", &id))?;
    ok(published.detail_json())
}

/// `POST /experiences/{identifier}/archive` (idempotent; 404 for what the caller cannot see).
pub(crate) async fn archive(State(state): State<Arc<ServerState>>, Path(id): Path<String>, req: Req) -> Answer {
    let agent = state.authenticate(&req)?;
    state.rate_limit(&req, Some(&agent), state.limits.experience_write)?;
    let experience = readable(&state, &id, Some(&agent))?;
    owned(&experience, &agent)?;
    let archived = state
        .store
        .set_experience_status(&experience.id, "archived")?
        .ok_or_else(|| Failure::not_found("Experience", &id))?;
    ok(archived.detail_json())
}

/// `POST /experiences/{identifier}/acquire`.
pub(crate) async fn acquire(State(state): State<Arc<ServerState>>, Path(id): Path<String>, req: Req) -> Answer {
    let agent = state.authenticate(&req)?;
    let body = validation::body_object(req.body.as_ref())?;
    let mut fields = Fields::body(body);
    let mode = fields.choice("mode", MODES, Some("full"));
    fields.finish()?;
    let mode = mode.unwrap_or_else(|| "full".to_owned());
    state.rate_limit(&req, Some(&agent), state.limits.acquire)?;
    let experience = readable(&state, &id, Some(&agent))?;
    ok(json!({
        "experience_id": experience.id,
        "short_id": experience.short_id,
        "mode": mode,
        "content": acquire::content(&experience, &mode),
    }))
}

/// `POST /experiences/{identifier}/outcome`: one report per agent; a second is a 409.
pub(crate) async fn outcome(State(state): State<Arc<ServerState>>, Path(id): Path<String>, req: Req) -> Answer {
    let agent = state.authenticate(&req)?;
    let body = validation::body_object(req.body.as_ref())?;
    let mut fields = Fields::body(body);
    let success = fields.required_boolean("success");
    let execution_time_ms = fields.opt_integer(
        "execution_time_ms",
        None,
        Some(i64::from(i32::MIN)),
        Some(i64::from(i32::MAX)),
    );
    let error_message = fields.opt_string("error_message", None).filter(|s| !s.is_empty());
    let context_notes = fields.opt_string("context_notes", None).filter(|s| !s.is_empty());
    let env_fingerprint = fields.opt_object("env_fingerprint").filter(|m| !m.is_empty());
    fields.finish()?;
    let Some(success) = success else {
        return Err(Failure::Internal);
    };
    state.rate_limit(&req, Some(&agent), state.limits.feedback)?;
    let experience = readable(&state, &id, Some(&agent))?;
    let report = OutcomeInput {
        success,
        execution_time_ms,
        error_message,
        context_notes,
        env_fingerprint: env_fingerprint.map(Value::Object),
    };
    let scanned = json!({
        "success": report.success,
        "execution_time_ms": report.execution_time_ms,
        "error_message": report.error_message,
        "context_notes": report.context_notes,
        "env_fingerprint": report.env_fingerprint,
    });
    if let Some(field) = security::find_key("outcome_report", &scanned) {
        return Err(Failure::credential(field));
    }
    // Seed: one report per agent, a second is a 409. Real: an upsert.
    let row = if state.real() {
        state.store.upsert_outcome(&experience, &agent.id, &report)?
    } else {
        state
            .store
            .insert_outcome(&experience, &agent.id, &report)?
            .ok_or_else(|| Failure::conflict("You have already reported an outcome for this experience"))?
    };
    created(row)
}

/// `POST /experiences/{identifier}/vote`: an upsert.
pub(crate) async fn vote(State(state): State<Arc<ServerState>>, Path(id): Path<String>, req: Req) -> Answer {
    let agent = state.authenticate(&req)?;
    let body = validation::body_object(req.body.as_ref())?;
    let mut fields = Fields::body(body);
    let vote_type = fields.pattern("vote_type", &["up", "down"], true, false);
    fields.finish()?;
    let Some(vote_type) = vote_type else {
        return Err(Failure::Internal);
    };
    state.rate_limit(&req, Some(&agent), state.limits.feedback)?;
    let experience = readable(&state, &id, Some(&agent))?;
    ok(state.store.upsert_vote(&experience, &agent.id, &vote_type)?)
}

/// How an experience reads on the wire.
impl Experience {
    /// The list-item projection.
    pub(crate) fn list_json(&self) -> Value {
        json!({
            "id": self.id,
            "short_id": self.short_id,
            "session_id": self.session_id,
            "agent_id": self.agent_id,
            "goal": self.goal,
            "domain": self.domain,
            "tools_used": self.tools_used,
            "status": self.status,
            "visibility": self.visibility,
            "outcome": self.outcome,
            "success_count": self.success_count,
            "failure_count": self.failure_count,
            "total_reports": self.total_reports,
            "success_rate": self.success_rate,
            "upvotes": self.upvotes,
            "downvotes": self.downvotes,
            "quality_score": self.quality_score,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "tags": self.tags,
            "confidence": self.confidence,
        })
    }

    /// The detail projection.
    pub(crate) fn detail_json(&self) -> Value {
        let mut value = self.list_json();
        if let Value::Object(map) = &mut value {
            map.insert("dead_ends".into(), self.dead_ends.clone());
            map.insert("breakthroughs".into(), self.breakthroughs.clone());
            map.insert("gotchas".into(), self.gotchas.clone());
            map.insert("context".into(), json!(self.context));
            map.insert("artifacts".into(), self.artifacts.clone());
            map.insert("attempts_json".into(), self.attempts_json.clone());
            map.insert("solution".into(), json!(self.solution));
            map.insert("context_structured".into(), self.context_structured.clone());
        }
        value
    }

    /// The search card: the list item plus the ranking fields.
    pub(crate) fn search_json(&self, similarity: f64, keyword_rank: f64, combined_score: f64) -> Value {
        let mut value = self.list_json();
        if let Value::Object(map) = &mut value {
            map.insert("similarity".into(), json!(round4(similarity)));
            map.insert("keyword_rank".into(), json!(keyword_rank));
            map.insert("combined_score".into(), json!(combined_score));
        }
        value
    }

    /// The unprojected search row of the open-session answer.
    pub(crate) fn raw_search_json(&self, similarity: f64, keyword_rank: f64, combined_score: f64) -> Value {
        let mut value = self.detail_json();
        if let Value::Object(map) = &mut value {
            map.insert("similarity".into(), json!(round4(similarity)));
            map.insert("keyword_rank".into(), json!(keyword_rank));
            map.insert("combined_score".into(), json!(combined_score));
        }
        value
    }

    /// The similar card.
    pub(crate) fn similar_json(&self, similarity: f64) -> Value {
        json!({
            "id": self.id,
            "short_id": self.short_id,
            "goal": self.goal,
            "domain": self.domain,
            "tools_used": self.tools_used,
            "status": self.status,
            "outcome": self.outcome,
            "success_rate": self.success_rate,
            "quality_score": self.quality_score,
            "upvotes": self.upvotes,
            "downvotes": self.downvotes,
            "agent_id": self.agent_id,
            "similarity": round4(similarity),
            "created_at": self.created_at,
            "tags": self.tags,
            "confidence": self.confidence,
        })
    }
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// How a new experience reads before it is stored: what the credential
/// check scans (the root `experience`), for a manual one and an assembled one alike.
impl NewExperience {
    pub(crate) fn json(&self) -> Value {
        json!({
            "goal": self.goal,
            "domain": self.domain,
            "tools_used": self.tools_used,
            "dead_ends": self.dead_ends,
            "breakthroughs": self.breakthroughs,
            "gotchas": self.gotchas,
            "context": self.context,
            "artifacts": self.artifacts,
            "visibility": self.visibility,
            "outcome": self.outcome,
            "attempts": self.attempts_json,
            "solution": self.solution,
            "tags": self.tags,
            "confidence": self.confidence,
            "context_structured": self.context_structured,
        })
    }
}
