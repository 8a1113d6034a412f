//! The pulse hub: one live WebSocket per agent, and the pushes to them.
//!
//! Every push is serialized once and shared by all its recipients. Each
//! socket has a bounded queue (by messages and by bytes): a socket that
//! falls behind is told to close (1013, "reconnect and catch up from the
//! inbox") instead of holding memory for it. Nothing here waits on a socket:
//! the lock is held only to hand messages to the queues.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::ws::Utf8Bytes;
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};

use super::limits::Limits;

/// The close code for a socket that fell behind: try again later (and
/// catch up from the inbox, where every event also is).
pub(crate) const TOO_SLOW: u16 = 1013;
/// Its close reason.
pub(crate) const TOO_SLOW_REASON: &str = "Too slow: reconnect and catch up from the inbox";

/// What a socket task receives: its queue, the bytes waiting in it, and a
/// signal that it must close at once (it fell behind, or was superseded).
#[derive(Debug)]
pub(crate) struct Inbox {
    /// Serialized JSON messages to send.
    pub(crate) pushes: mpsc::Receiver<Utf8Bytes>,
    pub(crate) queued_bytes: Arc<AtomicUsize>,
    pub(crate) kick: watch::Receiver<Option<(u16, &'static str)>>,
}

impl Inbox {
    /// Accounts for a message taken off the queue.
    pub(crate) fn taken(&self, text: &Utf8Bytes) {
        self.queued_bytes.fetch_sub(text.len(), Ordering::Relaxed);
    }
}

#[derive(Debug)]
struct Connection {
    id: u64,
    sender: mpsc::Sender<Utf8Bytes>,
    queued_bytes: Arc<AtomicUsize>,
    kick: watch::Sender<Option<(u16, &'static str)>>,
    last_push_by_domain: HashMap<Option<String>, Instant>,
    recent_pushes: VecDeque<Instant>,
}

impl Connection {
    /// Queues a message; `false` when the socket fell behind (it is then
    /// told to close and should be forgotten).
    fn offer(&self, text: &Utf8Bytes, max_bytes: usize) -> bool {
        let waiting = self.queued_bytes.load(Ordering::Relaxed);
        let fits = waiting.saturating_add(text.len()) <= max_bytes || waiting == 0;
        if fits && self.sender.try_send(text.clone()).is_ok() {
            self.queued_bytes.fetch_add(text.len(), Ordering::Relaxed);
            return true;
        }
        let _ = self.kick.send(Some((TOO_SLOW, TOO_SLOW_REASON)));
        false
    }
}

/// The live sockets, by agent.
#[derive(Debug, Default)]
pub(crate) struct Hub {
    connections: Mutex<HashMap<String, Connection>>,
    next_id: AtomicU64,
    dropped_slow: AtomicU64,
}

fn serialize(value: &Value) -> Utf8Bytes {
    Utf8Bytes::from(value.to_string())
}

impl Hub {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Connection>> {
        self.connections.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers an agent's socket, closing its previous one with 4000.
    pub(crate) fn register(&self, agent_id: &str, limits: &Limits) -> (u64, Inbox) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (sender, pushes) = mpsc::channel(limits.ws_queue_messages.max(1));
        let (kick, kicked) = watch::channel(None);
        let queued_bytes = Arc::new(AtomicUsize::new(0));
        let previous = self.lock().insert(
            agent_id.to_owned(),
            Connection {
                id,
                sender,
                queued_bytes: queued_bytes.clone(),
                kick,
                last_push_by_domain: HashMap::new(),
                recent_pushes: VecDeque::new(),
            },
        );
        if let Some(previous) = previous {
            let _ = previous.kick.send(Some((4000, "Superseded by a newer connection")));
        }
        (
            id,
            Inbox {
                pushes,
                queued_bytes,
                kick: kicked,
            },
        )
    }

    /// Forgets a socket (only if it is still the agent's current one).
    pub(crate) fn unregister(&self, agent_id: &str, id: u64) {
        let mut connections = self.lock();
        if connections.get(agent_id).is_some_and(|c| c.id == id) {
            connections.remove(agent_id);
        }
    }

    /// The agents with a live socket.
    pub(crate) fn connected(&self) -> Vec<String> {
        let mut agents: Vec<String> = self.lock().keys().cloned().collect();
        agents.sort();
        agents
    }

    /// How many sockets were closed for falling behind.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn dropped_slow(&self) -> u64 {
        self.dropped_slow.load(Ordering::Relaxed)
    }

