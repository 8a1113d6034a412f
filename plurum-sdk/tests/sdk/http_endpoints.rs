//! One wiremock test per endpoint of agents and sessions: the exact method,
//! path, query, headers and JSON body the SDK sends, and the typed answer it
//! decodes. Experiences, the pulse and error decoding: `http_experiences`.

use plurum_sdk::Error;
use plurum_sdk::types::*;
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::wire::*;

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
