//! spiderpig-executor: the monitor of SpiderPig's privilege separation.
//!
//! Every decision that matters is taken here; spiderpig-web can only ask.
//! This process authenticates people (OIDC, TOTP, sessions), authorizes every
//! call, owns the redb store, runs scap through the policy allowlist, redacts
//! security-patch output, and serves the `Admin` service. The admin client
//! itself is the separate `spiderpig-ctl` crate; `spiderpig-executor ctl` is
//! only its entry point.
//!
//! # Layout
//!
//! - [`config`]: the TOML configuration and its checks.
//! - [`clock`]: injected wall-clock time.
//! - [`error`]: the crate's error enum and its one mapping to gRPC statuses.
//! - [`store`]: the redb file: users, sessions, jobs, queue, prompts, logs,
//!   freeze, audit; every state change and its audit record in one transaction.
//! - [`auth`]: OIDC authorization-code flow with PKCE, TOTP, session tokens.
//! - [`runner`]: spawning scap (allowlisted argv, cleared environment, own
//!   process group), decoding machine mode, redaction, prompts, time-outs.
//! - [`hub`]: fan-out of live events to watch streams with bounded buffers.
//! - [`engine`]: every decision and state change, as a façade over four
//!   components with one lock each: sessions, the queue and deployment lock,
//!   scap's runs, job logs.
//! - [`peer`]: SO_PEERCRED checks for both sockets.
//! - [`server`]: socket setup, the connection gate (peer check, cap) and gRPC limits.
//! - [`rpc`]: the `Deployer` and `Admin` services (input is untrusted);
//!   `rpc::verbs` is the Deployer's dispatch table (a phase per verb).
//! - [`wire`]: the one mapping between the engine's values and protocol
//!   messages, for `rpc` and for the engine's publishing through the hub.
//! - [`daemon`]: `serve`: assembling everything and running until shutdown.
//! - [`retention`]: pruning of old job logs.

pub mod auth;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod engine;
pub mod error;
pub mod hub;
pub mod peer;
pub mod retention;
pub mod rpc;
pub mod runner;
pub mod server;
pub mod store;
pub mod wire;

pub use error::{ExecutorError, Result};
