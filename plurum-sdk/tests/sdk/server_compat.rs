//! The two behaviours of the reference server where the seed documents and
//! the real service differ (docs/api-contract.md references in docs/server.md): each
//! difference asserted in both modes, and the socket's Origin check.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use plurum_sdk::server::{Compat, Limits, ReferenceServer, ServerConfig, ServerHandle};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::common::agent_with_key;

const BOTH: [Compat; 2] = [Compat::Seed, Compat::Real];
const WAIT: Duration = Duration::from_secs(5);

async fn server_in(compat: Compat) -> ServerHandle {
    ReferenceServer::start(ServerConfig::default().no_limits().compat(compat))
        .await
        .unwrap()
}

/// Raw HTTP, to see statuses and bodies as they are.
struct Http {
    client: reqwest::Client,
    base: String,
}

impl Http {
    fn new(server: &ServerHandle) -> Self {
        Self {
            client: reqwest::Client::builder()
                .tls_backend_preconfigured(plurum_sdk::tls::client_config().unwrap())
                .build()
                .unwrap(),
            base: server.base_url(),
        }
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let mut request = self
            .client
            .request(method.parse().unwrap(), format!("{}{path}", self.base));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        (status, response.json().await.unwrap_or(Value::Null), headers)
    }
}

async fn key_of(server: &ServerHandle, username: &str) -> String {
    agent_with_key(server, username).await.1.expose().to_owned()
}

