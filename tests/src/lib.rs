//! Test support for SpiderPig: harnesses shared by the end-to-end tests.
//!
//! # Layout
//!
//! - [`idp`]: the real OpenID Provider (npm `oidc-provider`) on loopback, and
//!   a form-filling login.
//! - [`bins`]: finding (and building) the workspace's binaries.
//! - [`drive`]: a deployer that drives jobs through `spiderpig_client`'s
//!   `DeployerClient`; `submit_unchecked` and `respond_line` send hostile
//!   input as given.
//! - [`executor`]: a whole executor with the IDP and fake-scap in a temp dir.
//! - [`gerrit`]: a Gerrit REST stand-in on loopback (`GET /r/changes/{n}`).
//! - [`prometheus`]: a real Prometheus over generated MediaWiki error data
//!   (the monitoring tests and the demo).
//! - [`web`]: the whole stack: executor, Gerrit stand-in and spiderpig-web
//!   over HTTPS, with a cookie-keeping browser and a WebSocket client.
//!
//! The `fake-scap` binary (src/bin/fake-scap) stands in for scap.

pub mod bins;
pub mod drive;
pub mod executor;
pub mod gerrit;
pub mod idp;
pub mod prometheus;
pub mod web;
