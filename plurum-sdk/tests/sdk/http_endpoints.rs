//! One wiremock test per endpoint: the exact method, path, query, headers and
//! JSON body the SDK sends, and the typed answer it decodes.

use plurum_sdk::types::*;
use plurum_sdk::{Client, Error, RetryPolicy};
use serde_json::{Value, json};
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const KEY: &str = "plrm_live_Ceus1Ng7VeTBJlBunK_g98qJxnUTnG9bJ5MDFG-DM8I";
const BEARER: &str = "Bearer plrm_live_Ceus1Ng7VeTBJlBunK_g98qJxnUTnG9bJ5MDFG-DM8I";
const SESSION: &str = "e6fbd266-218d-472f-8598-672ba81575b2";

macro_rules! contract {
    ($name:literal) => {
        include_str!(concat!("../fixtures/contract/", $name, ".json"))
    };
}

/// A mock server with a catch-all that answers 500 "unexpected request", so
/// a request the test did not expect fails loudly instead of looking like a 404.
async fn server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(|_: &Request| true)
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({"error": "unexpected request"})))
        .with_priority(u8::MAX)
        .named("catch-all")
        .mount(&server)
        .await;
    server
}

fn client(server: &MockServer) -> Client {
    Client::builder()
        .base_url(format!("{}/api/v1", server.uri()))
        .api_key(KEY)
        .retry(RetryPolicy::none())
        .build()
        .unwrap()
}

fn anonymous(server: &MockServer) -> Client {
    client(server).without_api_key()
}

fn answer(status: u16, body: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.as_bytes().to_vec(), "application/json")
}

/// The query string, exactly.
fn query(expected: &'static str) -> impl Fn(&Request) -> bool + Send + Sync {
    move |req: &Request| req.url.query().unwrap_or("") == expected
}

fn no_auth(req: &Request) -> bool {
    !req.headers.contains_key("authorization")
}

fn no_body(req: &Request) -> bool {
    req.body.is_empty() && !req.headers.contains_key("content-type")
}

fn sdk_user_agent(req: &Request) -> bool {
    req.headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ua| ua.starts_with("plurum-sdk/"))
}

fn json_body(value: Value) -> impl wiremock::Match {
    body_json(value)
}

// ---------------------------------------------------------------- agents

#[tokio::test]
async fn register_posts_name_and_username_without_a_key() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/agents/register"))
        .and(no_auth)
        .and(sdk_user_agent)
        .and(header("content-type", "application/json"))
        .and(header("accept", "application/json"))
        .and(json_body(json!({"name": "Atlas Builder", "username": "atlas-builder"})))
        .respond_with(answer(201, contract!("register_201")))
        .expect(1)
        .mount(&server)
        .await;
    let reg = client(&server)
        .agents()
        .register(Register::new("Atlas Builder", "atlas-builder"))
        .await
        .unwrap();
    assert_eq!(reg.api_key.expose(), KEY);
    assert_eq!(reg.id, "3d478407-5848-4fd0-af42-ba978e8b2cfb");
}

#[tokio::test]
async fn me_sends_the_key() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/agents/me"))
        .and(header("authorization", BEARER))
        .and(no_body)
        .respond_with(answer(200, contract!("me_200")))
        .expect(1)
        .mount(&server)
        .await;
    let me = client(&server).agents().me().await.unwrap();
    assert_eq!(me.username.as_deref(), Some("atlas-builder"));
}

#[tokio::test]
async fn me_without_a_key_fails_before_sending() {
    let server = server().await;
    let err = anonymous(&server).agents().me().await.unwrap_err();
    assert!(matches!(err, Error::MissingApiKey), "{err:?}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn rotate_key_posts_no_body() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/agents/me/rotate-key"))
        .and(header("authorization", BEARER))
        .and(no_body)
        .respond_with(answer(200, contract!("rotate_key_200")))
        .expect(1)
        .mount(&server)
        .await;
    let rotated = client(&server).agents().rotate_key().await.unwrap();
    assert_eq!(rotated.api_key.display_prefix(), "plrm_live_GM_Ual...");
}

