//! Listening and shutdown. Trust: internal.
//!
//! With `[tls]` the process terminates TLS itself (rustls, ring provider);
//! without it, it listens on loopback only, behind the site's terminator.
//! Accepted connections get `TCP_NODELAY`: WebSocket frames are small
//! writes, and with Nagle's algorithm each one waited for the ACK of the one
//! before, which the browser's side delays by up to 40 ms.
//!
//! Connections are capped ([`crate::admit`]: in all, and per client with
//! `[tls]`) and time-limited: rustls's acceptor bounds the TLS handshake
//! (10 s), hyper the HTTP/1 request head and the idle time between requests
//! (`timeouts.header_read_secs`; axum-server turns hyper's default off), and
//! HTTP/2 connections are pinged and closed when the pings go unanswered.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum_server::Handle;
use axum_server::accept::NoDelayAcceptor;
use axum_server::tls_rustls::RustlsConfig;

use crate::admit::Caps;
use crate::app::app;
use crate::config::Config;
use crate::error::WebError;
use crate::state::AppState;

/// Serve until `shutdown` resolves; then drain for at most the configured
/// time (open WebSockets get a close frame from their handlers).
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), WebError> {
    let listener = std::net::TcpListener::bind(config.listen).map_err(|e| WebError::BadConfig {
        key: "listen".into(),
        reason: format!("cannot listen on {}: {e}", config.listen),
    })?;
    run_on(listener, config, shutdown).await
}

/// [`run`] on a listener bound by the caller (tests bind port 0 first, so
/// that `public_origin` can name the port; `config.listen` is not used).
pub async fn run_on(
    listener: std::net::TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), WebError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let drain = Duration::from_secs(config.timeouts.shutdown_drain_secs);
    let tls = config.tls.clone();
    let limits = config.limits.clone();
    let header_read = Duration::from_secs(config.timeouts.header_read_secs);
    let state = AppState::new(config);
    let ws = state.ws.clone();
    // One monitoring poller for the process; it stops with the sockets.
    tokio::spawn(ws.monitor().clone().run(ws.shutdown_signal().clone()));
    let router = app(state).into_make_service_with_connect_info::<SocketAddr>();
    let handle = Handle::new();
    let h = handle.clone();
    let ws_signal = ws.clone();
    tokio::spawn(async move {
        shutdown.await;
        // Upgraded sockets are no longer the HTTP server's: tell them first
        // (close 1001), then drain HTTP.
        ws_signal.shutdown();
        h.graceful_shutdown(Some(drain));
    });
    let per_client = tls.is_some().then_some(limits.connections_per_client);
    let caps = Caps::new(limits.connections, per_client);
    let result = match tls {
        Some(tls) => {
            let rustls = RustlsConfig::from_pem_file(&tls.cert, &tls.key)
                .await
                .map_err(|e| WebError::BadConfig {
                    key: "tls".into(),
                    reason: e.to_string(),
                })?;
            let mut server = axum_server::from_tcp_rustls(listener, rustls)
                .map_err(|e| WebError::Internal(format!("listener: {e}")))?
                .map(|tls| tls.acceptor(caps.acceptor(NoDelayAcceptor::new())));
            set_timeouts(server.http_builder(), header_read);
            server.handle(handle).serve(router).await
        }
        None => {
            let mut server = axum_server::from_tcp(listener)
                .map_err(|e| WebError::Internal(format!("listener: {e}")))?
                .acceptor(caps.acceptor(NoDelayAcceptor::new()));
            set_timeouts(server.http_builder(), header_read);
            server.handle(handle).serve(router).await
        }
    };
    // Let the sockets' close frames go out, within the same drain time.
    let _ = tokio::time::timeout(drain, ws.closed()).await;
    result.map_err(|e| WebError::Internal(format!("server: {e}")))
}

/// How long a connection may take to send a request head, or stay idle
/// between requests (HTTP/1; hyper starts the timer whenever it waits for a
/// head); how often an HTTP/2 connection is pinged, and how long its answer
/// may take.
fn set_timeouts(
    builder: &mut hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>,
    header_read: Duration,
) {
    builder.http1().header_read_timeout(header_read);
    builder
        .http2()
        .keep_alive_interval(header_read)
        .keep_alive_timeout(header_read);
}
