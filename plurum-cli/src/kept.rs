//! Inbox events kept in state.json until the agent acknowledges them.
//!
//! Reading the server's inbox consumes events there (they are marked read;
//! the real server's session events vanish at the next poll anyway), so
//! every event read is kept here first, and only what is kept is marked
//! read. Every event waits until acknowledged. When [`KEEP_UNACKNOWLEDGED`]
//! wait, a new event takes the place of the oldest waiting one that asks
//! nothing of the agent; events that ask for action are never dropped, and
//! when only such events wait, new ones are left unread on the server (and
//! the reader says so) until the agent acknowledges some with `plurum inbox
//! --ack`. Acknowledged events age out, oldest first, beyond
//! [`KEEP_ACKNOWLEDGED`].

use plurum_sdk::Client;
use plurum_sdk::types::{EventId, InboxEvent, InboxQuery, MarkRead};

use crate::interest::Interest;

pub(crate) use crate::state::KeptEvent;
use crate::state::{State, StateFile, now};

/// Unacknowledged events kept at most; beyond, events stay unread on the server.
pub(crate) const KEEP_UNACKNOWLEDGED: usize = 500;
/// Acknowledged events kept (for `plurum inbox --all`), newest.
pub(crate) const KEEP_ACKNOWLEDGED: usize = 100;

/// What keeping a batch of events did.
#[derive(Debug, Default)]
pub(crate) struct Kept {
    /// Events kept for the first time.
    pub(crate) added: Vec<InboxEvent>,
    /// The same, as kept (with their local ids).
    pub(crate) kept: Vec<KeptEvent>,
    /// Server ids of events now kept (new or kept before): these may be marked read.
    pub(crate) markable: Vec<String>,
    /// Events not kept because the local inbox is full.
    pub(crate) left_out: Vec<InboxEvent>,
    /// Waiting events that asked nothing of the agent, dropped to make room.
    pub(crate) evicted: usize,
}

/// The kept events, newest first (by when they happened; the later kept
/// first among equals).
pub(crate) fn newest_first(events: &[KeptEvent]) -> Vec<&KeptEvent> {
    let mut sorted: Vec<&KeptEvent> = events.iter().rev().collect();
    sorted.sort_by_key(|e| std::cmp::Reverse(e.created_at));
    sorted
}

/// How many events wait for the agent.
pub(crate) fn waiting(state: &State) -> usize {
    state.inbox_events.iter().filter(|e| e.is_waiting()).count()
}

/// Keeps new events (each once, whichever way it arrived) while there is
/// room; acknowledged events beyond [`KEEP_ACKNOWLEDGED`] age out.
pub(crate) fn keep(state: &mut State, events: &[InboxEvent], source: &str, interest: &Interest) -> Kept {
    let mut kept = Kept::default();
    let mut room = KEEP_UNACKNOWLEDGED.saturating_sub(waiting(state));
    let mut known: std::collections::HashSet<String> = state.inbox_events.iter().map(KeptEvent::key).collect();
    known.extend(
        state
            .inbox_events
            .iter()
            .filter(|k| !k.local_id)
            .map(|k| format!("id:{}", k.id)),
    );
    for event in events {
        let key = event.event.dedup_key();
        let already = known.contains(&key) || event.id.as_ref().is_some_and(|id| known.contains(&format!("id:{id}")));
        if already {
            if let Some(id) = &event.id {
                kept.markable.push(id.to_string());
            }
            continue;
        }
        if room == 0 {
            // Full: the oldest waiting event that asks nothing of the agent
            // makes room (one that asks for action never does).
            let oldest_informational = state
                .inbox_events
                .iter()
                .enumerate()
                .filter(|(_, e)| e.is_waiting() && !e.needs_action(interest))
                .min_by_key(|(_, e)| e.kept_at)
                .map(|(index, _)| index);
            match oldest_informational {
                Some(index) => {
                    state.inbox_events.remove(index);
                    kept.evicted += 1;
                }
                _ => {
                    kept.left_out.push(event.clone());
                    continue;
                }
            }
        } else {
            room -= 1;
        }
        known.insert(key);
        let new = KeptEvent::new(event, source);
        kept.kept.push(new.clone());
        state.inbox_events.push(new);
        if let Some(id) = &event.id {
            kept.markable.push(id.to_string());
        }
        kept.added.push(event.clone());
    }
    age_out(state);
    kept
}