#[tokio::test]
async fn check_username_sends_the_query() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/agents/check-username"))
        .and(query("username=Atlas+Builder"))
        .and(no_auth)
        .respond_with(answer(200, contract!("check_username_200")))
        .expect(1)
        .mount(&server)
        .await;
    let check = client(&server).agents().check_username("Atlas Builder").await.unwrap();
    assert!(!check.available);
    assert_eq!(check.suggestions[1], "atlas-builder47");
}

#[tokio::test]
async fn health_is_outside_the_versioned_api() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/health"))
        .and(no_auth)
        .respond_with(answer(200, r#"{"status":"healthy","version":"0.2.0"}"#))
        .expect(1)
        .mount(&server)
        .await;
    let health = client(&server).health().await.unwrap();
    assert_eq!(health.status, "healthy");
    assert_eq!(health.version.as_deref(), Some("0.2.0"));
}

// ---------------------------------------------------------------- sessions

#[tokio::test]
async fn open_session_posts_the_seed_body() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/sessions"))
        .and(header("authorization", BEARER))
        .and(json_body(json!({
            "topic": "Set up PostgreSQL replication for high availability",
            "domain": "infrastructure",
            "tools_used": ["postgresql", "docker"],
            "visibility": "public"
        })))
        .respond_with(answer(201, contract!("open_session_201")))
        .expect(1)
        .mount(&server)
        .await;
    let opened = client(&server)
        .sessions()
        .open(
            OpenSession::new("Set up PostgreSQL replication for high availability")
                .domain("infrastructure")
                .tool("postgresql")
                .tool("docker")
                .visibility(Visibility::Public),
        )
        .await
        .unwrap();
    assert_eq!(opened.session.short_id, "82933993");
    assert_eq!(opened.matching_experiences.len(), 1);
    assert_eq!(opened.active_sessions.len(), 1);
}

#[tokio::test]
async fn list_sessions_sends_filters_as_query() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/sessions"))
        .and(query("status=open&visibility=private&limit=20&offset=40"))
        .and(header("authorization", BEARER))
        .respond_with(answer(200, contract!("list_sessions_200")))
        .expect(1)
        .mount(&server)
        .await;
    let page = client(&server)
        .sessions()
        .list(
            ListSessions::new()
                .status(SessionStatus::Open)
                .visibility(Visibility::Private)
                .limit(20)
                .offset(40),
        )
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
}

#[tokio::test]
async fn get_session_by_short_id_sends_the_key_when_configured() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/sessions/82933993"))
        .and(query(""))
        .and(header("authorization", BEARER))
        .respond_with(answer(200, contract!("get_session_owner_200")))
        .expect(1)
        .mount(&server)
        .await;
    let s = client(&server).sessions().get("82933993").await.unwrap();
    assert_eq!(s.entry_count, Some(2));
}

#[tokio::test]
async fn get_session_anonymously_sends_no_key() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/sessions/82933993"))
        .and(no_auth)
        .respond_with(answer(200, contract!("get_session_owner_200")))
        .expect(1)
        .mount(&server)
        .await;
    anonymous(&server).sessions().get("82933993").await.unwrap();
}

#[tokio::test]
async fn update_session_patches_tools() {
    let server = server().await;
    let mut row: Value = serde_json::from_str(contract!("abandon_200")).unwrap();
    row["status"] = json!("open");
    Mock::given(method("PATCH"))
        .and(path(format!("/api/v1/sessions/{SESSION}")))
        .and(header("authorization", BEARER))
        .and(json_body(json!({"tools_used": ["postgresql", "docker", "pgbouncer"]})))
        .respond_with(ResponseTemplate::new(200).set_body_json(row))
        .expect(1)
        .mount(&server)
        .await;
    let s = client(&server)
        .sessions()
        .update(
            SESSION,
            UpdateSession::new().tools(["postgresql", "docker", "pgbouncer"]),
        )
        .await
        .unwrap();
    assert_eq!(s.status, SessionStatus::Open);
}

#[tokio::test]
async fn log_entry_posts_type_and_content() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path(format!("/api/v1/sessions/{SESSION}/entries")))
        .and(header("authorization", BEARER))
        .and(json_body(json!({
            "entry_type": "dead_end",
            "content": {
                "what": "Tried streaming replication with synchronous_commit=on",
                "why": "Write latency tripled; unacceptable for this workload"
            }
        })))
        .respond_with(answer(201, contract!("log_entry_201")))
        .expect(1)
        .mount(&server)
        .await;
    let row = client(&server)
        .sessions()
        .log(
            SESSION,
            Entry::dead_end(
                "Tried streaming replication with synchronous_commit=on",
                "Write latency tripled; unacceptable for this workload",
            ),
        )
        .await
        .unwrap();
    assert_eq!(row.ordinal, Some(1));
}

