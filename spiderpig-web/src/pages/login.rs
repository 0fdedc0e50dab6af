//! Signing in: the login page, the OIDC redirect and callback, TOTP
//! enrolment and entry, sign-out, "not authorized". Trust: query strings and
//! form fields are untrusted and forwarded to the executor, which decides.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;
use spiderpig_proto::v1 as pb;

use super::layout::{Frame, document, message};
use crate::auth::{Me, who};
use crate::cookies;
use crate::error::WebError;
use crate::executor::{Session, session};
use crate::extract::{Anyone, CsrfField, StateChange, TotpStep};
use crate::request::{Meta, csrf_token};
use crate::state::AppState;

/// Render a page with a fresh CSRF cookie when needed.
pub fn respond(status: StatusCode, set_cookie: Option<String>, body: maud::Markup) -> Response {
    let mut res = (status, axum::response::Html(body.into_string())).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Some(c) = set_cookie
        && let Ok(v) = header::HeaderValue::from_str(&c)
    {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

/// A redirect to `to` that sets each of `cookies` (`Set-Cookie` values).
/// One that is not a valid header value is left out rather than failing the
/// redirect: the names and tokens are base64url, so only a malformed token
/// from the executor could be one, and then there is no session to keep.
fn redirect_setting(to: &str, cookies: &[String]) -> Response {
    let mut res = Redirect::to(to).into_response();
    for c in cookies {
        if let Ok(v) = header::HeaderValue::from_str(c) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

/// Where a page sends a visitor who is not (fully) signed in.
pub fn redirect_for(e: &WebError) -> Option<Response> {
    match e {
        WebError::Unauthenticated => Some(Redirect::to("/login").into_response()),
        WebError::TotpRequired => Some(Redirect::to("/totp").into_response()),
        _ => None,
    }
}

pub async fn login_page(headers: HeaderMap) -> Response {
    let (csrf, set) = csrf_token(&headers);
    let frame = Frame {
        title: "Sign in",
        me: None,
        csrf: &csrf,
        page: "login",
    };
    let body = html! {
        section class="card narrow" {
            h1 { "Sign in to SpiderPig" }
            p { "SpiderPig runs MediaWiki backport deployments. Sign in with your Wikimedia developer account; a TOTP code is asked next." }
            a class="button primary" href="/login/start" { "Sign in with the identity provider" }
        }
    };
    respond(StatusCode::OK, set, document(&frame, body))
}

/// Ask the executor for an authorization URL and send the browser there.
pub async fn login_start(
    State(state): State<AppState>,
    Meta(origin): Meta,
) -> Result<Response, WebError> {
    let r = state.executor.client().begin_login(&origin).await?;
    let mut res = Redirect::to(&r.authorize_url).into_response();
    let cookie = cookies::set(cookies::LOGIN, &r.login_binding, Some(600));
    res.headers_mut().append(
        header::SET_COOKIE,
        header::HeaderValue::from_str(&cookie).map_err(|_| WebError::Internal("cookie".into()))?,
    );
    Ok(res)
}

#[derive(Deserialize)]
pub struct Callback {
    #[serde(default)]
    code: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    error: String,
}

/// The IDP sent the browser back.
pub async fn callback(
    State(state): State<AppState>,
    Meta(origin): Meta,
    headers: HeaderMap,
    Query(q): Query<Callback>,
) -> Response {
    let (csrf, set) = csrf_token(&headers);
    let frame = Frame {
        title: "Sign-in failed",
        me: None,
        csrf: &csrf,
        page: "message",
    };
    if !q.error.is_empty() || q.code.is_empty() || q.state.is_empty() {
        let text = "The identity provider did not complete the sign-in. Start again.";
        return respond(
            StatusCode::BAD_REQUEST,
            set,
            message(&frame, "Sign-in failed", text),
        );
    }
    // Only the browser that started the login holds its binding; without
    // it nothing can match, so the executor is not asked (anyone on the
    // internet can send this request).
    let Some(binding) = cookies::get(&headers, cookies::LOGIN).filter(|b| !b.is_empty()) else {
        let text = "This browser did not start a sign-in, or it took too long. Start again.";
        return respond(
            StatusCode::BAD_REQUEST,
            set,
            message(&frame, "Sign-in failed", text),
        );
    };
    let result = state
        .executor
        .client()
        .complete_login(&origin, &binding, &q.code, &q.state)
        .await;
    match result {
        Ok(done) => {
            let token = done.session.map(|s| s.token).unwrap_or_default();
            let session = cookies::set(cookies::SESSION, &token, None);
            redirect_setting("/totp", &[session, cookies::clear(cookies::LOGIN)])
        }
        Err(status) => match WebError::from_status(&status) {
            WebError::NotAuthorized | WebError::Forbidden(_) => {
                redirect_setting("/not-authorized", &[cookies::clear(cookies::LOGIN)])
            }
            WebError::ExecutorDown => respond(
                StatusCode::SERVICE_UNAVAILABLE,
                set,
                message(
                    &frame,
                    "Sign-in failed",
                    &WebError::ExecutorDown.to_string(),
                ),
            ),
            e => respond(
                e.status(),
                set,
                message(
                    &frame,
                    "Sign-in failed",
                    &format!("{e}. Start again from the sign-in page."),
                ),
            ),
        },
    }
}

pub async fn not_authorized(headers: HeaderMap) -> Response {
    let (csrf, set) = csrf_token(&headers);
    let frame = Frame {
        title: "Not authorized",
        me: None,
        csrf: &csrf,
        page: "message",
    };
    let text = "Your account signed in at the identity provider, but it is not in a group that may use SpiderPig. Ask the deployment admins if you need access.";
    respond(
        StatusCode::FORBIDDEN,
        set,
        message(&frame, "Not authorized", text),
    )
}

/// TOTP: enrolment (first time) or entry.
pub async fn totp_page(
    State(state): State<AppState>,
    Meta(origin): Meta,
    headers: HeaderMap,
) -> Response {
    let (csrf, set) = csrf_token(&headers);
    let me = match who(&state, &headers, &origin, false).await {
        Ok(me) if me.totp_passed => return Redirect::to("/").into_response(),
        Ok(me) => me,
        Err(e) => return redirect_for(&e).unwrap_or_else(|| e.into_response()),
    };
    let enrolment = if me.totp_enrolled {
        None
    } else {
        match enrol(&state, &me, &origin).await {
            Ok(e) => Some(e),
            Err(e) => return e.into_response(),
        }
    };
    respond(
        StatusCode::OK,
        set,
        totp_document(&csrf, &me, enrolment.as_ref(), None),
    )
}

async fn enrol(
    state: &AppState,
    me: &Me,
    origin: &crate::executor::RequestContext,
) -> Result<pb::EnrolTotpResponse, WebError> {
    Ok(state
        .executor
        .client()
        .enrol_totp(&Session::new(me.token.as_str()), origin)
        .await?)
}

fn qr_svg(uri: &str) -> String {
    match qrcode::QrCode::new(uri.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(220, 220)
            .quiet_zone(true)
            .build(),
        Err(_) => String::new(),
    }
}

fn totp_document(
    csrf: &str,
    me: &Me,
    enrolment: Option<&pb::EnrolTotpResponse>,
    error: Option<&str>,
) -> maud::Markup {
    let frame = Frame {
        title: "Second factor",
        me: Some(me),
        csrf,
        page: "totp",
    };
    document(
        &frame,
        html! {
            section class="card narrow" {
                @if let Some(e) = enrolment {
                    h1 { "Set up your second factor" }
                    p { "Scan this code with an authenticator app (or enter the secret below), then type the 6-digit code it shows. The secret is shown only now." }
                    figure class="qr" aria-label="QR code of the TOTP secret" { (maud::PreEscaped(qr_svg(&e.otpauth_uri))) }
                    p { "Secret: " code id="totp-secret" { (e.secret_base32) } }
                } @else {
                    h1 { "Enter your TOTP code" }
                    p { "Signed in as " strong { (me.username) } ". Type the 6-digit code from your authenticator app." }
                }
                @if let Some(err) = error {
                    p class="error" role="alert" id="totp-error" { (err) }
                }
                form method="post" action="/totp" {
                    input type="hidden" name="csrf" value=(csrf);
                    label for="code" { "TOTP code" }
                    input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" required autofocus;
                    button type="submit" class="primary" { "Continue" }
                }
            }
        },
    )
}

#[derive(Default, Deserialize)]
pub struct TotpForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
}

impl CsrfField for TotpForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /totp`: the code, for the signed-in session (TOTP not yet passed).
pub async fn totp_submit(
    State(state): State<AppState>,
    StateChange {
        who: (_, me),
        origin,
        body: form,
    }: StateChange<TotpStep, TotpForm>,
) -> Response {
    // The code goes to the executor as typed: it decides, and counts a
    // malformed code as a failed attempt like any other.
    let result = state
        .executor
        .raw()
        .verify_totp(pb::VerifyTotpRequest {
            ctx: origin.pb(),
            session: session(&me.token),
            code: form.code,
        })
        .await;
    match result {
        Ok(r) => {
            let token = r.into_inner().session.map(|s| s.token).unwrap_or_default();
            redirect_setting("/", &[cookies::set(cookies::SESSION, &token, None)])
        }
        Err(status) => {
            let e = WebError::from_status(&status);
            if let Some(r) = redirect_for(&e) {
                return r;
            }
            let enrolment = if me.totp_enrolled {
                None
            } else {
                enrol(&state, &me, &origin).await.ok()
            };
            respond(
                e.status(),
                None,
                totp_document(&form.csrf, &me, enrolment.as_ref(), Some(&e.to_string())),
            )
        }
    }
}

#[derive(Default, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

impl CsrfField for CsrfForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /logout`: end the session (if any) and forget the cookie.
pub async fn logout(
    State(state): State<AppState>,
    StateChange {
        who: token, origin, ..
    }: StateChange<Anyone, CsrfForm>,
) -> Response {
    if let Some(token) = token {
        let _ = state
            .executor
            .client()
            .logout(&Session::new(token), &origin)
            .await;
    }
    redirect_setting("/login", &[cookies::clear(cookies::SESSION)])
}