/// Drops the oldest acknowledged events beyond [`KEEP_ACKNOWLEDGED`].
fn age_out(state: &mut State) {
    let acknowledged = state.inbox_events.len() - waiting(state);
    let mut excess = acknowledged.saturating_sub(KEEP_ACKNOWLEDGED);
    if excess == 0 {
        return;
    }
    state.inbox_events.retain(|e| {
        if excess > 0 && !e.is_waiting() {
            excess -= 1;
            false
        } else {
            true
        }
    });
}

/// Pages of the server's inbox read at most at once (100 events each).
const MAX_PAGES: usize = 20;

/// What reading the server's inbox did.
#[derive(Debug, Default)]
pub(crate) struct Fetched {
    /// Events read from the server.
    pub(crate) read: usize,
    /// Events kept for the first time.
    pub(crate) added: Vec<InboxEvent>,
    /// The same, as kept.
    pub(crate) kept: Vec<KeptEvent>,
    /// Events marked read on the server (all of them kept here first).
    pub(crate) marked_read: u64,
    /// Events left unread on the server because the local inbox is full.
    pub(crate) left_unread: usize,
    /// Events that could neither be kept nor left on the server (the real
    /// server's session events, which vanish after one read).
    pub(crate) not_kept: usize,
    /// Kept events waiting for the agent, after this read.
    pub(crate) waiting: usize,
    /// Waiting events that asked nothing of the agent, dropped to make room.
    pub(crate) evicted: usize,
}

/// Reads the server's inbox page by page: keeps each page's events in
/// state.json, then marks read on the server exactly what was kept. When
/// the local inbox is full, the rest stays unread on the server.
///
/// # Errors
/// The server's or the state file's; what was kept before stays kept.
pub(crate) async fn fetch(client: &Client, state_file: &StateFile, interest: &Interest) -> anyhow::Result<Fetched> {
    let mut fetched = Fetched::default();
    for _ in 0..MAX_PAGES {
        let page = client.pulse().inbox(InboxQuery::new().limit(100)).await?;
        if page.events.is_empty() {
            break;
        }
        fetched.read += page.events.len();
        let kept = state_file.update(|state| Ok(keep(state, &page.events, "inbox", interest)))?;
        if !kept.markable.is_empty() {
            let ids = kept.markable.iter().map(|id| EventId::new(id.as_str()));
            fetched.marked_read += client.pulse().mark_read(MarkRead::ids(ids)).await?.marked_read;
        }
        let left_unread = kept.left_out.iter().filter(|e| e.id.is_some()).count();
        fetched.left_unread += left_unread;
        fetched.not_kept += kept.left_out.len() - left_unread;
        fetched.evicted += kept.evicted;
        let done = kept.markable.is_empty() || !kept.left_out.is_empty() || page.events.len() < 100;
        fetched.added.extend(kept.added);
        fetched.kept.extend(kept.kept);
        if done {
            break;
        }
    }
    fetched.waiting = waiting(&state_file.load()?);
    Ok(fetched)
}

