//! The task that owns the socket: connect and authenticate, ping and watch
//! for silence, deliver events once, answer contributions, reconnect with
//! backoff, catch up from the inbox, close gracefully.

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant, SystemTime};

use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use url::Url;

use super::protocol::{self, ServerMessage};
use super::repeats::Repeats;
use super::{ConnectionState, PulseError};
use crate::auth::ApiKey;
use crate::client::Client;
use crate::types::{AgentId, Contribution, ContributionType, InboxQuery, PulseEvent, SessionId};

pub(crate) type Ws = WebSocketStream<super::transport::Stream>;

/// How long to wait for the server's close frame after sending ours.
const CLOSE_WAIT: Duration = Duration::from_secs(2);
/// How far before the last sign of life the inbox catch-up looks (clock skew).
const CATCH_UP_SLACK: Duration = Duration::from_secs(30);
/// How many delivered events are remembered for de-duplication.
const DEDUP_CAPACITY: usize = 10_000;

#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) url: Url,
    pub(crate) key: ApiKey,
    pub(crate) query_token: bool,
    pub(crate) ping_interval: Duration,
    pub(crate) reconnect_min: Duration,
    pub(crate) reconnect_max: Duration,
    pub(crate) stable_after: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) catch_up: bool,
    pub(crate) client: Client,
    /// The largest message (and frame) read from the server.
    pub(crate) max_message_bytes: usize,
}

/// What other tasks ask of the socket.
#[derive(Debug)]
pub(crate) enum Command {
    Contribute {
        session_id: SessionId,
        content: serde_json::Value,
        contribution_type: ContributionType,
        reply: oneshot::Sender<Result<Contribution, PulseError>>,
    },
    Close {
        reply: oneshot::Sender<()>,
    },
}

fn lost(reason: &str) -> PulseError {
    PulseError::Lost {
        source: reason.to_owned().into(),
    }
}

fn from_close(frame: Option<&CloseFrame>) -> PulseError {
    let (code, reason) = frame.map_or((1005, String::new()), |f| {
        (u16::from(f.code), crate::auth::scrub(&f.reason, None).into_owned())
    });
    match code {
        4000 => PulseError::Superseded,
        4001 => PulseError::AuthFailed {
            message: if reason.is_empty() {
                "Authentication failed".to_owned()
            } else {
                reason
            },
        },
        _ => PulseError::Closed { code, reason },
    }
}

/// Connects and authenticates, within the connect timeout.
pub(crate) async fn establish(config: &Config) -> Result<(Ws, AgentId), PulseError> {
    let shown = config.url.to_string();
    let attempt = async {
        let mut url = config.url.clone();
        if config.query_token {
            url.query_pairs_mut().append_pair("token", config.key.expose());
        }
        let limits = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .max_message_size(Some(config.max_message_bytes))
            .max_frame_size(Some(config.max_message_bytes));
        let stream = super::transport::open(&url)
            .await
            .map_err(|source| PulseError::Connect {
                url: shown.clone(),
                source,
            })?;
        let (mut ws, _) = tokio_tungstenite::client_async_with_config(url.as_str(), stream, Some(limits))
            .await
            .map_err(|e| PulseError::Connect {
                url: shown.clone(),
                source: Box::new(e),
            })?;
        if !config.query_token {
            ws.send(Message::Text(protocol::auth(config.key.expose()).into()))
                .await
                .map_err(|e| PulseError::Lost { source: Box::new(e) })?;
        }
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(text))) => match ServerMessage::decode(text.as_str()) {
                    ServerMessage::AuthOk { agent_id } => return Ok((ws, agent_id)),
                    ServerMessage::Error { message } if message.starts_with("Authentication") => {
                        return Err(PulseError::AuthFailed {
                            message: crate::auth::scrub(&message, Some(&config.key)).into_owned(),
                        });
                    }
                    _ => {}
                },
                Some(Ok(Message::Close(frame))) => return Err(from_close(frame.as_ref())),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(PulseError::Lost { source: Box::new(e) }),
                None => return Err(lost("the connection ended before authentication")),
            }
        }
    };
    match tokio::time::timeout(config.connect_timeout, attempt).await {
        Ok(result) => result,
        Err(_) => Err(PulseError::Connect {
            url: shown,
            source: format!("no authenticated connection within {:?}", config.connect_timeout).into(),
        }),
    }
}

/// Remembers the keys of delivered events (bounded).
#[derive(Debug, Default)]
struct Delivered {
    order: VecDeque<String>,
    keys: HashSet<String>,
}

impl Delivered {
    /// `true` the first time a key is seen.
    fn first_time(&mut self, key: String) -> bool {
        if self.keys.contains(&key) {
            return false;
        }
        if self.order.len() >= DEDUP_CAPACITY
            && let Some(old) = self.order.pop_front()
        {
            self.keys.remove(&old);
        }
        self.keys.insert(key.clone());
        self.order.push_back(key);
        true
    }
}

