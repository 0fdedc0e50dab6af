//! Shared state of the web process. Trust: holds no secrets: no client
//! secret, no TOTP seeds, no session table — only the configuration,
//! clients for the executor and Gerrit, and the WebSocket hub (which lends
//! open sockets' session tokens to their log feeds while they are open, and
//! holds the monitoring poller's latest frame).

use std::sync::Arc;

use crate::config::Config;
use crate::executor::Executor;
use crate::gerrit::Gerrit;
use crate::monitor::Monitor;
use crate::ws::WsHub;

/// Cloned into every handler.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub executor: Executor,
    pub gerrit: Gerrit,
    /// Open WebSockets: their cap, shutdown signal and log fan-out.
    pub ws: WsHub,
}

impl AppState {
    pub fn new(config: Config) -> AppState {
        let executor = Executor::new(
            config.executor_socket.clone(),
            std::time::Duration::from_secs(config.timeouts.executor_secs),
        );
        let gerrit = Gerrit::new(&config);
        let monitor = Monitor::from_config(&config.monitoring);
        let ws = WsHub::with_monitor(&config.limits, executor.clone(), monitor);
        AppState {
            config: Arc::new(config),
            executor,
            gerrit,
            ws,
        }
    }
}
