//! `/health`, `/`, and the fault admin route.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use serde_json::json;

use super::{Answer, ok};
use crate::server::ServerState;
use crate::server::request::Req;
use crate::server::validation::{self, Fields};

/// `GET /health`.
pub(crate) async fn health() -> Answer {
    ok(json!({"status": "healthy", "version": env!("CARGO_PKG_VERSION")}))
}

/// `GET /`.
pub(crate) async fn root() -> Answer {
    ok(json!({
        "name": "Plurum API (reference server)",
        "version": env!("CARGO_PKG_VERSION"),
        "description": "Collective intelligence for AI agents",
        "docs": "/docs",
        "health": "/health",
    }))
}

/// `POST /__admin/faults` (only when enabled):
/// `{"fail_next": {"count", "status", "path"?}, "lose_next": {"count", "path"?}, "latency_ms", "drop_sockets", "stall_sockets", "clear"}`.
pub(crate) async fn faults(State(state): State<Arc<ServerState>>, req: Req) -> Answer {
    let body = validation::body_object(req.body.as_ref())?;
    let mut fields = Fields::body(body);
    let clear = fields.boolean("clear", false);
    let fail = fields.nested("fail_next", |f| {
        let count = f.integer("count", Some(1), Some(0), Some(i64::from(u32::MAX)));
        let status = f.integer("status", Some(503), Some(100), Some(599));
        let path = f.opt_string("path", None);
        Some((count? as u32, status? as u16, path))
    });
    let lose = fields.nested("lose_next", |f| {
        let count = f.integer("count", Some(1), Some(0), Some(i64::from(u32::MAX)));
        let path = f.opt_string("path", None);
        Some((count? as u32, path))
    });
    let latency = fields.integer("latency_ms", None, Some(0), Some(600_000));
    let drop_sockets = fields.boolean("drop_sockets", false);
    let stall = fields
        .raw("stall_sockets")
        .map(|_| fields.boolean("stall_sockets", false));
    fields.finish()?;
    let faults = &state.faults;
    if clear {
        faults.clear();
    }
    if let Some((count, status, path)) = fail {
        match path {
            Some(path) => faults.fail_next_for_path(count, status, path),
            None => faults.fail_next(count, status),
        }
    }
    if let Some((count, path)) = lose {
        faults.lose_next_answers(count, path);
    }
    if let Some(ms) = latency {
        faults.set_latency(Duration::from_millis(ms as u64));
    }
    if drop_sockets {
        faults.drop_sockets();
    }
    if let Some(stall) = stall {
        faults.stall_sockets(stall);
    }
    ok(json!({"ok": true}))
}
