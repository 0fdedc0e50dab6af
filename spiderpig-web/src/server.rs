//! Listening and shutdown. Trust: internal.
//!
//! With `[tls]` the process terminates TLS itself (rustls, ring provider);
//! without it, it listens on loopback only, behind the site's terminator.
//! Accepted connections get `TCP_NODELAY`: WebSocket frames are small
//! writes, and with Nagle's algorithm each one waited for the ACK of the one
//! before, which the browser's side delays by up to 40 ms.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum_server::Handle;
use axum_server::accept::NoDelayAcceptor;
use axum_server::tls_rustls::RustlsConfig;

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
    let result = match tls {
        Some(tls) => {
            let rustls = RustlsConfig::from_pem_file(&tls.cert, &tls.key)
                .await
                .map_err(|e| WebError::BadConfig {
                    key: "tls".into(),
                    reason: e.to_string(),
                })?;
            axum_server::from_tcp_rustls(listener, rustls)
                .map_err(|e| WebError::Internal(format!("listener: {e}")))?
                .map(|tls| tls.acceptor(NoDelayAcceptor::new()))
                .handle(handle)
                .serve(router)
                .await
        }
        None => {
            axum_server::from_tcp(listener)
                .map_err(|e| WebError::Internal(format!("listener: {e}")))?
                .acceptor(NoDelayAcceptor::new())
                .handle(handle)
                .serve(router)
                .await
        }
    };
    // Let the sockets' close frames go out, within the same drain time.
    let _ = tokio::time::timeout(drain, ws.closed()).await;
    result.map_err(|e| WebError::Internal(format!("server: {e}")))
}
