//! Sockets and gRPC plumbing for both services. Trust: this is where
//! untrusted local processes first touch the executor.
//!
//! - [`socket`]: creating the socket files safely ([`bind`]).
//! - [`incoming`]: the accept loop: SO_PEERCRED check and connection cap
//!   ([`incoming()`], [`CheckedConn`]).
//! - [`grpc`]: the tonic server with explicit limits ([`server_builder`],
//!   [`limit_deployer`], [`limit_admin`]).
//!
//! The client side of these sockets (`unix_channel`) is in `spiderpig-client`.
//!
//! Composed roughly so:
//!
//! ```ignore
//! let listener = bind(&cfg.sockets.admin, 0o660, Some(admin_gid))?;
//! server_builder(&cfg.timeouts)
//!     .add_service(limit_admin(admin_service, &cfg.limits))
//!     .serve_with_incoming_shutdown(
//!         incoming(listener, PeerPolicy::Admins { gid: admin_gid, executor_uid }, cfg.limits.max_connections),
//!         shutdown,
//!     )
//!     .await
//! ```

pub mod grpc;
pub mod incoming;
pub mod socket;

pub use grpc::{limit_admin, limit_deployer, server_builder};
pub use incoming::{CheckedConn, Refusal, incoming, incoming_with};
pub use socket::bind;
