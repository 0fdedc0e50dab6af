//! spiderpig-web: SpiderPig's unprivileged, internet-facing process.
//!
//! It serves pages, embedded assets, the JSON API and one WebSocket per
//! browser tab, and relays every request to spiderpig-executor with the
//! person's session token. It holds no secrets and decides nothing: a
//! compromised web process can only act for people using it at the time.
//!
//! # Layout
//!
//! - [`config`]: the TOML configuration and its checks.
//! - [`error`]: the crate's error enum and its mapping to HTTP.
//! - [`app`]: the router (`app(state) -> Router`).
//! - [`security`]: security headers, Origin and CSRF checks.
//! - [`cookies`]: the `__Host-` cookies.
//! - [`request`]: per-request facts (address, user agent, CSRF token) and
//!   the request id (middleware, span, shown in internal errors).
//! - [`extract`]: the extractors that replace handler preambles: `SignedIn`
//!   (who is asking, per surface) and `StateChange` (Origin, CSRF, size,
//!   content type, body).
//! - [`auth`]: asking the executor who holds a session.
//! - [`executor`]: the `Deployer` client handle: `spiderpig_client`'s typed
//!   `DeployerClient` (the raw one only for Watch streams and VerifyTotp).
//! - [`gerrit`]: Gerrit's REST API (change details before submitting).
//! - [`views`]: JSON shapes of the API and the WebSocket, in the policy's
//!   vocabulary; each job view carries the actions its [`views::Viewer`] may
//!   take now.
//! - [`api`]: the JSON API under `/api/` (docs/API.md).
//! - [`links`]: untrusted text as escaped markup with Phabricator and Gerrit links.
//! - [`monitor`]: the monitoring panels: one Prometheus poller for all viewers,
//!   the spike rule, the `metrics` frame.
//! - [`pages`]: server-rendered pages, and `script#vocab`, the page script's
//!   words as data ([`pages::vocab`]).
//! - [`ws`]: the WebSocket `/ws` (live queue, job, prompt, freeze and log
//!   events; one shared log feed per watched job, one shared feed of the
//!   global events, which also tells of every session's end).
//! - [`assets`]: embedded static files.
//! - [`admit`]: connection caps (in all, and per client with `[tls]`).
//! - [`server`]: listening (TLS with rustls, or loopback HTTP) and shutdown.
//! - [`state`]: what every handler shares (configuration, the executor and
//!   Gerrit clients, the WebSocket hub); no secrets.
#![forbid(unsafe_code)]

pub mod admit;
pub mod api;
pub mod app;
pub mod assets;
pub mod auth;
pub mod config;
pub mod cookies;
pub mod error;
pub mod executor;
pub mod extract;
pub mod gerrit;
pub mod links;
pub mod monitor;
pub mod pages;
pub mod request;
pub mod security;
pub mod server;
pub mod state;
pub mod views;
pub mod ws;

pub use app::app;
pub use error::WebError;
