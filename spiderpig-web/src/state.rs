//! Shared state of the web process. Trust: holds no secrets: no client
//! secret, no TOTP seeds, no session table — only the configuration and
//! clients for the executor and Gerrit.

use std::sync::Arc;

use crate::config::Config;
use crate::executor::Executor;
use crate::gerrit::Gerrit;

/// Cloned into every handler.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub executor: Executor,
    pub gerrit: Gerrit,
}

impl AppState {
    pub fn new(config: Config) -> AppState {
        let executor = Executor::new(
            config.executor_socket.clone(),
            std::time::Duration::from_secs(config.timeouts.executor_secs),
        );
        let gerrit = Gerrit::new(&config);
        AppState {
            config: Arc::new(config),
            executor,
            gerrit,
        }
    }
}