/// Acknowledges events: those `ids` name, or every waiting one with `all`.
/// Returns how many were acknowledged, and the ids that named nothing.
pub(crate) fn acknowledge(state: &mut State, ids: &[String], all: bool) -> (usize, Vec<String>) {
    let at = now();
    let mut count = 0;
    let unknown: Vec<String> = ids
        .iter()
        .filter(|given| !state.inbox_events.iter().any(|e| e.matches(given)))
        .cloned()
        .collect();
    let mut acked: Vec<String> = Vec::new();
    for event in &mut state.inbox_events {
        if event.is_waiting() && (all || ids.iter().any(|given| event.matches(given))) {
            event.acked_at = Some(at);
            count += 1;
            acked.push(event.id.clone());
        }
    }
    // A warning's alert has its event's id: acknowledged with it.
    state
        .needs_human
        .retain(|alert| !(alert.key.starts_with("warning:") && acked.contains(&alert.id)));
    age_out(state);
    (count, unknown)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn none() -> Interest {
        Interest::new(Vec::new(), Vec::new())
    }

    fn opened(n: usize) -> InboxEvent {
        serde_json::from_value(json!({
            "id": format!("30000000-0000-4000-8000-{n:012}"),
            "event_type": "session_opened",
            "event_data": {"session_id": format!("40000000-0000-4000-8000-{n:012}"), "topic": format!("topic {n}"), "domain": "elsewhere"},
            "is_read": false,
            "created_at": "2026-11-30T10:00:00Z",
        }))
        .unwrap()
    }

    #[test]
    fn a_full_inbox_drops_what_asks_nothing_first_never_what_asks_for_action() {
        let mut state = State::default();
        // 400 contributions (they ask for action) and 100 sessions opened elsewhere.
        keep(
            &mut state,
            &(0..400).map(contribution).collect::<Vec<_>>(),
            "inbox",
            &none(),
        );
        keep(&mut state, &(0..100).map(opened).collect::<Vec<_>>(), "inbox", &none());
        assert_eq!(waiting(&state), KEEP_UNACKNOWLEDGED);
        // New contributions take the place of the oldest informational events.
        let kept = keep(
            &mut state,
            &(400..450).map(contribution).collect::<Vec<_>>(),
            "inbox",
            &none(),
        );
        assert_eq!((kept.added.len(), kept.evicted, kept.left_out.len()), (50, 50, 0));
        let actions = state.inbox_events.iter().filter(|e| e.needs_action(&none())).count();
        assert_eq!(actions, 450, "no event that asks for action was dropped");
        // Once only such events wait, new ones stay on the server.
        let kept = keep(
            &mut state,
            &(450..550).map(contribution).collect::<Vec<_>>(),
            "inbox",
            &none(),
        );
        assert_eq!((kept.added.len(), kept.evicted, kept.left_out.len()), (50, 50, 50));
        assert_eq!(
            state.inbox_events.iter().filter(|e| e.needs_action(&none())).count(),
            500
        );
    }

    fn contribution(n: usize) -> InboxEvent {
        serde_json::from_value(json!({
            "id": format!("00000000-0000-4000-8000-{n:012}"),
            "event_type": "contribution_received",
            "event_data": {"id": format!("10000000-0000-4000-8000-{n:012}"), "session_id": "20000000-0000-4000-8000-000000000000",
                           "contribution_type": "warning", "content": {"text": "careful"}},
            "is_read": false,
            "created_at": "2026-11-30T10:00:00Z",
        }))
        .unwrap()
    }

    #[test]
    fn waiting_events_are_never_evicted_and_the_rest_stays_on_the_server() {
        let mut state = State::default();
        let first: Vec<InboxEvent> = (0..450).map(contribution).collect();
        let kept = keep(&mut state, &first, "inbox", &none());
        assert_eq!(
            (kept.added.len(), kept.markable.len(), kept.left_out.len()),
            (450, 450, 0)
        );
        let more: Vec<InboxEvent> = (450..600).map(contribution).collect();
        let kept = keep(&mut state, &more, "inbox", &none());
        assert_eq!(kept.added.len(), 50);
        assert_eq!(kept.markable.len(), 50, "only what is kept may be marked read");
        assert_eq!(kept.left_out.len(), 100);
        assert_eq!(waiting(&state), KEEP_UNACKNOWLEDGED);
        // Again: the same events are not kept twice, and may be marked read again.
        let again = keep(&mut state, &first[..10], "pulse", &none());
        assert_eq!((again.added.len(), again.markable.len()), (0, 10));
        // Acknowledging makes room; acknowledged events age out beyond the cap.
        let (count, unknown) = acknowledge(&mut state, &[], true);
        assert_eq!((count, unknown.len()), (500, 0));
        assert_eq!(state.inbox_events.len(), KEEP_ACKNOWLEDGED);
        let kept = keep(&mut state, &more[50..], "inbox", &none());
        assert_eq!(kept.added.len(), 100);
        assert_eq!(waiting(&state), 100);
    }

    #[test]
    fn short_ids_acknowledge_and_schema_one_events_migrate() {
        let old: KeptEvent = serde_json::from_value(json!({
            "id": null, "event_type": "session_opened", "is_read": false, "created_at": "2026-11-30T10:00:00Z",
            "event_data": {"session_id": "20000000-0000-4000-8000-000000000000", "topic": "x"},
            "handled_at": "2026-11-30T11:00:00Z"
        }))
        .unwrap();
        assert!(old.local_id);
        assert_eq!(old.acked_at, Some(time::macros::datetime!(2026-11-30 11:00 UTC)));
        assert_eq!(old.kept_at, time::macros::datetime!(2026-11-30 10:00 UTC));
        let mut state = State::default();
        keep(&mut state, &[contribution(7)], "inbox", &none());
        let (count, unknown) = acknowledge(&mut state, &["00000000".into(), "ffffffff".into()], false);
        assert_eq!(count, 1);
        assert_eq!(unknown, ["ffffffff"]);
        assert!(!state.inbox_events[0].matches("0000"), "too short to be an id");
    }
}
