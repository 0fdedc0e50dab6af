//! spiderpig-client: the one client of spiderpig-executor.
//!
//! Everything that talks to the executor from outside it goes through this
//! crate: spiderpig-web, `ctl`, the tests and the bench. It sits beside the
//! contract (`spiderpig-proto`) as OpenSSH's `monitor_wrap.c` sits beside
//! `monitor.c`: the monitor decides, and every request the unprivileged side
//! can make of it is written here once. Trust: unprivileged; nothing here is
//! a check the executor relies on.
//!
//! # Layout
//!
//! - [`channel`]: the lazy tonic channel over a Unix socket
//!   ([`unix_channel`], [`ChannelTimeouts`]), for both sockets.
//! - [`error_kind`]: [`ErrorKind`], the outcome names of the
//!   `spiderpig-error` metadata entry, set by the executor and read by
//!   clients.
//! - [`deployer`]: [`DeployerClient`], one method per `Deployer` RPC taking
//!   a [`Session`], a [`RequestContext`] and `policy` newtypes.
#![forbid(unsafe_code)]

pub mod channel;
pub mod deployer;
pub mod error_kind;

pub use channel::{ChannelTimeouts, unix_channel, unix_channel_on, unix_channel_with};
pub use deployer::{Answer, DeployerClient, JobFilter, RequestContext, Session};
pub use error_kind::{ERROR_KIND_KEY, ErrorKind};
