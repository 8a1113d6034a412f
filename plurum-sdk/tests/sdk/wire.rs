//! What the wiremock tests share: the mock server with a loud catch-all, a
//! client for it, and matchers for the exact request.

use plurum_sdk::{Client, RetryPolicy};
use serde_json::{Value, json};
use wiremock::matchers::body_json;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

pub(crate) const KEY: &str = "plrm_live_Ceus1Ng7VeTBJlBunK_g98qJxnUTnG9bJ5MDFG-DM8I";
pub(crate) const BEARER: &str = "Bearer plrm_live_Ceus1Ng7VeTBJlBunK_g98qJxnUTnG9bJ5MDFG-DM8I";
pub(crate) const SESSION: &str = "e6fbd266-218d-472f-8598-672ba81575b2";

/// A payload of the API's contract, from `tests/fixtures/contract/`.
macro_rules! contract {
    ($name:literal) => {
        include_str!(concat!("../fixtures/contract/", $name, ".json"))
    };
}
pub(crate) use contract;

/// A mock server with a catch-all that answers 500 "unexpected request", so
/// a request the test did not expect fails loudly instead of looking like a 404.
pub(crate) async fn server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(|_: &Request| true)
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({"error": "unexpected request"})))
        .with_priority(u8::MAX)
        .named("catch-all")
        .mount(&server)
        .await;
    server
}

pub(crate) fn client(server: &MockServer) -> Client {
    Client::builder()
        .base_url(format!("{}/api/v1", server.uri()))
        .api_key(KEY)
        .retry(RetryPolicy::none())
        .build()
        .unwrap()
}

pub(crate) fn anonymous(server: &MockServer) -> Client {
    client(server).without_api_key()
}

pub(crate) fn answer(status: u16, body: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.as_bytes().to_vec(), "application/json")
}

/// The query string, exactly.
pub(crate) fn query(expected: &'static str) -> impl Fn(&Request) -> bool + Send + Sync {
    move |req: &Request| req.url.query().unwrap_or("") == expected
}

pub(crate) fn no_auth(req: &Request) -> bool {
    !req.headers.contains_key("authorization")
}

pub(crate) fn no_body(req: &Request) -> bool {
    req.body.is_empty() && !req.headers.contains_key("content-type")
}

pub(crate) fn sdk_user_agent(req: &Request) -> bool {
    req.headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ua| ua.starts_with("plurum-sdk/"))
}

pub(crate) fn json_body(value: Value) -> impl wiremock::Match {
    body_json(value)
}
