//! A WebSocket client for `/ws` over TLS (tokio-tungstenite with a rustls
//! connector that trusts only the test certificate). Headers are exactly
//! what the test gives, so upgrades without `Origin` or cookie can be tried.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use futures::{SinkExt, StreamExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::{Error, Message};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

/// What came next on a socket.
#[derive(Debug)]
pub enum Frame {
    /// A text frame holding JSON.
    Json(serde_json::Value),
    /// A close frame and its code.
    Close(Option<u16>),
    /// Anything else (text that is not JSON, binary, ping, pong).
    Other(Message),
    /// The connection ended without a close frame, or broke.
    Ended(String),
    TimedOut,
}

/// An open `/ws`.
pub struct WsClient {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// This end of the TCP connection.
    pub local: SocketAddr,
}

/// The HTTP status of a refused upgrade.
pub fn refused_status(e: &Error) -> Option<u16> {
    match e {
        Error::Http(res) => Some(res.status().as_u16()),
        _ => None,
    }
}

/// The `error` field of a refused upgrade's JSON body.
pub fn refused_error(e: &Error) -> Option<String> {
    let Error::Http(res) = e else { return None };
    let body: serde_json::Value = serde_json::from_slice(res.body().as_deref()?).ok()?;
    body["error"].as_str().map(str::to_string)
}

impl WsClient {
    /// Connect to `wss://<addr>/ws` with `headers` (none added).
    /// `recv_buffer` fixes the kernel's receive buffer (SO_RCVBUF, no
    /// autotuning) so a client that stops reading pushes back soon. Keep it
    /// above the loopback MSS (64 KiB): a smaller one stalls TCP.
    pub async fn connect(
        addr: SocketAddr,
        tls: Arc<rustls::ClientConfig>,
        headers: &[(&str, &str)],
        recv_buffer: Option<u32>,
    ) -> Result<WsClient, Error> {
        let socket = TcpSocket::new_v4()?;
        if let Some(bytes) = recv_buffer {
            socket.set_recv_buffer_size(bytes)?;
        }
        let tcp = socket.connect(addr).await?;
        let local = tcp.local_addr()?;
        let mut request = format!("wss://{addr}/ws").into_client_request()?;
        for (name, value) in headers {
            let name = HeaderName::from_bytes(name.as_bytes()).expect("header name");
            let value = HeaderValue::from_str(value).expect("header value");
            request.headers_mut().append(name, value);
        }
        let (stream, _) = tokio_tungstenite::client_async_tls_with_config(
            request,
            tcp,
            None,
            Some(Connector::Rustls(tls)),
        )
        .await?;
        Ok(WsClient { stream, local })
    }

    pub async fn send(&mut self, msg: Message) -> Result<(), Error> {
        self.stream.send(msg).await
    }

    pub async fn send_json(&mut self, value: &serde_json::Value) -> Result<(), Error> {
        self.send(Message::text(value.to_string())).await
    }

    /// `{"type":"watch","job":job,"after_seq":after_seq}`
    pub async fn watch(&mut self, job: u64, after_seq: u64) -> Result<(), Error> {
        self.send_json(&serde_json::json!({"type": "watch", "job": job, "after_seq": after_seq}))
            .await
    }

    /// The next frame, waiting at most `within`.
    pub async fn next_frame(&mut self, within: Duration) -> Frame {
        match tokio::time::timeout(within, self.stream.next()).await {
            Err(_) => Frame::TimedOut,
            Ok(None) => Frame::Ended("stream ended".into()),
            Ok(Some(Err(e))) => Frame::Ended(e.to_string()),
            Ok(Some(Ok(Message::Close(frame)))) => Frame::Close(frame.map(|f| u16::from(f.code))),
            Ok(Some(Ok(Message::Text(text)))) => match serde_json::from_str(text.as_str()) {
                Ok(v) => Frame::Json(v),
                Err(_) => Frame::Other(Message::Text(text)),
            },
            Ok(Some(Ok(other))) => Frame::Other(other),
        }
    }

    /// Skip frames until a JSON frame for which `want` is true, within
    /// `within` in all. A close or the end of the socket is an error.
    pub async fn wait_for(
        &mut self,
        within: Duration,
        mut want: impl FnMut(&serde_json::Value) -> bool,
    ) -> anyhow::Result<serde_json::Value> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_frame(left).await {
                Frame::Json(v) if want(&v) => return Ok(v),
                Frame::Json(_) | Frame::Other(_) => {}
                Frame::TimedOut => bail!("no matching frame within {within:?}"),
                end => bail!("socket ended while waiting: {end:?}"),
            }
        }
    }

    /// Read until the close frame; its code (`None`: ended without one).
    pub async fn close_code(&mut self, within: Duration) -> anyhow::Result<Option<u16>> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_frame(left).await {
                Frame::Close(code) => return Ok(code),
                Frame::Ended(_) => return Ok(None),
                Frame::TimedOut => bail!("no close within {within:?}"),
                Frame::Json(_) | Frame::Other(_) => {}
            }
        }
    }

    /// Every JSON frame until nothing comes for `quiet`.
    pub async fn drain(&mut self, quiet: Duration) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        loop {
            match self.next_frame(quiet).await {
                Frame::Json(v) => out.push(v),
                Frame::Other(_) => {}
                _ => return out,
            }
        }
    }
}

/// The kernel's view of this connection, both ends (lines of
/// `/proc/net/tcp` whose local or remote port is `port`): send and receive
/// queues, and the timer (`tr` 4 is the zero-window probe timer). For
/// explaining a stalled socket in a failure message.
pub fn tcp_state(port: u16) -> String {
    let hex = format!(":{port:04X} ");
    std::fs::read_to_string("/proc/net/tcp")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(&hex))
        .map(|l| l.split_whitespace().take(7).collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(" | ")
}

/// `TCP_NODELAY` on this process's end of the TCP connection between local
/// port `server_port` and `client` (the web runs inside the test process).
pub fn server_nodelay(server_port: u16, client: SocketAddr) -> anyhow::Result<bool> {
    use std::os::fd::BorrowedFd;
    let local = format!(":{server_port:04X}");
    let remote = format!(":{:04X}", client.port());
    let table = std::fs::read_to_string("/proc/self/net/tcp")?;
    // Columns: sl local rem st tx:rx tr:when retrnsmt uid timeout inode.
    let inode = table
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|c| c.len() > 9 && c[1].ends_with(&local) && c[2].ends_with(&remote))
        .map(|c| c[9].to_string())
        .ok_or_else(|| anyhow::anyhow!("no server-side socket for {client}"))?;
    let link = format!("socket:[{inode}]");
    for entry in std::fs::read_dir("/proc/self/fd")? {
        let entry = entry?;
        if std::fs::read_link(entry.path()).is_ok_and(|l| l.as_os_str() == link.as_str()) {
            let raw: i32 = entry.file_name().to_string_lossy().parse()?;
            // SAFETY: `raw` is an open socket of this process: the connection
            // is held open by the caller's client for this whole call, and the
            // borrow does not outlive it.
            #[allow(unsafe_code)]
            let fd = unsafe { BorrowedFd::borrow_raw(raw) };
            return Ok(nix::sys::socket::getsockopt(
                &fd,
                nix::sys::socket::sockopt::TcpNoDelay,
            )?);
        }
    }
    anyhow::bail!("socket {inode} is not among this process's descriptors")
}
