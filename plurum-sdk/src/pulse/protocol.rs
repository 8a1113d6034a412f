//! The pulse WebSocket's messages: what the server sends, decoded in two
//! steps (the `type`, then the data) so an unknown type is kept, not fatal.

use serde_json::{Value, json};

use crate::types::{AgentId, Contribution, ContributionType, PulseEvent, SessionId};

/// A message from the server.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ServerMessage {
    /// Authentication succeeded.
    AuthOk { agent_id: AgentId },
    /// Something went wrong (auth, a contribution, the message rate).
    Error { message: String },
    /// The answer to a ping.
    Pong,
    /// A contribution made over the socket was stored.
    ContributeOk(Box<Contribution>),
    /// Something happened in the collective.
    Event(PulseEvent),
    /// Not JSON, or not an object with a `type`.
    Garbage,
}

impl ServerMessage {
    /// Decodes one text frame.
    pub(crate) fn decode(text: &str) -> Self {
        let Ok(Value::Object(mut map)) = serde_json::from_str::<Value>(text) else {
            return Self::Garbage;
        };
        let Some(kind) = map.get("type").and_then(Value::as_str).map(str::to_owned) else {
            return Self::Garbage;
        };
        match kind.as_str() {
            "auth_ok" => match map.get("agent_id").and_then(Value::as_str) {
                Some(id) => Self::AuthOk {
                    agent_id: AgentId::new(id),
                },
                None => Self::Garbage,
            },
            "error" => Self::Error {
                message: map
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown error")
                    .to_owned(),
            },
            "pong" => Self::Pong,
            "contribute_ok" => match serde_json::from_value(map.remove("data").unwrap_or(Value::Null)) {
                Ok(contribution) => Self::ContributeOk(Box::new(contribution)),
                Err(_) => Self::Error {
                    message: "the server's contribute_ok did not decode".to_owned(),
                },
            },
            other => Self::Event(PulseEvent::from_parts(other, map.remove("data").unwrap_or(Value::Null))),
        }
    }
}

/// `{"type": "auth", "api_key": …}`.
pub(crate) fn auth(key: &str) -> String {
    json!({"type": "auth", "api_key": key}).to_string()
}

/// `{"type": "ping"}`.
pub(crate) fn ping() -> String {
    json!({"type": "ping"}).to_string()
}

/// `{"type": "contribute", …}`.
pub(crate) fn contribute(session_id: &SessionId, content: &Value, kind: &ContributionType) -> String {
    json!({
        "type": "contribute",
        "session_id": session_id,
        "content": content,
        "contribution_type": kind,
    })
    .to_string()
}

