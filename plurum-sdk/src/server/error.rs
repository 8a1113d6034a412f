//! The server's error answers, in the real server's five shapes (docs/api-contract.md §1.4).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// A failed request.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Shape A: `{"detail", "error", "details"}`.
    App {
        status: StatusCode,
        message: String,
        details: Value,
    },
    /// Shape B: `{"detail": [items]}`, 422.
    Validation(Vec<Value>),
    /// Shape C: `{"detail": "<msg>"}`.
    Framework { status: StatusCode, message: &'static str },
    /// Shape D: `{"error": "Rate limit exceeded: …"}`, with `Retry-After`
    /// unless the real service's quirks are on (it sends none).
    RateLimited {
        limit: String,
        retry_after_secs: Option<u64>,
    },
    /// Shape E: `{"error": "Internal server error"}`.
    Internal,
    /// An injected fault: any status with a body of the right shape.
    Injected { status: StatusCode },
}

pub(crate) type Outcome<T> = Result<T, Failure>;

impl Failure {
    pub(crate) fn app(status: StatusCode, message: impl Into<String>) -> Self {
        Self::App {
            status,
            message: message.into(),
            details: json!({}),
        }
    }

    pub(crate) fn unauthorized(message: &str) -> Self {
        Self::app(StatusCode::UNAUTHORIZED, message)
    }

    pub(crate) fn forbidden(message: &str) -> Self {
        Self::app(StatusCode::FORBIDDEN, message)
    }

    pub(crate) fn conflict(message: impl Into<String>) -> Self {
        Self::app(StatusCode::CONFLICT, message)
    }

    pub(crate) fn unprocessable(message: impl Into<String>) -> Self {
        Self::app(StatusCode::UNPROCESSABLE_ENTITY, message)
    }

    /// 404 `<Resource> not found: <identifier>`.
    pub(crate) fn not_found(resource: &str, identifier: &str) -> Self {
        Self::App {
            status: StatusCode::NOT_FOUND,
            message: format!("{resource} not found: {identifier}"),
            details: json!({"resource": resource, "identifier": identifier}),
        }
    }

    /// 422 for a credential found at `field`.
    pub(crate) fn credential(field: String) -> Self {
        Self::App {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: "Potential API key detected; remove credentials before submitting.".to_owned(),
            details: json!({"field": field}),
        }
    }

    pub(crate) fn route_not_found() -> Self {
        Self::Framework {
            status: StatusCode::NOT_FOUND,
            message: "Not Found",
        }
    }

    pub(crate) fn too_large() -> Self {
        Self::Framework {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            message: "Request body too large",
        }
    }

    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::App { status, .. } | Self::Framework { status, .. } | Self::Injected { status } => *status,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<rusqlite::Error> for Failure {
    fn from(error: rusqlite::Error) -> Self {
        tracing::error!(%error, "database error");
        Self::Internal
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let status = self.status();
        match self {
            Self::App { message, details, .. } => (
                status,
                axum::Json(json!({"detail": message, "error": message, "details": details})),
            )
                .into_response(),
            Self::Validation(items) => (status, axum::Json(json!({ "detail": items }))).into_response(),
            Self::Framework { message, .. } => (status, axum::Json(json!({ "detail": message }))).into_response(),
            Self::RateLimited {
                limit,
                retry_after_secs,
            } => {
                let mut response = (
                    status,
                    axum::Json(json!({"error": format!("Rate limit exceeded: {limit}")})),
                )
                    .into_response();
                if let Some(secs) = retry_after_secs
                    && let Ok(value) = HeaderValue::from_str(&secs.to_string())
                {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
                response
            }
            Self::Internal => (status, axum::Json(json!({"error": "Internal server error"}))).into_response(),
            Self::Injected { status } => injected(status),
        }
    }
}

fn injected(status: StatusCode) -> Response {
    let reason = status.canonical_reason().unwrap_or("Injected fault");
    match status.as_u16() {
        429 => Failure::RateLimited {
            limit: "0 per 1 minute (injected fault)".to_owned(),
            retry_after_secs: Some(1),
        }
        .into_response(),
        500..=599 => (status, axum::Json(json!({"error": format!("{reason} (injected fault)")}))).into_response(),
        _ => (
            status,
            axum::Json(json!({"detail": format!("{reason} (injected fault)"), "error": format!("{reason} (injected fault)"), "details": {}})),
        )
            .into_response(),
    }
}
