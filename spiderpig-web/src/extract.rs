//! The checks every handler needs before it may ask the executor anything,
//! as axum extractors: who is signed in ([`SignedIn`]) and whether a state
//! change may go ahead ([`StateChange`]). Trust: headers, cookies and bodies
//! are untrusted; a rejection here means no RPC was made, except the one
//! `WhoAmI` a page surface makes to learn who is there.
//!
//! A [`Surface`] says how each kind of route answers a refusal: the JSON API
//! with a JSON error (401, never a redirect), pages with a redirect to sign
//! in or an HTML page, never JSON. The order of the checks of a state change
//! is fixed here, once: Origin / `Sec-Fetch-Site` and the CSRF double submit
//! (403), the session (401), then for the API the body size (413),
//! `Content-Type` (415) and the JSON shape (400). A page form that cannot be
//! read is treated as empty, so it fails the CSRF check with a page.

use std::future::Future;

use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::auth::Me;
use crate::cookies;
use crate::error::WebError;
use crate::executor::RequestContext;
use crate::pages::parts::Page;
use crate::request::Meta;
use crate::security::check_state_change;
use crate::state::AppState;

/// Longest JSON parser message shown back (it may quote the input).
const MAX_PARSE_MESSAGE: usize = 200;

/// A kind of route: how it learns who is asking and how it refuses.
pub trait Surface: Sized + Send + Sync + 'static {
    /// What a handler of this surface knows about the person.
    type Who: Send;
    /// The response for a refusal.
    type Rejection: IntoResponse;
    /// How its state changes carry their body: [`format::Json`] or [`format::Form`].
    type Format;

    /// Who is asking. Called only after the state-change checks passed.
    fn who(
        state: &AppState,
        headers: &HeaderMap,
        origin: &RequestContext,
    ) -> impl Future<Output = Result<Self::Who, Self::Rejection>> + Send;

    /// A refusal before anyone was asked.
    fn refuse(state: &AppState, headers: &HeaderMap, e: WebError) -> Self::Rejection;
}

/// The JSON API: the session cookie must be there (the executor checks it
/// on the call itself, so no extra RPC); refusals are JSON.
pub struct Api;

impl Surface for Api {
    /// The session token.
    type Who = String;
    type Rejection = WebError;
    type Format = format::Json;

    async fn who(
        _: &AppState,
        headers: &HeaderMap,
        _: &RequestContext,
    ) -> Result<String, WebError> {
        session_token(headers)
    }

    fn refuse(_: &AppState, _: &HeaderMap, e: WebError) -> WebError {
        e
    }
}

/// A page for someone signed in (`NEED_TOTP`: who has also passed TOTP):
/// the executor is asked who holds the cookie. Not signed in → 303
/// `/login`; TOTP pending → 303 `/totp`; executor down → a 503 page that
/// says so.
pub struct SignedInPage<const NEED_TOTP: bool>;

/// Every page but the TOTP step.
pub type Html = SignedInPage<true>;
/// The TOTP page: signed in at the identity provider, TOTP not yet passed.
pub type TotpStep = SignedInPage<false>;

impl<const NEED_TOTP: bool> Surface for SignedInPage<NEED_TOTP> {
    type Who = (Page, Me);
    type Rejection = Response;
    type Format = format::Form;

    async fn who(
        state: &AppState,
        headers: &HeaderMap,
        origin: &RequestContext,
    ) -> Result<Self::Who, Response> {
        Page::open(state, headers, origin, NEED_TOTP).await
    }

    fn refuse(state: &AppState, headers: &HeaderMap, e: WebError) -> Response {
        Page::anonymous(state, headers).fail(None, e)
    }
}

/// A page form anyone may send (sign-out): the session cookie, if any.
pub struct Anyone;

impl Surface for Anyone {
    type Who = Option<String>;
    type Rejection = Response;
    type Format = format::Form;

    async fn who(
        _: &AppState,
        headers: &HeaderMap,
        _: &RequestContext,
    ) -> Result<Self::Who, Response> {
        Ok(cookies::get(headers, cookies::SESSION))
    }

