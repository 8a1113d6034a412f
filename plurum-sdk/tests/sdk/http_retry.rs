//! Retries, rate limits and timeouts, against wiremock and a silent socket.

use std::time::Duration;

use plurum_sdk::types::*;
use plurum_sdk::{Client, Error, RetryPolicy};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "plrm_live_Ceus1Ng7VeTBJlBunK_g98qJxnUTnG9bJ5MDFG-DM8I";

macro_rules! contract {
    ($name:literal) => {
        include_str!(concat!("../fixtures/contract/", $name, ".json"))
    };
}

fn answer(status: u16, body: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.as_bytes().to_vec(), "application/json")
}

/// A client that retries quickly (real time) for tests that do not measure delays.
fn fast_client(server: &MockServer) -> Client {
    Client::builder()
        .base_url(format!("{}/api/v1", server.uri()))
        .api_key(KEY)
        .retry(
            RetryPolicy::default()
                .base_delay(Duration::from_millis(1))
                .max_delay(Duration::from_millis(5)),
        )
        .build()
        .unwrap()
}

/// A client for tests under tokio's paused clock.
fn paused_client(server: &MockServer) -> Client {
    Client::builder()
        .base_url(format!("{}/api/v1", server.uri()))
        .api_key(KEY)
        .disable_timeouts()
        .build()
        .unwrap()
}

async fn requests_to(server: &MockServer, route: &str) -> usize {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == route)
        .count()
}

#[tokio::test]
async fn search_answering_503_then_200_succeeds_after_one_retry() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/experiences/search"))
        .respond_with(answer(503, r#"{"error": "Service Unavailable"}"#))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/experiences/search"))
        .respond_with(answer(200, contract!("search_200")))
        .with_priority(2)
        .mount(&server)
        .await;
    let found = fast_client(&server)
        .experiences()
        .search(SearchExperiences::new("postgres replication"))
        .await
        .unwrap();
    assert_eq!(found.total_found, 2);
    assert_eq!(requests_to(&server, "/api/v1/experiences/search").await, 2);
    // Both attempts carried the same body.
    let bodies: Vec<_> = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.body)
        .collect();
    assert_eq!(bodies[0], bodies[1]);
}

