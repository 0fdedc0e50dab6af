//! Per-request facts taken from the browser's request. Trust: untrusted
//! headers, used only for the audit trail and the CSRF double submit.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;

use crate::cookies;
use crate::executor::Origin;

/// The request's origin facts (address, user agent, a fresh request id).
pub struct Meta(pub Origin);

impl<S: Send + Sync> FromRequestParts<S> for Meta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
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
        Ok(Meta(Origin {
            client_addr,
            user_agent,
            request_id: random_token(9),
        }))
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
