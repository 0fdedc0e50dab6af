//! How WebSocket tasks react to the executor's answers: retry with backoff
//! while it is down, stop when the session has ended. Trust: internal.

use std::time::Duration;

use tonic::Status;

use crate::error::WebError;

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

pub use crate::error::Class;

/// Sort an executor error, by the web's one classifier.
pub fn classify(status: &Status) -> Class {
    WebError::from_status(status).class()
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
        use tonic::Code;
        let cases = [
            (Code::Unauthenticated, Class::Revoked),
            (Code::Unavailable, Class::Down),
            (Code::Cancelled, Class::Down),
            (Code::NotFound, Class::Refused),
            (Code::PermissionDenied, Class::Refused),
            (Code::InvalidArgument, Class::Refused),
            (Code::ResourceExhausted, Class::Down),
            (Code::Internal, Class::Down),
            (Code::DeadlineExceeded, Class::Down),
        ];
        for (code, class) in cases {
            assert_eq!(classify(&Status::new(code, "x")), class, "{code:?}");
        }
    }
}
