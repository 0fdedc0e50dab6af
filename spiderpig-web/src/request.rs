//! Per-request facts taken from the browser's request, and the request id.
//! Trust: untrusted headers, used only for the audit trail and the CSRF
//! double submit. The request id is made here, never taken from the client:
//! it joins the web's log, the executor's log and what the person is shown.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;

use crate::cookies;
use crate::executor::RequestContext;

/// This request's id (9 random bytes, base64url), set by [`assign_id`].
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

tokio::task_local! {
    static CURRENT: RequestId;
}

/// The id of the request being handled, if any (error messages show it).
pub fn current_id() -> Option<String> {
    CURRENT.try_with(|id| id.0.clone()).ok()
}

/// Middleware: give the request a fresh id, in its extensions (for the
/// `TraceLayer` span, [`span`], and [`Meta`]) and in the task while its
/// handler runs (so an internal error's message can name it).
pub async fn assign_id(mut req: Request, next: Next) -> Response {
    let id = RequestId(random_token(9));
    req.extensions_mut().insert(id.clone());
    CURRENT.scope(id, next.run(req)).await
}

/// The `TraceLayer` span of a request: its id, method and path (never the
/// query string, which may carry an OIDC code).
pub fn span<B>(req: &axum::http::Request<B>) -> tracing::Span {
    let id = req
        .extensions()
        .get::<RequestId>()
        .map_or("", |id| id.0.as_str());
    tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %req.uri().path(),
    )
}

/// The request's origin facts (address, user agent, request id).
pub struct Meta(pub RequestContext);

impl Meta {
    /// Read the facts from a request's parts (never fails).
    pub fn from_parts(parts: &Parts) -> Meta {
        let client_addr = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string())
            .unwrap_or_else(|| "unknown".into());
        let user_agent = parts
            .headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let request_id = match parts.extensions.get::<RequestId>() {
            Some(id) => id.0.clone(),
            None => random_token(9),
        };
        Meta(RequestContext {
            client_addr,
            user_agent,
            request_id,
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Meta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Meta::from_parts(parts))
    }
}

/// `n` random bytes from the OS, base64url.
pub fn random_token(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::fill(&mut bytes[..]);
    data_encoding::BASE64URL_NOPAD.encode(&bytes)
}

/// The CSRF token for this browser, and a `Set-Cookie` if it is new.
pub fn csrf_token(headers: &HeaderMap) -> (String, Option<String>) {
    match cookies::get(headers, cookies::CSRF) {
        Some(t) => (t, None),
        None => {
            let t = random_token(32);
            let set = cookies::set(cookies::CSRF, &t, None);
            (t, Some(set))
        }
    }
}
