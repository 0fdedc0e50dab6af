//! Slowloris and connection floods against the web in its `[tls]` mode
//! (security review F6): a half-sent request is closed at the header-read
//! time-out, and one connection past the per-client cap is closed at once
//! while the admitted ones keep working.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use spiderpig_tests::web::{WebHarness, WebOptions};

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// A TCP connection with its TLS handshake done. `read_timeout` only stops
/// a broken test from hanging; the assertions wait for the server.
fn tls_connect(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
    read_timeout: Duration,
) -> std::io::Result<Tls> {
    let tcp = TcpStream::connect(addr)?;
    tcp.set_read_timeout(Some(read_timeout))?;
    let name = ServerName::try_from("127.0.0.1").expect("a server name");
    let conn = rustls::ClientConnection::new(config, name).map_err(std::io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock)?;
    }
    Ok(tls)
}

/// Reads until the server closes the connection; `Err` if it is still
/// open when the socket's read time-out passes.
fn wait_for_close(tls: &mut Tls) -> Result<(), String> {
    let mut buf = [0u8; 512];
    loop {
        match tls.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err("still open".into());
            }
            // A reset or a close without close_notify is a close too.
            Err(_) => return Ok(()),
        }
    }
}

/// A request on an admitted connection gets its answer.
fn get_me(tls: &mut Tls) -> std::io::Result<String> {
    tls.write_all(b"GET /api/me HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")?;
    tls.flush()?;
    let mut buf = [0u8; 64];
    let n = tls.read(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_sent_request_is_closed_at_the_header_read_time_out() -> anyhow::Result<()> {
    let web = WebHarness::start(WebOptions {
        timeouts: vec!["header_read_secs = 1".into()],
        ..Default::default()
    })
    .await?;
    let (addr, config) = (web.addr, web.tls_client());
    let (closed, elapsed) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let mut tls = tls_connect(addr, config, Duration::from_secs(15))?;
        let started = Instant::now();
        tls.write_all(b"GET / HTTP/1.1\r\nhost: 127.0.0.1\r\n")?;
        tls.flush()?;
        Ok((wait_for_close(&mut tls), started.elapsed()))
    })
    .await??;
    closed.map_err(anyhow::Error::msg)?;
    assert!(elapsed < Duration::from_secs(5), "closed after {elapsed:?}");

    // An idle keep-alive connection is closed the same way.
    let (addr, config) = (web.addr, web.tls_client());
    let closed = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let mut tls = tls_connect(addr, config, Duration::from_secs(15))?;
        let answer = get_me(&mut tls)?;
        anyhow::ensure!(answer.starts_with("HTTP/1.1 "), "{answer}");
        // Drain the rest of the answer, then the close.
        Ok(wait_for_close(&mut tls))
    })
    .await??;
    closed.map_err(anyhow::Error::msg)?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_past_the_per_client_cap_is_refused_and_the_others_still_work()
-> anyhow::Result<()> {
    const CAP: usize = 3;
    let web = WebHarness::start(WebOptions {
        limits: vec![format!("connections_per_client = {CAP}")],
        ..Default::default()
    })
    .await?;
    let (addr, config) = (web.addr, web.tls_client());
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let timeout = Duration::from_secs(8);
        // One at a time, each through its handshake, so each holds a slot
        // before the next arrives.
        let mut held: Vec<Tls> = (0..CAP)
            .map(|_| tls_connect(addr, config.clone(), timeout))
            .collect::<Result<_, _>>()?;
        // The one past the cap is closed before its handshake completes.
        match tls_connect(addr, config.clone(), timeout) {
            Err(_) => {}
            Ok(mut extra) => wait_for_close(&mut extra).map_err(anyhow::Error::msg)?,
        }
        // Nothing was taken from the admitted ones: each still answers.
        for tls in &mut held {
            let answer = get_me(tls)?;
            anyhow::ensure!(answer.starts_with("HTTP/1.1 "), "{answer}");
        }
        // Closing one gives its slot back (once the server has seen the close).
        drop(held.pop());
        let deadline = Instant::now() + timeout;
        loop {
            match tls_connect(addr, config.clone(), timeout).and_then(|mut t| get_me(&mut t)) {
                Ok(answer) if answer.starts_with("HTTP/1.1 ") => break,
                _ if Instant::now() < deadline => std::thread::yield_now(),
                other => anyhow::bail!("no slot came back: {other:?}"),
            }
        }
        Ok(())
    })
    .await??;
    Ok(())
}
