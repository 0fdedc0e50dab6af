//! Admitting TCP connections: a cap on open connections in all and, when
//! this process terminates TLS, on those from one client address. Trust: the
//! peer is untrusted (anyone on the internet in the `[tls]` mode).
//!
//! Each connection holds a [`Slot`] from accept to close, before its TLS
//! handshake, so a flood of idle or half-open connections cannot take every
//! file descriptor: one past a cap is closed at once, without a byte read.
//! Time-outs (the TLS handshake, the HTTP/1 request head and keep-alive idle)
//! are set in `server`; together they bound how long a refused visitor can
//! hold a slot.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum_server::accept::Accept;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Open connections, counted in all and per client network.
#[derive(Debug)]
struct Counts {
    total: usize,
    per_client: HashMap<Client, usize>,
}

/// A client network: an IPv4 address, or an IPv6 /64 (what one subscriber
/// is usually given, so a cap per address would be none at all).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Client {
    V4([u8; 4]),
    V6([u8; 8]),
}

impl From<IpAddr> for Client {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Client::V4(v4.octets()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Client::V4(v4.octets()),
                None => {
                    let o = v6.octets();
                    Client::V6([o[0], o[1], o[2], o[3], o[4], o[5], o[6], o[7]])
                }
            },
        }
    }
}

/// The caps, shared by every connection of one listener.
#[derive(Debug, Clone)]
pub struct Caps {
    total: usize,
    per_client: Option<usize>,
    counts: Arc<Mutex<Counts>>,
}

impl Caps {
    /// At most `total` open connections, and at most `per_client` from one
    /// client network (`None`: no such cap, for the loopback mode behind a
    /// terminator, where every connection comes from the terminator).
    pub fn new(total: usize, per_client: Option<usize>) -> Caps {
        Caps {
            total,
            per_client,
            counts: Arc::new(Mutex::new(Counts {
                total: 0,
                per_client: HashMap::new(),
            })),
        }
    }

    /// A slot for a connection from `ip`, or `None` when a cap is reached.
    pub fn admit(&self, ip: IpAddr) -> Option<Slot> {
        let client = Client::from(ip);
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let mine = counts.per_client.get(&client).copied().unwrap_or(0);
        if counts.total >= self.total || self.per_client.is_some_and(|cap| mine >= cap) {
            return None;
        }
        counts.total += 1;
        counts.per_client.insert(client, mine + 1);
        Some(Slot {
            client,
            counts: Arc::clone(&self.counts),
        })
    }

    /// Open connections now (for tests and logs).
    pub fn open(&self) -> usize {
        self.counts.lock().unwrap_or_else(|e| e.into_inner()).total
    }

    /// This acceptor, with the caps applied before it.
    pub fn acceptor<A>(self, inner: A) -> CappedAcceptor<A> {
        CappedAcceptor { caps: self, inner }
    }
}

/// One admitted connection's place; given back when it is dropped.
#[derive(Debug)]
pub struct Slot {
    client: Client,
    counts: Arc<Mutex<Counts>>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.total = counts.total.saturating_sub(1);
        if let Some(n) = counts.per_client.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                counts.per_client.remove(&self.client);
            }
        }
    }
}

/// An axum-server acceptor that takes a [`Slot`] before `inner` sees the
/// connection, and refuses (closes) the connection when there is none.
#[derive(Debug, Clone)]
pub struct CappedAcceptor<A> {
    caps: Caps,
    inner: A,
}

type Accepting<T> = Pin<Box<dyn Future<Output = io::Result<T>> + Send>>;

impl<S, A> Accept<TcpStream, S> for CappedAcceptor<A>
where
    A: Accept<TcpStream, S>,
    A::Future: Send + 'static,
    A::Stream: Send + 'static,
    A::Service: Send + 'static,
{
    type Stream = Admitted<A::Stream>;
    type Service = A::Service;
    type Future = Accepting<(Self::Stream, Self::Service)>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let slot = stream
            .peer_addr()
            .ok()
            .and_then(|a| self.caps.admit(a.ip()));
        let Some(slot) = slot else {
            // Dropping the stream closes it; nothing was read.
            tracing::debug!("connection refused: connection cap reached");
            return Box::pin(std::future::ready(Err(io::Error::other(
                "connection cap reached",
            ))));
        };
        let accepting = self.inner.accept(stream, service);
        Box::pin(async move {
            let (stream, service) = accepting.await?;
            Ok((
                Admitted {
                    inner: stream,
                    _slot: slot,
                },
                service,
            ))
        })
    }
}

/// A connection that holds its [`Slot`] until it is closed.
#[derive(Debug)]
pub struct Admitted<S> {
    inner: S,
    _slot: Slot,
}

impl<S: AsyncRead + Unpin> AsyncRead for Admitted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Admitted<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn caps_count_in_all_and_per_client_network_and_slots_come_back() {
        let caps = Caps::new(3, Some(2));
        let a1 = caps.admit(ip("192.0.2.1")).expect("first");
        let a2 = caps
            .admit(ip("::ffff:192.0.2.1"))
            .expect("second, same client");
        assert!(caps.admit(ip("192.0.2.1")).is_none(), "per-client cap");
        // One /64 is one client.
        let b1 = caps.admit(ip("2001:db8::1")).expect("another client");
        assert!(caps.admit(ip("198.51.100.7")).is_none(), "total cap");
        assert_eq!(caps.open(), 3);
        drop(a1);
        assert!(
            caps.admit(ip("2001:db8::ffff")).is_some(),
            "same /64, slot freed"
        );
        drop((a2, b1));
        assert_eq!(caps.open(), 0);
        assert!(caps.counts.lock().unwrap().per_client.is_empty());
    }

    #[test]
    fn without_a_per_client_cap_only_the_total_counts() {
        let caps = Caps::new(2, None);
        let _a = caps.admit(ip("127.0.0.1")).unwrap();
        let _b = caps.admit(ip("127.0.0.1")).unwrap();
        assert!(caps.admit(ip("127.0.0.1")).is_none());
    }
}
