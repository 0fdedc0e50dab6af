//! How WebSocket tasks react to the executor's answers: retry with backoff
//! while it is down, stop when the session has ended. Trust: internal.

use std::time::Duration;

use tonic::{Code, Status};

/// First wait after the executor went away.
pub const FIRST_RETRY: Duration = Duration::from_secs(1);
/// Longest wait between attempts.
pub const MAX_RETRY: Duration = Duration::from_secs(10);

/// Doubling waits, 1 s → 10 s.
#[derive(Debug)]
pub struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { next: FIRST_RETRY }
    }
}

impl Backoff {
    /// The next wait, and double it for the time after.
    pub fn next_wait(&mut self) -> Duration {
        let wait = self.next;
        self.next = (self.next * 2).min(MAX_RETRY);
        wait
    }

    pub async fn wait(&mut self) {
        tokio::time::sleep(self.next_wait()).await;
    }

    pub fn reset(&mut self) {
        self.next = FIRST_RETRY;
    }
}

/// What an executor error means for a WebSocket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// The session is gone (logged out, banned, expired): close the socket.
    Revoked,
    /// The executor is down or restarting: keep the socket, retry.
    Down,
    /// This one request was refused (no such job ...): tell the browser.
    Refused,
}

/// Sort an executor error.
pub fn classify(status: &Status) -> Class {
    match status.code() {
        Code::Unauthenticated => Class::Revoked,
        Code::Unavailable | Code::Unknown | Code::Cancelled | Code::DeadlineExceeded => Class::Down,
        // A full watcher table, a busy executor: try again later.
        Code::ResourceExhausted | Code::Internal => Class::Down,
        _ => Class::Refused,
    }
}

/// What the browser is told when its session ended without a reason.
pub const SESSION_ENDED: &str = "the session has ended";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_ten_seconds_and_resets() {
        let mut b = Backoff::default();
        let waits: Vec<u64> = (0..6).map(|_| b.next_wait().as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 10, 10]);
        b.reset();
        assert_eq!(b.next_wait(), FIRST_RETRY);
    }

    #[test]
    fn statuses_table() {
        let cases = [
            (Code::Unauthenticated, Class::Revoked),
            (Code::Unavailable, Class::Down),
            (Code::Cancelled, Class::Down),
            (Code::NotFound, Class::Refused),
            (Code::PermissionDenied, Class::Refused),
            (Code::InvalidArgument, Class::Refused),
        ];
        for (code, class) in cases {
            assert_eq!(classify(&Status::new(code, "x")), class, "{code:?}");
        }
    }
}