#[tokio::test]
async fn open_session_answering_503_is_not_repeated() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/sessions"))
        .respond_with(answer(503, r#"{"error": "Service Unavailable"}"#))
        .mount(&server)
        .await;
    let err = fast_client(&server)
        .sessions()
        .open(OpenSession::new("Set up PostgreSQL replication"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Server(_)), "{err:?}");
    assert!(err.is_temporary());
    assert_eq!(requests_to(&server, "/api/v1/sessions").await, 1);
}

#[tokio::test]
async fn calls_that_must_not_repeat_are_tried_once() {
    let server = MockServer::start().await;
    Mock::given(|_: &wiremock::Request| true)
        .respond_with(answer(502, "<html><title>502 Bad Gateway</title></html>"))
        .mount(&server)
        .await;
    let client = fast_client(&server);
    let session = "e6fbd266-218d-472f-8598-672ba81575b2";
    assert!(client.agents().register(Register::new("A", "abc")).await.is_err());
    assert!(client.agents().rotate_key().await.is_err());
    assert!(client.sessions().log(session, Entry::note("x")).await.is_err());
    assert!(
        client
            .sessions()
            .contribute(session, Contribute::text("x", ContributionType::Suggestion))
            .await
            .is_err()
    );
    assert!(
        client
            .experiences()
            .create(CreateExperience::new("a goal of ten"))
            .await
            .is_err()
    );
    assert!(client.sessions().close(session, CloseSession::new()).await.is_err());
    assert_eq!(server.received_requests().await.unwrap().len(), 6, "one attempt each");
}

#[tokio::test]
async fn harmless_calls_are_retried_up_to_the_limit() {
    let server = MockServer::start().await;
    Mock::given(|_: &wiremock::Request| true)
        .respond_with(answer(500, r#"{"error": "Internal server error"}"#))
        .mount(&server)
        .await;
    let client = fast_client(&server);
    let err = client.experiences().get("cdf0e8a3").await.unwrap_err();
    assert!(matches!(err, Error::Server(_)));
    assert_eq!(
        requests_to(&server, "/api/v1/experiences/cdf0e8a3").await,
        4,
        "1 attempt + 3 retries"
    );
    client
        .experiences()
        .report_outcome("cdf0e8a3", ReportOutcome::success())
        .await
        .unwrap_err();
    assert_eq!(requests_to(&server, "/api/v1/experiences/cdf0e8a3/outcome").await, 4);
}

#[tokio::test(start_paused = true)]
async fn a_429_with_retry_after_waits_that_long() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/experiences/cdf0e8a3/vote"))
        .respond_with(answer(429, contract!("error_429")).insert_header("Retry-After", "30"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/experiences/cdf0e8a3/vote"))
        .respond_with(answer(200, contract!("vote_200")))
        .with_priority(2)
        .mount(&server)
        .await;
    let started = tokio::time::Instant::now();
    let vote = paused_client(&server)
        .experiences()
        .vote("cdf0e8a3", VoteType::Up)
        .await
        .unwrap();
    let waited = started.elapsed();
    assert_eq!(vote.vote_type, VoteType::Up);
    assert!(waited >= Duration::from_secs(30), "waited only {waited:?}");
    assert!(waited < Duration::from_secs(31), "waited {waited:?}");
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_date_is_honoured() {
    let server = MockServer::start().await;
    let when = httpdate_in(Duration::from_secs(20));
    Mock::given(method("GET"))
        .and(path("/api/v1/pulse/status"))
        .respond_with(answer(503, r#"{"error":"maintenance"}"#).insert_header("Retry-After", when.as_str()))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/pulse/status"))
        .respond_with(answer(200, contract!("pulse_status_200")))
        .with_priority(2)
        .mount(&server)
        .await;
    let started = tokio::time::Instant::now();
    paused_client(&server).pulse().status().await.unwrap();
    let waited = started.elapsed();
    // The date has one-second resolution and wall time moves on slightly.
    assert!(
        waited >= Duration::from_secs(18) && waited <= Duration::from_secs(21),
        "{waited:?}"
    );
}

fn httpdate_in(delay: Duration) -> String {
    let when = std::time::SystemTime::now() + delay;
    let dt = time::OffsetDateTime::from(when);
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    dt.format(&format).unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_429_without_retry_after_backs_off_for_the_window() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/experiences/search"))
        .respond_with(answer(429, contract!("error_429")))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/experiences/search"))
        .respond_with(answer(200, contract!("search_200")))
        .with_priority(2)
        .mount(&server)
        .await;
    let started = tokio::time::Instant::now();
    paused_client(&server)
        .experiences()
        .search(SearchExperiences::new("replication"))
        .await
        .unwrap();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(60) && waited < Duration::from_secs(61),
        "{waited:?}"
    );
}

#[tokio::test]
async fn a_retry_after_beyond_the_cap_fails_at_once_with_the_delay() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/experiences/search"))
        .respond_with(answer(429, contract!("error_429")).insert_header("Retry-After", "3600"))
        .mount(&server)
        .await;
    let err = fast_client(&server)
        .experiences()
        .search(SearchExperiences::new("replication"))
        .await
        .unwrap_err();
    match &err {
        Error::RateLimited { retry_after, error } => {
            assert_eq!(*retry_after, Some(Duration::from_secs(3600)));
            assert_eq!(error.message, "Rate limit exceeded: 30 per 1 minute");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3600)));
    assert!(err.to_string().ends_with("(retry after 60 min)"), "{err}");
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn an_hourly_limit_without_header_is_reported_with_its_window() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/agents/register"))
        .respond_with(answer(429, r#"{"error": "Rate limit exceeded: 5 per 1 hour"}"#))
        .mount(&server)
        .await;
    let err = fast_client(&server)
        .agents()
        .register(Register::new("Atlas", "atlas"))
        .await
        .unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3600)));
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "register is never repeated"
    );
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Accept connections and hold them open without ever answering.
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let client = Client::builder()
        .base_url(format!("http://{addr}/api/v1"))
        .timeout(Duration::from_millis(200))
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let err = client.pulse().status().await.unwrap_err();
    match &err {
        Error::Timeout { after, url } => {
            assert_eq!(*after, Duration::from_millis(200));
            assert!(url.ends_with("/api/v1/pulse/status"), "{url}");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.is_temporary());
    assert_eq!(
        err.to_string(),
        format!("no answer from http://{addr}/api/v1/pulse/status within 200 ms")
    );
    holder.abort();
}

#[tokio::test]
async fn a_closed_port_is_a_transport_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = Client::builder()
        .base_url(format!("http://{addr}/api/v1"))
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let err = client.health().await.unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert!(err.is_temporary());
    assert!(std::error::Error::source(&err).is_some(), "the cause is kept");
    assert!(err.is_refused(), "{err:?}");
}

#[tokio::test]
async fn a_refused_connection_is_not_retried_when_the_policy_says_so() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    // A retry would wait an hour: the call must come back at once.
    let policy = RetryPolicy::default()
        .base_delay(Duration::from_secs(3600))
        .max_delay(Duration::from_secs(3600))
        .retry_refused(false);
    let client = Client::builder()
        .base_url(format!("http://{addr}/api/v1"))
        .retry(policy)
        .build()
        .unwrap();
    let err = tokio::time::timeout(Duration::from_secs(60), client.health())
        .await
        .expect("a refused connection was retried")
        .unwrap_err();
    assert!(err.is_refused() && err.is_temporary(), "{err:?}");
}

#[tokio::test]
async fn a_timeout_is_not_a_refusal() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Accepts and never answers.
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let client = Client::builder()
        .base_url(format!("http://{addr}/api/v1"))
        .timeout(Duration::from_millis(200))
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let err = client.health().await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }) && !err.is_refused(), "{err:?}");
    holder.abort();
}

#[tokio::test]
async fn the_key_never_appears_in_errors() {
    let server = MockServer::start().await;
    Mock::given(|_: &wiremock::Request| true)
        .respond_with(answer(401, contract!("error_401_missing")))
        .mount(&server)
        .await;
    let err = fast_client(&server).agents().me().await.unwrap_err();
    assert!(err.is_unauthorized());
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("Ceus1Ng7"), "{shown}");
}