/// What identifies an event across the socket and the inbox.
pub(crate) fn dedup_key(event: &PulseEvent) -> String {
    event.dedup_key()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTRACT_CLOSED: &str = include_str!("../../tests/fixtures/contract/ws_session_closed.json");
    const CONTRACT_OK: &str = include_str!("../../tests/fixtures/contract/ws_contribute_ok.json");
    const CONTRACT_RECEIVED: &str = include_str!("../../tests/fixtures/contract/ws_contribution_received.json");
    const CONTRACT_OPENED: &str = include_str!("../../tests/fixtures/contract/ws_session_opened.json");
    const SEED_CLOSED: &str = include_str!("../../tests/fixtures/seed/ws_session_closed.json");
    const SEED_OPENED: &str = include_str!("../../tests/fixtures/seed/ws_session_opened.json");
    const SEED_RECEIVED: &str = include_str!("../../tests/fixtures/seed/ws_contribution_received.json");
    const SEED_OK: &str = include_str!("../../tests/fixtures/seed/ws_contribute_ok.json");

    #[test]
    fn decodes_every_documented_server_message() {
        assert_eq!(
            ServerMessage::decode(include_str!("../../tests/fixtures/contract/ws_auth_ok.json")),
            ServerMessage::AuthOk {
                agent_id: AgentId::new("3d478407-5848-4fd0-af42-ba978e8b2cfb")
            }
        );
        assert_eq!(
            ServerMessage::decode(include_str!("../../tests/fixtures/seed/ws_auth_ok.json")),
            ServerMessage::AuthOk {
                agent_id: AgentId::new("your-agent-uuid")
            }
        );
        assert_eq!(
            ServerMessage::decode(include_str!("../../tests/fixtures/seed/ws_auth_failed.json")),
            ServerMessage::Error {
                message: "Authentication failed".into()
            }
        );
        assert_eq!(
            ServerMessage::decode(include_str!("../../tests/fixtures/contract/ws_error_missing.json")),
            ServerMessage::Error {
                message: "Missing session_id or content".into()
            }
        );
        assert_eq!(
            ServerMessage::decode(include_str!("../../tests/fixtures/contract/ws_error_failed.json")),
            ServerMessage::Error {
                message: "Contribution failed".into()
            }
        );
        assert_eq!(
            ServerMessage::decode(include_str!("../../tests/fixtures/contract/ws_pong.json")),
            ServerMessage::Pong
        );
        assert_eq!(
            ServerMessage::decode(include_str!("../../tests/fixtures/seed/ws_pong.json")),
            ServerMessage::Pong
        );

        for ok in [CONTRACT_OK, SEED_OK] {
            match ServerMessage::decode(ok) {
                ServerMessage::ContributeOk(c) => assert_eq!(c.contribution_type, ContributionType::Suggestion),
                other => panic!("{other:?}"),
            }
        }
        match ServerMessage::decode(CONTRACT_CLOSED) {
            ServerMessage::Event(PulseEvent::SessionClosed(s)) => {
                assert_eq!(s.experience_short_id.as_deref(), Some("e7c56d78"));
                assert_eq!(s.session_id, "e6fbd266-218d-472f-8598-672ba81575b2");
            }
            other => panic!("{other:?}"),
        }
        match ServerMessage::decode(SEED_CLOSED) {
            ServerMessage::Event(PulseEvent::SessionClosed(s)) => {
                assert_eq!(s.experience_id.as_ref().unwrap(), "exp-uuid");
                assert_eq!(s.short_id.as_deref(), Some("Ab3xKp9z"));
            }
            other => panic!("{other:?}"),
        }
        for opened in [CONTRACT_OPENED, SEED_OPENED] {
            match ServerMessage::decode(opened) {
                ServerMessage::Event(PulseEvent::SessionOpened(s)) => assert_eq!(s.tools_used.len(), 2),
                other => panic!("{other:?}"),
            }
        }
        for received in [CONTRACT_RECEIVED, SEED_RECEIVED] {
            match ServerMessage::decode(received) {
                ServerMessage::Event(PulseEvent::ContributionReceived(c)) => {
                    assert!(c.id.is_some());
                    assert!(c.text().is_some());
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn unknown_types_are_kept_and_garbage_is_flagged() {
        match ServerMessage::decode(r#"{"type": "experience_verified", "data": {"id": "x"}}"#) {
            ServerMessage::Event(PulseEvent::Unknown { event_type, data }) => {
                assert_eq!(event_type, "experience_verified");
                assert_eq!(data["id"], "x");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(ServerMessage::decode("not json"), ServerMessage::Garbage);
        assert_eq!(ServerMessage::decode("[1, 2]"), ServerMessage::Garbage);
        assert_eq!(ServerMessage::decode(r#"{"data": {}}"#), ServerMessage::Garbage);
    }

    #[test]
    fn client_messages_have_the_documented_shape() {
        let auth: Value = serde_json::from_str(&auth("plrm_live_...")).unwrap();
        assert_eq!(
            auth,
            serde_json::from_str::<Value>(include_str!("../../tests/fixtures/seed/ws_auth.json")).unwrap()
        );
        let ping: Value = serde_json::from_str(&ping()).unwrap();
        assert_eq!(
            ping,
            serde_json::from_str::<Value>(include_str!("../../tests/fixtures/contract/ws_ping.json")).unwrap()
        );
        let contribute: Value = serde_json::from_str(&contribute(
            &SessionId::new("0a5d916c-7e1f-4f8f-a298-eae99b848d30"),
            &json!({"text": "Use auth_type=scram-sha-256 and auth_query so pgBouncer can read passwords from Postgres"}),
            &ContributionType::Suggestion,
        ))
        .unwrap();
        assert_eq!(
            contribute,
            serde_json::from_str::<Value>(include_str!("../../tests/fixtures/contract/ws_contribute.json")).unwrap()
        );
    }

    #[test]
    fn the_same_event_has_the_same_key_from_socket_and_inbox() {
        let ServerMessage::Event(from_socket) = ServerMessage::decode(CONTRACT_RECEIVED) else {
            panic!()
        };
        let inbox: crate::types::Inbox =
            serde_json::from_str(include_str!("../../tests/fixtures/contract/inbox_200.json")).unwrap();
        assert_eq!(dedup_key(&from_socket), dedup_key(&inbox.events[1].event));
        assert_ne!(dedup_key(&inbox.events[0].event), dedup_key(&inbox.events[2].event));
    }
}
