//! W real WebSocket watchers (TLS, signed-in session cookies, `Origin`) on
//! one flood job of SpiderPig, and the resident memory meanwhile.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::{SinkExt, StreamExt, stream};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

use crate::cpu::CpuMark;
use crate::flood::Flood;
use crate::reader::{Seen, read_until};
use crate::rss::{PeakSampler, vm_rss_kib};
use crate::stack::Stack;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// One run with W watchers.
pub struct WatchRun {
    pub seen: Vec<Seen>,
    /// Time to open and upgrade all W sockets.
    pub connect: Duration,
    /// RSS (KiB) of the executor and the web with the W sockets open, before
    /// the flood; and their peaks during it.
    pub open_rss: (u64, u64),
    pub peak_rss: (u64, u64),
    /// CPU time of the executor, the web and the bench process (the
    /// watchers' clients) from `ready` to the last watcher done.
    pub cpu: Vec<Duration>,
}

/// Open `wss://addr/ws` as a page would: the session cookie and the origin.
async fn connect(
    addr: SocketAddr,
    origin: &str,
    cookie: &str,
    tls: Arc<rustls::ClientConfig>,
) -> anyhow::Result<Ws> {
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let mut request = format!("wss://{addr}/ws").into_client_request()?;
    let headers = request.headers_mut();
    headers.insert("origin", HeaderValue::from_str(origin)?);
    headers.insert("cookie", HeaderValue::from_str(cookie)?);
    let (ws, _) = tokio_tungstenite::client_async_tls_with_config(
        request,
        tcp,
        None,
        Some(Connector::Rustls(tls)),
    )
    .await?;
    Ok(ws)
}

/// `watchers` sockets, sharing the session cookies of `sessions`, follow a
/// fresh flood job submitted by `submitter`; the flood starts once all
/// watch it.
pub async fn run(
    stack: &Stack,
    submitter: &str,
    sessions: &[String],
    watchers: usize,
    flood: Flood,
    idle: Duration,
) -> anyhow::Result<WatchRun> {
    let lines = flood.lines;
    flood.configure(&stack.web.exec.home)?;
    let b = stack.browser(submitter).await?;
    let job = b.submit(serde_json::json!([1006])).await?;
    let id = job["id"].as_u64().context("job id")?;

    let started = Instant::now();
    let web = &stack.web;
    let sockets: Vec<Ws> = stream::iter(0..watchers)
        .map(|i| {
            let cookie = format!("__Host-spiderpig={}", sessions[i % sessions.len()]);
            let tls = stack.tls.clone();
            async move {
                let mut ws = connect(web.addr, &web.origin, &cookie, tls).await?;
                let watch = serde_json::json!({"type": "watch", "job": id, "after_seq": 0});
                ws.send(Message::text(watch.to_string())).await?;
                anyhow::Ok(ws)
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()
        .with_context(|| format!("opening {watchers} sockets"))?;
    let connect_time = started.elapsed();
    let readers: Vec<_> = sockets
        .into_iter()
        .map(|mut ws| {
            tokio::spawn(async move {
                let seen = read_until(&mut ws, lines, idle).await;
                let _ = ws.close(None).await;
                seen
            })
        })
        .collect();
    // Let every `watch` register (the web answers none of them while the
    // job has no log yet).
    tokio::time::sleep(Duration::from_millis(500) + Duration::from_millis(watchers as u64)).await;
    let pids = [stack.executor.pid(), stack.web_proc.pid()];
    let open_rss = (
        vm_rss_kib(pids[0]).unwrap_or(0),
        vm_rss_kib(pids[1]).unwrap_or(0),
    );
    let sampler = PeakSampler::start(&pids, Duration::from_millis(20));
    let cpu = CpuMark::take(&[pids[0], pids[1], std::process::id()]);

    b.act(id, "ready").await?;
    b.answer(id, "Backport the changes?", "y").await?;
    let mut seen = Vec::with_capacity(watchers);
    for r in readers {
        seen.push(r.await?);
    }
    let cpu = cpu.since();
    let peaks = sampler.stop();
    b.wait_state(id, "awaiting_finish").await?;
    b.act(id, "finish").await?;
    Ok(WatchRun {
        seen,
        connect: connect_time,
        open_rss,
        peak_rss: (peaks[0], peaks[1]),
        cpu,
    })
}
