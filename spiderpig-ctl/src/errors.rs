//! What went wrong, told to the operator in one line. Trust: status messages
//! come from the executor and may quote user input, so they are escaped.
//!
//! All failures of a verb are mapped here, in [`explain`], and all of them
//! exit with code 1 (usage errors are clap's, with code 2).

use std::error::Error as _;
use std::io;
use std::path::Path;

use tonic::{Code, Status, TimeoutExpired};

use super::escape::escape;

/// How a verb failed.
#[derive(Debug)]
pub(super) enum VerbError {
    /// The RPC failed: no connection, or the executor refused.
    Rpc(Status),
    /// The executor answered something `ctl` cannot make sense of.
    Protocol(String),
    /// Writing to stdout failed.
    Output(io::Error),
}

impl From<Status> for VerbError {
    fn from(s: Status) -> Self {
        Self::Rpc(s)
    }
}

impl From<io::Error> for VerbError {
    fn from(e: io::Error) -> Self {
        Self::Output(e)
    }
}

impl From<serde_json::Error> for VerbError {
    fn from(e: serde_json::Error) -> Self {
        Self::Output(e.into())
    }
}

/// The one-line message for a failed verb, for stderr.
pub(super) fn explain(err: &VerbError, socket: &Path) -> String {
    match err {
        VerbError::Rpc(status) => explain_status(status, socket),
        VerbError::Protocol(m) => format!(
            "error: unexpected answer from spiderpig-executor: {}",
            escape(m)
        ),
        VerbError::Output(e) => format!("error: cannot write the output: {e}"),
    }
}

fn explain_status(status: &Status, socket: &Path) -> String {
    let socket = path(socket);
    if in_chain::<TimeoutExpired>(status).is_some() {
        return format!("error: spiderpig-executor did not answer in time on {socket}");
    }
    if let Some(io) = in_chain::<io::Error>(status) {
        return match io.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => {
                format!("spiderpig-executor is not running: no socket at {socket}")
            }
            io::ErrorKind::ConnectionRefused => {
                format!("spiderpig-executor is not running (connection refused at {socket})")
            }
            io::ErrorKind::PermissionDenied => denied(&socket),
            _ => hung_up(&socket, &io.to_string()),
        };
    }
    let message = escape(status.message());
    match status.code() {
        Code::PermissionDenied => format!("{} ({message})", denied(&socket)),
        Code::Unavailable => hung_up(&socket, &message),
        // hyper reports a connection closed before any answer as CANCELLED
        // too; a status made here from a transport failure is that, not a
        // time-out (which the executor sends over the wire, with no source).
        Code::Cancelled if in_chain::<tonic::transport::Error>(status).is_some() => {
            hung_up(&socket, &message)
        }
        // The executor's own request time-out arrives as CANCELLED.
        Code::Cancelled | Code::DeadlineExceeded => {
            format!("error: spiderpig-executor did not answer in time on {socket} ({message})")
        }
        _ => format!("error: {message}"),
    }
}

fn denied(socket: &str) -> String {
    format!("permission denied on {socket}: run as root or as a member of the admin group")
}

/// A connection that the executor closes at once, before a byte is read, is
/// how its peer check turns away a caller it does not accept.
fn hung_up(socket: &str, detail: &str) -> String {
    format!(
        "error: spiderpig-executor at {socket} closed the connection ({detail}); \
         only root and members of the admin group may use it"
    )
}

fn path(p: &Path) -> String {
    escape(&p.display().to_string()).into_owned()
}

