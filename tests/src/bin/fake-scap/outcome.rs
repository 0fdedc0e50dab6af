//! How a run ends, and the exit status each ending gets (SCAP.md, "Exit codes").

/// Stands in for scap's version in its failure line.
pub const SCAP_VERSION: &str = "4.999.0+fake-scap";

/// Why a run stopped before the end of its scenario.
#[derive(Debug)]
pub enum Stop {
    /// `prompt_for_approval_or_exit` was answered `n`: scap logs the message and
    /// exits 0.
    Cancelled(String),
    /// scap's `_handle_exception` path: it logs
    /// `backport failed: <kind> message (scap version: ...)` and exits non-zero.
    Failed { kind: &'static str, message: String },
    /// stdout or stderr cannot be written any more (the reader went away).
    Output(std::io::Error),
}

impl Stop {
    pub fn failed(kind: &'static str, message: impl Into<String>) -> Stop {
        Stop::Failed {
            kind,
            message: message.into(),
        }
    }

    /// The exit status for this ending. Real scap exits 70 from
    /// `_handle_exception` (e.g. when `sync-world` failed); SCAP.md, the
    /// contract SpiderPig is written against, says 1 for every failure, and so
    /// does fake-scap.
    pub fn exit_code(&self) -> i32 {
        match self {
            Stop::Cancelled(_) => 0,
            Stop::Failed { .. } | Stop::Output(_) => 1,
        }
    }
}

impl From<std::io::Error> for Stop {
    fn from(e: std::io::Error) -> Stop {
        Stop::Output(e)
    }
}
