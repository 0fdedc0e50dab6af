//! The bare baseline: a minimal tokio WebSocket broadcast server inside this
//! process (plain TCP on loopback, no TLS, no auth, no storage). Its lines
//! come from a producer task that stamps each with its emit time, as fast as
//! it can or at the flood's rate (paced as fake-scap paces), or from
//! fake-scap itself through a pipe (each stdout line passed on as it is);
//! a task per client sends whatever is waiting as one `log` frame, in the same
//! JSON shape as SpiderPig's, so the clients read it with the same code.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt, stream};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Message;

use crate::flood::Flood;
use crate::producer::FakeScap;
use crate::reader::{Seen, parse_flood_line, read_until, unix_nanos};

/// Records joined into one frame at most.
const BATCH: usize = 256;

/// Where the baseline's lines come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Producer {
    /// A task in this process.
    InProcess,
    /// fake-scap's stdout, read line by line.
    FakeScap,
}

/// Run the baseline with `watchers` clients and `flood`.
pub async fn run(
    watchers: usize,
    flood: Flood,
    producer: Producer,
    idle: Duration,
) -> anyhow::Result<Vec<Seen>> {
    let lines = flood.lines;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (tx, _) = broadcast::channel::<Arc<str>>(lines as usize + 16);
    let server_tx = tx.clone();
    let server = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let rx = server_tx.subscribe();
            tokio::spawn(serve(tcp, rx));
        }
    });

    let clients: Vec<_> = stream::iter(0..watchers)
        .map(|_| async move {
            let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/")).await?;
            anyhow::Ok(ws)
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    // Every connection has subscribed once the server saw all of them.
    while tx.receiver_count() < watchers {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let readers: Vec<_> = clients
        .into_iter()
        .map(|mut ws| tokio::spawn(async move { read_until(&mut ws, lines, idle).await }))
        .collect();
    match producer {
        Producer::InProcess => {
            let start = Instant::now();
            for i in 1..=lines {
                if flood.rate.is_some() {
                    tokio::time::sleep_until((start + flood.due(i)).into()).await;
                }
                let text = format!("00:00:00 flood line {i} of {lines} t_ns={}", unix_nanos());
                let record = serde_json::json!({"seq": i, "text": text}).to_string();
                let _ = tx.send(record.into());
                if i % BATCH as u64 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        }
        Producer::FakeScap => {
            let mut fake = FakeScap::start(flood)?;
            let out = fake.lines()?;
            let tx = tx.clone();
            tokio::task::spawn_blocking(move || {
                let mut seq = 0u64;
                for line in out.map_while(Result::ok) {
                    if parse_flood_line(&line).is_some() {
                        seq += 1;
                        let record = serde_json::json!({"seq": seq, "text": line}).to_string();
                        let _ = tx.send(record.into());
                    }
                }
                fake.child.wait()
            })
            .await??;
        }
    }
    let mut seen = Vec::with_capacity(watchers);
    for r in readers {
        seen.push(r.await?);
    }
    server.abort();
    Ok(seen)
}

/// One client: upgrade, then forward batches until the channel closes.
async fn serve(tcp: TcpStream, mut rx: broadcast::Receiver<Arc<str>>) {
    let _ = tcp.set_nodelay(true);
    let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
        return;
    };
    loop {
        let first = match rx.recv().await {
            Ok(r) => r,
            Err(broadcast::error::RecvError::Lagged(_)) => continue,
            Err(broadcast::error::RecvError::Closed) => return,
        };
        let mut frame = String::from(r#"{"type":"log","job":1,"records":["#);
        frame.push_str(&first);
        for _ in 1..BATCH {
            match rx.try_recv() {
                Ok(r) => {
                    frame.push(',');
                    frame.push_str(&r);
                }
                Err(_) => break,
            }
        }
        frame.push_str("]}");
        if ws.send(Message::text(frame)).await.is_err() {
            return;
        }
    }
}
