//! The whole stack for tests: an executor [`Harness`] (real IDP, fake-scap,
//! injected clock), the [`GerritStandIn`], and spiderpig-web itself, run
//! in-process over HTTPS with a self-signed certificate for `127.0.0.1`.
//! [`Browser`] is a cookie-keeping HTTPS client that trusts that
//! certificate and signs in like a person would (IDP forms, TOTP page);
//! [`WsClient`] (module [`ws`]) is a WebSocket client over the same TLS.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use spiderpig_tests::web::{WebHarness, WebOptions};
//! let web = WebHarness::start(WebOptions::default()).await?;
//! let mut ann = web.browser();
//! ann.login("deployer1", "deployer1-pass").await?;
//! let me = ann.get("/api/me").await?;
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use spiderpig_executor::auth::totp::{TotpSecret, code_at, step_at};
use spiderpig_executor::clock::{Clock, ManualClock};
use tokio::sync::oneshot;

use crate::executor::{Harness, HarnessOptions};
use crate::gerrit::{FakeChange, GerritStandIn, default_changes};

mod browser;
mod jobs;
pub mod ws;

pub use self::browser::{Browser, LoginTrace, cookie_value, meta_csrf, set_cookies};
pub use self::jobs::{assert_only_page_scripts, id_of};
pub use self::ws::{Frame, WsClient, refused_error, refused_status, server_nodelay, tcp_state};

/// Knobs for a [`WebHarness`].
#[derive(Debug, Clone)]
pub struct WebOptions {
    /// The executor's; `redirect_url` is replaced by the web's callback.
    pub harness: HarnessOptions,
    /// What the Gerrit stand-in knows.
    pub gerrit: Vec<FakeChange>,
    /// Lines of web.toml's `[limits]`, e.g. `ws_queue = 16`.
    pub limits: Vec<String>,
    /// `timeouts.shutdown_drain_secs`.
    pub drain_secs: u64,
    /// More lines of web.toml's `[timeouts]`, e.g. `header_read_secs = 1`.
    pub timeouts: Vec<String>,
    /// Lines of web.toml's `[monitoring]` (absent when empty), e.g.
    /// `prometheus_url = "http://127.0.0.1:9090"`.
    pub monitoring: Vec<String>,
}

impl Default for WebOptions {
    fn default() -> Self {
        WebOptions {
            harness: HarnessOptions::default(),
            gerrit: default_changes(),
            limits: Vec::new(),
            drain_secs: 3,
            timeouts: Vec::new(),
            monitoring: Vec::new(),
        }
    }
}

/// A running spiderpig-web task.
struct RunningWeb {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), spiderpig_web::WebError>>,
}

/// Executor + IDP + Gerrit stand-in + spiderpig-web over HTTPS.
pub struct WebHarness {
    pub exec: Harness,
    pub gerrit: GerritStandIn,
    /// `https://127.0.0.1:<port>`: the web's `public_origin`.
    pub origin: String,
    pub addr: SocketAddr,
    pub config_path: PathBuf,
    pub config: spiderpig_web::config::Config,
    /// The web's certificate (PEM), the only root [`Browser`]s trust.
    pub cert_pem: String,
    tls: Arc<rustls::ClientConfig>,
    secrets: Secrets,
    web: Option<RunningWeb>,
    _dir: tempfile::TempDir,
}

/// TOTP secrets read from enrolment pages, and the last step each user
/// spent, by user name.
pub(crate) type Secrets = Arc<Mutex<HashMap<String, Enrolled>>>;

#[derive(Debug, Clone)]
pub(crate) struct Enrolled {
    /// Base32, as the enrolment page showed it.
    pub(crate) secret: String,
    pub(crate) last_step: Option<u64>,
}

fn toml_str(s: &str) -> String {
    serde_json::to_string(s).expect("string")
}

impl WebHarness {
    /// Start everything; the web listens on a fresh loopback port.
    pub async fn start(opts: WebOptions) -> anyhow::Result<WebHarness> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        // The port first: the IDP, the executor and public_origin name it.
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let origin = format!("https://{addr}");
        let mut harness = opts.harness.clone();
        harness.redirect_url = format!("{origin}/oidc/callback");
        let exec = Harness::start(harness).await?;
        let gerrit = GerritStandIn::start(opts.gerrit.clone()).await?;