    /// Offers `text` to the connections `select` picks; forgets those that fell behind.
    fn fan_out(&self, max_bytes: usize, text: &Utf8Bytes, mut select: impl FnMut(&str, &mut Connection) -> bool) {
        let mut connections = self.lock();
        let mut behind = Vec::new();
        for (agent, connection) in connections.iter_mut() {
            if select(agent, connection) && !connection.offer(text, max_bytes) {
                behind.push(agent.clone());
            }
        }
        for agent in behind {
            connections.remove(&agent);
            self.dropped_slow.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// `session_opened` to every connected agent but the owner, within the
    /// per-recipient guardrails (one per domain per cooldown, N per minute).
    pub(crate) fn session_opened(&self, owner: &str, domain: Option<&str>, data: Value, limits: &Limits) {
        let text = serialize(&json!({"type": "session_opened", "data": data}));
        let now = Instant::now();
        let key = domain.map(str::to_owned);
        self.fan_out(limits.ws_queue_bytes, &text, |agent, connection| {
            if agent == owner {
                return false;
            }
            if let Some(cooldown) = limits.pulse_domain_cooldown
                && connection
                    .last_push_by_domain
                    .get(&key)
                    .is_some_and(|last| now.duration_since(*last) < cooldown)
            {
                return false;
            }
            if limits.pulse_pushes_per_minute > 0 {
                while connection
                    .recent_pushes
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60))
                {
                    connection.recent_pushes.pop_front();
                }
                if connection.recent_pushes.len() >= limits.pulse_pushes_per_minute as usize {
                    return false;
                }
            }
            connection.last_push_by_domain.insert(key.clone(), now);
            connection.recent_pushes.push_back(now);
            true
        });
    }

    /// `session_closed` to every connected agent but the owner.
    pub(crate) fn session_closed(&self, owner: &str, data: Value, limits: &Limits) {
        let text = serialize(&json!({"type": "session_closed", "data": data}));
        self.fan_out(limits.ws_queue_bytes, &text, |agent, _| agent != owner);
    }

    /// `contribution_received` to the session owner, if connected.
    pub(crate) fn contribution_received(&self, owner: &str, data: Value, limits: &Limits) {
        let text = serialize(&json!({"type": "contribution_received", "data": data}));
        self.fan_out(limits.ws_queue_bytes, &text, |agent, _| agent == owner);
    }

    /// Closes every socket (server shutdown).
    pub(crate) fn close_all(&self, code: u16, reason: &'static str) {
        for connection in self.lock().values() {
            let _ = connection.kick.send(Some((code, reason)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_socket_that_falls_behind_is_told_to_close_and_forgotten() {
        let hub = Hub::default();
        let limits = Limits {
            ws_queue_messages: 4,
            ws_queue_bytes: 1 << 20,
            ..Limits::none()
        };
        let (_, mut slow) = hub.register("slow", &limits);
        let (_, mut fast) = hub.register("fast", &limits);
        for n in 0..5 {
            hub.contribution_received("slow", json!({"n": n}), &limits);
            hub.contribution_received("fast", json!({"n": n}), &limits);
            // The fast one reads as it goes.
            let text = fast.pushes.recv().await.unwrap();
            fast.taken(&text);
            assert!(text.as_str().contains("contribution_received"));
        }
        assert_eq!(*slow.kick.borrow_and_update(), Some((TOO_SLOW, TOO_SLOW_REASON)));
        assert_eq!(hub.connected(), vec!["fast".to_owned()]);
        assert_eq!(hub.dropped_slow(), 1);
        assert_eq!(fast.queued_bytes.load(Ordering::Relaxed), 0);
    }

    /// A broadcast is serialized once: every socket's queue holds the same
    /// bytes, and handing them out never waits on a socket (none of these
    /// queues is read while 1,000 sockets are offered the event).
    #[tokio::test]
    async fn a_broadcast_is_serialized_once_and_waits_on_no_socket() {
        let hub = Hub::default();
        let limits = Limits {
            ws_queue_messages: 8,
            ws_queue_bytes: 1 << 20,
            ..Limits::none()
        };
        let mut inboxes: Vec<Inbox> = (0..1000)
            .map(|n| hub.register(&format!("watcher-{n}"), &limits).1)
            .collect();
        hub.session_opened("owner", None, json!({"topic": "shared"}), &limits);
        let mut first: Option<Utf8Bytes> = None;
        for inbox in &mut inboxes {
            let text = inbox.pushes.try_recv().expect("queued for every socket");
            match &first {
                None => first = Some(text),
                Some(first) => assert_eq!(text.as_str().as_ptr(), first.as_str().as_ptr(), "one buffer"),
            }
        }
        assert!(first.unwrap().as_str().contains("\"session_opened\""));
        assert_eq!(hub.connected().len(), 1000);
    }

    #[tokio::test]
    async fn the_queue_is_bounded_by_bytes_too() {
        let hub = Hub::default();
        let limits = Limits {
            ws_queue_messages: 1000,
            ws_queue_bytes: 10_000,
            ..Limits::none()
        };
        let (_, mut slow) = hub.register("slow", &limits);
        let big = "x".repeat(4_000);
        hub.contribution_received("slow", json!({"text": big}), &limits);
        hub.contribution_received("slow", json!({"text": big}), &limits);
        assert!(slow.kick.borrow_and_update().is_none(), "8 KB fit in 10 KB");
        hub.contribution_received("slow", json!({"text": big}), &limits);
        assert!(slow.kick.borrow_and_update().is_some(), "12 KB do not");
        assert!(hub.connected().is_empty());
    }
}