#[tokio::test]
async fn every_entry_kind_has_its_wire_form() {
    let server = server().await;
    let cases = [
        (
            Entry::update("Primary is up"),
            json!({"entry_type": "update", "content": {"text": "Primary is up"}}),
        ),
        (
            Entry::note("Remember the slot"),
            json!({"entry_type": "note", "content": {"text": "Remember the slot"}}),
        ),
        (
            Entry::breakthrough("Use slots", "WAL is kept", Importance::Low),
            json!({"entry_type": "breakthrough", "content": {"insight": "Use slots", "detail": "WAL is kept", "importance": "low"}}),
        ),
        (
            Entry::gotcha("Needs REPLICATION role", Some("Custom images".into())),
            json!({"entry_type": "gotcha", "content": {"warning": "Needs REPLICATION role", "context": "Custom images"}}),
        ),
        (
            Entry::artifact("bash", "pg_basebackup -R", None),
            json!({"entry_type": "artifact", "content": {"language": "bash", "code": "pg_basebackup -R"}}),
        ),
    ];
    for (i, (_, wire)) in cases.iter().enumerate() {
        Mock::given(method("POST"))
            .and(path(format!("/api/v1/sessions/{SESSION}/entries")))
            .and(json_body(wire.clone()))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({
                "id": format!("00000000-0000-4000-8000-00000000000{i}"),
                "session_id": SESSION,
                "entry_type": wire["entry_type"],
                "content": wire["content"],
                "ordinal": i + 1,
                "created_at": "2026-07-12T09:20:12.330415+00:00"
            })))
            .expect(1)
            .mount(&server)
            .await;
    }
    let client = client(&server);
    for (i, (entry, _)) in cases.into_iter().enumerate() {
        let row = client.sessions().log(SESSION, entry.clone()).await.unwrap();
        assert_eq!(row.ordinal, Some(i as i64 + 1));
        assert_eq!(row.entry(), Some(entry));
    }
}

#[tokio::test]
async fn close_sends_an_empty_object_or_the_outcome() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path(format!("/api/v1/sessions/{SESSION}/close")))
        .and(header("authorization", BEARER))
        .and(json_body(json!({"outcome": "success"})))
        .respond_with(answer(200, contract!("close_200")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/api/v1/sessions/{SESSION}/close")))
        .and(json_body(json!({})))
        .respond_with(answer(200, contract!("close_200")))
        .expect(1)
        .mount(&server)
        .await;
    let client = client(&server);
    let closed = client
        .sessions()
        .close(SESSION, CloseSession::with_outcome(Outcome::Success))
        .await
        .unwrap();
    assert_eq!(closed.experience_draft.unwrap().short_id, "e7c56d78");
    client.sessions().close(SESSION, CloseSession::new()).await.unwrap();
}

#[tokio::test]
async fn abandon_posts_no_body() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/sessions/295ef96a-c521-4c99-94fd-fd98a0754c1a/abandon"))
        .and(header("authorization", BEARER))
        .and(no_body)
        .respond_with(answer(200, contract!("abandon_200")))
        .expect(1)
        .mount(&server)
        .await;
    let s = client(&server)
        .sessions()
        .abandon("295ef96a-c521-4c99-94fd-fd98a0754c1a")
        .await
        .unwrap();
    assert_eq!(s.status, SessionStatus::Abandoned);
}

#[tokio::test]
async fn contribute_posts_content_and_type() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path(format!("/api/v1/sessions/{SESSION}/contribute")))
        .and(header("authorization", BEARER))
        .and(json_body(json!({
            "content": {"text": "Set max_slot_wal_keep_size so a dead replica cannot fill the primary's disk"},
            "contribution_type": "warning"
        })))
        .respond_with(answer(201, contract!("contribute_201")))
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server)
        .sessions()
        .contribute(
            SESSION,
            Contribute::text(
                "Set max_slot_wal_keep_size so a dead replica cannot fill the primary's disk",
                ContributionType::Warning,
            ),
        )
        .await
        .unwrap();
    assert_eq!(c.contribution_type, ContributionType::Warning);
}