/// Why a connection's loop ended.
enum End {
    /// The user closed the socket (or dropped it).
    ClientClosed,
    /// Fatal: report and stop.
    Fatal(PulseError),
    /// Lost: report and reconnect.
    Lost(PulseError),
}

struct Channels<'a> {
    events: &'a mpsc::Sender<Result<PulseEvent, PulseError>>,
    commands: &'a mut mpsc::Receiver<Command>,
}

/// The whole life of the socket after the first connection.
pub(crate) async fn run(
    config: Config,
    first: Ws,
    events: mpsc::Sender<Result<PulseEvent, PulseError>>,
    mut commands: mpsc::Receiver<Command>,
    state: watch::Sender<ConnectionState>,
) {
    let mut delivered = Delivered::default();
    // Server errors are rate-limited across reconnects: a server that
    // storms on every connection gets a few lines per window, not per
    // connection.
    let mut warnings = Repeats::default();
    let mut socket = Some(first);
    let mut attempt: u32 = 0;
    let mut last_alive: Option<SystemTime> = None;
    loop {
        let mut ws = match socket.take() {
            Some(ws) => ws,
            None => match reconnect(&config, &events, &mut commands, &state, &mut attempt).await {
                Some(ws) => ws,
                None => break,
            },
        };
        let _ = state.send(ConnectionState::Connected);
        let connected_at = Instant::now();
        if let Some(since) = last_alive.take()
            && config.catch_up
            && !catch_up(&config, since, &events, &mut delivered).await
        {
            close(&mut ws).await;
            break;
        }
        let mut channels = Channels {
            events: &events,
            commands: &mut commands,
        };
        let (end, alive) = serve(&config, &mut ws, &mut channels, &mut delivered, &mut warnings).await;
        last_alive = Some(alive);
        match end {
            End::ClientClosed => break,
            End::Fatal(error) => {
                let _ = events.send(Err(error)).await;
                break;
            }
            End::Lost(error) => {
                if connected_at.elapsed() >= config.stable_after {
                    attempt = 0;
                }
                if events.send(Err(error)).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = state.send(ConnectionState::Closed);
}

/// The backoff before reconnect attempt `attempt` (from 1): from the
/// minimum, doubling to the maximum, then between half and all of it.
fn backoff(config: &Config, attempt: u32) -> Duration {
    crate::retry::backoff(
        config.reconnect_min,
        config.reconnect_max,
        attempt.saturating_sub(1),
        fastrand::f64(),
    )
}

/// Waits and reconnects until it works; `None` when the socket should stop.
async fn reconnect(
    config: &Config,
    events: &mpsc::Sender<Result<PulseEvent, PulseError>>,
    commands: &mut mpsc::Receiver<Command>,
    state: &watch::Sender<ConnectionState>,
    attempt: &mut u32,
) -> Option<Ws> {
    loop {
        *attempt += 1;
        let delay = backoff(config, *attempt);
        let _ = state.send(ConnectionState::Reconnecting {
            attempt: *attempt,
            retry_in: delay,
        });
        let wait = tokio::time::sleep(delay);
        tokio::pin!(wait);
        loop {
            tokio::select! {
                () = &mut wait => break,
                () = events.closed() => return None,
                command = commands.recv() => match command {
                    None => return None,
                    Some(Command::Close { reply }) => {
                        let _ = reply.send(());
                        return None;
                    }
                    Some(Command::Contribute { reply, .. }) => {
                        let _ = reply.send(Err(lost("not connected (reconnecting); nothing was sent")));
                    }
                },
            }
        }
        let _ = state.send(ConnectionState::Connecting);
        match establish(config).await {
            Ok((ws, _)) => return Some(ws),
            Err(error) if error.is_fatal() => {
                let _ = events.send(Err(error)).await;
                return None;
            }
            Err(error) => {
                if events.send(Err(error)).await.is_err() {
                    return None;
                }
            }
        }
    }
}

/// Delivers what the inbox holds from around the time the connection was
/// last alive, skipping what was already delivered. `false` when the
/// consumer is gone.
async fn catch_up(
    config: &Config,
    last_alive: SystemTime,
    events: &mpsc::Sender<Result<PulseEvent, PulseError>>,
    delivered: &mut Delivered,
) -> bool {
    let since = time::OffsetDateTime::from(last_alive.checked_sub(CATCH_UP_SLACK).unwrap_or(last_alive));
    match config.client.pulse().inbox(InboxQuery::new().limit(100)).await {
        Ok(inbox) => {
            for event in inbox.events.into_iter().rev() {
                if event.created_at >= since
                    && delivered.first_time(protocol::dedup_key(&event.event))
                    && events.send(Ok(event.event)).await.is_err()
                {
                    return false;
                }
            }
            true
        }
        Err(error) => events.send(Err(PulseError::CatchUp(Box::new(error)))).await.is_ok(),
    }
}

/// Sends our close frame and waits briefly for the server's.
async fn close(ws: &mut Ws) {
    let frame = CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    };
    if ws.send(Message::Close(Some(frame))).await.is_err() {
        return;
    }
    let _ = tokio::time::timeout(CLOSE_WAIT, async {
        while let Some(Ok(message)) = ws.next().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

fn fail_pending(pending: &mut VecDeque<oneshot::Sender<Result<Contribution, PulseError>>>, reason: &str) {
    for reply in pending.drain(..) {
        let _ = reply.send(Err(lost(reason)));
    }
}

/// Error frames in a row (nothing else between them) after which the
/// connection is left: the reconnect waits its backoff, which keeps growing
/// while connections do not last (see `stable_after`).
const ERROR_STORM: u64 = 100;

/// One connection's life. Returns why it ended and when it was last alive.
async fn serve(
    config: &Config,
    ws: &mut Ws,
    channels: &mut Channels<'_>,
    delivered: &mut Delivered,
    warnings: &mut Repeats,
) -> (End, SystemTime) {
    let mut pending: VecDeque<oneshot::Sender<Result<Contribution, PulseError>>> = VecDeque::new();
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + config.ping_interval, config.ping_interval);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_frame = Instant::now();
    let mut alive = SystemTime::now();
    // Error frames since the last frame that was not one: a server that
    // sends nothing else is left, and reconnected to with backoff.
    let mut errors_in_a_row: u64 = 0;
    let end = loop {
        tokio::select! {
            () = channels.events.closed() => {
                close(ws).await;
                break End::ClientClosed;
            }
            _ = ping.tick() => {
                let silent_for = last_frame.elapsed();
                if silent_for >= config.ping_interval * 2 {
                    break End::Lost(PulseError::Dead { silent_for });
                }
                if let Err(error) = ws.send(Message::Text(protocol::ping().into())).await {
                    break End::Lost(PulseError::Lost { source: Box::new(error) });
                }
            }
            command = channels.commands.recv() => match command {
                None => {
                    close(ws).await;
                    break End::ClientClosed;
                }
                Some(Command::Close { reply }) => {
                    close(ws).await;
                    fail_pending(&mut pending, "the socket was closed before the answer");
                    let _ = reply.send(());
                    break End::ClientClosed;
                }
                Some(Command::Contribute { session_id, content, contribution_type, reply }) => {
                    let message = protocol::contribute(&session_id, &content, &contribution_type);
                    match ws.send(Message::Text(message.into())).await {
                        Ok(()) => pending.push_back(reply),
                        Err(error) => {
                            let _ = reply.send(Err(PulseError::Lost { source: Box::new(error) }));
                        }
                    }
                }
            },
            frame = ws.next() => {
                match frame {
                    Some(Ok(Message::Text(text))) => {
                        last_frame = Instant::now();
                        alive = SystemTime::now();
                        let message = ServerMessage::decode(text.as_str());
                        if matches!(message, ServerMessage::Error { .. }) {
                            errors_in_a_row += 1;
                            if errors_in_a_row > ERROR_STORM {
                                fail_pending(&mut pending, "the server sent only errors");
                                break End::Lost(PulseError::Flooded { errors: errors_in_a_row });
                            }
                        } else {
                            errors_in_a_row = 0;
                        }
                        match message {
                            ServerMessage::Event(event) => {
                                if delivered.first_time(protocol::dedup_key(&event))
                                    && channels.events.send(Ok(event)).await.is_err()
                                {
                                    close(ws).await;
                                    break End::ClientClosed;
                                }
                            }
                            ServerMessage::ContributeOk(contribution) => {
                                if let Some(reply) = pending.pop_front() {
                                    let _ = reply.send(Ok(*contribution));
                                }
                            }
                            ServerMessage::Error { message } => {
                                let message = crate::auth::scrub(&message, Some(&config.key)).into_owned();
                                if (message.starts_with("Contribution") || message.starts_with("Missing session_id"))
                                    && let Some(reply) = pending.pop_front()
                                {
                                    let _ = reply.send(Err(PulseError::Rejected { message }));
                                } else if warnings.admit() {
                                    tracing::warn!(message = %message.escape_debug(), "pulse server error");
                                }
                            }
                            ServerMessage::Pong | ServerMessage::AuthOk { .. } | ServerMessage::Garbage => {}
                        }
                    }
                    Some(Ok(Message::Close(frame))) => {
                        let error = from_close(frame.as_ref());
                        fail_pending(&mut pending, "the server closed the connection before the answer");
                        break if error.is_fatal() { End::Fatal(error) } else { End::Lost(error) };
                    }
                    Some(Ok(_)) => {
                        last_frame = Instant::now();
                        alive = SystemTime::now();
                    }
                    Some(Err(error)) => break End::Lost(PulseError::Lost { source: Box::new(error) }),
                    None => break End::Lost(lost("the connection ended without a close frame")),
                }
            }
        }
    };
    warnings.flush();
    fail_pending(&mut pending, "the connection was lost before the answer");
    (end, alive)
}
