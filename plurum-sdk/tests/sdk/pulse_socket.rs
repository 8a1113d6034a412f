//! The SDK's pulse socket against the reference server: every event type,
//! contributions, reconnects without loss or doubles, dead connections,
//! fatal closes and graceful close.

use std::collections::HashSet;
use std::time::Duration;

use crate::common::{agent, agent_with_key, anonymous, server};
use futures_util::StreamExt;
use plurum_sdk::pulse::{ConnectionState, PulseError, PulseSocket};
use plurum_sdk::types::*;
use plurum_sdk::{Client, Error};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(10);

async fn next(pulse: &mut PulseSocket) -> Result<PulseEvent, PulseError> {
    tokio::time::timeout(WAIT, pulse.next())
        .await
        .expect("an item in time")
        .expect("the stream goes on")
}

async fn next_event(pulse: &mut PulseSocket) -> PulseEvent {
    loop {
        match next(pulse).await {
            Ok(event) => return event,
            Err(error) if !error.is_fatal() => continue,
            Err(error) => panic!("fatal: {error}"),
        }
    }
}

fn fast(client: &Client) -> plurum_sdk::pulse::PulseSocketBuilder {
    client
        .pulse()
        .socket()
        .ping_interval(Duration::from_millis(200))
        .reconnect_backoff(Duration::from_millis(20), Duration::from_millis(100))
}

async fn open_and_close(client: &Client, topic: &str) -> Session {
    let session = client.sessions().open(OpenSession::new(topic)).await.unwrap().session;
    client
        .sessions()
        .log(session.id.as_str(), Entry::note("worked"))
        .await
        .unwrap();
    client
        .sessions()
        .close(session.id.as_str(), CloseSession::with_outcome(Outcome::Success))
        .await
        .unwrap();
    session
}

#[tokio::test]
async fn every_event_type_arrives_typed() {
    let server = server().await;
    let owner = agent(&server, "owner").await;
    let watcher = agent(&server, "watcher").await;
    let mut owner_pulse = fast(&owner).connect().await.unwrap();
    let mut watcher_pulse = fast(&watcher).connect().await.unwrap();
    assert_eq!(owner_pulse.agent_id(), &owner.agents().me().await.unwrap().id);
    assert_eq!(*watcher_pulse.state().borrow(), ConnectionState::Connected);

    let session = owner
        .sessions()
        .open(
            OpenSession::new("Deploy FastAPI to AWS ECS")
                .domain("deployment")
                .tools(["docker", "aws-cli"]),
        )
        .await
        .unwrap()
        .session;
    match next_event(&mut watcher_pulse).await {
        PulseEvent::SessionOpened(opened) => {
            assert_eq!(opened.session_id, session.id);
            assert_eq!(opened.topic, "Deploy FastAPI to AWS ECS");
            assert_eq!(opened.domain.as_deref(), Some("deployment"));
            assert_eq!(opened.tools_used, ["docker", "aws-cli"]);
        }
        other => panic!("{other:?}"),
    }

    // Contributions over the socket: acknowledged, and received by the owner.
    let contribution = watcher_pulse
        .contribute(
            session.id.clone(),
            json!({"text": "Use multi-stage builds"}),
            ContributionType::Suggestion,
        )
        .await
        .unwrap();
    assert_eq!(contribution.session_id, session.id);
    assert_eq!(contribution.text(), Some("Use multi-stage builds"));
    match next_event(&mut owner_pulse).await {
        PulseEvent::ContributionReceived(received) => {
            assert_eq!(received.id.as_ref(), Some(&contribution.id));
            assert_eq!(received.contribution_type, ContributionType::Suggestion);
        }
        other => panic!("{other:?}"),
    }

    // Rejected contributions carry the server's message.
    let own = owner_pulse
        .contribute(
            session.id.clone(),
            json!({"text": "to myself"}),
            ContributionType::Warning,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&own, PulseError::Rejected { message } if message == "Contribution failed"),
        "{own:?}"
    );
    let empty = watcher_pulse
        .contribute(session.id.clone(), json!({}), ContributionType::Warning)
        .await
        .unwrap_err();
    assert!(matches!(&empty, PulseError::Rejected { message } if message == "Missing session_id or content"));

    // Closing: session_closed with the experience's ids.
    owner
        .sessions()
        .log(session.id.as_str(), Entry::note("ship it"))
        .await
        .unwrap();
    let closed = owner
        .sessions()
        .close(session.id.as_str(), CloseSession::with_outcome(Outcome::Partial))
        .await
        .unwrap();
    match next_event(&mut watcher_pulse).await {
        PulseEvent::SessionClosed(event) => {
            assert_eq!(event.outcome, Some(Outcome::Partial));
            assert_eq!(event.experience_short_id, closed.experience_draft.map(|e| e.short_id));
        }
        other => panic!("{other:?}"),
    }
    owner_pulse.close().await;
    watcher_pulse.close().await;
}