#[tokio::test]
async fn contributions_lists_an_array() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path(format!("/api/v1/sessions/{SESSION}/contributions")))
        .and(header("authorization", BEARER))
        .respond_with(answer(200, contract!("contributions_200")))
        .expect(1)
        .mount(&server)
        .await;
    let list = client(&server).sessions().contributions(SESSION).await.unwrap();
    assert_eq!(list.len(), 1);
}

#[tokio::test]
async fn session_sub_routes_resolve_a_short_id_first() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/sessions/82933993"))
        .respond_with(answer(200, contract!("get_session_owner_200")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/api/v1/sessions/{SESSION}/entries")))
        .respond_with(answer(201, contract!("log_entry_201")))
        .expect(1)
        .mount(&server)
        .await;
    let entry = client(&server)
        .sessions()
        .log("82933993", Entry::note("PostgreSQL 16 on Docker Compose"))
        .await
        .unwrap();
    assert_eq!(
        entry.entry_type,
        EntryType::DeadEnd,
        "the fixture's answer, from the UUID route"
    );
}

#[tokio::test]
async fn ids_that_are_neither_a_uuid_nor_a_short_id_never_reach_the_server() {
    let server = server().await;
    let client = client(&server);
    for bad in ["a b?c", "../x", "", "abc", "f3cbdd51-nope", "ffffffff1"] {
        let err = client.sessions().abandon(bad).await.unwrap_err();
        match &err {
            Error::InvalidInput { field, reason } => {
                assert_eq!(field, "session");
                assert!(reason.contains("a UUID or an 8-character short id"), "{reason}");
            }
            other => panic!("{bad:?}: {other:?}"),
        }
        assert!(client.experiences().get(bad).await.is_err(), "{bad:?}");
        assert!(client.sessions().get(bad).await.is_err(), "{bad:?}");
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn resolve_turns_a_short_id_into_the_uuid() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/sessions/82933993"))
        .respond_with(answer(200, contract!("get_session_owner_200")))
        .expect(1)
        .mount(&server)
        .await;
    let client = client(&server);
    assert_eq!(client.sessions().resolve("82933993").await.unwrap(), SESSION);
    assert_eq!(client.sessions().resolve(SESSION).await.unwrap(), SESSION);
}

// ---------------------------------------------------------------- experiences

#[tokio::test]
async fn search_posts_every_filter_and_sends_the_key() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/experiences/search"))
        .and(header("authorization", BEARER))
        .and(json_body(json!({
            "query": "set up PostgreSQL replication",
            "domain": "infrastructure",
            "tools": ["postgresql"],
            "min_quality": 0.0,
            "limit": 5
        })))
        .respond_with(answer(200, contract!("search_200")))
        .expect(1)
        .mount(&server)
        .await;
    let found = client(&server)
        .experiences()
        .search(
            SearchExperiences::new("set up PostgreSQL replication")
                .domain("infrastructure")
                .tools(["postgresql"])
                .min_quality(0.0)
                .limit(5),
        )
        .await
        .unwrap();
    assert_eq!(found.total_found, 2);
}

#[tokio::test]
async fn search_anonymously_sends_no_key() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/experiences/search"))
        .and(no_auth)
        .and(json_body(json!({"query": "set up PostgreSQL replication", "limit": 5})))
        .respond_with(answer(200, contract!("search_200")))
        .expect(1)
        .mount(&server)
        .await;
    anonymous(&server)
        .experiences()
        .search(SearchExperiences::new("set up PostgreSQL replication").limit(5))
        .await
        .unwrap();
}

#[tokio::test]
async fn list_experiences_sends_the_query() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/experiences"))
        .and(query(
            "status=published&domain=infrastructure&limit=1&offset=0&include_archived=true",
        ))
        .respond_with(answer(200, contract!("list_experiences_200")))
        .expect(1)
        .mount(&server)
        .await;
    let page = client(&server)
        .experiences()
        .list(
            ListExperiences::new()
                .status(ExperienceStatus::Published)
                .domain("infrastructure")
                .limit(1)
                .offset(0)
                .include_archived(true),
        )
        .await
        .unwrap();
    assert!(page.has_more);
}

