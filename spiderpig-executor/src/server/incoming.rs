//! The accept loop of both sockets. Trust: the connecting process is
//! untrusted until SO_PEERCRED says otherwise; this is the only way a
//! connection reaches tonic.
//!
//! For each accepted connection, in this order:
//! 1. SO_PEERCRED and the policy check ([`crate::peer`]). A refused peer is
//!    logged (uid, gid, pid, user) and its socket closed before a single byte
//!    is read from it: it never reaches HTTP/2 parsing, let alone a handler.
//! 2. The connection cap: at most `max_connections` checked connections are
//!    open at once; one more is closed at once and logged. The check comes
//!    first so that strangers cannot use up the cap and every refusal of a
//!    stranger is logged as what it is.
//! 3. The connection is handed to tonic as a [`CheckedConn`], carrying the
//!    peer as connect info (`request.extensions().get::<PeerIdentity>()`,
//!    or [`crate::peer::peer_from`]) and a slot of the cap, freed on drop.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::transport::server::Connected;

use crate::peer::{PeerIdentity, PeerPolicy, check, peer_of};

/// A connection whose peer passed the policy check, holding one slot of the
/// connection cap until it is dropped.
#[derive(Debug)]
pub struct CheckedConn {
    stream: UnixStream,
    peer: PeerIdentity,
    _slot: OwnedSemaphorePermit,
}

impl CheckedConn {
    /// Who is on the other end.
    pub fn peer(&self) -> &PeerIdentity {
        &self.peer
    }
}

/// A connection the accept loop closed, for whoever keeps the audit trail.
#[derive(Clone, Debug)]
pub enum Refusal {
    /// The peer is not allowed on this socket.
    Peer(PeerIdentity),
    /// The peer is allowed, but `max_connections` were already open.
    OverCapacity(PeerIdentity),
    /// The kernel could not say who the peer is (SO_PEERCRED failed).
    Unidentified(String),
}

/// Accepted connections that passed the peer check (see the module docs).
/// The stream never ends and never yields an error: accept errors are logged
/// and retried (with a pause when out of file descriptors or memory).
pub fn incoming(
    listener: UnixListener,
    policy: PeerPolicy,
    max_connections: usize,
) -> impl Stream<Item = io::Result<CheckedConn>> + Send + 'static {
    incoming_with(listener, policy, max_connections, |_| {})
}

/// [`incoming`], also telling `on_refusal` about every closed connection
/// (to write audit records). It is called in the accept loop: it must not
/// block — hand the event to a channel or a task.
pub fn incoming_with<F>(
    listener: UnixListener,
    policy: PeerPolicy,
    max_connections: usize,
    on_refusal: F,
) -> impl Stream<Item = io::Result<CheckedConn>> + Send + 'static
where
    F: Fn(Refusal) + Send + Sync + 'static,
{
    let state = Accept {
        listener,
        policy: Arc::new(policy),
        slots: Arc::new(Semaphore::new(max_connections.min(Semaphore::MAX_PERMITS))),
        on_refusal,
    };
    futures::stream::unfold(state, |state| async move {
        let conn = state.next().await;
        Some((Ok(conn), state))
    })
}

struct Accept<F> {
    listener: UnixListener,
    policy: Arc<PeerPolicy>,
    slots: Arc<Semaphore>,
    on_refusal: F,
}

impl<F: Fn(Refusal)> Accept<F> {
    async fn next(&self) -> CheckedConn {
        loop {
            match self.listener.accept().await {
                Ok((stream, _)) => {
                    if let Some(conn) = self.admit(stream).await {
                        return conn;
                    }
                }
                Err(e) => pause_after(e).await,
            }
        }
    }

    /// The peer check and the cap; `None` means the connection was closed.
    async fn admit(&self, stream: UnixStream) -> Option<CheckedConn> {
        // The passwd and group lookups may go to NSS (LDAP, sssd ...) and
        // block: keep them off the async workers.
        let policy = Arc::clone(&self.policy);
        let identified = tokio::task::spawn_blocking(move || {
            let verdict = identify(&stream, &policy);
            (stream, verdict)
        })
        .await;
        let (stream, verdict) = match identified {
            Ok(pair) => pair,
            Err(e) => {
                tracing::error!(error = %e, "peer check did not run; connection closed");
                return None;
            }
        };
        let peer = match verdict {
            Ok(peer) => peer,
            Err(refusal) => {
                log_refusal(&refusal, &self.policy);
                (self.on_refusal)(refusal);
                return None; // `stream` drops here: closed, nothing read
            }
        };
        match Arc::clone(&self.slots).try_acquire_owned() {
            Ok(slot) => Some(CheckedConn {
                stream,
                peer,
                _slot: slot,
            }),
            Err(_) => {
                let refusal = Refusal::OverCapacity(peer);
                log_refusal(&refusal, &self.policy);
                (self.on_refusal)(refusal);
                None
            }
        }
    }
}

fn identify(stream: &UnixStream, policy: &PeerPolicy) -> Result<PeerIdentity, Refusal> {
    let peer = peer_of(stream).map_err(|e| Refusal::Unidentified(e.to_string()))?;
    match check(&peer, policy) {
        Ok(()) => Ok(peer),
        Err(_) => Err(Refusal::Peer(peer)),
    }
}

fn log_refusal(refusal: &Refusal, policy: &PeerPolicy) {
    match refusal {
        Refusal::Peer(p) => tracing::warn!(
            uid = p.uid, gid = p.gid, pid = p.pid, user = %p.user, ?policy,
            "peer refused: not allowed on this socket"
        ),
        Refusal::OverCapacity(p) => tracing::warn!(
            uid = p.uid, pid = p.pid, user = %p.user,
            "connection closed: max_connections reached"
        ),
        Refusal::Unidentified(e) => {
            tracing::warn!(error = %e, "connection closed: peer credentials unavailable")
        }
    }
}

/// Out of descriptors or memory, `accept` fails at once again: wait a
/// little instead of spinning. Other errors (an aborted connection) are
/// about one client only.
async fn pause_after(e: io::Error) {
    let exhausted = matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    );
    if exhausted {
        tracing::error!(error = %e, "accept failed: out of resources; pausing");
        tokio::time::sleep(Duration::from_millis(100)).await;
    } else {
        tracing::debug!(error = %e, "accept failed");
    }
}

impl Connected for CheckedConn {
    type ConnectInfo = PeerIdentity;

    fn connect_info(&self) -> PeerIdentity {
        self.peer.clone()
    }
}

impl AsyncRead for CheckedConn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for CheckedConn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