#[tokio::test]
async fn dropped_sockets_reconnect_and_deliver_every_event_exactly_once() {
    let server = server().await;
    let watcher = agent(&server, "watcher").await;
    let mut others: Vec<Client> = Vec::new();
    for i in 0..3 {
        others.push(agent(&server, &format!("worker-{i}")).await);
    }
    let mut pulse = watcher
        .pulse()
        .socket()
        .ping_interval(Duration::from_millis(200))
        .reconnect_backoff(Duration::from_millis(300), Duration::from_millis(300))
        .connect()
        .await
        .unwrap();
    let mut state = pulse.state();
    let mut expected: HashSet<String> = HashSet::new();
    let mut reconnects = 0;

    for round in 0..3 {
        // Drop every socket and publish while the watcher is away.
        server.faults().drop_sockets();
        tokio::time::timeout(
            WAIT,
            state.wait_for(|s| matches!(s, ConnectionState::Reconnecting { .. })),
        )
        .await
        .unwrap()
        .unwrap();
        reconnects += 1;
        for (i, other) in others.iter().enumerate() {
            let session = open_and_close(other, &format!("Round {round} work item {i} on replication")).await;
            expected.insert(format!("opened:{}", session.id));
            expected.insert(format!("closed:{}", session.id));
        }
        // And while it is connected again.
        tokio::time::timeout(WAIT, state.wait_for(|s| *s == ConnectionState::Connected))
            .await
            .unwrap()
            .unwrap();
        let live = open_and_close(&others[0], &format!("Round {round} live work on replication")).await;
        expected.insert(format!("opened:{}", live.id));
        expected.insert(format!("closed:{}", live.id));
    }

    // A sentinel published last: everything before it must have arrived once.
    let sentinel = others[1]
        .sessions()
        .open(OpenSession::new("The sentinel session"))
        .await
        .unwrap()
        .session;
    let mut seen: Vec<String> = Vec::new();
    let mut losses = 0;
    loop {
        match next(&mut pulse).await {
            Ok(PulseEvent::SessionOpened(s)) if s.session_id == sentinel.id => break,
            Ok(PulseEvent::SessionOpened(s)) => seen.push(format!("opened:{}", s.session_id)),
            Ok(PulseEvent::SessionClosed(s)) => seen.push(format!("closed:{}", s.session_id)),
            Ok(other) => panic!("unexpected {other:?}"),
            Err(error) => {
                assert!(!error.is_fatal(), "{error}");
                losses += 1;
            }
        }
    }
    let unique: HashSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "no event twice: {seen:?}");
    assert_eq!(unique, expected, "every event once");
    assert_eq!(losses, reconnects, "each loss is reported once");
    pulse.close().await;
}

#[tokio::test]
async fn a_server_that_stops_answering_is_detected_as_dead() {
    let server = server().await;
    let watcher = agent(&server, "watcher").await;
    let mut pulse = fast(&watcher).connect().await.unwrap();
    server.faults().stall_sockets(true);
    let started = std::time::Instant::now();
    match next(&mut pulse).await {
        Err(PulseError::Dead { silent_for }) => {
            assert!(silent_for >= Duration::from_millis(400), "{silent_for:?}");
            assert!(started.elapsed() < Duration::from_secs(3));
        }
        other => panic!("expected Dead, got {other:?}"),
    }
    server.faults().stall_sockets(false);
    let mut state = pulse.state();
    tokio::time::timeout(WAIT, state.wait_for(|s| *s == ConnectionState::Connected))
        .await
        .unwrap()
        .unwrap();
    // It works again.
    let worker = agent(&server, "worker").await;
    let session = worker
        .sessions()
        .open(OpenSession::new("After the silence"))
        .await
        .unwrap()
        .session;
    loop {
        match next(&mut pulse).await {
            Ok(PulseEvent::SessionOpened(s)) => {
                assert_eq!(s.session_id, session.id);
                break;
            }
            Ok(other) => panic!("{other:?}"),
            Err(error) => assert!(!error.is_fatal(), "{error}"),
        }
    }
}

#[tokio::test]
async fn a_bad_key_is_fatal() {
    let server = server().await;
    let impostor = anonymous(&server)
        .with_api_key("plrm_live_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
        .unwrap();
    let error = impostor.pulse().connect().await.unwrap_err();
    assert!(
        matches!(&error, PulseError::AuthFailed { message } if message == "Authentication failed"),
        "{error:?}"
    );
    assert!(error.is_fatal());
    let as_sdk: Error = error.into();
    assert!(as_sdk.is_unauthorized());
    let error = anonymous(&server).pulse().connect().await.unwrap_err();
    assert!(matches!(error, PulseError::MissingApiKey));
    // The query-token form works with a good key.
    let (client, _) = agent_with_key(&server, "legacy").await;
    let pulse = client.pulse().socket().query_token(true).connect().await.unwrap();
    assert_eq!(pulse.agent_id(), &client.agents().me().await.unwrap().id);
}

#[tokio::test]
async fn a_second_connection_of_the_same_agent_supersedes_the_first() {
    let server = server().await;
    let watcher = agent(&server, "watcher").await;
    let mut first = fast(&watcher).connect().await.unwrap();
    let _second = fast(&watcher).connect().await.unwrap();
    match next(&mut first).await {
        Err(PulseError::Superseded) => {}
        other => panic!("expected Superseded, got {other:?}"),
    }
    assert!(
        tokio::time::timeout(WAIT, first.next()).await.unwrap().is_none(),
        "the stream ends"
    );
    assert_eq!(*first.state().borrow(), ConnectionState::Closed);
}

#[tokio::test]
async fn close_is_graceful() {
    let server = server().await;
    let watcher = agent(&server, "watcher").await;
    let pulse = fast(&watcher).connect().await.unwrap();
    let mut state = pulse.state();
    let handle = pulse.handle();
    assert_eq!(anonymous(&server).pulse().status().await.unwrap().connected_agents, 1);
    pulse.close().await;
    tokio::time::timeout(WAIT, state.wait_for(|s| *s == ConnectionState::Closed))
        .await
        .unwrap()
        .unwrap();
    let after = handle
        .contribute(
            "e6fbd266-218d-472f-8598-672ba81575b2",
            json!({"text": "x"}),
            ContributionType::Suggestion,
        )
        .await
        .unwrap_err();
    assert!(matches!(after, PulseError::ClosedByClient));
    // The server saw the close handshake and forgot the socket.
    let mut connected = 1;
    for _ in 0..200 {
        connected = anonymous(&server).pulse().status().await.unwrap().connected_agents;
        if connected == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(connected, 0);
}
