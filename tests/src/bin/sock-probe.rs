//! Test-only probe: connects to a SpiderPig socket as whichever user runs it,
//! makes one call, prints `OK <detail>` or `ERR <code>: <message>`, and
//! exits 0 or 1 (2 for bad usage). The socket tests run it under other uids
//! to show that SO_PEERCRED, not the file mode, decides who gets in.
//!
//! Usage: `sock-probe <socket> [status|whoami]`
//! - `status`: `Admin.Status`; the detail is the reply's `version`.
//! - `whoami`: `Deployer.WhoAmI`; the detail is the reply's `username`.

use std::process::ExitCode;
use std::time::Duration;

use spiderpig_client::{ChannelTimeouts, unix_channel_with};
use spiderpig_proto::v1::admin_client::AdminClient;
use spiderpig_proto::v1::deployer_client::DeployerClient;
use spiderpig_proto::v1::{StatusRequest, WhoAmIRequest};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (socket, verb) = match args.as_slice() {
        [socket] => (socket, "status"),
        [socket, verb] => (socket, verb.as_str()),
        _ => return usage(),
    };
    let channel = unix_channel_with(
        socket.into(),
        ChannelTimeouts {
            connect: Duration::from_secs(5),
            request: Duration::from_secs(10),
        },
    );
    let result = match verb {
        "status" => AdminClient::new(channel)
            .status(StatusRequest {})
            .await
            .map(|r| r.into_inner().version),
        "whoami" => DeployerClient::new(channel)
            .who_am_i(WhoAmIRequest::default())
            .await
            .map(|r| r.into_inner().username),
        _ => return usage(),
    };
    match result {
        Ok(detail) => {
            println!("OK {detail}");
            ExitCode::SUCCESS
        }
        Err(status) => {
            println!("ERR {:?}: {}", status.code(), status.message());
            ExitCode::FAILURE
        }
    }
}

fn usage() -> ExitCode {
    eprintln!("usage: sock-probe <socket> [status|whoami]");
    ExitCode::from(2)
}