/// The error of type `E` behind a status, if there is one: tonic keeps the
/// connector's `io::Error`, or its own `TimeoutExpired`, in the source chain.
fn in_chain<E: std::error::Error + 'static>(status: &Status) -> Option<&E> {
    let mut source = status.source();
    while let Some(err) = source {
        if let Some(found) = err.downcast_ref::<E>() {
            return Some(found);
        }
        source = err.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use spiderpig_proto::v1 as pb;
    use spiderpig_proto::v1::admin_client::AdminClient;

    use super::*;
    use spiderpig_client::unix_channel;

    async fn status_at(path: &Path) -> VerbError {
        let mut client = AdminClient::new(unix_channel(path.to_path_buf()));
        let err = client.status(pb::StatusRequest {}).await.unwrap_err();
        VerbError::Rpc(err)
    }

    #[tokio::test]
    async fn no_socket_means_not_running() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("admin.sock");
        let msg = explain(&status_at(&socket).await, &socket);
        assert_eq!(
            msg,
            format!(
                "spiderpig-executor is not running: no socket at {}",
                socket.display()
            )
        );
        let missing_dir = dir.path().join("nope/admin.sock");
        let msg = explain(&status_at(&missing_dir).await, &missing_dir);
        assert!(
            msg.starts_with("spiderpig-executor is not running: no socket at"),
            "{msg}"
        );
    }

    #[tokio::test]
    async fn a_file_that_is_not_listening_means_connection_refused() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("admin.sock");
        std::fs::write(&socket, b"").unwrap();
        let msg = explain(&status_at(&socket).await, &socket);
        assert_eq!(
            msg,
            format!(
                "spiderpig-executor is not running (connection refused at {})",
                socket.display()
            )
        );
        // A socket file left behind by a dead executor looks the same.
        let stale = dir.path().join("stale.sock");
        drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
        let msg = explain(&status_at(&stale).await, &stale);
        assert!(msg.contains("connection refused"), "{msg}");
    }

    #[tokio::test]
    async fn a_connection_closed_at_once_names_the_admin_group() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("admin.sock");
        let listener = tokio::net::UnixListener::bind(&socket).unwrap();
        let server = tokio::spawn(async move {
            // Like a refused peer: accepted, then dropped unread.
            for _ in 0..4 {
                drop(listener.accept().await);
            }
        });
        let msg = explain(&status_at(&socket).await, &socket);
        server.abort();
        assert!(msg.starts_with("error: spiderpig-executor at "), "{msg}");
        assert!(
            msg.ends_with("only root and members of the admin group may use it"),
            "{msg}"
        );
    }

    #[test]
    fn eacces_on_connect_names_the_admin_group() {
        let status = Status::from_error(Box::new(io::Error::from(io::ErrorKind::PermissionDenied)));
        let msg = explain(
            &VerbError::Rpc(status),
            Path::new("/run/spiderpig/admin.sock"),
        );
        assert_eq!(
            msg,
            "permission denied on /run/spiderpig/admin.sock: run as root or as a member of the admin group"
        );
    }

    #[test]
    fn statuses_from_the_executor() {
        let sock = Path::new("/run/spiderpig/admin.sock");
        let cases: Vec<(Status, &str)> = vec![
            (
                Status::permission_denied("uid 1000 is not in group spiderpig-admin"),
                "permission denied on /run/spiderpig/admin.sock: run as root or as a member of the \
                 admin group (uid 1000 is not in group spiderpig-admin)",
            ),
            (
                Status::failed_precondition("job 7 is running scap"),
                "error: job 7 is running scap",
            ),
            (
                Status::cancelled("Timeout expired"),
                "error: spiderpig-executor did not answer in time on /run/spiderpig/admin.sock \
                 (Timeout expired)",
            ),
            (
                Status::not_found("no user \"bob\nroot\""),
                "error: no user \"bob\\nroot\"",
            ),
            (
                Status::invalid_argument("bad \u{1b}[31mreason"),
                "error: bad \\x1b[31mreason",
            ),
            (
                Status::unavailable("connection reset"),
                "error: spiderpig-executor at /run/spiderpig/admin.sock closed the connection \
                 (connection reset); only root and members of the admin group may use it",
            ),
        ];
        for (status, want) in cases {
            assert_eq!(explain(&VerbError::Rpc(status), sock), want);
        }
        let timeout = Status::from_error(Box::new(TimeoutExpired(())));
        assert_eq!(
            explain(&VerbError::Rpc(timeout), sock),
            "error: spiderpig-executor did not answer in time on /run/spiderpig/admin.sock"
        );
    }
}
