//! The executor's one error enum, and its single mapping to gRPC statuses.
//! Trust: internal. Messages of client-facing variants are safe to show to the
//! person who made the request; internal faults are logged in full and reach
//! the client only as a generic message with a request id.

use std::fmt;

use spiderpig_client::ErrorKind;
use spiderpig_policy::PolicyError;
use tonic::{Code, Status};

/// Everything that can go wrong in the executor, named by outcome.
#[derive(Debug)]
pub enum ExecutorError {
    /// The configuration is unusable; `key` names the TOML key.
    BadConfig { key: String, reason: String },
    /// Input refused by the policy crate (bad change, bad answer, wrong state ...).
    Policy(PolicyError),
    /// A request field is malformed or out of its limits.
    InvalidArgument(String),
    /// No session, an unknown, expired or revoked token.
    Unauthenticated,
    /// The session has not passed TOTP yet.
    TotpRequired,
    /// The code is not six ASCII digits.
    TotpMalformed,
    /// The code is wrong.
    TotpWrong,
    /// The code (or an older one) was already used.
    TotpReplayed,
    /// Too many wrong codes; refused until the given time.
    TotpLockedOut { until_ms: i64 },
    /// TOTP is not enrolled for this user.
    TotpNotEnrolled,
    /// TOTP is already enrolled; the secret is never shown again.
    TotpAlreadyEnrolled,
    /// The OIDC callback's state is missing, unknown, expired or used.
    LoginStateInvalid,
    /// The IDP exchange or the ID token check failed; the reason is logged.
    LoginFailed(String),
    /// The person is not in any configured group.
    NotAuthorized,
    /// The person is banned.
    Banned,
    /// The caller may not act on this job or prompt.
    NotYourJob,
    /// The thing asked for does not exist.
    NotFound(String),
    /// Deployments are frozen.
    Frozen(String),
    /// The per-user queue limit is reached.
    QueueLimit { limit: usize },
    /// The job is not in a state where this is possible.
    WrongState(String),
    /// The answer names a prompt that is not pending.
    PromptNotPending,
    /// A Unix-socket peer is not allowed.
    PeerRejected { uid: u32 },
    /// scap could not be started.
    Spawn(String),
    /// The store failed (disk full, I/O error ...).
    Store(String),
    /// Anything else that is our fault.
    Internal(String),
}

impl fmt::Display for ExecutorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ExecutorError::*;
        match self {
            BadConfig { key, reason } => write!(f, "configuration key `{key}`: {reason}"),
            Policy(e) => write!(f, "{e}"),
            InvalidArgument(m) => write!(f, "{m}"),
            Unauthenticated => f.write_str("not signed in, or the session has ended"),
            TotpRequired => f.write_str("a TOTP code is needed to finish signing in"),
            TotpMalformed => f.write_str("a TOTP code is exactly 6 digits (0-9)"),
            TotpWrong => f.write_str("that TOTP code is not right"),
            TotpReplayed => f.write_str("that TOTP code was already used; wait for the next one"),
            TotpLockedOut { until_ms } => write!(
                f,
                "too many wrong TOTP codes: try again after {}",
                spiderpig_policy::time::utc(*until_ms)
            ),
            TotpNotEnrolled => f.write_str("TOTP is not set up for this account"),
            TotpAlreadyEnrolled => f.write_str("TOTP is already set up for this account"),
            LoginStateInvalid => {
                f.write_str("this sign-in link is invalid or has expired: start again")
            }
            LoginFailed(_) => {
                f.write_str("sign-in failed: the identity provider's answer was refused")
            }
            NotAuthorized => f.write_str("your account is not authorized to use SpiderPig"),
            Banned => f.write_str("your account is banned from SpiderPig"),
            NotYourJob => f.write_str("only the job's owner or an admin may do that"),
            NotFound(what) => write!(f, "{what} not found"),
            Frozen(reason) => write!(f, "deployments are frozen: {reason}"),
            QueueLimit { limit } => write!(f, "you already have {limit} job(s) queued"),
            WrongState(m) => write!(f, "{m}"),
            PromptNotPending => f.write_str("that prompt is not waiting for an answer"),
            PeerRejected { uid } => write!(f, "connection from uid {uid} refused"),
            Spawn(_) => f.write_str("scap could not be started"),
            Store(_) => f.write_str("the state store failed"),
            Internal(_) => f.write_str("internal error"),
        }
    }
}

impl std::error::Error for ExecutorError {}

impl From<PolicyError> for ExecutorError {
    fn from(e: PolicyError) -> Self {
        ExecutorError::Policy(e)
    }
}

impl From<redb::Error> for ExecutorError {
    fn from(e: redb::Error) -> Self {
        ExecutorError::Store(e.to_string())
    }
}

