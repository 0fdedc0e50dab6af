//! `GET /ws`: one WebSocket per browser tab, pushing queue, job, prompt,
//! freeze and log events (protocol in docs/API.md, "WebSocket /ws").
//! Trust: the browser is untrusted. Before the upgrade, `Origin` must be
//! exactly the public origin (403) and the executor must say the session
//! cookie belongs to a session that passed TOTP (401); after it, the
//! session's guard (see `guard`) closes the socket when the executor says
//! the session ended, and every `GetLog` the socket makes is authorized
//! with it.
//!
//! # Layout
//!
//! - this file: the checks before the upgrade and the socket limits.
//! - [`hub`]: what all sockets share (in `AppState`): the connection cap,
//!   the shutdown signal, the log fan-out.
//! - `conn`: one socket's life: its jobs, the writer, the close codes.
//! - [`reader`]: the browser's messages (untrusted).
//! - `events`: the socket's global events (from the shared feed) and its
//!   session's end (from its guard).
//! - `logs`: the socket's log subscription (catch-up, then the feed).
//! - `fanout`: per-job feeds, each record serialised once for all watchers,
//!   and the one feed of global events, each serialised once for all sockets.
//! - `upstream`: a feed's one executor Watch stream.
//! - `guard`: the sessions with a socket; a session's end (logout, ban,
//!   expiry), told by the shared feed, closes all its sockets at once.
//! - [`protocol`]: JSON frames and close codes.
//! - `retry`: backoff, and what an executor error means for a socket.

mod conn;
mod events;
mod fanout;
mod guard;
pub mod hub;
mod logs;
pub mod protocol;
pub mod reader;
mod retry;
mod upstream;

use axum::Json;
use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

pub use hub::WsHub;

use crate::auth;
use crate::error::{ErrorBody, WebError};
use crate::request::Meta;
use crate::state::AppState;

/// Bytes tungstenite reads from a socket at a time. Its default, 128 KiB, is
/// zero-filled on the first read, so every open socket kept 128 KiB resident
/// for a browser that sends a few small `watch` and `ping` messages; larger
/// messages (up to `limits.ws_message_bytes`) are read in several chunks.
const READ_BUFFER: usize = 4 * 1024;

/// `GET /ws`. Checks, in order: Origin (403), the session (401; 503 if the
/// executor is down), a WebSocket handshake, room under the cap (503).
pub async fn upgrade(
    State(state): State<AppState>,
    Meta(origin): Meta,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    if let Err(e) = check_origin(&headers, &state.config.public_origin) {
        tracing::info!(client = %origin.client_addr, request_id = %origin.request_id, "websocket refused: {e}");
        return e.into_response();
    }
    let me = match auth::who(&state, &headers, &origin, true).await {
        Ok(me) => me,
        Err(e) => return e.into_response(),
    };
    let ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => return rejection.into_response(),
    };
    let Some(permit) = state.ws.admit() else {
        return full();
    };
    let per_session = state.config.limits.ws_per_session;
    let viewer = me.viewer();
    let held = state
        .ws
        .guards()
        .hold(&me.token, &viewer.username, &origin, per_session);
    let Some(session) = held else {
        return session_full(per_session);
    };
    // Held: from now on the guard hears of the session's end. Ask once more,
    // for an end that came between the check above and now.
    if let Err(e) = auth::who(&state, &headers, &origin, true).await {
        return e.into_response();
    }
    let limit = state.config.limits.ws_message_bytes;
    let conn = conn::Conn {
        hub: state.ws.clone(),
        session,
        executor: state.executor.clone(),
        viewer,
        token: me.token,
        origin,
    };
    // Both limits, so neither one big frame nor many fragments can make
    // tungstenite buffer more than `limit` bytes of a browser's message.
    ws.max_frame_size(limit)
        .max_message_size(limit)
        .read_buffer_size(READ_BUFFER)
        .on_upgrade(move |socket| conn::run(socket, conn, permit))
}

/// A WebSocket handshake must carry exactly one `Origin`, equal to the
/// public origin. Unlike form posts, no `Sec-Fetch-Site` fallback: every
/// browser sends `Origin` on a WebSocket handshake (RFC 6455 §4.1).
pub fn check_origin(headers: &HeaderMap, public_origin: &str) -> Result<(), WebError> {
    let mut origins = headers.get_all(header::ORIGIN).iter();
    match (origins.next(), origins.next()) {
        (Some(o), None) if o.as_bytes() == public_origin.as_bytes() => Ok(()),
        (None, _) => Err(WebError::CrossSite("WebSocket without Origin")),
        _ => Err(WebError::CrossSite("cross-origin WebSocket")),
    }
}

/// 503 when `limits.ws_connections` sockets are open (or shutting down).
fn full() -> Response {
    let body = ErrorBody {
        error: "ws_full",
        message: "too many live connections right now; the page will retry".into(),
    };
    let mut res = (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    res
}

/// 429 when this session has `limits.ws_per_session` sockets open already.
fn session_full(max: usize) -> Response {
    let body = ErrorBody {
        error: "ws_session_full",
        message: format!(
            "this session has {max} live connections open already: close a tab and reload"
        ),
    };
    (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGIN: &str = "https://deploy.example.com";

    #[test]
    fn ws_origin_table() {
        let cases: &[(&[&'static str], bool)] = &[
            (&[ORIGIN], true),
            (&[], false),
            (&["null"], false),
            (&["https://evil.example"], false),
            (&["https://deploy.example.evil.com"], false),
            (&["https://deploy.example.com.evil.com"], false),
            (&["http://deploy.example.com"], false),
            (&["https://deploy.example.com:443"], false),
            (&["https://deploy.example.com/"], false),
            (&[ORIGIN, "https://evil.example"], false),
            (&[ORIGIN, ORIGIN], false),
        ];
        for (values, ok) in cases {
            let mut h = HeaderMap::new();
            for v in *values {
                h.append(header::ORIGIN, HeaderValue::from_static(v));
            }
            assert_eq!(check_origin(&h, ORIGIN).is_ok(), *ok, "{values:?}");
        }
        let mut same_site = HeaderMap::new();
        same_site.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(
            check_origin(&same_site, ORIGIN).is_err(),
            "no Sec-Fetch-Site fallback"
        );
    }
}
