//! The client side of the executor contract. Trust: the executor is the
//! authority; this process only forwards each person's session token.

use std::path::PathBuf;
use std::time::Duration;

use spiderpig_client::{ChannelTimeouts, unix_channel_with};
use spiderpig_proto::v1 as pb;
use spiderpig_proto::v1::deployer_client::DeployerClient;
use tonic::transport::Channel;

/// A lazily connected `Deployer` client; cheap to clone.
#[derive(Clone, Debug)]
pub struct Executor {
    client: spiderpig_client::DeployerClient,
}

impl Executor {
    /// Connect (lazily) to the executor's socket. Calls time out after
    /// `timeout`; Watch streams are not cut by it (only their start is).
    pub fn new(socket: PathBuf, timeout: Duration) -> Executor {
        let timeouts = ChannelTimeouts {
            connect: Duration::from_secs(2),
            request: timeout,
        };
        let client = spiderpig_client::DeployerClient::new(unix_channel_with(socket, timeouts));
        Executor { client }
    }

    pub fn client(&self) -> DeployerClient<Channel> {
        self.client.raw()
    }
}

/// Where a request came from, for the executor's audit trail.
#[derive(Clone, Debug, Default)]
pub struct Origin {
    pub client_addr: String,
    pub user_agent: String,
    pub request_id: String,
}

impl Origin {
    pub fn ctx(&self) -> Option<pb::RequestContext> {
        Some(pb::RequestContext {
            client_addr: clip(&self.client_addr, 64),
            user_agent: clip(&self.user_agent, 256),
            request_id: clip(&self.request_id, 64),
        })
    }
}

/// Keep printable ASCII only, at most `max` bytes (the executor's limits).
fn clip(s: &str, max: usize) -> String {
    s.chars()
        .filter(|c| c.is_ascii() && !c.is_ascii_control())
        .take(max)
        .collect()
}

/// A session token as a proto message.
pub fn session(token: &str) -> Option<pb::Session> {
    Some(pb::Session {
        token: token.to_string(),
    })
}