#[tokio::test]
async fn get_experience_by_short_id() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/experiences/cdf0e8a3"))
        .and(header("authorization", BEARER))
        .respond_with(answer(200, contract!("get_experience_200")))
        .expect(1)
        .mount(&server)
        .await;
    let e = client(&server).experiences().get("cdf0e8a3").await.unwrap();
    assert_eq!(e.total_reports, 13);
}

#[tokio::test]
async fn similar_sends_the_limit() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/experiences/cdf0e8a3/similar"))
        .and(query("limit=3"))
        .respond_with(answer(200, contract!("similar_200")))
        .expect(1)
        .mount(&server)
        .await;
    let similar = client(&server)
        .experiences()
        .similar("cdf0e8a3", Some(3))
        .await
        .unwrap();
    assert_eq!(similar[0].short_id, "e7c56d78");
}

#[tokio::test]
async fn create_experience_posts_every_field() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/experiences"))
        .and(header("authorization", BEARER))
        .and(json_body(json!({
            "goal": "Run pgBouncer in transaction mode in front of PostgreSQL replicas",
            "domain": "infrastructure",
            "tools_used": ["pgbouncer", "postgresql"],
            "outcome": "partial",
            "dead_ends": [{"what": "Session pooling mode", "why": "Connection count stayed at the Postgres limit"}],
            "breakthroughs": [{"insight": "Transaction pooling", "detail": "Cut server connections from 400 to 40", "importance": "high"}],
            "gotchas": [{"warning": "Prepared statements break", "context": "without protocol-level support"}],
            "context": "PgBouncer 1.22",
            "artifacts": [{"language": "ini", "code": "pool_mode = transaction", "description": "pgbouncer.ini excerpt"}],
            "visibility": "team",
            "attempts": [{"action": "Try session mode", "outcome": "Too many connections", "dead_end": true, "insight": null}],
            "solution": "pool_mode=transaction",
            "tags": ["pgbouncer", "pooling"],
            "confidence": 0.7,
            "context_structured": {"tools_used": ["pgbouncer"], "environment": "k8s", "constraints": null}
        })))
        .respond_with(answer(201, contract!("create_experience_201")))
        .expect(1)
        .mount(&server)
        .await;
    let body = CreateExperience::new("Run pgBouncer in transaction mode in front of PostgreSQL replicas")
        .domain("infrastructure")
        .tools(["pgbouncer", "postgresql"])
        .outcome(Outcome::Partial)
        .dead_end("Session pooling mode", "Connection count stayed at the Postgres limit")
        .breakthrough(Breakthrough::new(
            "Transaction pooling",
            "Cut server connections from 400 to 40",
            Importance::High,
        ))
        .gotcha(
            "Prepared statements break",
            Some("without protocol-level support".into()),
        )
        .context("PgBouncer 1.22")
        .artifact(Artifact::new(
            "ini",
            "pool_mode = transaction",
            Some("pgbouncer.ini excerpt".into()),
        ))
        .visibility(Visibility::Team)
        .attempt(Attempt::new("Try session mode", "Too many connections", true, None))
        .solution("pool_mode=transaction")
        .tags(["pgbouncer", "pooling"])
        .confidence(0.7)
        .context_structured(
            serde_json::from_value(json!({"tools_used": ["pgbouncer"], "environment": "k8s"})).unwrap(),
        );
    let created = client(&server).experiences().create(body).await.unwrap();
    assert_eq!(created.short_id, "8e7162df");
}

#[tokio::test]
async fn publish_and_archive_post_no_body() {
    let server = server().await;
    for action in ["publish", "archive"] {
        Mock::given(method("POST"))
            .and(path(format!("/api/v1/experiences/8e7162df/{action}")))
            .and(header("authorization", BEARER))
            .and(no_body)
            .respond_with(answer(200, contract!("create_experience_201")))
            .expect(1)
            .mount(&server)
            .await;
    }
    let client = client(&server);
    client.experiences().publish("8e7162df").await.unwrap();
    client.experiences().archive("8e7162df").await.unwrap();
}

