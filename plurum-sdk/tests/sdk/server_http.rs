//! The reference server over raw HTTP: status codes, error bodies (as literal
//! JSON), the order of checks, rate limits and fault injection.

use std::time::Duration;

use crate::common::{agent_with_key, server, server_with};
use plurum_sdk::server::{Limits, Rate, ReferenceServer, ServerConfig};
use plurum_sdk::types::SearchExperiences;
use plurum_sdk::{Client, RetryPolicy};
use reqwest::StatusCode;
use serde_json::{Value, json};

struct Http {
    client: reqwest::Client,
    base: String,
}

impl Http {
    fn new(server: &plurum_sdk::server::ServerHandle) -> Self {
        Self {
            client: reqwest::Client::builder()
                .tls_backend_preconfigured(plurum_sdk::tls::client_config().unwrap())
                .build()
                .unwrap(),
            base: format!("http://{}", server.addr()),
        }
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<&str>,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut request = self
            .client
            .request(method.parse().unwrap(), format!("{}{path}", self.base));
        if let Some(key) = key {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body.to_owned());
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, headers, value)
    }
}

fn app_error(message: &str) -> Value {
    json!({"detail": message, "error": message, "details": {}})
}

#[tokio::test]
async fn authentication_failures_use_the_real_messages() {
    let server = server().await;
    let http = Http::new(&server);
    let (status, headers, body) = http.send("GET", "/api/v1/agents/me", None, None).await;
    assert_eq!(status, 401);
    assert_eq!(body, app_error("Missing Authorization header"));
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(headers.get("www-authenticate").is_none());

    let mut request = http.client.get(format!("{}/api/v1/agents/me", http.base));
    request = request.header("authorization", "Token abc");
    let body: Value = request.send().await.unwrap().json().await.unwrap();
    assert_eq!(
        body,
        app_error("Invalid Authorization header format. Use: Bearer <token>")
    );

    let (_, _, body) = http
        .send("GET", "/api/v1/agents/me", Some("eyJhbGciOiJIUzI1NiJ9.x.y"), None)
        .await;
    assert_eq!(body, app_error("Invalid API key format"));
    let (_, _, body) = http
        .send(
            "GET",
            "/api/v1/agents/me",
            Some("plrm_live_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
            None,
        )
        .await;
    assert_eq!(body, app_error("Invalid API key"));

    // A bad key on a public route is anonymous, never a 401.
    let (status, _, _) = http
        .send(
            "GET",
            "/api/v1/experiences",
            Some("plrm_live_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
            None,
        )
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn framework_errors_and_the_order_of_checks() {
    let server = server().await;
    let http = Http::new(&server);
    let (status, _, body) = http.send("GET", "/api/v1/nowhere", None, None).await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, json!({"detail": "Not Found"})));
    let (status, headers, body) = http.send("DELETE", "/api/v1/sessions", None, None).await;
    assert_eq!(
        (status, body),
        (StatusCode::METHOD_NOT_ALLOWED, json!({"detail": "Method Not Allowed"}))
    );
    assert!(headers["allow"].to_str().unwrap().contains("GET"));

    // Malformed JSON is rejected before authentication.
    let (status, _, body) = http.send("POST", "/api/v1/sessions", None, Some("{\"topic\": ")).await;
    assert_eq!(status, 422);
    assert_eq!(body["detail"][0]["type"], "json_invalid");
    // Valid JSON with a wrong schema and no key: 401 wins.
    let (status, _, _) = http
        .send("POST", "/api/v1/sessions", None, Some("{\"topic\": 5}"))
        .await;
    assert_eq!(status, 401);

    // Body over 5 MiB.
    let big = format!("{{\"query\": \"{}\"}}", "x".repeat(5 * 1024 * 1024 + 10));
    let (status, _, body) = http.send("POST", "/api/v1/experiences/search", None, Some(&big)).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            json!({"detail": "Request body too large"})
        )
    );
}

