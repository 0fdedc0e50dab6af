//! The web's one error enum and its mapping to HTTP. Trust: messages from the
//! executor are already safe to show (it sends only the person's own
//! mistakes in clear); internal faults become a generic message with the
//! request id.

use std::fmt;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use spiderpig_client::ErrorKind;

/// What can go wrong in spiderpig-web.
#[derive(Debug)]
pub enum WebError {
    BadConfig {
        key: String,
        reason: String,
    },
    /// The request itself is malformed (bad form field, bad change list ...).
    BadRequest(String),
    /// No session, or it ended.
    Unauthenticated,
    /// Signed in, TOTP not yet passed.
    TotpRequired,
    /// CSRF token or Origin check failed.
    CrossSite(&'static str),
    /// The executor refused.
    Forbidden(String),
    /// Signed in at the IDP, but in no group SpiderPig accepts.
    NotAuthorized,
    NotFound(String),
    /// Wrong state (frozen, not your turn ...).
    Conflict(String),
    /// A limit (TOTP lock-out, queue limit ...).
    TooMany(String),
    /// An API POST whose body is not `application/json`.
    NotJson,
    /// A request body over `limits.body_bytes`.
    TooLarge,
    /// The executor is not reachable.
    ExecutorDown,
    /// Gerrit did not answer usefully.
    Gerrit(String),
    Internal(String),
}

impl fmt::Display for WebError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use WebError::*;
        match self {
            BadConfig { key, reason } => write!(f, "configuration key `{key}`: {reason}"),
            BadRequest(m) | Forbidden(m) | Conflict(m) | TooMany(m) => f.write_str(m),
            NotFound(what) => write!(f, "{what} not found"),
            Unauthenticated => f.write_str("not signed in, or the session has ended"),
            NotAuthorized => f.write_str("your account is not authorized to use SpiderPig"),
            TotpRequired => f.write_str("a TOTP code is needed to finish signing in"),
            CrossSite(why) => write!(f, "request refused: {why}"),
            ExecutorDown => f.write_str(
                "SpiderPig's executor is not reachable right now; the page will recover when it is back",
            ),
            NotJson => f.write_str(
                "send the request body as JSON with Content-Type: application/json",
            ),
            TooLarge => f.write_str("the request body is larger than this server accepts"),
            Gerrit(m) => write!(f, "Gerrit: {m}"),
            Internal(_) => match crate::request::current_id() {
                Some(id) => write!(f, "internal error (request id {id})"),
                None => f.write_str("internal error"),
            },
        }
    }
}

impl std::error::Error for WebError {}

impl WebError {
    pub fn status(&self) -> StatusCode {
        use WebError::*;
        match self {
            BadConfig { .. } | Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            BadRequest(_) => StatusCode::BAD_REQUEST,
            Unauthenticated | TotpRequired => StatusCode::UNAUTHORIZED,
            CrossSite(_) | Forbidden(_) | NotAuthorized => StatusCode::FORBIDDEN,
            NotFound(_) => StatusCode::NOT_FOUND,
            Conflict(_) => StatusCode::CONFLICT,
            TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
            NotJson => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ExecutorDown => StatusCode::SERVICE_UNAVAILABLE,
            Gerrit(_) => StatusCode::BAD_GATEWAY,
        }
    }

    /// A short machine-readable name for the JSON body.
    pub fn kind(&self) -> &'static str {
        use WebError::*;
        match self {
            BadConfig { .. } | Internal(_) => "internal",
            BadRequest(_) => "bad_request",
            Unauthenticated => "unauthenticated",
            TotpRequired => "totp_required",
            CrossSite(_) => "cross_site",
            Forbidden(_) => "forbidden",
            NotAuthorized => "not_authorized",
            NotFound(_) => "not_found",
            Conflict(_) => "conflict",
            TooMany(_) => "too_many",
            NotJson => "unsupported_media_type",
            TooLarge => "too_large",
            ExecutorDown => "executor_down",
            Gerrit(_) => "gerrit",
        }
    }

    /// What this outcome means for a long-lived WebSocket task.
    pub fn class(&self) -> Class {
        use WebError::*;
        match self {
            Unauthenticated | TotpRequired => Class::Revoked,
            // Down, restarting, a full watcher table or a fault: try again later.
            ExecutorDown | TooMany(_) | Internal(_) => Class::Down,
            BadConfig { .. }
            | BadRequest(_)
            | CrossSite(_)
            | Forbidden(_)
            | NotAuthorized
            | NotFound(_)
            | Conflict(_)
            | NotJson
            | TooLarge
            | Gerrit(_) => Class::Refused,
        }
    }

    /// The executor's answer, mapped by gRPC code: the web's one reading of
    /// a `tonic::Status` (pages, API and WebSocket tasks all use it).
    pub fn from_status(status: &tonic::Status) -> WebError {
        use tonic::Code;
        let msg = status.message().to_string();
        match (status.code(), ErrorKind::of(status)) {
            (Code::Unauthenticated, Some(ErrorKind::TotpRequired)) => {
                return WebError::TotpRequired;
            }
            (Code::PermissionDenied, Some(ErrorKind::NotAuthorized)) => {
                return WebError::NotAuthorized;
            }
            _ => {}
        }
        match status.code() {
            Code::InvalidArgument | Code::OutOfRange => WebError::BadRequest(msg),
            Code::Unauthenticated => WebError::Unauthenticated,
            Code::PermissionDenied => WebError::Forbidden(msg),
            Code::NotFound => WebError::NotFound(msg.trim_end_matches(" not found").to_string()),
            Code::FailedPrecondition | Code::AlreadyExists | Code::Aborted => {
                WebError::Conflict(msg)
            }
            Code::ResourceExhausted => WebError::TooMany(msg),
            Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled | Code::Unknown => {
                WebError::ExecutorDown
            }
            _ => WebError::Internal(msg),
        }
    }
}

impl WebError {
    /// Log an internal fault's detail (never shown to the person; the span
    /// carries the request id that the message shows).
    pub fn log_internal(&self) {
        if let WebError::Internal(detail) = self {
            tracing::error!(%detail, "internal error");
        }
    }
}

/// The JSON error body of the API.
#[derive(Serialize)]
pub struct ErrorBody {
    pub error: &'static str,
    pub message: String,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        self.log_internal();
        let body = ErrorBody {
            error: self.kind(),
            message: self.to_string(),
        };
        (self.status(), Json(body)).into_response()
    }
}

impl From<tonic::Status> for WebError {
    fn from(s: tonic::Status) -> Self {
        WebError::from_status(&s)
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
