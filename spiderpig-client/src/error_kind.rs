//! The executor's outcome names: the `spiderpig-error` metadata entry that
//! every refusal on `Deployer` carries (see the proto's `service Deployer`).
//! Trust: the executor sets it; clients read it instead of interpreting
//! message text. Defined once here, for the executor that sends it and for
//! the web and the tests that read it.

use std::fmt;
use std::str::FromStr;

use tonic::Status;
use tonic::metadata::MetadataValue;

/// The gRPC metadata key carrying an [`ErrorKind`].
pub const ERROR_KIND_KEY: &str = "spiderpig-error";

/// A stable name for why the executor refused a call. Several kinds share a
/// gRPC code (`totp_wrong` and `invalid_argument` are both INVALID_ARGUMENT);
/// the kind tells them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    BadConfig,
    InvalidArgument,
    Unauthenticated,
    TotpRequired,
    TotpMalformed,
    TotpWrong,
    TotpReplayed,
    TotpLockedOut,
    TotpNotEnrolled,
    TotpAlreadyEnrolled,
    LoginStateInvalid,
    LoginFailed,
    NotAuthorized,
    Banned,
    NotYourJob,
    /// A role refusal from `policy` (admin-only or system-only events).
    NotAllowed,
    NotFound,
    Frozen,
    QueueLimit,
    WrongState,
    PromptNotPending,
    PeerRejected,
    /// Our fault; the message carries only a request id.
    Internal,
}

impl ErrorKind {
    /// Every kind, for round-trip tests and documentation.
    pub const ALL: [ErrorKind; 23] = [
        ErrorKind::BadConfig,
        ErrorKind::InvalidArgument,
        ErrorKind::Unauthenticated,
        ErrorKind::TotpRequired,
        ErrorKind::TotpMalformed,
        ErrorKind::TotpWrong,
        ErrorKind::TotpReplayed,
        ErrorKind::TotpLockedOut,
        ErrorKind::TotpNotEnrolled,
        ErrorKind::TotpAlreadyEnrolled,
        ErrorKind::LoginStateInvalid,
        ErrorKind::LoginFailed,
        ErrorKind::NotAuthorized,
        ErrorKind::Banned,
        ErrorKind::NotYourJob,
        ErrorKind::NotAllowed,
        ErrorKind::NotFound,
        ErrorKind::Frozen,
        ErrorKind::QueueLimit,
        ErrorKind::WrongState,
        ErrorKind::PromptNotPending,
        ErrorKind::PeerRejected,
        ErrorKind::Internal,
    ];

    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        use ErrorKind::*;
        match self {
            BadConfig => "bad_config",
            InvalidArgument => "invalid_argument",
            Unauthenticated => "unauthenticated",
            TotpRequired => "totp_required",
            TotpMalformed => "totp_malformed",
            TotpWrong => "totp_wrong",
            TotpReplayed => "totp_replayed",
            TotpLockedOut => "totp_locked_out",
            TotpNotEnrolled => "totp_not_enrolled",
            TotpAlreadyEnrolled => "totp_already_enrolled",
            LoginStateInvalid => "login_state_invalid",
            LoginFailed => "login_failed",
            NotAuthorized => "not_authorized",
            Banned => "banned",
            NotYourJob => "not_your_job",
            NotAllowed => "not_allowed",
            NotFound => "not_found",
            Frozen => "frozen",
            QueueLimit => "queue_limit",
            WrongState => "wrong_state",
            PromptNotPending => "prompt_not_pending",
            PeerRejected => "peer_rejected",
            Internal => "internal",
        }
    }

    /// The kind a status carries, or `None` if it has none (a status made by
    /// tonic or the transport, not by the executor) or an unknown one.
    pub fn of(status: &Status) -> Option<ErrorKind> {
        status
            .metadata()
            .get(ERROR_KIND_KEY)?
            .to_str()
            .ok()?
            .parse()
            .ok()
    }

    /// Tag `status` with this kind (the executor's side).
    pub fn attach(self, status: &mut Status) {
        status
            .metadata_mut()
            .insert(ERROR_KIND_KEY, MetadataValue::from_static(self.as_str()));
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An `spiderpig-error` value that names no [`ErrorKind`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownErrorKind;

impl fmt::Display for UnknownErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unknown spiderpig-error kind")
    }
}

impl std::error::Error for UnknownErrorKind {}

impl FromStr for ErrorKind {
    type Err = UnknownErrorKind;

    fn from_str(s: &str) -> Result<Self, UnknownErrorKind> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or(UnknownErrorKind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;

    #[test]
    fn every_kind_round_trips_through_a_status() {
        let mut names = std::collections::HashSet::new();
        for kind in ErrorKind::ALL {
            assert!(names.insert(kind.as_str()), "{kind} named twice");
            let mut status = Status::new(Code::InvalidArgument, "refused");
            kind.attach(&mut status);
            assert_eq!(ErrorKind::of(&status), Some(kind));
        }
    }

    #[test]
    fn a_status_without_or_with_a_strange_kind_has_none() {
        assert_eq!(ErrorKind::of(&Status::unavailable("down")), None);
        let mut status = Status::internal("x");
        status
            .metadata_mut()
            .insert(ERROR_KIND_KEY, MetadataValue::from_static("no_such_kind"));
        assert_eq!(ErrorKind::of(&status), None);
    }
}
