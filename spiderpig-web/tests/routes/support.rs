//! Shared pieces of the router tests: the app with a missing executor
//! socket, request builders, and response checks.

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, header};
use axum::response::Response;
use serde_json::Value;
use spiderpig_web::app;
use spiderpig_web::config::Config;
use spiderpig_web::state::AppState;
use tower::ServiceExt;

pub const ORIGIN: &str = "https://deploy.example.org";
pub const SESSION: &str = "__Host-spiderpig=c2Vzc2lvbi10b2tlbi1mb3ItdGVzdHMtb25seS0wMDAwMDA";
pub const CSRF_COOKIE: &str = "__Host-spiderpig-csrf=csrf-token-123";
pub const CSRF: &str = "csrf-token-123";

/// Page routes that only answer GET.
pub const PAGES: &[&str] = &[
    "/",
    "/deploy/new",
    "/deploy/new?changes=123",
    "/history",
    "/history?state=done",
    "/jobs/1",
    "/jobs/1/log.txt",
];

/// Page form fallbacks (POST only), with a body that has every field.
pub const PAGE_POSTS: &[&str] = &[
    "/deploy/new",
    "/jobs/1/ready",
    "/jobs/1/cancel",
    "/jobs/1/interrupt",
    "/jobs/1/finish",
    "/jobs/1/revert",
    "/jobs/1/respond",
];

/// The sign-in forms (POST only): TOTP entry and sign-out.
pub const SIGN_IN_POSTS: &[&str] = &["/totp", "/logout"];

pub const API_GETS: &[&str] = &[
    "/api/me",
    "/api/queue",
    "/api/jobs",
    "/api/jobs?state=running&limit=5",
    "/api/jobs/1",
    "/api/jobs/1/log?after=0&limit=10",
    "/api/changes?input=123",
];

/// API POST routes with a body that passes every check of the web side.
pub const API_POSTS: &[(&str, &str)] = &[
    ("/api/jobs", r#"{"changes":"123 456","totp":"123456"}"#),
    ("/api/jobs/1/ready", "{}"),
    ("/api/jobs/1/cancel", ""),
    ("/api/jobs/1/interrupt", "{}"),
    ("/api/jobs/1/finish", "{}"),
    ("/api/jobs/1/revert", r#"{"totp":"123456"}"#),
    ("/api/jobs/1/respond", r#"{"prompt_id":3,"key":"y"}"#),
];

/// Routes that answer POST only.
pub const POST_ONLY: &[&str] = &[
    "/jobs/1/ready",
    "/jobs/1/cancel",
    "/jobs/1/interrupt",
    "/jobs/1/finish",
    "/jobs/1/revert",
    "/jobs/1/respond",
    "/api/jobs/1/ready",
    "/api/jobs/1/cancel",
    "/api/jobs/1/interrupt",
    "/api/jobs/1/finish",
    "/api/jobs/1/revert",
    "/api/jobs/1/respond",
    "/logout",
];

pub const FORM_BODY: &str = "csrf=csrf-token-123&changes=123&totp=123456&prompt_id=3&key=y";

pub fn router() -> (Router, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "listen = \"127.0.0.1:0\"\npublic_origin = \"{ORIGIN}\"\nexecutor_socket = \"{}\"\ngerrit_url = \"https://gerrit.example.org\"\n",
        dir.path().join("no-executor.sock").display()
    );
    (app(AppState::new(Config::parse(&toml).unwrap())), dir)
}

pub async fn send(req: Request<Body>) -> Response {
    let (router, _dir) = router();
    router.oneshot(req).await.unwrap()
}

pub fn get(path: &str, cookies: &[&str]) -> Request<Body> {
    let mut b = Request::get(path);
    if !cookies.is_empty() {
        b = b.header(header::COOKIE, cookies.join("; "));
    }
    b.body(Body::empty()).unwrap()
}

/// A POST as our own pages send it: right Origin, CSRF cookie and token.
pub fn good_post(path: &str, session: bool) -> http::request::Builder {
    let api = path.starts_with("/api/");
    let cookies = if session {
        format!("{SESSION}; {CSRF_COOKIE}")
    } else {
        CSRF_COOKIE.to_string()
    };
    let b = Request::post(path)
        .header(header::ORIGIN, ORIGIN)
        .header(header::COOKIE, cookies)
        .header(
            header::CONTENT_TYPE,
            if api {
                "application/json"
            } else {
                "application/x-www-form-urlencoded"
            },
        );
    if api {
        b.header("x-csrf-token", CSRF)
    } else {
        b
    }
}

pub fn all_posts() -> Vec<(&'static str, &'static str)> {
    let mut v: Vec<_> = PAGE_POSTS.iter().map(|p| (*p, FORM_BODY)).collect();
    v.extend_from_slice(API_POSTS);
    v
}

/// The response's `Content-Type` (it must have one).
pub fn content_type(res: &Response) -> String {
    res.headers()
        .get(header::CONTENT_TYPE)
        .expect("a Content-Type")
        .to_str()
        .unwrap()
        .to_string()
}

pub async fn json(res: Response) -> Value {
    let ct = content_type(&res);
    assert!(ct.starts_with("application/json"), "content type {ct}");
    let bytes = to_bytes(res.into_body(), 1 << 20).await.unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

pub async fn text(res: Response) -> String {
    let bytes = to_bytes(res.into_body(), 1 << 20).await.unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

pub fn location(res: &Response) -> &str {
    res.headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap())
        .unwrap_or("")
}

pub fn assert_security_headers(res: &Response, what: &str) {
    let h = res.headers();
    let csp = h
        .get(header::CONTENT_SECURITY_POLICY)
        .unwrap_or_else(|| panic!("{what}: no CSP"))
        .to_str()
        .unwrap();
    for part in [
        "script-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(part), "{what}: CSP lacks {part}");
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{what}: {csp}"
    );
    assert_eq!(
        h.get(header::X_CONTENT_TYPE_OPTIONS).unwrap(),
        "nosniff",
        "{what}"
    );
    assert!(
        h.contains_key(header::REFERRER_POLICY),
        "{what}: no Referrer-Policy"
    );
    let hsts = h
        .get(header::STRICT_TRANSPORT_SECURITY)
        .unwrap_or_else(|| panic!("{what}: no HSTS"));
    assert!(
        hsts.to_str().unwrap().contains("max-age=31536000"),
        "{what}"
    );
}
