//! The accept loop of the reference server and of `plurum daemon`'s API:
//! HTTP/1.1 with upgrades (the pulse socket), and with what `axum::serve`
//! cannot set: a deadline for a request's headers, an idle timeout, and a
//! cap on concurrent connections with the excess refused at once.
//!
//! A connection's deadline depends on where it is:
//!
//! * waiting for its first request: the headers must be complete within
//!   `header_timeout` of the accept (a client that connects and sends
//!   nothing, or trickles a byte at a time, is closed then);
//! * waiting between requests (keep-alive): closed after `idle_timeout`
//!   without a byte; once a request has begun, its headers must be complete
//!   within `header_timeout` of its first byte;
//! * serving a request (reading its body, writing the answer): closed when
//!   no byte moved either way for `idle_timeout` (a client that stops
//!   reading its answer).
//!
//! An upgraded connection (a WebSocket) leaves these deadlines to its own
//! protocol (pings and liveness), but keeps its place among the
//! `max_connections` until it closes. Beyond the cap a connection gets a
//! `503` with `Retry-After: 1` and is closed (at most a few such answers
//! are in progress at a time; beyond them a connection is closed without
//! one).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;

/// How an HTTP server treats its connections (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// At most this many connections at once, upgraded ones included
    /// (default 1,024).
    pub max_connections: usize,
    /// The time a request's headers have to arrive complete (default 10 s).
    pub header_timeout: Duration,
    /// The time a connection may stay without a byte moving, between
    /// requests or during one (default 60 s).
    pub idle_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

impl ConnectionLimits {
    /// Sets the cap on concurrent connections (at least 1).
    #[must_use]
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max.max(1);
        self
    }

    /// Sets the time a request's headers have to arrive.
    #[must_use]
    pub fn header_timeout(mut self, timeout: Duration) -> Self {
        self.header_timeout = timeout;
        self
    }

    /// Sets the time a connection may stay without a byte moving.
    #[must_use]
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }
}

/// Marks a response whose connection is closed instead of answering (the
/// reference server's "answer lost" fault).
#[derive(Debug, Clone, Copy)]
pub(crate) struct LoseAnswer;

/// Refusals being written at once; beyond them, a connection over the cap
/// is closed without an answer.
const REFUSALS: usize = 16;

/// What a refused connection reads (in both error shapes: the API's
/// `detail` and the daemon's `error`/`code`).
const REFUSAL: &str = "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: 158\r\n\r\n{\"detail\":\"too many connections\",\"error\":\"too many connections\",\"message\":\"too many connections\",\"code\":\"too_many_connections\",\"hint\":\"try again in a second\"}";

