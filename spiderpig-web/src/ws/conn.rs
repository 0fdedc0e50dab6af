//! One WebSocket's life, after the upgrade: five jobs run side by side
//! (the browser's messages, its global events and session guard, its log
//! subscription, heartbeats, the monitoring frames) and feed one writer through a short queue; the
//! first that ends decides the close code. Trust: frames from the browser
//! are untrusted; the session was checked by the executor before upgrade
//! and is checked again on every stream it opens.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot, watch};

use super::hub::WsHub;
use super::protocol::{self, ServerMsg};
use super::{events, logs, reader};
use crate::executor::{Executor, RequestContext};
use crate::views::Viewer;

/// Frames waiting for the writer. Short on purpose: the real per-socket
/// queue is the log feed's broadcast ring (`limits.ws_queue`, shared by all
/// watchers of a job), where a slow reader loses the oldest entries instead
/// of holding memory. So a socket holds at most this many frames (log
/// frames of at most 256 records) plus the one being written.
pub const OUTBOX: usize = 8;
/// A single frame that cannot be written for this long: the browser is
/// gone (heartbeats keep live but idle sockets moving).
const SEND_STALL: Duration = Duration::from_secs(60);
/// Time to write the last frames and the close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// Heartbeat period (browsers and proxies drop idle connections).
pub const HEARTBEAT: Duration = Duration::from_secs(20);

/// Who this socket serves, from the checks before the upgrade.
pub struct Conn {
    pub hub: WsHub,
    /// The session's guard: its end closes the socket; dropping it is the
    /// socket leaving its session's count.
    pub session: super::guard::Held,
    pub executor: Executor,
    /// The browser's session token. Never logged.
    pub token: String,
    pub origin: RequestContext,
    /// Whom the job frames' `actions` are for.
    pub viewer: Viewer,
}

/// What the socket's jobs share.
pub struct Ctx {
    pub conn: Conn,
    pub out: Outbox,
}

/// The writer's queue.
#[derive(Clone)]
pub struct Outbox(mpsc::Sender<Utf8Bytes>);

/// The writer has stopped: the browser is gone.
#[derive(Debug)]
pub struct Gone;

impl Outbox {
    /// Queue a frame, waiting while the queue is full.
    pub async fn send(&self, frame: Utf8Bytes) -> Result<(), Gone> {
        self.0.send(frame).await.map_err(|_| Gone)
    }

    pub async fn msg(&self, msg: &ServerMsg<'_>) -> Result<(), Gone> {
        self.send(protocol::encode(msg)).await
    }

    /// Queue a frame only if there is room (answers to pings).
    pub fn offer(&self, msg: &ServerMsg<'_>) {
        let _ = self.0.try_send(protocol::encode(msg));
    }
}

/// Why a socket ends, and so how it is closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The connection dropped, or the browser stopped reading for good.
    ClientGone,
    /// The browser sent a close frame (its reply is sent by tungstenite).
    ClientClosed,
    /// The session ended: a `revoked` frame, then close 4001.
    Revoked(String),
    /// Shutdown: close 1001.
    GoingAway,
    /// A binary frame: close 1003.
    Binary,
    /// A frame or message over the limit: close 1009.
    TooBig,
    /// A text frame that is not UTF-8: close 1007.
    NotUtf8,
    /// A broken frame: close 1002.
    Protocol,
    /// Too many invalid messages, or too many messages: close 1008.
    Policy(&'static str),
}

impl End {
    /// A frame sent just before the close frame.
    fn last_words(&self) -> Option<Utf8Bytes> {
        match self {
            End::Revoked(reason) => Some(protocol::encode(&ServerMsg::Revoked { reason })),
            _ => None,
        }
    }

    fn close_frame(&self) -> Option<CloseFrame> {
        let (code, reason): (u16, &str) = match self {
            End::ClientGone | End::ClientClosed => return None,
            End::Revoked(_) => (protocol::CLOSE_REVOKED, "session revoked"),
            End::GoingAway => (protocol::CLOSE_GOING_AWAY, "server shutting down"),
            End::Binary => (protocol::CLOSE_BINARY, "binary frames are not accepted"),
            End::TooBig => (protocol::CLOSE_TOO_BIG, "message too big"),
            End::NotUtf8 => (protocol::CLOSE_NOT_UTF8, "text frame is not UTF-8"),
            End::Protocol => (protocol::CLOSE_PROTOCOL, "protocol error"),
            End::Policy(why) => (protocol::CLOSE_POLICY, why),
        };
        Some(CloseFrame {
            code,
            reason: Utf8Bytes::from(reason),
        })
    }
}

/// Serve one upgraded socket; `permit` is its place under the cap.
pub async fn run(socket: WebSocket, conn: Conn, permit: OwnedSemaphorePermit) {
    let _permit = permit;
    let (sink, stream) = socket.split();
    let (tx, rx) = mpsc::channel(OUTBOX);
    let (close_tx, close_rx) = oneshot::channel();
    let mut writer = tokio::spawn(write(sink, rx, close_rx));
    let ctx = Ctx {
        conn,
        out: Outbox(tx),
    };
    let end = supervise(&ctx, stream).await;
    tracing::debug!(?end, "websocket ends");
    let _ = close_tx.send(end);
    drop(ctx);
    if tokio::time::timeout(CLOSE_GRACE * 2, &mut writer)
        .await
        .is_err()
    {
        writer.abort();
    }
}

