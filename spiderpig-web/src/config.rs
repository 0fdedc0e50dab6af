//! spiderpig-web's TOML configuration. Trust: read from a root-owned file at
//! start; holds no secrets (the TLS key file is read by path). A bad value
//! stops the start with a message naming the key (docs/CONFIG.md).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use spiderpig_policy::GerritBase;
use spiderpig_policy::config_key::error_key;

use crate::error::WebError;

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where to listen. Without `[tls]` it must be a loopback address.
    pub listen: SocketAddr,
    /// The origin browsers use, e.g. `https://deploy.wikimedia.org`: the only
    /// accepted `Origin` for state changes and WebSockets.
    pub public_origin: String,
    /// The executor's `Deployer` socket.
    pub executor_socket: PathBuf,
    /// Gerrit's base URL (change references and the change-details lookup).
    pub gerrit_url: String,
    /// Phabricator's base URL (`T123` links).
    #[serde(default = "default_phabricator")]
    pub phabricator_url: String,
    #[serde(default)]
    pub tls: Option<Tls>,
    #[serde(default)]
    pub timeouts: Timeouts,
    #[serde(default)]
    pub limits: Limits,
    /// `[monitoring]` (docs/CONFIG.md, "Monitoring").
    #[serde(default)]
    pub monitoring: crate::monitor::config::Monitoring,
}

/// `[tls]`: terminate TLS here with rustls.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// `[timeouts]`, seconds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Timeouts {
    pub request_secs: u64,
    pub executor_secs: u64,
    pub gerrit_secs: u64,
    pub shutdown_drain_secs: u64,
    /// An HTTP/1 connection must send a whole request head within this
    /// time, and between two requests it may stay idle no longer (slowloris,
    /// idle keep-alive connections).
    pub header_read_secs: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            request_secs: 30,
            executor_secs: 10,
            gerrit_secs: 5,
            shutdown_drain_secs: 10,
            header_read_secs: 10,
        }
    }
}

/// `[limits]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest request body.
    pub body_bytes: usize,
    /// Largest WebSocket frame and message from a browser.
    pub ws_message_bytes: usize,
    /// Events queued for one WebSocket before it is told it skipped.
    pub ws_queue: usize,
    /// Open WebSockets in all.
    pub ws_connections: usize,
    /// Open WebSockets of one session (its browser's tabs), so that one
    /// signed-in person cannot take every place under `ws_connections`.
    pub ws_per_session: usize,
    /// Open TCP connections in all (idle, handshaking or upgraded).
    pub connections: usize,
    /// Open TCP connections from one client (an IPv4 address or an IPv6
    /// /64); applied only with `[tls]`, where clients connect directly.
    pub connections_per_client: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            body_bytes: 64 * 1024,
            ws_message_bytes: 16 * 1024,
            ws_queue: 512,
            ws_connections: 1000,
            ws_per_session: 20,
            connections: 2048,
            connections_per_client: 64,
        }
    }
}

fn default_phabricator() -> String {
    "https://phabricator.wikimedia.org".into()
}

fn bad(key: &str, reason: impl Into<String>) -> WebError {
    WebError::BadConfig {
        key: key.into(),
        reason: reason.into(),
    }
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, WebError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| bad("(file)", format!("cannot read {}: {e}", path.display())))?;
        Self::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Config, WebError> {
        let config: Config = toml::from_str(text).map_err(|e| {
            // Name the key, not the text under the error's span (for a
            // mistyped value that is the value).
            let key = error_key(text, e.span().map(|span| span.start), e.message());
            bad(&key, e.message().to_string())
        })?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), WebError> {
        if self.tls.is_none() && !self.listen.ip().is_loopback() {
            return Err(bad(
                "listen",
                "plain HTTP only on a loopback address (behind the site's TLS terminator); configure [tls] otherwise",
            ));
        }
        let origin = url::Url::parse(&self.public_origin)
            .map_err(|e| bad("public_origin", format!("not a URL: {e}")))?;
        if origin.origin().ascii_serialization() != self.public_origin {
            return Err(bad(
                "public_origin",
                "must be a bare origin like https://deploy.example.org (no path, no trailing slash)",
            ));
        }
        let loopback = matches!(origin.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
        if origin.scheme() != "https" && !loopback {
            return Err(bad(
                "public_origin",
                "must be https (http only on loopback)",
            ));
        }
        GerritBase::new(&self.gerrit_url).map_err(|e| bad("gerrit_url", e.to_string()))?;
        url::Url::parse(&self.phabricator_url)
            .map_err(|e| bad("phabricator_url", format!("not a URL: {e}")))?;
        if !self.executor_socket.is_absolute() {
            return Err(bad("executor_socket", "must be an absolute path"));
        }
        let l = &self.limits;
        if l.body_bytes < 1024 || l.body_bytes > 1024 * 1024 {
            return Err(bad("limits.body_bytes", "must be between 1 KiB and 1 MiB"));
        }
        if l.ws_message_bytes < 256 || l.ws_message_bytes > 1024 * 1024 {
            return Err(bad(
                "limits.ws_message_bytes",
                "must be between 256 B and 1 MiB",
            ));
        }
        if l.ws_queue < 16 || l.ws_connections == 0 {
            return Err(bad(
                "limits",
                "ws_queue must be ≥ 16 and ws_connections > 0",
            ));
        }
        if l.ws_per_session == 0 {
            return Err(bad("limits.ws_per_session", "must be at least 1"));
        }
        if l.connections == 0
            || l.connections_per_client == 0
            || l.connections_per_client > l.connections
        {
            return Err(bad(
                "limits.connections",
                "connections and connections_per_client must be > 0, and connections_per_client ≤ connections",
            ));
        }
        let t = &self.timeouts;
        if t.request_secs == 0
            || t.executor_secs == 0
            || t.gerrit_secs == 0
            || t.header_read_secs == 0
        {
            return Err(bad("timeouts", "time-outs must be greater than 0"));
        }
        self.monitoring.validate()?;
        Ok(())
    }

    /// Is the site served over TLS (here or at the terminator)?
    pub fn is_https(&self) -> bool {
        self.public_origin.starts_with("https://")
    }

    pub fn gerrit(&self) -> GerritBase {
        GerritBase::new(&self.gerrit_url).expect("checked at load")
    }
}

#[cfg(test)]
mod tests;