#[tokio::test]
async fn validation_errors_name_the_field_like_pydantic() {
    let server = server().await;
    let (_, key) = agent_with_key(&server, "validator").await;
    let http = Http::new(&server);
    let key = Some(key.expose());
    let (status, _, body) = http
        .send("POST", "/api/v1/experiences/search", None, Some(r#"{"query": "x"}"#))
        .await;
    assert_eq!(status, 422);
    assert_eq!(
        body,
        json!({"detail": [{"type": "string_too_short", "loc": ["body", "query"], "msg": "String should have at least 2 characters", "input": "x", "ctx": {"min_length": 2}}]})
    );
    let (_, _, body) = http
        .send(
            "POST",
            "/api/v1/experiences/cdf0e8a3/vote",
            key,
            Some(r#"{"vote_type": "sideways"}"#),
        )
        .await;
    assert_eq!(
        body,
        json!({"detail": [{"type": "string_pattern_mismatch", "loc": ["body", "vote_type"], "msg": "String should match pattern '^(up|down)$'", "input": "sideways", "ctx": {"pattern": "^(up|down)$"}}]})
    );
    let (status, _, body) = http
        .send(
            "POST",
            "/api/v1/sessions/e6fbd266-218d-472f-8598-672ba81575b2/close",
            key,
            None,
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(
        body,
        json!({"detail": [{"type": "missing", "loc": ["body"], "msg": "Field required", "input": null}]})
    );
    let (_, _, body) = http.send("GET", "/api/v1/sessions?limit=0", None, None).await;
    assert_eq!(body["detail"][0]["loc"], json!(["query", "limit"]));
    assert_eq!(body["detail"][0]["type"], "greater_than_equal");
    let (_, _, body) = http
        .send(
            "POST",
            "/api/v1/agents/register",
            None,
            Some(r#"{"name": "A", "username": "Upper"}"#),
        )
        .await;
    assert_eq!(body["detail"][0]["type"], "string_pattern_mismatch");
    let (_, _, body) = http
        .send(
            "POST",
            "/api/v1/pulse/inbox/mark-read",
            key,
            Some(r#"{"event_ids": ["nope"]}"#),
        )
        .await;
    assert_eq!(body["detail"][0]["loc"], json!(["body", "event_ids", 0]));
}

#[tokio::test]
async fn session_identifiers_never_cause_a_500() {
    let server = server().await;
    let (_, key) = agent_with_key(&server, "prober").await;
    let http = Http::new(&server);
    let key = Some(key.expose());
    let (status, _, body) = http.send("POST", "/api/v1/sessions/f3cbdd51/abandon", key, None).await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        json!({"detail": "Session not found: f3cbdd51", "error": "Session not found: f3cbdd51", "details": {"resource": "Session", "identifier": "f3cbdd51"}})
    );
    for path in [
        "/api/v1/sessions/not-a-uuid-at-all",
        "/api/v1/sessions/abc",
        "/api/v1/sessions/0badc0de",
        "/api/v1/sessions/e6fbd266-218d-472f-8598-672ba81575b2",
        "/api/v1/experiences/0badc0de",
        "/api/v1/experiences/%00%01",
    ] {
        let (status, _, _) = http.send("GET", path, key, None).await;
        assert_eq!(status, 404, "{path}");
    }
    let (status, _, _) = http
        .send(
            "POST",
            "/api/v1/sessions/xyz/entries",
            key,
            Some(r#"{"entry_type": "note", "content": {"text": "t"}}"#),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn duplicates_conflict() {
    let server = server().await;
    let http = Http::new(&server);
    let body = r#"{"name": "Atlas Builder", "username": "atlas-builder"}"#;
    let (status, _, created) = http.send("POST", "/api/v1/agents/register", None, Some(body)).await;
    assert_eq!(status, 201);
    let key = created["api_key"].as_str().unwrap();
    assert!(key.starts_with("plrm_live_") && key.len() == 53);
    assert_eq!(created["api_key_prefix"], format!("{}...", &key[..16]));
    assert_eq!(
        created["message"],
        "API key created successfully. Store it securely - it cannot be retrieved later."
    );
    let (status, _, body) = http.send("POST", "/api/v1/agents/register", None, Some(body)).await;
    assert_eq!(status, 409);
    assert_eq!(body, app_error("Username 'atlas-builder' is already taken"));
    let (status, _, body) = http
        .send(
            "GET",
            "/api/v1/agents/check-username?username=Atlas%20Builder",
            None,
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["available"], false);
    let suggestions = body["suggestions"].as_array().unwrap();
    assert_eq!(suggestions.len(), 5);
    assert!(suggestions.iter().all(|s| s != "atlas-builder"));
    let (_, _, body) = http
        .send("GET", "/api/v1/agents/check-username?username=free-name", None, None)
        .await;
    assert_eq!(body, json!({"available": true, "suggestions": []}));
    // Rotation: the old key stops working at once.
    let (status, _, rotated) = http.send("POST", "/api/v1/agents/me/rotate-key", Some(key), None).await;
    assert_eq!(status, 200);
    assert_eq!(
        rotated["message"],
        "API key rotated successfully. Old key is now invalid."
    );
    let (status, _, _) = http.send("GET", "/api/v1/agents/me", Some(key), None).await;
    assert_eq!(status, 401);
    let (status, _, me) = http
        .send("GET", "/api/v1/agents/me", rotated["api_key"].as_str(), None)
        .await;
    assert_eq!(status, 200);
    assert!(me["created_at"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn rate_limits_answer_429_with_retry_after() {
    let mut limits = Limits::default();
    limits.search = Rate::per_minute(2);
    let server = server_with(limits).await;
    let http = Http::new(&server);
    let body = Some(r#"{"query": "replication"}"#);
    for _ in 0..2 {
        assert_eq!(http.send("POST", "/api/v1/experiences/search", None, body).await.0, 200);
    }
    let (status, headers, answer) = http.send("POST", "/api/v1/experiences/search", None, body).await;
    assert_eq!(status, 429);
    assert_eq!(answer, json!({"error": "Rate limit exceeded: 2 per 1 minute"}));
    let wait: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait));
    assert_eq!(headers["x-frame-options"], "DENY");
    // Requests rejected before the limit (validation) do not count.
    let (status, _, _) = http
        .send("POST", "/api/v1/experiences/search", None, Some(r#"{"query": ""}"#))
        .await;
    assert_eq!(status, 422);

    // Registration: 5 per hour per IP (the seed's value).
    for i in 0..5 {
        let body = format!(r#"{{"name": "n", "username": "agent-{i}"}}"#);
        assert_eq!(
            http.send("POST", "/api/v1/agents/register", None, Some(&body)).await.0,
            201
        );
    }
    let (status, _, answer) = http
        .send(
            "POST",
            "/api/v1/agents/register",
            None,
            Some(r#"{"name": "n", "username": "agent-6"}"#),
        )
        .await;
    assert_eq!(status, 429);
    assert_eq!(answer, json!({"error": "Rate limit exceeded: 5 per 1 hour"}));

    // The SDK reads the delay and does not wait an hour.
    let sdk = Client::builder().base_url(server.base_url()).build().unwrap();
    let err = sdk
        .agents()
        .register(plurum_sdk::types::Register::new("n", "agent-7"))
        .await
        .unwrap_err();
    assert!(err.retry_after().unwrap() > Duration::from_secs(60), "{err:?}");
}

#[tokio::test]
async fn injected_faults_fail_delay_and_clear() {
    let server = server().await;
    let sdk = Client::builder()
        .base_url(server.base_url())
        .retry(RetryPolicy::default().base_delay(Duration::from_millis(1)))
        .build()
        .unwrap();
    // Two 503s, then the retried search succeeds.
    server.faults().fail_next(2, 503);
    let found = sdk
        .experiences()
        .search(SearchExperiences::new("anything"))
        .await
        .unwrap();
    assert_eq!(found.total_found, 0);
    // Only one path fails.
    server.faults().fail_next_for_path(1, 500, "/api/v1/pulse/status");
    let http = Http::new(&server);
    assert_eq!(http.send("GET", "/api/v1/experiences", None, None).await.0, 200);
    let (status, _, body) = http.send("GET", "/api/v1/pulse/status", None, None).await;
    assert_eq!(status, 500);
    assert_eq!(body, json!({"error": "Internal Server Error (injected fault)"}));
    assert_eq!(http.send("GET", "/api/v1/pulse/status", None, None).await.0, 200);
    // Latency.
    server.faults().set_latency(Duration::from_millis(150));
    let started = std::time::Instant::now();
    http.send("GET", "/health", None, None).await;
    assert!(started.elapsed() >= Duration::from_millis(150));
    server.faults().clear();
    server.faults().fail_all(502);
    assert_eq!(http.send("GET", "/health", None, None).await.0, 502);
    server.faults().clear();
    assert_eq!(http.send("GET", "/health", None, None).await.0, 200);
}

#[tokio::test]
async fn the_admin_route_exists_only_when_enabled() {
    let plain = server().await;
    let (status, _, _) = Http::new(&plain)
        .send(
            "POST",
            "/__admin/faults",
            None,
            Some(r#"{"fail_next": {"count": 1, "status": 503}}"#),
        )
        .await;
    assert_eq!(status, 404);
    let admin = ReferenceServer::start(ServerConfig::default().no_limits().admin_routes(true))
        .await
        .unwrap();
    let http = Http::new(&admin);
    let (status, _, body) = http
        .send(
            "POST",
            "/__admin/faults",
            None,
            Some(r#"{"fail_next": {"count": 1, "status": 503, "path": "/api/v1/pulse"}}"#),
        )
        .await;
    assert_eq!((status, body), (StatusCode::OK, json!({"ok": true})));
    assert_eq!(http.send("GET", "/api/v1/pulse/status", None, None).await.0, 503);
    assert_eq!(http.send("GET", "/api/v1/pulse/status", None, None).await.0, 200);
}

#[tokio::test]
async fn health_and_root() {
    let server = server().await;
    let http = Http::new(&server);
    let (status, _, body) = http.send("GET", "/health", None, None).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "healthy");
    let (_, _, body) = http.send("GET", "/", None, None).await;
    assert_eq!(body["health"], "/health");
}
