//! The client side of the executor contract. Trust: the executor is the
//! authority; this process only forwards each person's session token.

use std::path::PathBuf;
use std::time::Duration;

use spiderpig_client::{ChannelTimeouts, DeployerClient, unix_channel_with};
use spiderpig_proto::v1 as pb;
use tonic::transport::Channel;

/// A lazily connected `Deployer` client; cheap to clone.
#[derive(Clone, Debug)]
pub struct Executor {
    client: DeployerClient,
}

impl Executor {
    /// Connect (lazily) to the executor's socket. Calls time out after
    /// `timeout`; Watch streams are not cut by it (only their start is).
    pub fn new(socket: PathBuf, timeout: Duration) -> Executor {
        let timeouts = ChannelTimeouts {
            connect: Duration::from_secs(2),
            request: timeout,
        };
        let client = DeployerClient::new(unix_channel_with(socket, timeouts));
        Executor { client }
    }

    /// The typed client: one method per `Deployer` RPC.
    pub fn client(&self) -> DeployerClient {
        self.client.clone()
    }

    /// The generated client, for the Watch streams the typed client does
    /// not build (the web's logs-only feeds and session guards).
    pub fn raw(&self) -> pb::deployer_client::DeployerClient<Channel> {
        self.client.raw()
    }
}

/// A session token as a proto message (for the raw Watch requests).
pub fn session(token: &str) -> Option<pb::Session> {
    Some(pb::Session {
        token: token.to_string(),
    })
}

/// Where a request came from, for the executor's audit trail (address,
/// user agent, request id); cut to the executor's limits by the client.
pub use spiderpig_client::{RequestContext, Session};