        let dir = tempfile::Builder::new()
            .prefix("spiderpig-web-")
            .tempdir()?;
        let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()])?;
        let cert_pem = certified.cert.pem();
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        std::fs::write(&cert, &cert_pem)?;
        std::fs::write(&key, certified.signing_key.serialize_pem())?;
        let mut roots = rustls::RootCertStore::empty();
        roots.add(certified.cert.der().clone())?;
        let tls = Arc::new(
            rustls::ClientConfig::builder()
                .with_root_certificates(roots)
                .with_no_client_auth(),
        );

        let text = format!(
            "listen = {listen}\npublic_origin = {origin_s}\nexecutor_socket = {socket}\n\
             gerrit_url = {gerrit_url}\n\n[tls]\ncert = {cert}\nkey = {key}\n\n\
             [timeouts]\nshutdown_drain_secs = {drain}\n{timeouts}\n\n[limits]\n{limits}\n{monitoring}",
            listen = toml_str(&addr.to_string()),
            origin_s = toml_str(&origin),
            socket = toml_str(&exec.config.sockets.executor.display().to_string()),
            gerrit_url = toml_str(&gerrit.url),
            cert = toml_str(&cert.display().to_string()),
            key = toml_str(&key.display().to_string()),
            drain = opts.drain_secs,
            timeouts = opts.timeouts.join("\n"),
            limits = opts.limits.join("\n"),
            monitoring = if opts.monitoring.is_empty() {
                String::new()
            } else {
                format!("\n[monitoring]\n{}\n", opts.monitoring.join("\n"))
            },
        );
        let config_path = dir.path().join("web.toml");
        std::fs::write(&config_path, &text)?;
        let config = spiderpig_web::config::Config::load(&config_path)
            .map_err(|e| anyhow!("web.toml: {e}"))?;
        let mut web = WebHarness {
            exec,
            gerrit,
            origin,
            addr,
            config_path,
            config,
            cert_pem,
            tls,
            secrets: Arc::default(),
            web: None,
            _dir: dir,
        };
        web.run_web(listener);
        Ok(web)
    }

    fn run_web(&mut self, listener: std::net::TcpListener) {
        let (stop, stopped) = oneshot::channel::<()>();
        let config = self.config.clone();
        let task = tokio::spawn(spiderpig_web::server::run_on(
            listener,
            config,
            async move {
                let _ = stopped.await;
            },
        ));
        self.web = Some(RunningWeb { stop, task });
    }

    /// Start the web again on the same port and configuration.
    pub async fn start_web(&mut self) -> anyhow::Result<()> {
        if self.web.is_some() {
            bail!("the web is running");
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        let listener = loop {
            match std::net::TcpListener::bind(self.addr) {
                Ok(l) => break l,
                // The old listener's port may linger for a moment.
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => return Err(e).context(format!("bind {} again", self.addr)),
            }
        };
        self.run_web(listener);
        Ok(())
    }

    /// Stop the web as SIGTERM would, and wait for `run` to return (at most
    /// `limit`). Returns how long that took.
    pub async fn stop_web(&mut self, limit: Duration) -> anyhow::Result<Duration> {
        let web = self.web.take().context("the web is not running")?;
        let started = Instant::now();
        let _ = web.stop.send(());
        match tokio::time::timeout(limit, web.task).await {
            Ok(Ok(Ok(()))) => Ok(started.elapsed()),
            Ok(Ok(Err(e))) => bail!("spiderpig-web stopped with an error: {e}"),
            Ok(Err(e)) => bail!("spiderpig-web panicked: {e}"),
            Err(_) => bail!("spiderpig-web did not stop within {limit:?}"),
        }
    }

    /// The TLS client settings [`Browser`]s use (trusting only the web's
    /// certificate), for tests that speak to the socket byte by byte.
    pub fn tls_client(&self) -> Arc<rustls::ClientConfig> {
        self.tls.clone()
    }

    /// A fresh browser: empty cookie jar, trusts only the web's certificate.
    pub fn browser(&self) -> Browser {
        Browser::new(
            &self.origin,
            &self.cert_pem,
            self.tls.clone(),
            self.exec.clock.clone(),
            self.secrets.clone(),
        )
    }

    /// Open `/ws` with exactly these extra headers (none are added: no
    /// Origin, no Cookie unless given). `recv_buffer`: a small kernel
    /// receive buffer, for a client that stops reading.
    pub async fn ws_raw(
        &self,
        headers: &[(&str, &str)],
        recv_buffer: Option<u32>,
    ) -> Result<WsClient, tokio_tungstenite::tungstenite::Error> {
        WsClient::connect(self.addr, self.tls.clone(), headers, recv_buffer).await
    }

    /// The TOTP secret `user` enrolled with through a [`Browser`].
    pub fn totp_secret(&self, user: &str) -> Option<TotpSecret> {
        let secrets = self.secrets.lock().unwrap_or_else(|e| e.into_inner());
        secrets
            .get(user)
            .and_then(|e| TotpSecret::from_base32(&e.secret).ok())
    }

    /// A code `user` has not used yet (see [`fresh_code`]).
    pub fn fresh_totp(&self, user: &str) -> anyhow::Result<String> {
        fresh_code(&self.exec.clock, &self.secrets, user)
    }
}

impl Drop for WebHarness {
    fn drop(&mut self) {
        if let Some(web) = self.web.take() {
            let _ = web.stop.send(());
            web.task.abort();
        }
    }
}

/// A code for a step after the last one `user` spent: each code is usable
/// once, and never one older than the last used. The executor accepts the
/// steps T−1, T and T+1 of its clock, so the harness clock only moves on
/// when a user needs more than that. (It must not run far ahead of the real
/// time either: the executor checks the ID token's `iat` against it.)
pub(crate) fn fresh_code(
    clock: &ManualClock,
    secrets: &Secrets,
    user: &str,
) -> anyhow::Result<String> {
    let mut all = secrets.lock().unwrap_or_else(|e| e.into_inner());
    let enrolled = all.get_mut(user).context("user has not enrolled")?;
    let secret = TotpSecret::from_base32(&enrolled.secret)?;
    let now = step_at(clock.now_ms());
    let step = enrolled.last_step.map_or(now.saturating_sub(1), |last| {
        (last + 1).max(now.saturating_sub(1))
    });
    if step > now + 1 {
        // Into step `step - 1`, one second past its start.
        let target = i64::try_from((step - 1) * 30_000 + 1_000)?;
        clock.advance_ms(target - clock.now_ms());
    }
    enrolled.last_step = Some(step);
    Ok(code_at(&secret, step))
}

/// Bring the harness clock up to the real time (never back): the IDP signs
/// its ID tokens with the real time.
pub(crate) fn catch_up(clock: &ManualClock) {
    let real = spiderpig_executor::clock::SystemClock.now_ms();
    let now = clock.now_ms();
    if real > now {
        clock.advance_ms(real - now);
    }
}