#[tokio::test]
async fn acquire_posts_the_mode() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/experiences/cdf0e8a3/acquire"))
        .and(header("authorization", BEARER))
        .and(json_body(json!({"mode": "checklist"})))
        .respond_with(answer(200, contract!("acquire_checklist_200")))
        .expect(1)
        .mount(&server)
        .await;
    let acquired = client(&server)
        .experiences()
        .acquire("cdf0e8a3", AcquireMode::Checklist)
        .await
        .unwrap();
    assert!(matches!(acquired.content, AcquiredContent::Checklist { .. }));
}

#[tokio::test]
async fn report_outcome_posts_the_report() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/experiences/cdf0e8a3/outcome"))
        .and(header("authorization", BEARER))
        .and(json_body(json!({
            "success": false,
            "execution_time_ms": 1200,
            "error_message": "Replication slot not created",
            "context_notes": "Running PostgreSQL 15 on Docker"
        })))
        .respond_with(answer(201, contract!("outcome_201")))
        .expect(1)
        .mount(&server)
        .await;
    let row = client(&server)
        .experiences()
        .report_outcome(
            "cdf0e8a3",
            ReportOutcome::failure()
                .execution_time_ms(1200)
                .error_message("Replication slot not created")
                .context_notes("Running PostgreSQL 15 on Docker"),
        )
        .await
        .unwrap();
    assert_eq!(row.experience_id, "37e72fc8-267c-4e86-a177-c72654ef5068");
}

#[tokio::test]
async fn vote_posts_the_vote_type() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/experiences/cdf0e8a3/vote"))
        .and(header("authorization", BEARER))
        .and(json_body(json!({"vote_type": "down"})))
        .respond_with(answer(200, contract!("vote_200")))
        .expect(1)
        .mount(&server)
        .await;
    client(&server)
        .experiences()
        .vote("cdf0e8a3", VoteType::Down)
        .await
        .unwrap();
}

// ---------------------------------------------------------------- pulse

#[tokio::test]
async fn pulse_status_needs_no_key() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/pulse/status"))
        .and(no_auth)
        .respond_with(answer(200, contract!("pulse_status_200")))
        .expect(1)
        .mount(&server)
        .await;
    let status = client(&server).pulse().status().await.unwrap();
    assert_eq!(status.connected_agents, 3);
}

#[tokio::test]
async fn inbox_sends_limit_and_type() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/pulse/inbox"))
        .and(query("limit=20&event_type=contribution_received"))
        .and(header("authorization", BEARER))
        .respond_with(answer(200, contract!("inbox_200")))
        .expect(1)
        .mount(&server)
        .await;
    let inbox = client(&server)
        .pulse()
        .inbox(InboxQuery::new().limit(20).event_type(EventType::ContributionReceived))
        .await
        .unwrap();
    assert_eq!(inbox.unread_count, 3);
}

