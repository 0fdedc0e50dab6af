//! The executor's HTTP client for the IDP. Trust: the IDP's answers are
//! untrusted input. No redirects are followed (a redirect could carry the client
//! secret or a code elsewhere, or reach internal services), every request has a
//! time limit, and response bodies are bounded.

use std::time::Duration;

use openidconnect::http::{self, HeaderMap};
use openidconnect::{HttpRequest, HttpResponse};

/// Largest response body read from the IDP (discovery, JWKS, token).
pub(super) const MAX_BODY_BYTES: usize = 256 * 1024;
const TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What went wrong talking to the IDP (shown only in logs).
#[derive(Debug)]
pub(super) struct HttpError(pub String);

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HttpError {}

/// A reqwest client with the limits above.
pub(super) fn build_client() -> Result<reqwest::Client, HttpError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .user_agent(concat!("spiderpig-executor/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| HttpError(format!("building the HTTP client: {e}")))
}

/// Send one request for openidconnect (used through its `Fn(HttpRequest)`
/// client impl) and read at most [`MAX_BODY_BYTES`] of the answer.
pub(super) async fn send(
    client: reqwest::Client,
    request: HttpRequest,
) -> Result<HttpResponse, HttpError> {
    let url = request.uri().to_string();
    let request = reqwest::Request::try_from(request)
        .map_err(|e| HttpError(format!("request to {url}: {e}")))?;
    let mut response = client
        .execute(request)
        .await
        .map_err(|e| HttpError(format!("request to {url}: {}", error_chain(&e))))?;
    if response
        .content_length()
        .is_some_and(|n| n > MAX_BODY_BYTES as u64)
    {
        return Err(HttpError(format!(
            "response from {url} is larger than {MAX_BODY_BYTES} bytes"
        )));
    }
    let status = response.status();
    if status.is_redirection() {
        return Err(HttpError(format!(
            "{url} answered {status}: redirects are not followed"
        )));
    }
    let headers: HeaderMap = response.headers().clone();
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| HttpError(format!("reading from {url}: {}", error_chain(&e))))?
    {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(HttpError(format!(
                "response from {url} is larger than {MAX_BODY_BYTES} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    let mut builder = http::Response::builder().status(status);
    if let Some(h) = builder.headers_mut() {
        *h = headers;
    }
    builder
        .body(body)
        .map_err(|e| HttpError(format!("response from {url}: {e}")))
}

/// An error and its sources on one line.
pub(super) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
