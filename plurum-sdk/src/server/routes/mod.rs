//! The routes, one module per API noun.

mod agents;
mod experiences;
mod meta;
mod pulse;
pub(crate) mod sessions;

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde_json::Value;

use super::ServerState;
use super::error::Outcome;

/// What a handler answers: a status and a JSON body, or a failure.
pub(crate) type Answer = Outcome<(StatusCode, Json<Value>)>;

pub(crate) fn ok(body: Value) -> Answer {
    Ok((StatusCode::OK, Json(body)))
}

/// The envelope of every list endpoint: `{items, total, limit, offset, has_more}`.
pub(crate) fn page(items: Vec<Value>, total: i64, limit: i64, offset: i64) -> Value {
    serde_json::json!({
        "items": items,
        "total": total,
        "limit": limit,
        "offset": offset,
        "has_more": offset + limit < total,
    })
}

pub(crate) fn created(body: Value) -> Answer {
    Ok((StatusCode::CREATED, Json(body)))
}

/// The router of every route.
pub(crate) fn api(admin_routes: bool) -> Router<Arc<ServerState>> {
    let v1 = Router::new()
        .route("/agents/register", post(agents::register))
        .route("/agents/check-username", get(agents::check_username))
        .route("/agents/me", get(agents::me))
        .route("/agents/me/rotate-key", post(agents::rotate_key))
        .route("/sessions", get(sessions::list).post(sessions::open))
        .route("/sessions/{id}", get(sessions::get).patch(sessions::update))
        .route("/sessions/{id}/entries", post(sessions::log))
        .route("/sessions/{id}/close", post(sessions::close))
        .route("/sessions/{id}/abandon", post(sessions::abandon))
        .route("/sessions/{id}/contribute", post(sessions::contribute))
        .route("/sessions/{id}/contributions", get(sessions::contributions))
        .route("/experiences", get(experiences::list).post(experiences::create))
        .route("/experiences/search", post(experiences::search))
        .route("/experiences/{id}", get(experiences::get))
        .route("/experiences/{id}/similar", get(experiences::similar))
        .route("/experiences/{id}/publish", post(experiences::publish))
        .route("/experiences/{id}/archive", post(experiences::archive))
        .route("/experiences/{id}/acquire", post(experiences::acquire))
        .route("/experiences/{id}/outcome", post(experiences::outcome))
        .route("/experiences/{id}/vote", post(experiences::vote))
        .route("/pulse/status", get(pulse::status))
        .route("/pulse/inbox", get(pulse::inbox))
        .route("/pulse/inbox/mark-read", post(pulse::mark_read))
        .route("/pulse/ws", get(super::ws::upgrade));
    let mut app = Router::new()
        .route("/health", get(meta::health))
        .route("/", get(meta::root))
        .nest("/api/v1", v1);
    if admin_routes {
        app = app.route("/__admin/faults", post(meta::faults));
    }
    app
}
