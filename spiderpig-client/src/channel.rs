//! A tonic channel over a Unix socket: the one way spiderpig-web, `ctl`, the
//! tests and the bench reach the executor. Trust: the socket's directory and
//! mode decide who we talk to; the executor checks us with SO_PEERCRED.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint, Uri};

/// Client-side time limits.
#[derive(Clone, Copy, Debug)]
pub struct ChannelTimeouts {
    /// Connecting to the socket.
    pub connect: Duration,
    /// Each call, until its response headers arrive. This does not cut a
    /// server stream (`Watch`) once it has started, and is not sent to the
    /// server as `grpc-timeout`.
    pub request: Duration,
}

impl Default for ChannelTimeouts {
    /// 5 s to connect; 60 s per call, above the executor's default 30 s
    /// request timeout so that its clearer error arrives first.
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(5),
            request: Duration::from_secs(60),
        }
    }
}

/// A lazy channel to the socket at `path` with [`ChannelTimeouts::default`].
/// It connects on first use and reconnects after the executor restarts.
/// Must be created inside a tokio runtime.
pub fn unix_channel(path: PathBuf) -> Channel {
    unix_channel_with(path, ChannelTimeouts::default())
}

/// [`unix_channel`] with explicit time limits.
pub fn unix_channel_with(path: PathBuf, timeouts: ChannelTimeouts) -> Channel {
    // The URI is required by tonic and ignored by the connector below.
    let endpoint = Endpoint::from_static("http://executor")
        .connect_timeout(timeouts.connect)
        .timeout(timeouts.request)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(10));
    unix_channel_on(endpoint, path)
}

/// A lazy channel to the socket at `path` with the settings of `endpoint`
/// (its URI is ignored), for tests that need unusual transport settings such
/// as tiny HTTP/2 windows.
pub fn unix_channel_on(endpoint: Endpoint, path: PathBuf) -> Channel {
    let path = Arc::new(path);
    endpoint.connect_with_connector_lazy(tower::service_fn(move |_: Uri| {
        let path = Arc::clone(&path);
        async move {
            let stream = UnixStream::connect(path.as_path()).await?;
            Ok::<_, std::io::Error>(TokioIo::new(stream))
        }
    }))
}
