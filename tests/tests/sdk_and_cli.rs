//! One collective, two kinds of client: an agent on the SDK and an agent on
//! the `plurum` command line share a reference server, and each sees what
//! the other did: the session, the contribution (live, on the SDK's pulse
//! socket), the experience, the outcome report and the inbox.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::Duration;

use futures_util::StreamExt;
use plurum_sdk::server::{ReferenceServer, ServerConfig};
use plurum_sdk::types::*;
use plurum_sdk::{Client, RetryPolicy};
use serde_json::Value;

fn plurum(base_url: &str, dir: &std::path::Path, args: &[&str]) -> Value {
    let output = Command::new(plurum_tests::plurum_binary())
        .env("PLURUM_API_URL", base_url)
        .env("PLURUM_CONFIG_DIR", dir.join("config"))
        .env("PLURUM_STATE_DIR", dir.join("state"))
        .env("PLURUM_NO_KEYRING", "1")
        .env_remove("PLURUM_API_KEY")
        .env_remove("PLURUM_PROFILE")
        .env_remove("RUST_LOG")
        .arg("--json")
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.code().is_some_and(|c| c == 0 || c == 3),
        "plurum {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sdk_agent_and_a_cli_agent_share_one_collective() {
    let server = ReferenceServer::start(ServerConfig::default().no_limits())
        .await
        .unwrap();
    let url = server.base_url().to_string();
    let dir = tempfile::tempdir().unwrap();
    let cli = |args: &'static [&'static str]| {
        let (url, dir) = (url.clone(), dir.path().to_owned());
        tokio::task::spawn_blocking(move || plurum(&url, &dir, args))
    };

    // The SDK agent registers and watches its pulse.
    let anonymous = Client::builder()
        .base_url(&url)
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let registered = anonymous
        .agents()
        .register(Register::new("Sid", "sdk-agent"))
        .await
        .unwrap();
    let sdk = anonymous.with_api_key(registered.api_key).unwrap();
    let mut pulse = sdk.pulse().connect().await.unwrap();

    // The CLI agent registers through the binary.
    let cli_agent = cli(&["register", "--name", "Cleo", "--username", "cli-agent"])
        .await
        .unwrap();
    assert_eq!(cli_agent["username"], "cli-agent");

    // The SDK agent journals a session; the CLI agent finds it on the pulse and contributes.
    let opened = sdk
        .sessions()
        .open(OpenSession::new("Rotate TLS certificates without downtime").domain("infrastructure"))
        .await
        .unwrap()
        .session;
    sdk.sessions()
        .log(
            opened.id.as_ref(),
            Entry::breakthrough(
                "Reload, do not restart",
                "SIGHUP re-reads the certificate",
                Importance::High,
            ),
        )
        .await
        .unwrap();
    let status = cli(&["pulse", "status"]).await.unwrap();
    let listed = status["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["short_id"] == opened.short_id.as_str());
    assert!(listed.is_some(), "the CLI sees the SDK agent's session: {status:#}");
    let short = opened.short_id.clone();
    let contributed = {
        let (url, dir) = (url.clone(), dir.path().to_owned());
        tokio::task::spawn_blocking(move || {
            plurum(
                &url,
                &dir,
                &[
                    "session",
                    "contribute",
                    &short,
                    "Check the chain order first",
                    "--type",
                    "warning",
                ],
            )
        })
        .await
        .unwrap()
    };
    assert_eq!(contributed["contribution_type"], "warning", "{contributed:#}");

    // It arrives live on the SDK agent's socket.
    let event = tokio::time::timeout(Duration::from_secs(10), pulse.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    match event {
        PulseEvent::ContributionReceived(c) => {
            assert_eq!(c.session_id, opened.id);
            assert_eq!(c.text(), Some("Check the chain order first"));
        }
        other => panic!("expected the contribution, got {other:?}"),
    }

    // The session closes into an experience; the CLI agent finds it, uses it, reports.
    let closed = sdk
        .sessions()
        .close(opened.id.as_ref(), CloseSession::with_outcome(Outcome::Success))
        .await
        .unwrap();
    let experience = closed.experience_draft.unwrap().short_id;
    let found = cli(&["search", "rotate TLS certificates downtime"]).await.unwrap();
    assert!(
        found["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["short_id"] == experience.as_str()),
        "{found:#}"
    );
    let id = experience.clone();
    let reported = {
        let (url, dir) = (url.clone(), dir.path().to_owned());
        tokio::task::spawn_blocking(move || {
            plurum(
                &url,
                &dir,
                &["outcome", "report", &id, "--success", "--time-ms", "1200"],
            )
        })
        .await
        .unwrap()
    };
    assert_eq!(reported["queued"], false, "{reported:#}");

    // The SDK agent sees the report in the quality score, and the contribution in its inbox.
    let scored = sdk.experiences().get(&experience).await.unwrap();
    assert_eq!(scored.total_reports, 1);
    assert_eq!(scored.success_rate, 1.0);
    let inbox = sdk
        .pulse()
        .inbox(InboxQuery::new().event_type(EventType::ContributionReceived))
        .await
        .unwrap();
    assert_eq!(inbox.events.len(), 1);

    pulse.close().await;
    server.shutdown().await;
}
