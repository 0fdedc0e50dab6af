//! The tonic server, with every limit set on purpose rather than inherited.
//! Trust: these limits are what stands between a misbehaving (or taken-over)
//! spiderpig-web and the executor's memory and threads.
//!
//! # How the request timeout applies (tonic 0.14, checked in its source and
//! # by `tests/tests/sockets.rs`)
//!
//! `Server::timeout(d)` wraps each request's *response future* — the future
//! that resolves to the response headers — in a timer (tonic's internal
//! `GrpcTimeout` layer). For a unary call that is the whole call: decoding
//! the request, the handler, encoding the reply. For a server stream such as
//! `Deployer.Watch` it bounds only the time until the handler returns the
//! stream; the stream's body then runs for as long as it likes. A request
//! that exceeds it ends with `CANCELLED` "Timeout expired" (tonic's mapping,
//! not `DEADLINE_EXCEEDED`).
//!
//! A `grpc-timeout` header sent by the client is parsed by the same layer,
//! and the shorter of the header and the server's timeout wins — a client can
//! shorten the bound, never lengthen it; it does not cut a stream either. The
//! client-side `Endpoint::timeout` (see [`super::channel`]) has the same
//! "until the headers" meaning and sends no header.
//!
//! Compression is not enabled on any service, so a small compressed message
//! cannot expand past the size limits.

use std::time::Duration;

use spiderpig_proto::v1::admin_server::{Admin, AdminServer};
use spiderpig_proto::v1::deployer_server::{Deployer, DeployerServer};
use tonic::transport::Server;

use crate::config::{Limits, Timeouts};

/// In-flight requests per connection (the web multiplexes every browser's
/// calls over one connection). A request's slot is held until its response
/// headers are sent, so open `Watch` streams do not use one. Beyond this,
/// requests fail at once with `RESOURCE_EXHAUSTED` instead of queueing in
/// memory.
pub const CONCURRENT_REQUESTS_PER_CONNECTION: usize = 128;

/// Open HTTP/2 streams per connection. Each open `Watch` (one per browser
/// tab) holds one until it ends, so this bounds the tabs one web process can
/// serve; it must stay well above the web's own cap on WebSockets.
pub const MAX_STREAMS_PER_CONNECTION: u32 = 1024;

/// HTTP/2 PING interval and how long to wait for the answer: finds peers
/// that hang (stopped, deadlocked) while holding a connection.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(20);
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// HTTP/2 frame and header-list sizes (the protocol's minimum frame size;
/// our metadata is a few short headers).
pub const MAX_FRAME_BYTES: u32 = 16 * 1024;
pub const MAX_HEADER_LIST_BYTES: u32 = 16 * 1024;

/// A tonic server builder with the executor's limits. Message sizes are per
/// service: wrap services with [`limit_deployer`] / [`limit_admin`].
pub fn server_builder(timeouts: &Timeouts) -> Server {
    Server::builder()
        .timeout(Duration::from_secs(timeouts.grpc_request_secs.max(1)))
        .concurrency_limit_per_connection(CONCURRENT_REQUESTS_PER_CONNECTION)
        .load_shed(true)
        .max_concurrent_streams(MAX_STREAMS_PER_CONNECTION)
        .http2_keepalive_interval(Some(KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT))
        .max_frame_size(MAX_FRAME_BYTES)
        .http2_max_header_list_size(MAX_HEADER_LIST_BYTES)
        .accept_http1(false)
}

/// The `Deployer` service with both message-size limits set to
/// `limits.grpc_message_bytes` (tonic's defaults: 4 MiB in, unlimited out).
/// A larger request is refused with `OUT_OF_RANGE` from its 5-byte length
/// prefix, before it is buffered and before the handler runs.
pub fn limit_deployer<T: Deployer>(svc: T, limits: &Limits) -> DeployerServer<T> {
    DeployerServer::new(svc)
        .max_decoding_message_size(limits.grpc_message_bytes)
        .max_encoding_message_size(limits.grpc_message_bytes)
}

/// The `Admin` service with the same limits as [`limit_deployer`].
pub fn limit_admin<T: Admin>(svc: T, limits: &Limits) -> AdminServer<T> {
    AdminServer::new(svc)
        .max_decoding_message_size(limits.grpc_message_bytes)
        .max_encoding_message_size(limits.grpc_message_bytes)
}