/// Run the socket's jobs until the first one ends.
async fn supervise(ctx: &Ctx, stream: SplitStream<WebSocket>) -> End {
    let (target_tx, target_rx) = watch::channel(None);
    let shutdown = ctx.conn.hub.shutdown_signal().clone();
    tokio::select! {
        biased;
        _ = shutdown.cancelled() => End::GoingAway,
        _ = ctx.out.0.closed() => End::ClientGone,
        end = reader::run(ctx, stream, target_tx) => end,
        end = events::run(ctx) => end,
        end = logs::run(ctx, target_rx) => end,
        end = heartbeats(ctx) => end,
        end = metrics(ctx) => end,
    }
}

/// The monitoring poller's `metrics` frames: the latest one at once, then
/// each new one (a slow socket skips to the newest).
async fn metrics(ctx: &Ctx) -> End {
    let mut frames = ctx.conn.hub.monitor().subscribe();
    loop {
        let frame = frames.borrow_and_update().clone();
        if let Some(frame) = frame
            && ctx.out.send(frame).await.is_err()
        {
            return End::ClientGone;
        }
        if frames.changed().await.is_err() {
            // The monitor is gone (never while the hub lives).
            return std::future::pending().await;
        }
    }
}

/// `{"type":"heartbeat"}` every 20 s, whether or not the executor is up.
async fn heartbeats(ctx: &Ctx) -> End {
    let start = tokio::time::Instant::now() + HEARTBEAT;
    let mut every = tokio::time::interval_at(start, HEARTBEAT);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if ctx
            .out
            .msg(&ServerMsg::Heartbeat {
                at_ms: protocol::now_ms(),
            })
            .await
            .is_err()
        {
            return End::ClientGone;
        }
    }
}

/// The writer: queued frames in order; on `close`, drop what is queued and
/// send the last words and the close frame at once.
async fn write(
    mut sink: SplitSink<WebSocket, Message>,
    mut rx: mpsc::Receiver<Utf8Bytes>,
    mut close: oneshot::Receiver<End>,
) {
    loop {
        let frame = tokio::select! {
            biased;
            end = &mut close => return finish(sink, end.unwrap_or(End::ClientGone)).await,
            frame = rx.recv() => frame,
        };
        let Some(frame) = frame else {
            let end = (&mut close).await.unwrap_or(End::ClientGone);
            return finish(sink, end).await;
        };
        let sent = tokio::select! {
            biased;
            // A browser that does not read must not delay a revocation.
            end = &mut close => return finish(sink, end.unwrap_or(End::ClientGone)).await,
            sent = tokio::time::timeout(SEND_STALL, send_queued(&mut sink, frame, &mut rx)) => sent,
        };
        if !matches!(sent, Ok(Ok(()))) {
            return;
        }
    }
}

/// Send `first` and whatever else is already queued (at most `OUTBOX`
/// frames) with one flush: a socket that fell behind catches up with one
/// TLS write instead of one per frame; one that keeps up sends each frame
/// as it comes.
async fn send_queued(
    sink: &mut SplitSink<WebSocket, Message>,
    first: Utf8Bytes,
    rx: &mut mpsc::Receiver<Utf8Bytes>,
) -> Result<(), axum::Error> {
    sink.feed(Message::Text(first)).await?;
    for _ in 1..OUTBOX {
        match rx.try_recv() {
            Ok(frame) => sink.feed(Message::Text(frame)).await?,
            Err(_) => break,
        }
    }
    sink.flush().await
}

async fn finish(mut sink: SplitSink<WebSocket, Message>, end: End) {
    let last = async {
        if let Some(words) = end.last_words() {
            sink.send(Message::Text(words)).await?;
        }
        if let Some(frame) = end.close_frame() {
            sink.send(Message::Close(Some(frame))).await?;
        }
        sink.close().await
    };
    let _ = tokio::time::timeout(CLOSE_GRACE, last).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_codes_table() {
        let cases = [
            (End::Revoked("x".into()), Some(4001)),
            (End::GoingAway, Some(1001)),
            (End::Binary, Some(1003)),
            (End::TooBig, Some(1009)),
            (End::NotUtf8, Some(1007)),
            (End::Protocol, Some(1002)),
            (End::Policy("too many invalid messages"), Some(1008)),
            (End::ClientGone, None),
            (End::ClientClosed, None),
        ];
        for (end, code) in cases {
            assert_eq!(end.close_frame().map(|f| f.code), code, "{end:?}");
        }
        assert!(
            End::Revoked("bye".into())
                .last_words()
                .is_some_and(|w| w.contains("\"revoked\""))
        );
        assert!(End::GoingAway.last_words().is_none());
    }
}
