//! The reference server's pulse WebSocket, with a raw WebSocket client:
//! authentication, pushes, contributions, limits, close codes and faults.

use std::time::Duration;

use crate::common::{agent_with_key, anonymous, server, server_with};
use futures_util::{SinkExt, StreamExt};
use plurum_sdk::server::{Limits, ServerHandle};
use plurum_sdk::types::*;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const WAIT: Duration = Duration::from_secs(5);

async fn connect(server: &ServerHandle, token: Option<&str>) -> Ws {
    let url = match token {
        Some(token) => format!("{}?token={token}", server.ws_url()),
        None => server.ws_url(),
    };
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

async fn send(ws: &mut Ws, value: Value) {
    ws.send(Message::Text(value.to_string().into())).await.unwrap();
}

/// The next JSON message (skipping protocol frames).
async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let message = tokio::time::timeout(WAIT, ws.next()).await.expect("a message in time");
        match message {
            Some(Ok(Message::Text(text))) => return serde_json::from_str(text.as_str()).unwrap(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected a JSON message, got {other:?}"),
        }
    }
}

/// The close code the server ends with.
async fn close_code(ws: &mut Ws) -> u16 {
    loop {
        match tokio::time::timeout(WAIT, ws.next()).await.expect("a close in time") {
            Some(Ok(Message::Close(Some(frame)))) => return u16::from(frame.code),
            Some(Ok(Message::Close(None))) => return 1005,
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

async fn authed(server: &ServerHandle, key: &str) -> Ws {
    let mut ws = connect(server, None).await;
    send(&mut ws, json!({"type": "auth", "api_key": key})).await;
    assert_eq!(next_json(&mut ws).await["type"], "auth_ok");
    ws
}

#[tokio::test]
async fn authenticates_by_token_or_first_message() {
    let server = server().await;
    let (client, key) = agent_with_key(&server, "socket-user").await;
    let me = client.agents().me().await.unwrap();

    let mut by_token = connect(&server, Some(key.expose())).await;
    assert_eq!(
        next_json(&mut by_token).await,
        json!({"type": "auth_ok", "agent_id": me.id.as_str()})
    );
    send(&mut by_token, json!({"type": "ping"})).await;
    assert_eq!(next_json(&mut by_token).await, json!({"type": "pong"}));

    // A second connection of the same agent supersedes the first (4000).
    let mut by_message = connect(&server, None).await;
    send(&mut by_message, json!({"type": "auth", "api_key": key.expose()})).await;
    assert_eq!(next_json(&mut by_message).await["agent_id"], me.id.as_str());
    assert_eq!(close_code(&mut by_token).await, 4000);
    send(&mut by_message, json!({"type": "ping"})).await;
    assert_eq!(next_json(&mut by_message).await["type"], "pong");
}

#[tokio::test]
async fn bad_keys_and_bad_frames_are_closed_with_the_real_codes() {
    let server = server().await;
    let mut ws = connect(&server, Some("plrm_live_wrong")).await;
    send(
        &mut ws,
        json!({"type": "auth", "api_key": "plrm_live_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}),
    )
    .await;
    assert_eq!(
        next_json(&mut ws).await,
        json!({"type": "error", "message": "Authentication failed"})
    );
    assert_eq!(close_code(&mut ws).await, 4001);

    let mut ws = connect(&server, None).await;
    send(&mut ws, json!({"type": "hello"})).await;
    assert_eq!(next_json(&mut ws).await["message"], "Authentication failed");
    assert_eq!(close_code(&mut ws).await, 4001);

    let mut ws = connect(&server, None).await;
    ws.send(Message::Binary(vec![1u8, 2, 3].into())).await.unwrap();
    assert_eq!(
        next_json(&mut ws).await,
        json!({"type": "error", "message": "Invalid message"})
    );
    assert_eq!(close_code(&mut ws).await, u16::from(CloseCode::Unsupported));

    let (_, key) = agent_with_key(&server, "big-talker").await;
    let mut ws = authed(&server, key.expose()).await;
    ws.send(Message::Text(
        format!("{{\"type\": \"ping\", \"pad\": \"{}\"}}", "x".repeat(300 * 1024)).into(),
    ))
    .await
    .unwrap();
    assert_eq!(close_code(&mut ws).await, 1009);
}

#[tokio::test]
async fn a_socket_that_never_authenticates_times_out() {
    let mut limits = Limits::none();
    limits.ws_auth_timeout = Duration::from_millis(200);
    let server = server_with(limits).await;
    let mut ws = connect(&server, None).await;
    assert_eq!(
        next_json(&mut ws).await,
        json!({"type": "error", "message": "Authentication timed out"})
    );
    assert_eq!(close_code(&mut ws).await, 4001);
}

#[tokio::test]
async fn too_many_messages_close_with_4008() {
    let mut limits = Limits::none();
    limits.ws_messages_per_minute = 3;
    let server = server_with(limits).await;
    let (_, key) = agent_with_key(&server, "chatty").await;
    let mut ws = authed(&server, key.expose()).await;
    for _ in 0..3 {
        send(&mut ws, json!({"type": "ping"})).await;
        assert_eq!(next_json(&mut ws).await["type"], "pong");
    }
    send(&mut ws, json!({"type": "ping"})).await;
    assert_eq!(
        next_json(&mut ws).await,
        json!({"type": "error", "message": "Message rate limit exceeded"})
    );
    assert_eq!(close_code(&mut ws).await, 4008);
}

#[tokio::test]
async fn pushes_reach_everyone_but_the_actor() {
    let server = server().await;
    let (owner, owner_key) = agent_with_key(&server, "owner").await;
    let (watcher, watcher_key) = agent_with_key(&server, "watcher").await;
    let mut owner_ws = authed(&server, owner_key.expose()).await;
    let mut watcher_ws = authed(&server, watcher_key.expose()).await;
    assert_eq!(anonymous(&server).pulse().status().await.unwrap().connected_agents, 2);

    // A private session is broadcast to no one; a public one to the watcher.
    owner
        .sessions()
        .open(OpenSession::new("Private rehearsal").visibility(Visibility::Private))
        .await
        .unwrap();
    let session = owner
        .sessions()
        .open(
            OpenSession::new("Deploy FastAPI to AWS ECS")
                .domain("deployment")
                .tools(["docker"]),
        )
        .await
        .unwrap()
        .session;
    let opened = next_json(&mut watcher_ws).await;
    assert_eq!(opened["type"], "session_opened");
    assert_eq!(opened["data"]["session_id"], session.id.as_str());
    assert_eq!(opened["data"]["topic"], "Deploy FastAPI to AWS ECS");
    assert_eq!(opened["data"]["tools_used"], json!(["docker"]));

    // A REST contribution notifies the owner only.
    watcher
        .sessions()
        .contribute(
            session.id.as_str(),
            Contribute::text("Use multi-stage builds", ContributionType::Suggestion),
        )
        .await
        .unwrap();
    let received = next_json(&mut owner_ws).await;
    assert_eq!(received["type"], "contribution_received");
    assert_eq!(received["data"]["content"]["text"], "Use multi-stage builds");

    // A WebSocket contribution is acknowledged and notifies the owner too.
    send(
        &mut watcher_ws,
        json!({"type": "contribute", "session_id": session.id.as_str(), "content": {"text": "Pin the base image"}}),
    )
    .await;
    let ack = next_json(&mut watcher_ws).await;
    assert_eq!(ack["type"], "contribute_ok");
    assert_eq!(ack["data"]["contribution_type"], "suggestion", "the WebSocket default");
    let received = next_json(&mut owner_ws).await;
    assert_eq!(received["data"]["id"], ack["data"]["id"]);
    let inbox = owner.pulse().inbox(InboxQuery::new()).await.unwrap();
    assert_eq!(inbox.unread_count, 2, "both contributions are in the inbox");

    // Rejected contributions.
    send(
        &mut watcher_ws,
        json!({"type": "contribute", "session_id": session.id.as_str(), "content": {}}),
    )
    .await;
    assert_eq!(
        next_json(&mut watcher_ws).await,
        json!({"type": "error", "message": "Missing session_id or content"})
    );
    send(
        &mut owner_ws,
        json!({"type": "contribute", "session_id": session.id.as_str(), "content": {"text": "self"}}),
    )
    .await;
    assert_eq!(
        next_json(&mut owner_ws).await,
        json!({"type": "error", "message": "Contribution failed"})
    );
    send(
        &mut watcher_ws,
        json!({"type": "contribute", "session_id": "not-a-uuid", "content": {"text": "x"}}),
    )
    .await;
    assert_eq!(next_json(&mut watcher_ws).await["message"], "Contribution failed");

    // Closing broadcasts session_closed with the experience's ids.
    owner
        .sessions()
        .log(session.id.as_str(), Entry::note("multi-stage builds"))
        .await
        .unwrap();
    let closed = owner
        .sessions()
        .close(session.id.as_str(), CloseSession::with_outcome(Outcome::Success))
        .await
        .unwrap();
    let message = next_json(&mut watcher_ws).await;
    assert_eq!(message["type"], "session_closed");
    assert_eq!(message["data"]["outcome"], "success");
    assert_eq!(
        message["data"]["experience_short_id"],
        closed.experience_draft.unwrap().short_id
    );

    // The owner heard none of its own events: its next message is a pong.
    send(&mut owner_ws, json!({"type": "ping"})).await;
    assert_eq!(next_json(&mut owner_ws).await["type"], "pong");
}

#[tokio::test]
async fn dropped_sockets_end_without_a_close_frame() {
    let server = server().await;
    let (_, key) = agent_with_key(&server, "fragile").await;
    let mut ws = authed(&server, key.expose()).await;
    server.faults().drop_sockets();
    let end = tokio::time::timeout(WAIT, ws.next()).await.expect("the socket ends");
    assert!(
        !matches!(end, Some(Ok(Message::Close(_)))),
        "a dropped socket sends no close frame: {end:?}"
    );
    // A new connection works.
    let mut again = authed(&server, key.expose()).await;
    send(&mut again, json!({"type": "ping"})).await;
    assert_eq!(next_json(&mut again).await["type"], "pong");
}

#[tokio::test]
async fn stalled_sockets_answer_nothing_until_released() {
    let server = server().await;
    let (_, key) = agent_with_key(&server, "patient").await;
    let mut ws = authed(&server, key.expose()).await;
    server.faults().stall_sockets(true);
    send(&mut ws, json!({"type": "ping"})).await;
    let silent = tokio::time::timeout(Duration::from_millis(300), ws.next()).await;
    assert!(silent.is_err(), "no answer while stalled: {silent:?}");
    server.faults().stall_sockets(false);
    assert_eq!(next_json(&mut ws).await["type"], "pong");
}

#[tokio::test]
async fn connected_agents_counts_live_sockets() {
    let server = server().await;
    let (_, key) = agent_with_key(&server, "counted").await;
    let mut ws = authed(&server, key.expose()).await;
    let status = anonymous(&server).pulse().status().await.unwrap();
    assert_eq!(status.connected_agents, 1);
    assert_eq!(status.agent_ids.unwrap().len(), 1);
    ws.close(None).await.unwrap();
    // The server forgets the socket once it has seen the close.
    let mut remaining = 1;
    for _ in 0..200 {
        remaining = anonymous(&server).pulse().status().await.unwrap().connected_agents;
        if remaining == 0 {
            break;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(remaining, 0);
}

/// Polls the pulse status until `agent` is no longer connected.
async fn until_disconnected(server: &ServerHandle, agent: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let status = anonymous(server).pulse().status().await.unwrap();
        let ids: Vec<String> = status
            .agent_ids
            .unwrap_or_default()
            .iter()
            .map(ToString::to_string)
            .collect();
        if !ids.iter().any(|id| id == agent) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{agent} is still connected");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_socket_that_never_reads_is_closed_and_the_others_get_everything() {
    let mut limits = Limits::none();
    limits.ws_queue_messages = 4;
    limits.ws_queue_bytes = 1 << 20;
    limits.ws_ping_interval = None;
    limits.ws_write_timeout = Duration::from_millis(500);
    let server = server_with(limits).await;
    let (slow_client, slow_key) = agent_with_key(&server, "slow-reader").await;
    let (fast_client, fast_key) = agent_with_key(&server, "fast-reader").await;
    let contributor = crate::common::agent(&server, "contributor").await;
    let slow_session = slow_client
        .sessions()
        .open(OpenSession::new("the slow reader"))
        .await
        .unwrap()
        .session;
    let fast_session = fast_client
        .sessions()
        .open(OpenSession::new("the fast reader"))
        .await
        .unwrap()
        .session;
    let slow_id = slow_client.agents().me().await.unwrap().id.to_string();
    let _slow = authed(&server, slow_key.expose()).await; // authenticated, then never read again
    let mut fast = authed(&server, fast_key.expose()).await;
    let big = "x".repeat(1 << 20);
    for n in 0..12 {
        for session in [&slow_session, &fast_session] {
            contributor
                .sessions()
                .contribute(
                    session.id.as_ref(),
                    Contribute::text(format!("{n} {big}"), ContributionType::Suggestion),
                )
                .await
                .unwrap();
        }
        let pushed = next_json(&mut fast).await;
        assert_eq!(pushed["type"], "contribution_received");
        assert!(
            pushed["data"]["content"]["text"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{n} "))
        );
    }
    until_disconnected(&server, &slow_id).await;
    // What it missed is in its inbox: nothing is lost by closing it.
    let inbox = slow_client.pulse().inbox(InboxQuery::new().limit(1)).await.unwrap();
    assert_eq!(
        inbox.unread_count, 13,
        "12 contributions and the other agent's session opened"
    );
}

#[tokio::test]
async fn a_socket_that_stops_answering_pings_is_dropped() {
    let mut limits = Limits::none();
    limits.ws_ping_interval = Some(Duration::from_millis(100));
    let server = server_with(limits).await;
    let (silent_client, silent_key) = agent_with_key(&server, "silent").await;
    let (_, lively_key) = agent_with_key(&server, "lively").await;
    let silent_id = silent_client.agents().me().await.unwrap().id.to_string();
    let _silent = authed(&server, silent_key.expose()).await;
    let mut lively = authed(&server, lively_key.expose()).await;
    // The lively one reads (and so answers pings) while the silent one is dropped.
    let reading = tokio::spawn(async move {
        let mut pings = 0;
        while let Ok(Some(Ok(frame))) = tokio::time::timeout(Duration::from_secs(2), lively.next()).await {
            if matches!(frame, Message::Ping(_)) {
                pings += 1;
                if pings >= 10 {
                    break;
                }
            }
        }
        (pings, lively)
    });
    until_disconnected(&server, &silent_id).await;
    let (pings, _lively) = reading.await.unwrap();
    assert_eq!(pings, 10, "the server kept pinging the live socket");
    let status = anonymous(&server).pulse().status().await.unwrap();
    assert_eq!(status.connected_agents, 1, "the one that answers stays");
}
