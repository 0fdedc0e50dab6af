//! Browser-facing defences: security headers on every response, and the
//! Origin / Sec-Fetch-Site and CSRF checks on every state change. Trust:
//! request headers are untrusted.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use spiderpig_policy::constant_time::constant_time_eq;

use crate::cookies;
use crate::error::WebError;
use crate::state::AppState;

/// The Content-Security-Policy of every response. Scripts and styles come
/// only from this origin (embedded assets); no inline script, no eval.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
font-src 'self'; connect-src 'self'; manifest-src 'self'; form-action 'self'; \
object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// Adds the security headers to every response (pages, API, assets, errors).
pub async fn headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let is_asset = req.uri().path().starts_with("/assets/");
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        // Not `no-referrer`: under it browsers send `Origin: null` on form
        // POSTs (Fetch, "serializing a request origin"), which the exact
        // Origin check refuses. `same-origin` still sends nothing elsewhere.
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
    );
    if state.config.is_https() {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    if !is_asset && !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

/// Is this request from our own pages? `Origin` must be exactly the public
/// origin; without `Origin`, `Sec-Fetch-Site` must say `same-origin`.
/// Requests with neither are refused (every current browser sends one).
pub fn check_origin(headers: &HeaderMap, public_origin: &str) -> Result<(), WebError> {
    if let Some(origin) = headers.get(header::ORIGIN) {
        return if origin.as_bytes() == public_origin.as_bytes() {
            Ok(())
        } else {
            Err(WebError::CrossSite("cross-origin request"))
        };
    }
    match headers.get("sec-fetch-site").map(|v| v.as_bytes()) {
        Some(b"same-origin") => Ok(()),
        Some(_) => Err(WebError::CrossSite("cross-site request")),
        None => Err(WebError::CrossSite("request without Origin")),
    }
}

/// The double-submit check: the token sent with the request (form field or
/// `X-CSRF-Token` header) must equal the CSRF cookie.
pub fn check_csrf(headers: &HeaderMap, sent: Option<&str>) -> Result<(), WebError> {
    let cookie =
        cookies::get(headers, cookies::CSRF).ok_or(WebError::CrossSite("missing CSRF cookie"))?;
    let sent = sent
        .map(str::to_string)
        .or_else(|| {
            headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        })
        .ok_or(WebError::CrossSite("missing CSRF token"))?;
    if constant_time_eq(cookie.as_bytes(), sent.as_bytes()) {
        Ok(())
    } else {
        Err(WebError::CrossSite("wrong CSRF token"))
    }
}

/// Every state change: Origin first, then CSRF.
pub fn check_state_change(
    method: &Method,
    headers: &HeaderMap,
    public_origin: &str,
    sent_token: Option<&str>,
) -> Result<(), WebError> {
    if method != Method::POST {
        return Err(WebError::BadRequest("state changes are POST only".into()));
    }
    check_origin(headers, public_origin)?;
    check_csrf(headers, sent_token)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGIN: &str = "https://deploy.example.org";

    fn with(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn origin_table() {
        let cases: &[(&[(&str, &str)], bool)] = &[
            (&[("origin", ORIGIN)], true),
            (&[("origin", "https://evil.example")], false),
            (&[("origin", "https://deploy.example.org.evil.com")], false),
            (&[("origin", "null")], false),
            (&[("origin", "http://deploy.example.org")], false),
            (&[("sec-fetch-site", "same-origin")], true),
            (&[("sec-fetch-site", "cross-site")], false),
            (&[("sec-fetch-site", "same-site")], false),
            (&[("sec-fetch-site", "none")], false),
            (&[], false),
            (
                &[
                    ("origin", "https://evil.example"),
                    ("sec-fetch-site", "same-origin"),
                ],
                false,
            ),
        ];
        for (headers, ok) in cases {
            let h = with(headers);
            assert_eq!(check_origin(&h, ORIGIN).is_ok(), *ok, "{headers:?}");
        }
    }

    #[test]
    fn csrf_needs_matching_cookie_and_token() {
        let h = with(&[("cookie", "__Host-spiderpig-csrf=abc123")]);
        assert!(check_csrf(&h, Some("abc123")).is_ok());
        assert!(check_csrf(&h, Some("abc124")).is_err());
        assert!(check_csrf(&h, None).is_err());
        let h2 = with(&[
            ("cookie", "__Host-spiderpig-csrf=abc123"),
            ("x-csrf-token", "abc123"),
        ]);
        assert!(check_csrf(&h2, None).is_ok());
        assert!(check_csrf(&with(&[]), Some("abc123")).is_err());
    }
}
