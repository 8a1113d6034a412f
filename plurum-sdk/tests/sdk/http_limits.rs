//! What a hostile server or a captive portal cannot do to a client: make it
//! read an endless answer, or make it repeat the key it sent.

use std::io::{Read, Write};
use std::net::TcpListener;

use plurum_sdk::types::SearchExperiences;
use plurum_sdk::{Client, Error, RetryPolicy};

const SENTINEL: &str = "plrm_live_SENTINELsentinelSENTINELsentinelSENTINEL123";

/// A server that answers every connection with `head` and then an endless
/// chunked body; returns its base URL and a counter of bytes it managed to
/// write (the client stops reading, so writing stops too).
fn endless(head: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api/v1", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request);
                if stream.write_all(head.as_bytes()).is_err() {
                    return;
                }
                let chunk = format!("{:x}\r\n{}\r\n", 65_536, "A".repeat(65_536));
                while stream.write_all(chunk.as_bytes()).is_ok() {}
            });
        }
    });
    url
}

fn client(url: &str) -> Client {
    Client::builder()
        .base_url(url)
        .retry(RetryPolicy::none())
        .max_response_bytes(1 << 20)
        .build()
        .unwrap()
}

#[tokio::test]
async fn an_endless_success_answer_stops_at_the_limit() {
    let url = endless("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n");
    let error = client(&url)
        .experiences()
        .search(SearchExperiences::new("anything"))
        .await
        .unwrap_err();
    match &error {
        Error::TooLarge { limit, status, .. } => assert_eq!((*limit, *status), (1 << 20, 200)),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert!(error.to_string().contains("larger than 1 MiB"), "{error}");
}

#[tokio::test]
async fn an_endless_error_answer_is_read_only_as_far_as_it_is_kept() {
    let url = endless("HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/html\r\ntransfer-encoding: chunked\r\n\r\n");
    let error = client(&url)
        .experiences()
        .search(SearchExperiences::new("anything"))
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(502));
    let body = &error.api_error().unwrap().body;
    assert!(body.len() <= plurum_sdk::error::MAX_ERROR_BODY + 4, "{}", body.len());
}

#[tokio::test]
async fn a_declared_length_over_the_limit_is_not_read_at_all() {
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_string("x".repeat(2 << 20)))
        .mount(&server)
        .await;
    let error = client(&format!("{}/api/v1", server.uri()))
        .experiences()
        .search(SearchExperiences::new("anything"))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::TooLarge { .. }), "{error:?}");
}

#[tokio::test]
async fn a_server_echoing_the_key_never_gets_it_into_an_error() {
    let server = wiremock::MockServer::start().await;
    let echoed = format!("Authorization: Bearer {SENTINEL}");
    wiremock::Mock::given(wiremock::matchers::path("/api/v1/experiences/search"))
        .respond_with(wiremock::ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "detail": echoed, "error": echoed, "details": {"headers": [echoed], "field": echoed}
        })))
        .mount(&server)
        .await;
    wiremock::Mock::given(wiremock::matchers::path("/api/v1/agents/me"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_string(format!("<html>{echoed}</html>")))
        .mount(&server)
        .await;
    wiremock::Mock::given(wiremock::matchers::path("/api/v1/pulse/inbox"))
        .respond_with(wiremock::ResponseTemplate::new(422).set_body_json(serde_json::json!({
            "detail": [{"type": "value_error", "loc": ["header", echoed], "msg": echoed, "input": echoed}]
        })))
        .mount(&server)
        .await;
    let client = Client::builder()
        .base_url(format!("{}/api/v1", server.uri()))
        .api_key(SENTINEL)
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let errors = [
        client
            .experiences()
            .search(SearchExperiences::new("xy"))
            .await
            .unwrap_err(),
        client.agents().me().await.map(|_| ()).unwrap_err(),
        client.pulse().inbox(Default::default()).await.map(|_| ()).unwrap_err(),
    ];
    for error in errors {
        let shown = format!("{error} {error:#} {error:?}");
        assert!(!shown.contains("SENTINELsentinel"), "{shown}");
        assert!(shown.contains("plrm_live_[redacted]"), "{shown}");
    }
}