macro_rules! store_error_from {
    ($($t:ty),*) => {$(
        impl From<$t> for ExecutorError {
            fn from(e: $t) -> Self {
                ExecutorError::Store(e.to_string())
            }
        }
    )*};
}
store_error_from!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    serde_json::Error
);

impl ExecutorError {
    /// The gRPC code for this outcome.
    pub fn code(&self) -> Code {
        use ExecutorError::*;
        match self {
            Policy(e) => policy_code(e),
            InvalidArgument(_) | TotpMalformed | BadConfig { .. } => Code::InvalidArgument,
            Unauthenticated | TotpRequired => Code::Unauthenticated,
            TotpWrong | TotpReplayed | LoginStateInvalid => Code::InvalidArgument,
            LoginFailed(_) => Code::Unauthenticated,
            NotAuthorized | Banned | NotYourJob | PeerRejected { .. } => Code::PermissionDenied,
            TotpLockedOut { .. } | QueueLimit { .. } => Code::ResourceExhausted,
            TotpNotEnrolled | TotpAlreadyEnrolled | Frozen(_) | WrongState(_)
            | PromptNotPending => Code::FailedPrecondition,
            NotFound(_) => Code::NotFound,
            Spawn(_) | Store(_) | Internal(_) => Code::Internal,
        }
    }

    /// A stable name for the outcome, sent as the `spiderpig-error` metadata
    /// so the web can tell outcomes apart without reading messages.
    pub fn kind(&self) -> ErrorKind {
        use ErrorKind as K;
        use ExecutorError::*;
        match self {
            BadConfig { .. } => K::BadConfig,
            Policy(e) => policy_kind(e),
            InvalidArgument(_) => K::InvalidArgument,
            Unauthenticated => K::Unauthenticated,
            TotpRequired => K::TotpRequired,
            TotpMalformed => K::TotpMalformed,
            TotpWrong => K::TotpWrong,
            TotpReplayed => K::TotpReplayed,
            TotpLockedOut { .. } => K::TotpLockedOut,
            TotpNotEnrolled => K::TotpNotEnrolled,
            TotpAlreadyEnrolled => K::TotpAlreadyEnrolled,
            LoginStateInvalid => K::LoginStateInvalid,
            LoginFailed(_) => K::LoginFailed,
            NotAuthorized => K::NotAuthorized,
            Banned => K::Banned,
            NotYourJob => K::NotYourJob,
            NotFound(_) => K::NotFound,
            Frozen(_) => K::Frozen,
            QueueLimit { .. } => K::QueueLimit,
            WrongState(_) => K::WrongState,
            PromptNotPending => K::PromptNotPending,
            PeerRejected { .. } => K::PeerRejected,
            Spawn(_) | Store(_) | Internal(_) => K::Internal,
        }
    }

    /// True for faults that are ours, not the caller's.
    pub fn is_internal(&self) -> bool {
        self.code() == Code::Internal
    }

    /// The one mapping to a gRPC status. Internal detail is logged here with
    /// the request id and never sent.
    pub fn into_status(self, request_id: &str) -> Status {
        let code = self.code();
        if self.is_internal() || matches!(self, ExecutorError::LoginFailed(_)) {
            tracing::error!(request_id, error = ?self, "request failed");
        }
        let kind = self.kind();
        let mut status = if self.is_internal() {
            Status::new(code, format!("internal error (request id {request_id})"))
        } else {
            Status::new(code, self.to_string())
        };
        kind.attach(&mut status);
        status
    }
}

fn policy_code(e: &PolicyError) -> Code {
    match e {
        PolicyError::NotYourJob
        | PolicyError::AdminOnly { .. }
        | PolicyError::SystemOnly { .. } => Code::PermissionDenied,
        PolicyError::NotAllowed { .. } | PolicyError::TwoLockHolders(..) => {
            Code::FailedPrecondition
        }
        _ => Code::InvalidArgument,
    }
}

/// The kind of a policy refusal, in step with [`policy_code`]: a refusal sent
/// as PERMISSION_DENIED must not be named `invalid_argument`.
fn policy_kind(e: &PolicyError) -> ErrorKind {
    match e {
        PolicyError::NotYourJob => ErrorKind::NotYourJob,
        PolicyError::AdminOnly { .. } | PolicyError::SystemOnly { .. } => ErrorKind::NotAllowed,
        PolicyError::NotAllowed { .. } | PolicyError::TwoLockHolders(..) => ErrorKind::WrongState,
        _ => ErrorKind::InvalidArgument,
    }
}

impl From<ExecutorError> for Status {
    fn from(e: ExecutorError) -> Self {
        e.into_status("-")
    }
}

/// The executor's result type.
pub type Result<T, E = ExecutorError> = std::result::Result<T, E>;
