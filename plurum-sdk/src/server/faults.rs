//! Fault injection for tests: failing requests, answers lost after the
//! request was applied, added latency, dropped or silent WebSockets. Reached through [`ServerHandle::faults`](super::ServerHandle::faults)
//! and, when enabled, `POST /__admin/faults`.

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::watch;

/// A rule that fails the next requests.
#[derive(Debug, Clone)]
struct FailRule {
    remaining: u32,
    status: u16,
    path: Option<String>,
}

#[derive(Debug, Default)]
struct State {
    rules: Vec<FailRule>,
    /// Requests that are served, and whose answers are then lost (the
    /// status is unused).
    lose: Vec<FailRule>,
    latency: Duration,
}

/// Switches for making the reference server misbehave on purpose.
#[derive(Debug)]
pub struct Faults {
    state: Mutex<State>,
    drop_generation: watch::Sender<u64>,
    stalled: watch::Sender<bool>,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            state: Mutex::default(),
            drop_generation: watch::Sender::new(0),
            stalled: watch::Sender::new(false),
        }
    }
}

impl Faults {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Answers the next `count` requests (of any route) with `status`.
    pub fn fail_next(&self, count: u32, status: u16) {
        self.lock().rules.push(FailRule {
            remaining: count,
            status,
            path: None,
        });
    }

    /// Answers the next `count` requests whose path starts with `path`
    /// (e.g. `/api/v1/experiences/`) with `status`.
    pub fn fail_next_for_path(&self, count: u32, status: u16, path: impl Into<String>) {
        self.lock().rules.push(FailRule {
            remaining: count,
            status,
            path: Some(path.into()),
        });
    }

    /// Answers every request (of any route, until cleared) with `status`.
    pub fn fail_all(&self, status: u16) {
        self.fail_next(u32::MAX, status);
    }

    /// Serves the next `count` requests whose path starts with `path` (any
    /// path if `None`) and then closes the connection without answering:
    /// the write is applied, its answer lost (as when the network fails
    /// after the server committed).
    pub fn lose_next_answers(&self, count: u32, path: Option<String>) {
        self.lock().lose.push(FailRule {
            remaining: count,
            status: 0,
            path,
        });
    }

    /// Whether this request's answer is to be lost (and counts it).
    pub(crate) fn take_lost(&self, path: &str) -> bool {
        let mut state = self.lock();
        let Some(index) = state
            .lose
            .iter()
            .position(|r| r.remaining > 0 && r.path.as_deref().is_none_or(|p| path.starts_with(p)))
        else {
            return false;
        };
        state.lose[index].remaining -= 1;
        if state.lose[index].remaining == 0 {
            state.lose.remove(index);
        }
        true
    }

    /// Delays every HTTP response by `latency`.
    pub fn set_latency(&self, latency: Duration) {
        self.lock().latency = latency;
    }

    /// Drops every open WebSocket at once, without a close frame (as a
    /// network failure would).
    pub fn drop_sockets(&self) {
        self.drop_generation.send_modify(|g| *g += 1);
    }

    /// Makes every WebSocket go silent (no answers, no pongs, nothing read)
    /// while `stalled` is true.
    pub fn stall_sockets(&self, stalled: bool) {
        self.stalled.send_replace(stalled);
    }

    /// Removes every fault.
    pub fn clear(&self) {
        let mut state = self.lock();
        state.rules.clear();
        state.lose.clear();
        state.latency = Duration::ZERO;
        drop(state);
        self.stalled.send_replace(false);
    }

    /// The status to fail this request with, if a rule matches (and counts it).
    pub(crate) fn take_failure(&self, path: &str) -> Option<u16> {
        let mut state = self.lock();
        let index = state
            .rules
            .iter()
            .position(|r| r.remaining > 0 && r.path.as_deref().is_none_or(|p| path.starts_with(p)))?;
        let rule = &mut state.rules[index];
        rule.remaining -= 1;
        let status = rule.status;
        if rule.remaining == 0 {
            state.rules.remove(index);
        }
        Some(status)
    }

    pub(crate) fn latency(&self) -> Duration {
        self.lock().latency
    }

    pub(crate) fn drops(&self) -> watch::Receiver<u64> {
        self.drop_generation.subscribe()
    }

    pub(crate) fn stalls(&self) -> watch::Receiver<bool> {
        self.stalled.subscribe()
    }
}
