//! The browser's messages. Trust: untrusted input. Frame and message sizes
//! are capped by tungstenite before anything is buffered; text is parsed
//! into `ClientMsg`; anything else is counted and ignored, and too many
//! invalid (or too many) messages close the socket.

use std::time::{Duration, Instant};

use axum::extract::ws::{Message, WebSocket};
use futures::StreamExt;
use futures::stream::SplitStream;
use tokio::sync::watch;

use super::conn::{Ctx, End};
use super::logs::Target;
use super::protocol::{self, ClientMsg, ServerMsg};

/// Invalid messages ignored before the socket is closed with 1008.
pub const MAX_INVALID: u32 = 10;
/// Messages (of any kind, pings included) allowed per window. A page sends
/// a `watch` when it opens a job and a `ping` now and then.
const MAX_PER_WINDOW: u32 = 100;
const WINDOW: Duration = Duration::from_secs(10);

/// Read until the browser closes, breaks a rule, or goes away. A `watch`
/// replaces the log subscription through `target`.
pub async fn run(
    ctx: &Ctx,
    mut stream: SplitStream<WebSocket>,
    target: watch::Sender<Option<Target>>,
) -> End {
    let mut invalid = 0;
    let mut rate = Rate::new(Instant::now());
    while let Some(msg) = stream.next().await {
        if !rate.allow(Instant::now()) {
            return End::Policy("too many messages");
        }
        let text = match msg {
            Err(e) => return read_error(e),
            Ok(Message::Text(text)) => text,
            Ok(Message::Binary(_)) => return End::Binary,
            // tungstenite answers pings itself.
            Ok(Message::Ping(_) | Message::Pong(_)) => continue,
            Ok(Message::Close(_)) => return End::ClientClosed,
        };
        match protocol::parse(&text) {
            Some(ClientMsg::Watch { job, after_seq }) => {
                target.send_replace(Target::new(job, after_seq));
            }
            Some(ClientMsg::Ping) => ctx.out.offer(&ServerMsg::Heartbeat {
                at_ms: protocol::now_ms(),
            }),
            None => {
                ctx.conn.hub.count_invalid();
                invalid += 1;
                tracing::debug!(invalid, "ignored an invalid websocket message");
                if invalid >= MAX_INVALID {
                    return End::Policy("too many invalid messages");
                }
            }
        }
    }
    End::ClientGone
}

/// Map a read error to a close. After one, nothing more is read: tungstenite
/// would go on buffering the oversized frame.
fn read_error(e: axum::Error) -> End {
    use tungstenite::error::{Error, ProtocolError};
    let Ok(e) = e.into_inner().downcast::<Error>() else {
        return End::ClientGone;
    };
    match *e {
        Error::Capacity(_) => End::TooBig,
        Error::Utf8(_) => End::NotUtf8,
        Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => End::ClientGone,
        Error::Protocol(_) => End::Protocol,
        _ => End::ClientGone,
    }
}

/// A fixed window counter.
struct Rate {
    start: Instant,
    count: u32,
}

impl Rate {
    fn new(now: Instant) -> Rate {
        Rate {
            start: now,
            count: 0,
        }
    }

    fn allow(&mut self, now: Instant) -> bool {
        if now.duration_since(self.start) >= WINDOW {
            *self = Rate::new(now);
        }
        self.count += 1;
        self.count <= MAX_PER_WINDOW
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_frames_close_with_1009_and_binary_utf8_errors_map() {
        use tungstenite::error::{CapacityError, Error};
        let cases = [
            (
                Error::Capacity(CapacityError::MessageTooLong {
                    size: 20,
                    max_size: 10,
                }),
                End::TooBig,
            ),
            (Error::Utf8("bad".into()), End::NotUtf8),
            (Error::ConnectionClosed, End::ClientGone),
        ];
        for (err, end) in cases {
            assert_eq!(read_error(axum::Error::new(err)), end);
        }
        assert_eq!(
            read_error(axum::Error::new(std::io::Error::other("x"))),
            End::ClientGone
        );
    }

    #[test]
    fn rate_allows_a_window_then_refuses_until_it_rolls() {
        let t0 = Instant::now();
        let mut r = Rate::new(t0);
        assert!((0..MAX_PER_WINDOW).all(|_| r.allow(t0)));
        assert!(!r.allow(t0 + WINDOW / 2));
        assert!(r.allow(t0 + WINDOW));
    }
}