/// Serves `app` on `listener` until `shutdown` resolves, then lets open
/// requests finish (idle connections are closed at once) and waits up to
/// 10 s for connections to end.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let refusals = Arc::new(Semaphore::new(REFUSALS));
    let (stop, stopping) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    let mut accept_errors = 0u64;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, remote) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors (or a connection reset before it
                // was accepted): say so now and then, and do not spin.
                accept_errors += 1;
                if accept_errors.is_power_of_two() {
                    tracing::warn!(%error, count = accept_errors, "could not accept a connection");
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::debug!(%remote, "connection refused: at the connection cap");
            if let Ok(refusal) = refusals.clone().try_acquire_owned() {
                tokio::spawn(refuse(stream, refusal));
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        tracing::debug!(%remote, "connection accepted");
        tokio::spawn(connection(stream, remote, slot, app.clone(), limits, stopping.clone()));
    }
    drop(listener);
    let _ = stop.send(true);
    let all = u32::try_from(limits.max_connections.max(1)).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(Duration::from_secs(10), slots.acquire_many(all)).await;
}

/// Answers 503 to a connection over the cap, briefly, and closes it.
async fn refuse(mut stream: TcpStream, _refusal: OwnedSemaphorePermit) {
    let _ = tokio::time::timeout(Duration::from_millis(500), async {
        // Read what the client sent first, so closing does not reset the
        // connection before it reads the answer.
        let mut request = [0u8; 4096];
        let _ = tokio::time::timeout(Duration::from_millis(100), stream.readable()).await;
        let _ = stream.try_read(&mut request);
        let _ = stream.write_all(REFUSAL.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

/// One connection: HTTP/1.1 with upgrades, under its deadlines.
async fn connection(
    stream: TcpStream,
    remote: SocketAddr,
    slot: OwnedSemaphorePermit,
    app: Router,
    limits: ConnectionLimits,
    mut stopping: watch::Receiver<bool>,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        stream,
        activity: activity.clone(),
        _slot: slot,
    });
    let tracked = activity.clone();
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(remote));
        tracked.begin();
        let guard = Guard(tracked.clone());
        let mut app = app.clone();
        async move {
            let response = match tower_service::Service::call(&mut app, request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            if response.extensions().get::<LoseAnswer>().is_some() {
                // The request was served; its answer is lost: hyper closes
                // the connection without writing one.
                return Err(io::Error::other("answer lost on purpose (fault injection)"));
            }
            Ok(response.map(|body| Body::new(Tracked { body, _guard: guard })))
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    // Our deadlines replace hyper's header timer (which would also cut
    // keep-alive connections at the header timeout).
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(None)
        .keep_alive(true);
    let conn = builder.serve_connection(io, service).with_upgrades();
    let mut conn = std::pin::pin!(conn);
    let mut shutting_down = false;
    loop {
        let deadline = activity.deadline(&limits);
        tokio::select! {
            _ = conn.as_mut() => return,
            () = tokio::time::sleep_until(deadline) => {
                if activity.deadline(&limits) <= Instant::now() {
                    // Dropping the connection closes it.
                    tracing::debug!(%remote, "connection closed: its header or idle deadline passed");
                    return;
                }
            }
            changed = stopping.changed(), if !shutting_down => {
                shutting_down = true;
                if changed.is_ok() {
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// Where a connection is, for its deadline.
#[derive(Debug)]
struct Activity(Mutex<Phase>);

#[derive(Debug)]
struct Phase {
    /// Requests being served (their answers not yet written).
    in_flight: usize,
    /// Requests answered.
    served: u64,
    /// When the connection began waiting for its next request.
    waiting_since: Instant,
    /// The first byte of the next request, once it came.
    first_byte: Option<Instant>,
    /// The last byte read or written.
    last_io: Instant,
}

impl Activity {
    fn new() -> Self {
        let now = Instant::now();
        Self(Mutex::new(Phase {
            in_flight: 0,
            served: 0,
            waiting_since: now,
            first_byte: None,
            last_io: now,
        }))
    }

    fn phase(&self) -> std::sync::MutexGuard<'_, Phase> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn read(&self) {
        let now = Instant::now();
        let mut phase = self.phase();
        phase.last_io = now;
        if phase.in_flight == 0 && phase.first_byte.is_none() {
            phase.first_byte = Some(now);
        }
    }

    fn wrote(&self) {
        self.phase().last_io = Instant::now();
    }

    fn begin(&self) {
        let mut phase = self.phase();
        phase.in_flight += 1;
        phase.first_byte = None;
    }

    fn end(&self) {
        let now = Instant::now();
        let mut phase = self.phase();
        phase.in_flight = phase.in_flight.saturating_sub(1);
        phase.served += 1;
        if phase.in_flight == 0 {
            phase.waiting_since = now;
            phase.first_byte = None;
        }
    }

    /// When the connection is closed unless something happens first.
    fn deadline(&self, limits: &ConnectionLimits) -> Instant {
        let phase = self.phase();
        if phase.in_flight > 0 {
            phase.last_io + limits.idle_timeout
        } else if phase.served == 0 {
            phase.waiting_since + limits.header_timeout
        } else {
            match phase.first_byte {
                None => phase.waiting_since + limits.idle_timeout,
                Some(first) => first + limits.header_timeout,
            }
        }
    }
}

/// Marks a request answered when its answer's body is dropped (written,
/// or abandoned with the connection).
struct Guard(Arc<Activity>);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.end();
    }
}

/// An answer's body that ends its request when it is dropped.
struct Tracked {
    body: Body,
    _guard: Guard,
}

impl http_body::Body for Tracked {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// The socket, noting every byte that moves, and holding the connection's
/// place among the allowed ones until it is dropped (also when a WebSocket
/// took it over).
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
    _slot: OwnedSemaphorePermit,
}

impl AsyncRead for Watched {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.read();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.wrote();
        }
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_write_vectored(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.wrote();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_says_its_length_right() {
        let (head, body) = REFUSAL.split_once("\r\n\r\n").unwrap();
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{}",
            body.len()
        );
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["code"], "too_many_connections");
    }

    #[tokio::test(start_paused = true)]
    async fn deadlines_follow_the_connection() {
        let limits = ConnectionLimits::default()
            .header_timeout(Duration::from_secs(2))
            .idle_timeout(Duration::from_secs(30));
        let activity = Activity::new();
        let start = Instant::now();
        // A first request: from the accept, bytes or not.
        assert_eq!(activity.deadline(&limits), start + Duration::from_secs(2));
        tokio::time::advance(Duration::from_secs(1)).await;
        activity.read();
        assert_eq!(activity.deadline(&limits), start + Duration::from_secs(2));
        // Serving: idle counts from the last byte.
        activity.begin();
        tokio::time::advance(Duration::from_secs(1)).await;
        activity.wrote();
        assert_eq!(activity.deadline(&limits), Instant::now() + Duration::from_secs(30));
        // Between requests: idle, then the header deadline from the first byte.
        activity.end();
        let waiting = Instant::now();
        assert_eq!(activity.deadline(&limits), waiting + Duration::from_secs(30));
        tokio::time::advance(Duration::from_secs(5)).await;
        activity.read();
        assert_eq!(activity.deadline(&limits), Instant::now() + Duration::from_secs(2));
    }
}