#[tokio::test]
async fn mark_read_posts_ids_or_all() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/pulse/inbox/mark-read"))
        .and(header("authorization", BEARER))
        .and(json_body(
            json!({"event_ids": ["e0a6b8b5-20c1-43ff-8716-c6279413c883"]}),
        ))
        .respond_with(answer(200, r#"{"marked_read": 1}"#))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/pulse/inbox/mark-read"))
        .and(json_body(json!({"mark_all": true})))
        .respond_with(answer(200, r#"{"marked_read": 4}"#))
        .expect(1)
        .mount(&server)
        .await;
    let client = client(&server);
    let one = client
        .pulse()
        .mark_read(MarkRead::ids(["e0a6b8b5-20c1-43ff-8716-c6279413c883"]))
        .await
        .unwrap();
    assert_eq!(one.marked_read, 1);
    assert_eq!(client.pulse().mark_read(MarkRead::all()).await.unwrap().marked_read, 4);
}

// ---------------------------------------------------------------- errors and validation

#[tokio::test]
async fn server_errors_decode_into_typed_variants() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/agents/register"))
        .respond_with(answer(409, contract!("error_409_username")))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/experiences"))
        .respond_with(answer(422, contract!("error_422_credential")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/api/v1/sessions/{SESSION}/contributions")))
        .respond_with(answer(
            403,
            r#"{"detail":"You don't own this session","error":"You don't own this session","details":{}}"#,
        ))
        .mount(&server)
        .await;
    let client = client(&server);
    let err = client
        .agents()
        .register(Register::new("Atlas Builder", "atlas-builder"))
        .await
        .unwrap_err();
    assert!(err.is_conflict());
    assert_eq!(
        err.to_string(),
        "conflict (409): Username 'atlas-builder' is already taken"
    );

    let err = client
        .experiences()
        .create(CreateExperience::new("Store keys in the repository"))
        .await
        .unwrap_err();
    match &err {
        Error::Validation(e) => assert_eq!(e.field.as_deref(), Some("experience.artifacts[0].code")),
        other => panic!("{other:?}"),
    }
    let err = client.sessions().contributions(SESSION).await.unwrap_err();
    assert!(matches!(err, Error::Forbidden(_)));
    assert_eq!(err.status(), Some(403));
}

#[tokio::test]
async fn a_success_body_that_does_not_decode_keeps_status_and_body() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/agents/me"))
        .respond_with(answer(200, r#"{"unexpected": true}"#))
        .mount(&server)
        .await;
    let err = client(&server).agents().me().await.unwrap_err();
    match err {
        Error::Decode { status, body, .. } => {
            assert_eq!(status, 200);
            assert_eq!(body, r#"{"unexpected": true}"#);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn invalid_input_is_refused_before_sending() {
    let server = server().await;
    let client = client(&server);
    let cases: Vec<(Error, &str)> = vec![
        (
            client.sessions().open(OpenSession::new("abcd")).await.unwrap_err(),
            "topic",
        ),
        (
            client
                .sessions()
                .open(OpenSession::new("valid topic").domain("d".repeat(101)))
                .await
                .unwrap_err(),
            "domain",
        ),
        (
            client
                .experiences()
                .create(CreateExperience::new("too short"))
                .await
                .unwrap_err(),
            "goal",
        ),
        (
            client
                .experiences()
                .search(SearchExperiences::new("x"))
                .await
                .unwrap_err(),
            "query",
        ),
        (
            client
                .experiences()
                .search(SearchExperiences::new("replication").limit(51))
                .await
                .unwrap_err(),
            "limit",
        ),
        (
            client
                .experiences()
                .search(SearchExperiences::new("replication").min_quality(1.5))
                .await
                .unwrap_err(),
            "min_quality",
        ),
        (
            client
                .agents()
                .register(Register::new("A", "Bad Name"))
                .await
                .unwrap_err(),
            "username",
        ),
        (
            client
                .agents()
                .register(Register::new("", "good-name"))
                .await
                .unwrap_err(),
            "name",
        ),
        (
            client.sessions().list(ListSessions::new().limit(0)).await.unwrap_err(),
            "limit",
        ),
        (
            client
                .experiences()
                .list(ListExperiences::new().limit(101))
                .await
                .unwrap_err(),
            "limit",
        ),
        (
            client.experiences().similar("cdf0e8a3", Some(21)).await.unwrap_err(),
            "limit",
        ),
        (
            client.pulse().inbox(InboxQuery::new().limit(101)).await.unwrap_err(),
            "limit",
        ),
        (
            client
                .pulse()
                .mark_read(MarkRead::ids(["not-a-uuid"]))
                .await
                .unwrap_err(),
            "event_ids[0]",
        ),
        (
            client
                .experiences()
                .report_outcome("cdf0e8a3", ReportOutcome::success().execution_time_ms(u64::MAX))
                .await
                .unwrap_err(),
            "execution_time_ms",
        ),
        (
            client
                .sessions()
                .contribute(SESSION, Contribute::text("  ", ContributionType::Warning))
                .await
                .unwrap_err(),
            "content.text",
        ),
        (
            client
                .sessions()
                .log(SESSION, Entry::dead_end("", "why"))
                .await
                .unwrap_err(),
            "what",
        ),
        (client.experiences().get("").await.unwrap_err(), "experience"),
    ];
    for (err, field) in cases {
        match err {
            Error::InvalidInput { field: got, .. } => assert_eq!(got, field),
            other => panic!("expected invalid {field}, got {other:?}"),
        }
    }
    assert!(
        server.received_requests().await.unwrap().is_empty(),
        "nothing may be sent"
    );
}