async fn open(http: &Http, key: &str, topic: &str, visibility: &str) -> Value {
    let (status, body, _) = http
        .call(
            "POST",
            "/sessions",
            Some(key),
            Some(json!({"topic": topic, "visibility": visibility, "domain": "infrastructure"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["session"].clone()
}

#[tokio::test]
async fn ids_that_are_no_ids_are_404_or_the_real_500() {
    for compat in BOTH {
        let server = server_in(compat).await;
        let http = Http::new(&server);
        let key = key_of(&server, "ider").await;
        let session = open(&http, &key, "Something with an id", "public").await;
        let short = session["short_id"].as_str().unwrap();
        let routes: [(&str, &str, Option<Value>); 5] = [
            ("PATCH", "", Some(json!({"domain": "x"}))),
            (
                "POST",
                "/entries",
                Some(json!({"entry_type": "note", "content": {"text": "x"}})),
            ),
            ("POST", "/close", Some(json!({}))),
            ("POST", "/abandon", None),
            (
                "POST",
                "/contribute",
                Some(json!({"content": {"text": "x"}, "contribution_type": "suggestion"})),
            ),
        ];
        for (method, tail, body) in routes {
            for id in ["not-an-id", short] {
                let (status, answer, _) = http
                    .call(method, &format!("/sessions/{id}{tail}"), Some(&key), body.clone())
                    .await;
                match compat {
                    Compat::Real => {
                        assert_eq!(status, 500, "{compat:?} {method} {tail} {id}: {answer}");
                        assert_eq!(answer, json!({"error": "Internal server error"}));
                    }
                    _ => assert_eq!(status, 404, "{compat:?} {method} {tail} {id}: {answer}"),
                }
            }
        }
        let (status, _, _) = http.call("GET", "/sessions/not-an-id", Some(&key), None).await;
        assert_eq!(status, if compat == Compat::Real { 500 } else { 404 }, "{compat:?}");
        // A short id (8 characters) is looked up in both.
        let (status, _, _) = http.call("GET", &format!("/sessions/{short}"), Some(&key), None).await;
        assert_eq!(status, 200);
        server.shutdown().await;
    }
}

#[tokio::test]
async fn a_second_outcome_report_is_a_409_or_the_real_upsert() {
    for compat in BOTH {
        let server = server_in(compat).await;
        let http = Http::new(&server);
        let author = key_of(&server, "author").await;
        let reporter = key_of(&server, "reporter").await;
        let (_, experience, _) = http
            .call(
                "POST",
                "/experiences",
                Some(&author),
                Some(json!({"goal": "Tune the connection pool"})),
            )
            .await;
        let id = experience["short_id"].as_str().unwrap();
        http.call("POST", &format!("/experiences/{id}/publish"), Some(&author), None)
            .await;
        let path = format!("/experiences/{id}/outcome");
        let (status, first, _) = http
            .call(
                "POST",
                &path,
                Some(&reporter),
                Some(json!({"success": false, "error_message": "pool exhausted", "execution_time_ms": 5})),
            )
            .await;
        assert_eq!(status, 201);
        let (status, second, _) = http
            .call("POST", &path, Some(&reporter), Some(json!({"success": true})))
            .await;
        let (_, after, _) = http
            .call("GET", &format!("/experiences/{id}"), Some(&reporter), None)
            .await;
        match compat {
            Compat::Real => {
                assert_eq!(status, 201, "{second}");
                assert_eq!(second["id"], first["id"], "the same report");
                assert_eq!(second["success"], true, "the new verdict");
                assert_eq!(
                    second["error_message"], "pool exhausted",
                    "unsent fields keep their values"
                );
                assert_eq!(second["execution_time_ms"], 5);
                assert_eq!(second["created_at"], first["created_at"]);
                assert_eq!(
                    (after["success_count"].as_u64(), after["failure_count"].as_u64()),
                    (Some(1), Some(0))
                );
            }
            _ => {
                assert_eq!(status, 409, "{second}");
                assert_eq!(
                    (after["success_count"].as_u64(), after["failure_count"].as_u64()),
                    (Some(0), Some(1))
                );
            }
        }
        server.shutdown().await;
    }
}

#[tokio::test]
async fn another_agents_private_session_is_hidden_or_the_real_metadata() {
    for compat in BOTH {
        let server = server_in(compat).await;
        let http = Http::new(&server);
        let owner = key_of(&server, "owner").await;
        let other = key_of(&server, "other").await;
        let session = open(&http, &owner, "Rotate the private keys", "private").await;
        let id = session["id"].as_str().unwrap();
        http.call(
            "POST",
            &format!("/sessions/{id}/entries"),
            Some(&owner),
            Some(json!({"entry_type": "note", "content": {"text": "secret plan"}})),
        )
        .await;
        let (status, body, _) = http.call("GET", &format!("/sessions/{id}"), Some(&other), None).await;
        match compat {
            Compat::Real => {
                assert_eq!(status, 200, "{body}");
                assert_eq!(body["topic"], "Rotate the private keys");
                assert_eq!(body["entries"], json!([]), "no entries for a non-owner");
                assert_eq!(body["entry_count"], 1);
            }
            _ => assert_eq!(status, 404, "{body}"),
        }
        // Anonymous callers never see it.
        let (status, _, _) = http.call("GET", &format!("/sessions/{id}"), None, None).await;
        assert_eq!(status, 404);
        server.shutdown().await;
    }
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn socket(server: &ServerHandle, key: &str) -> Ws {
    let (mut ws, _) = tokio_tungstenite::connect_async(server.ws_url()).await.unwrap();
    ws.send(Message::Text(
        json!({"type": "auth", "api_key": key}).to_string().into(),
    ))
    .await
    .unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "auth_ok");
    ws
}

async fn next_json(ws: &mut Ws) -> Value {
    loop {
        match tokio::time::timeout(WAIT, ws.next()).await.expect("a message in time") {
            Some(Ok(Message::Text(text))) => return serde_json::from_str(text.as_str()).unwrap(),
            Some(Ok(_)) => continue,
            other => panic!("expected a message, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn private_and_team_sessions_reach_the_socket_only_in_the_real_mode() {
    for compat in BOTH {
        let server = server_in(compat).await;
        let http = Http::new(&server);
        let opener = key_of(&server, "opener").await;
        let watcher = key_of(&server, "watcher").await;
        let mut ws = socket(&server, &watcher).await;
        let private = open(&http, &opener, "A private matter here", "private").await;
        let team = open(&http, &opener, "A team matter here too", "team").await;
        // A public session last: the first pushes tell which came through.
        let public = open(&http, &opener, "Everyone may know this", "public").await;
        let mut seen = Vec::new();
        loop {
            let message = next_json(&mut ws).await;
            if message["type"] == "session_opened" {
                let id = message["data"]["session_id"].clone();
                seen.push(id.clone());
                if id == public["id"] {
                    break;
                }
            }
        }
        match compat {
            Compat::Real => assert_eq!(
                seen,
                vec![private["id"].clone(), team["id"].clone(), public["id"].clone()]
            ),
            _ => assert_eq!(seen, vec![public["id"].clone()]),
        }
        server.shutdown().await;
    }
}

#[tokio::test]
async fn the_inbox_stores_session_events_or_builds_them_at_read_time() {
    for compat in BOTH {
        let server = server_in(compat).await;
        let http = Http::new(&server);
        let author = key_of(&server, "author").await;
        let reader = key_of(&server, "reader").await;
        let inbox = |query: &'static str| {
            let http = &http;
            let reader = reader.clone();
            async move {
                http.call("GET", &format!("/pulse/inbox{query}"), Some(&reader), None)
                    .await
                    .1
            }
        };
        let first = open(&http, &author, "Opened before the first read", "public").await;
        let read = inbox("").await;
        let event = &read["events"][0];
        assert_eq!(event["event_type"], "session_opened");
        assert_eq!(event["event_data"]["session_id"], first["id"]);
        match compat {
            Compat::Real => assert!(event["id"].is_null(), "built at read time: {event}"),
            _ => assert!(event["id"].is_string(), "stored: {event}"),
        }
        // Read again: the real service moved the check time; the seed keeps
        // it until marked read.
        let again = inbox("").await;
        let still = again["events"].as_array().unwrap().len();
        assert_eq!(still, if compat == Compat::Real { 0 } else { 1 }, "{compat:?}: {again}");

        // Opened and closed between two reads (with an entry, so that an
        // experience is assembled).
        let second = open(&http, &author, "Opened and closed between reads", "public").await;
        let id = second["id"].as_str().unwrap();
        http.call(
            "POST",
            &format!("/sessions/{id}/entries"),
            Some(&author),
            Some(
                json!({"entry_type": "breakthrough", "content": {"insight": "pool size", "detail": "match the cores"}}),
            ),
        )
        .await;
        http.call(
            "POST",
            &format!("/sessions/{id}/close"),
            Some(&author),
            Some(json!({"outcome": "success"})),
        )
        .await;
        let filtered = inbox("?event_type=session_opened").await;
        let kinds: Vec<(String, Value)> = filtered["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["event_type"].as_str().unwrap().to_owned(),
                    e["event_data"]["session_id"].clone(),
                )
            })
            .collect();
        match compat {
            Compat::Real => {
                // Only as closed, and the filter lets it through anyway.
                assert_eq!(
                    kinds,
                    vec![("session_closed".to_owned(), second["id"].clone())],
                    "{filtered}"
                );
                let data = &filtered["events"][0]["event_data"];
                assert!(data.get("experience_id").is_none(), "no experience ids: {data}");
            }
            _ => {
                assert!(kinds.iter().all(|(kind, _)| kind == "session_opened"), "{filtered}");
                assert!(kinds.contains(&("session_opened".to_owned(), second["id"].clone())));
                let closed = inbox("?event_type=session_closed").await;
                assert!(
                    closed["events"][0]["event_data"]["experience_id"].is_string(),
                    "{closed}"
                );
            }
        }
        // Every read moves the check time, whatever the filter: a session
        // opened before a filtered read is never reported in the real mode.
        let third = open(&http, &author, "Opened before a filtered read", "public").await;
        inbox("?event_type=contribution_received").await;
        let after = inbox("").await;
        let reported = after["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event_data"]["session_id"] == third["id"]);
        assert_eq!(reported, compat != Compat::Real, "{compat:?}: {after}");
        server.shutdown().await;
    }
}

#[tokio::test]
async fn session_rows_carry_the_topic_embedding_as_text_in_the_real_mode() {
    for compat in BOTH {
        let server = server_in(compat).await;
        let http = Http::new(&server);
        let key = key_of(&server, "embedder").await;
        let session = open(&http, &key, "Vectors as text", "public").await;
        match compat {
            Compat::Real => {
                let text = session["topic_embedding"].as_str().expect("a string");
                assert!(
                    text.starts_with('[') && text.ends_with(']') && text.contains(','),
                    "{text:.60}"
                );
            }
            _ => assert!(session["topic_embedding"].is_null()),
        }
        server.shutdown().await;
    }
}

#[tokio::test]
async fn registration_limits_and_retry_after_follow_the_mode() {
    for compat in BOTH {
        let server = ReferenceServer::start(ServerConfig::default().limits(Limits::default()).compat(compat))
            .await
            .unwrap();
        let http = Http::new(&server);
        let allowed = if compat == Compat::Real { 60 } else { 5 };
        for n in 0..allowed {
            let (status, body, _) = http
                .call(
                    "POST",
                    "/agents/register",
                    None,
                    Some(json!({"name": "Limited", "username": format!("limited-{n}")})),
                )
                .await;
            assert_eq!(status, 201, "{compat:?} registration {n}: {body}");
        }
        let (status, body, headers) = http
            .call(
                "POST",
                "/agents/register",
                None,
                Some(json!({"name": "One more", "username": "one-more"})),
            )
            .await;
        assert_eq!(status, 429, "{compat:?}: {body}");
        assert!(body["error"].as_str().unwrap().starts_with("Rate limit exceeded: "));
        assert_eq!(
            headers.contains_key("retry-after"),
            compat != Compat::Real,
            "{compat:?}: Retry-After"
        );
        server.shutdown().await;
    }
}

#[tokio::test]
async fn the_socket_refuses_origins_it_does_not_know() {
    let server = ReferenceServer::start(
        ServerConfig::default()
            .no_limits()
            .allowed_origins(["http://localhost:5173"]),
    )
    .await
    .unwrap();
    let handshake = |origin: Option<&'static str>| {
        let url = server.ws_url();
        async move {
            let mut request = url.into_client_request().unwrap();
            if let Some(origin) = origin {
                request.headers_mut().insert("origin", origin.parse().unwrap());
            }
            match tokio_tungstenite::connect_async(request).await {
                Ok(_) => 101,
                Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
                Err(other) => panic!("{other}"),
            }
        }
    };
    assert_eq!(handshake(Some("https://evil.example")).await, 403);
    assert_eq!(
        handshake(Some("http://localhost:3000")).await,
        403,
        "the default is replaced"
    );
    assert_eq!(handshake(Some("http://localhost:5173")).await, 101);
    assert_eq!(handshake(None).await, 101, "native clients send no Origin");
    server.shutdown().await;
    // The default list is the real server's.
    let server = ReferenceServer::start(ServerConfig::default().no_limits())
        .await
        .unwrap();
    let mut request = server.ws_url().into_client_request().unwrap();
    request
        .headers_mut()
        .insert("origin", "http://localhost:3000".parse().unwrap());
    assert!(tokio_tungstenite::connect_async(request).await.is_ok());
    server.shutdown().await;
}

#[tokio::test]
async fn the_sdk_loop_passes_against_both_modes() {
    use plurum_sdk::types::*;
    for compat in BOTH {
        let server = server_in(compat).await;
        let a = crate::common::agent(&server, "atlas-builder").await;
        let b = crate::common::agent(&server, "harbor-scout").await;
        // Quirk (docs/api-contract.md §7.2): the real inbox reports every public session
        // opened since the last read, so b reads once first to start clean.
        b.pulse().inbox(InboxQuery::new()).await.unwrap();

        let opened = a
            .sessions()
            .open(OpenSession::new("Set up PostgreSQL replication").domain("infrastructure"))
            .await
            .unwrap();
        let session = opened.session;
        // Ids: the SDK resolves a short id to the UUID before a sub-route,
        // so the real server's 500 for short ids there is never met.
        a.sessions()
            .log(
                &session.short_id,
                Entry::breakthrough("one slot per replica", "no WAL gaps", Importance::High),
            )
            .await
            .unwrap();
        b.sessions()
            .contribute(
                &session.short_id,
                Contribute::text("watch the lag", ContributionType::Warning),
            )
            .await
            .unwrap();
        let closed = a
            .sessions()
            .close(&session.short_id, CloseSession::with_outcome(Outcome::Success))
            .await
            .unwrap();
        let experience = closed.experience_draft.expect("assembled");
        let found = b
            .experiences()
            .search(SearchExperiences::new("postgresql replication"))
            .await
            .unwrap();
        assert_eq!(found.results[0].short_id, experience.short_id, "{compat:?}");

        // Outcomes: a second report is a 409 (seed) or an upsert (real).
        b.experiences()
            .report_outcome(&experience.short_id, ReportOutcome::failure())
            .await
            .unwrap();
        let second = b
            .experiences()
            .report_outcome(&experience.short_id, ReportOutcome::success())
            .await;
        match compat {
            Compat::Real => assert!(second.is_ok(), "{second:?}"),
            _ => assert!(second.unwrap_err().is_conflict()),
        }

        // Inbox: a's contribution event has an id in both modes; b's session
        // events have none in the real mode. Null ids are never sent to
        // mark-read (the real server would refuse them with a 422).
        let inbox = a.pulse().inbox(InboxQuery::new()).await.unwrap();
        let contribution = inbox
            .events
            .iter()
            .find(|e| e.event.event_type() == "contribution_received")
            .expect("the contribution");
        assert!(contribution.id.is_some());
        let b_inbox = b.pulse().inbox(InboxQuery::new()).await.unwrap();
        let ids: Vec<EventId> = b_inbox.events.iter().filter_map(|e| e.id.clone()).collect();
        match compat {
            Compat::Real => assert!(ids.is_empty() && !b_inbox.events.is_empty(), "{b_inbox:?}"),
            _ => assert_eq!(ids.len(), b_inbox.events.len()),
        }
        if !ids.is_empty() {
            b.pulse().mark_read(MarkRead::ids(ids)).await.unwrap();
        }
        let marked = a
            .pulse()
            .mark_read(MarkRead::ids([contribution.id.clone().unwrap()]))
            .await
            .unwrap();
        assert_eq!(marked.marked_read, 1);
        server.shutdown().await;
    }
}
