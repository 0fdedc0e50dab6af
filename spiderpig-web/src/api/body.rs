//! The checks every API request passes before anything is forwarded: the
//! session cookie must be present, and a POST must pass the Origin and CSRF
//! checks, carry `Content-Type: application/json` and a body within the
//! limit that parses. Trust: headers and bodies are untrusted; a refusal here
//! means no RPC was made.

use axum::Json;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::cookies;
use crate::error::{ErrorBody, WebError};
use crate::state::AppState;

/// Longest JSON parser message shown back (it may quote the input).
const MAX_PARSE_MESSAGE: usize = 200;

/// What an API handler can answer instead of its result.
#[derive(Debug)]
pub enum ApiError {
    Web(WebError),
    /// The POST did not say `Content-Type: application/json`.
    NotJson,
    /// The body is over `limits.body_bytes`.
    TooLarge,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl From<WebError> for ApiError {
    fn from(e: WebError) -> Self {
        ApiError::Web(e)
    }
}

impl From<tonic::Status> for ApiError {
    fn from(s: tonic::Status) -> Self {
        ApiError::Web(WebError::from_status(s))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, error, message) = match self {
            ApiError::Web(e) => return e.into_response(),
            ApiError::NotJson => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the request body as JSON with Content-Type: application/json",
            ),
            ApiError::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                "the request body is larger than this server accepts",
            ),
        };
        let body = ErrorBody {
            error,
            message: message.to_string(),
        };
        (status, Json(body)).into_response()
    }
}

/// The session token from the cookie, or 401 without asking anyone.
pub fn session_token(headers: &HeaderMap) -> Result<String, WebError> {
    cookies::get(headers, cookies::SESSION).ok_or(WebError::Unauthenticated)
}

/// Everything an API POST must pass, in this order: Origin / Sec-Fetch-Site
/// and the `X-CSRF-Token` double submit (403), the session cookie (401),
/// the body size (413), `Content-Type` (415), the JSON shape (400). An
/// empty body reads as `{}`.
pub fn post_json<T: DeserializeOwned>(
    state: &AppState,
    method: &Method,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(String, T)> {
    crate::security::check_state_change(method, headers, &state.config.public_origin, None)?;
    let token = session_token(headers)?;
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge,
        _ => ApiError::Web(WebError::BadRequest(
            "the request body could not be read".into(),
        )),
    })?;
    if !is_json(headers) {
        return Err(ApiError::NotJson);
    }
    let bytes: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        &body
    };
    let value = serde_json::from_slice(bytes).map_err(|e| {
        let detail: String = e.to_string().chars().take(MAX_PARSE_MESSAGE).collect();
        WebError::BadRequest(format!("the JSON body was refused: {detail}"))
    })?;
    Ok((token, value))
}

/// `application/json`, with or without parameters such as `charset`.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn json_content_types() {
        let cases = [
            ("application/json", true),
            ("application/json; charset=utf-8", true),
            ("Application/JSON", true),
            ("text/plain", false),
            ("application/x-www-form-urlencoded", false),
            ("multipart/form-data; boundary=x", false),
            ("application/jsonp", false),
            ("", false),
        ];
        for (value, ok) in cases {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(value));
            assert_eq!(is_json(&h), ok, "{value}");
        }
        assert!(!is_json(&HeaderMap::new()));
    }
}
