//! The pulse hub: one live WebSocket per agent, and the pushes to them.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::limits::Limits;

/// Something for one socket's task to do.
#[derive(Debug)]
pub(crate) enum Push {
    /// Send this JSON message.
    Message(Value),
    /// Close with this code and reason.
    Close(u16, &'static str),
}

#[derive(Debug)]
struct Connection {
    id: u64,
    sender: mpsc::UnboundedSender<Push>,
    last_push_by_domain: HashMap<Option<String>, Instant>,
    recent_pushes: VecDeque<Instant>,
}

/// The live sockets, by agent.
#[derive(Debug, Default)]
pub(crate) struct Hub {
    connections: Mutex<HashMap<String, Connection>>,
    next_id: AtomicU64,
}

impl Hub {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Connection>> {
        self.connections.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers an agent's socket, closing its previous one with 4000.
    pub(crate) fn register(&self, agent_id: &str) -> (u64, mpsc::UnboundedReceiver<Push>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (sender, receiver) = mpsc::unbounded_channel();
        let previous = self.lock().insert(
            agent_id.to_owned(),
            Connection {
                id,
                sender,
                last_push_by_domain: HashMap::new(),
                recent_pushes: VecDeque::new(),
            },
        );
        if let Some(previous) = previous {
            let _ = previous
                .sender
                .send(Push::Close(4000, "Superseded by a newer connection"));
        }
        (id, receiver)
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

    /// `session_opened` to every connected agent but the owner, within the
    /// per-recipient guardrails (one per domain per cooldown, N per minute).
    pub(crate) fn session_opened(&self, owner: &str, domain: Option<&str>, data: Value, limits: &Limits) {
        let message = json!({"type": "session_opened", "data": data});
        let now = Instant::now();
        let mut connections = self.lock();
        for (agent, connection) in connections.iter_mut() {
            if agent == owner {
                continue;
            }
            let key = domain.map(str::to_owned);
            if let Some(cooldown) = limits.pulse_domain_cooldown
                && connection
                    .last_push_by_domain
                    .get(&key)
                    .is_some_and(|last| now.duration_since(*last) < cooldown)
            {
                continue;
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
                    continue;
                }
            }
            connection.last_push_by_domain.insert(key, now);
            connection.recent_pushes.push_back(now);
            let _ = connection.sender.send(Push::Message(message.clone()));
        }
    }

    /// `session_closed` to every connected agent but the owner.
    pub(crate) fn session_closed(&self, owner: &str, data: Value) {
        let message = json!({"type": "session_closed", "data": data});
        for (agent, connection) in self.lock().iter() {
            if agent != owner {
                let _ = connection.sender.send(Push::Message(message.clone()));
            }
        }
    }

    /// `contribution_received` to the session owner, if connected.
    pub(crate) fn contribution_received(&self, owner: &str, data: Value) {
        if let Some(connection) = self.lock().get(owner) {
            let _ = connection
                .sender
                .send(Push::Message(json!({"type": "contribution_received", "data": data})));
        }
    }

    /// Closes every socket (server shutdown).
    pub(crate) fn close_all(&self, code: u16, reason: &'static str) {
        for connection in self.lock().values() {
            let _ = connection.sender.send(Push::Close(code, reason));
        }
    }
}
