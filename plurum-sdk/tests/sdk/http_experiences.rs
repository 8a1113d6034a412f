//! One wiremock test per endpoint of experiences and the pulse, and how
//! error answers decode: the exact method, path, query, headers and JSON
//! body the SDK sends, and the typed answer it decodes.

use plurum_sdk::Error;
use plurum_sdk::types::*;
use serde_json::json;
use wiremock::Mock;
use wiremock::matchers::{header, method, path};

use crate::wire::*;

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
