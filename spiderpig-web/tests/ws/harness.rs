//! The web app on a real TCP listener in front of the fake executor, and a
//! WebSocket client (tokio-tungstenite) that speaks to it as a browser would.

use std::net::SocketAddr;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use spiderpig_web::config::Config;
use spiderpig_web::state::AppState;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::fake_executor::Fake;

pub const ORIGIN: &str = "https://deploy.example.com";
/// Generous for a loaded 2-core machine; the socket tests wait on events.
pub const WAIT: Duration = Duration::from_secs(20);

pub type Ws = WebSocketStream<TcpStream>;

pub struct Harness {
    pub fake: Fake,
    pub state: AppState,
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

/// `[limits]` for a test.
pub struct Limits {
    pub ws_message_bytes: usize,
    pub ws_queue: usize,
    pub ws_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            ws_message_bytes: 1024,
            ws_queue: 64,
            ws_connections: 100,
        }
    }
}

impl Harness {
    pub async fn start(limits: Limits) -> Harness {
        let dir = tempfile::tempdir().expect("temp dir");
        let socket = dir.path().join("executor.sock");
        let config = Config::parse(&format!(
            r#"
listen = "127.0.0.1:0"
public_origin = "{ORIGIN}"
executor_socket = "{}"
gerrit_url = "https://gerrit.example.org"
[limits]
ws_message_bytes = {}
ws_queue = {}
ws_connections = {}
"#,
            socket.display(),
            limits.ws_message_bytes,
            limits.ws_queue,
            limits.ws_connections
        ))
        .expect("test config");
        let fake = Fake::new(socket);
        fake.start();
        let state = AppState::new(config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app =
            spiderpig_web::app(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        Harness {
            fake,
            state,
            addr,
            _dir: dir,
        }
    }

    /// Upgrade with this Origin (None: no header) and session cookie.
    pub async fn connect_with(
        &self,
        origin: Option<&str>,
        token: Option<&str>,
    ) -> Result<Ws, WsError> {
        let stream = TcpStream::connect(self.addr).await.expect("tcp");
        self.handshake(stream, origin, token).await
    }

    /// The HTTP status of an upgrade that must be refused.
    pub async fn refused(&self, origin: Option<&str>, token: Option<&str>) -> u16 {
        match self.connect_with(origin, token).await {
            Ok(_) => panic!("upgraded (origin {origin:?}, token {token:?})"),
            Err(e) => refused_status(e),
        }
    }

    /// A browser tab of a signed-in user.
    pub async fn connect(&self, token: &str) -> Ws {
        self.connect_with(Some(ORIGIN), Some(token))
            .await
            .expect("upgrade")
    }

    /// A tab whose TCP receive buffer is tiny, so not reading is felt at once.
    pub async fn connect_small_buffer(&self, token: &str) -> Ws {
        let socket = TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
        let stream = socket.connect(self.addr).await.expect("tcp");
        self.handshake(stream, Some(ORIGIN), Some(token))
            .await
            .expect("upgrade")
    }

    async fn handshake(
        &self,
        stream: TcpStream,
        origin: Option<&str>,
        token: Option<&str>,
    ) -> Result<Ws, WsError> {
        let mut req = format!("ws://{}/ws", self.addr)
            .into_client_request()
            .expect("request");
        if let Some(o) = origin {
            req.headers_mut()
                .insert("origin", o.parse().expect("origin"));
        }
        if let Some(t) = token {
            req.headers_mut().insert(
                "cookie",
                format!("__Host-spiderpig={t}").parse().expect("cookie"),
            );
        }
        tokio_tungstenite::client_async(req, stream)
            .await
            .map(|(ws, _)| ws)
    }

    /// Wait (polling) until `cond` holds.
    pub async fn until(&self, what: &str, cond: impl Fn(&Harness) -> bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !cond(self) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// The HTTP status of a refused upgrade.
pub fn refused_status(err: WsError) -> u16 {
    match err {
        WsError::Http(res) => res.status().as_u16(),
        other => panic!("expected an HTTP refusal, got {other}"),
    }
}

/// What the server sent next: a JSON frame, or a close code.
#[derive(Debug)]
pub enum Got {
    Json(Value),
    Close(u16, String),
}

/// The next frame (heartbeats included), or the close.
pub async fn next(ws: &mut Ws) -> Got {
    loop {
        let msg = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a frame in time");
        match msg {
            Some(Ok(Message::Text(t))) => {
                return Got::Json(serde_json::from_str(&t).expect("JSON frame"));
            }
            Some(Ok(Message::Close(Some(f)))) => {
                return Got::Close(f.code.into(), f.reason.to_string());
            }
            Some(Ok(Message::Close(None))) | None => return Got::Close(1005, String::new()),
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
            Some(Ok(Message::Binary(_))) => panic!("the server sent a binary frame"),
            Some(Err(e)) => panic!("read error: {e}"),
        }
    }
}

/// The next JSON frame of `kind`, skipping others (queue snapshots ...).
pub async fn next_of(ws: &mut Ws, kind: &str) -> Value {
    loop {
        match next(ws).await {
            Got::Json(v) if v["type"] == kind => return v,
            Got::Json(_) => {}
            Got::Close(code, why) => panic!("closed {code} ({why}) while waiting for {kind}"),
        }
    }
}

/// The close code, skipping any JSON frames before it.
pub async fn close_code(ws: &mut Ws) -> u16 {
    loop {
        if let Got::Close(code, _) = next(ws).await {
            return code;
        }
    }
}

pub async fn send_text(ws: &mut Ws, text: &str) {
    ws.send(Message::Text(text.into())).await.expect("send");
}

pub async fn watch(ws: &mut Ws, job: u64, after_seq: u64) {
    send_text(
        ws,
        &format!(r#"{{"type":"watch","job":{job},"after_seq":{after_seq}}}"#),
    )
    .await;
}

/// The seqs of a `log` frame.
pub fn seqs(frame: &Value) -> Vec<u64> {
    frame["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| r["seq"].as_u64().expect("seq"))
        .collect()
}

/// Read `log` frames until seq `upto`; every seq must come exactly once, in
/// order, after `after`. Panics on `skipped`.
pub async fn read_log_exactly(ws: &mut Ws, after: u64, upto: u64) {
    let mut expect = after + 1;
    while expect <= upto {
        let frame = match next(ws).await {
            Got::Json(v) if v["type"] == "log" => v,
            Got::Json(v) if v["type"] == "skipped" => panic!("skipped at {expect}: {v}"),
            Got::Json(_) => continue,
            Got::Close(code, why) => panic!("closed {code} ({why}) at seq {expect}"),
        };
        for seq in seqs(&frame) {
            assert_eq!(seq, expect, "gap or duplicate");
            expect += 1;
        }
    }
}