    fn refuse(state: &AppState, headers: &HeaderMap, e: WebError) -> Response {
        Html::refuse(state, headers, e)
    }
}

/// The session token from the cookie, or 401 without asking anyone.
pub fn session_token(headers: &HeaderMap) -> Result<String, WebError> {
    cookies::get(headers, cookies::SESSION).ok_or(WebError::Unauthenticated)
}

/// A signed-in person on a read-only route of surface `S`.
pub struct SignedIn<S: Surface> {
    pub who: S::Who,
    pub origin: RequestContext,
}

impl<S: Surface> FromRequestParts<AppState> for SignedIn<S> {
    type Rejection = S::Rejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Meta(origin) = Meta::from_parts(parts);
        let who = S::who(state, &parts.headers, &origin).await?;
        Ok(SignedIn { who, origin })
    }
}

/// How a surface's state changes carry their body and CSRF token.
pub mod format {
    /// JSON with `Content-Type: application/json`; CSRF in `X-CSRF-Token`.
    pub struct Json;
    /// A urlencoded form with a `csrf` field.
    pub struct Form;
}

/// A page form's CSRF field (the double submit of the CSRF cookie).
pub trait CsrfField {
    fn csrf(&self) -> &str;
}

/// A body of format `F`: parsed before the checks run (a form carries the
/// CSRF token), refused only after them.
pub trait FromBody<F>: Sized {
    fn from_body(
        headers: &HeaderMap,
        body: Result<Bytes, BytesRejection>,
    ) -> Result<Self, WebError>;
    /// The CSRF token sent inside the body, if this format carries it there.
    fn sent_csrf(&self) -> Option<&str>;
}

impl<T: DeserializeOwned> FromBody<format::Json> for T {
    fn from_body(headers: &HeaderMap, body: Result<Bytes, BytesRejection>) -> Result<T, WebError> {
        read_json(headers, body)
    }

    fn sent_csrf(&self) -> Option<&str> {
        None
    }
}

impl<T: DeserializeOwned + Default + CsrfField> FromBody<format::Form> for T {
    /// A form that cannot be read is the empty form: it fails the CSRF check.
    fn from_body(_: &HeaderMap, body: Result<Bytes, BytesRejection>) -> Result<T, WebError> {
        Ok(body
            .ok()
            .and_then(|b| serde_urlencoded::from_bytes(&b).ok())
            .unwrap_or_default())
    }

    fn sent_csrf(&self) -> Option<&str> {
        Some(self.csrf())
    }
}

/// A state change on surface `S` with body `T`, every check passed.
pub struct StateChange<S: Surface, T> {
    pub who: S::Who,
    pub origin: RequestContext,
    pub body: T,
}

impl<S, T> FromRequest<AppState> for StateChange<S, T>
where
    S: Surface,
    T: FromBody<S::Format> + Send,
{
    type Rejection = S::Rejection;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let Meta(origin) = Meta::from_parts(&parts);
        let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), state).await;
        let headers = &parts.headers;
        let parsed = T::from_body(headers, bytes);
        let sent = parsed.as_ref().ok().and_then(FromBody::sent_csrf);
        check_state_change(&parts.method, headers, &state.config.public_origin, sent)
            .map_err(|e| S::refuse(state, headers, e))?;
        let who = S::who(state, headers, &origin).await?;
        let body = parsed.map_err(|e| S::refuse(state, headers, e))?;
        Ok(StateChange { who, origin, body })
    }
}

/// Size, `Content-Type` and shape of a JSON body; an empty body reads as `{}`.
fn read_json<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<T, WebError> {
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => WebError::TooLarge,
        _ => WebError::BadRequest("the request body could not be read".into()),
    })?;
    if !is_json(headers) {
        return Err(WebError::NotJson);
    }
    let bytes: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        &body
    };
    serde_json::from_slice(bytes).map_err(|e| {
        let detail: String = e.to_string().chars().take(MAX_PARSE_MESSAGE).collect();
        WebError::BadRequest(format!("the JSON body was refused: {detail}"))
    })
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
