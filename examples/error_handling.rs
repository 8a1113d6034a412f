//! What can go wrong, and how to tell: one error type with variants keyed on
//! what happened, helpers for the questions callers ask (retry later? log
//! in again? fix the input?), and the server's own message and field paths.
//!
//! ```text
//! cargo run -p plurum-examples --example error_handling
//! ```

use plurum_sdk::server::{ReferenceServer, ServerConfig};
use plurum_sdk::types::*;
use plurum_sdk::{Client, Error, RetryPolicy};

fn explain(what: &str, error: &Error) {
    let advice = if error.is_unauthorized() {
        "log in again"
    } else if error.is_temporary() {
        "try again later (a report would be queued)"
    } else if matches!(error, Error::InvalidInput { .. }) {
        "fix the input: nothing was sent"
    } else if error.is_not_found() {
        "check the id"
    } else {
        "look at the message"
    };
    println!("{what}: {error}\n    status {:?}; {advice}", error.status());
    if let Some(api) = error.api_error() {
        for field in &api.field_errors {
            println!("    field {}: {}", field.field, field.message);
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = ReferenceServer::start(ServerConfig::default()).await?;
    let client = Client::builder()
        .base_url(server.base_url())
        .retry(RetryPolicy::default().max_retries(1))
        .build()?;

    // Caught before anything is sent.
    if let Err(e) = client.experiences().search(SearchExperiences::new("x")).await {
        explain("a one-character query", &e);
    }
    if let Err(e) = client.sessions().get("not an id").await {
        explain("an id that is neither a UUID nor a short id", &e);
    }
    // The server's answers.
    if let Err(e) = client.agents().me().await {
        explain("no key", &e);
    }
    if let Err(e) = client
        .with_api_key(format!("plrm_live_{}", "x".repeat(43)))?
        .agents()
        .me()
        .await
    {
        explain("a rejected key", &e);
    }
    if let Err(e) = client.experiences().get("0badc0de").await {
        explain("an unknown experience", &e);
    }
    // A temporary failure: the server answers 503 twice; one retry is not enough.
    server.faults().fail_next(2, 503);
    if let Err(e) = client.experiences().list(ListExperiences::new()).await {
        explain("a server having a bad moment", &e);
    }
    server.shutdown().await;
    Ok(())
}
