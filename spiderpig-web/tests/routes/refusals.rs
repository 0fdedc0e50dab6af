//! Requests the web refuses on its own, before any RPC: cross-site POSTs
//! (403), bodies that are not JSON (415), too large (413) or malformed
//! (400), and bad filters.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};

use crate::support::*;

/// A way a cross-site request can look, on top of a valid session.
struct CrossSite {
    how: &'static str,
    csrf_cookie: bool,
    /// The token sent (form field or `X-CSRF-Token`), if any.
    token: Option<&'static str>,
    origin: Option<&'static str>,
    fetch_site: Option<&'static str>,
}

const CROSS_SITE: &[CrossSite] = &[
    CrossSite {
        how: "no CSRF token",
        csrf_cookie: true,
        token: None,
        origin: Some(ORIGIN),
        fetch_site: None,
    },
    CrossSite {
        how: "wrong CSRF token",
        csrf_cookie: true,
        token: Some("csrf-token-124"),
        origin: Some(ORIGIN),
        fetch_site: None,
    },
    CrossSite {
        how: "no CSRF cookie",
        csrf_cookie: false,
        token: Some(CSRF),
        origin: Some(ORIGIN),
        fetch_site: None,
    },
    CrossSite {
        how: "foreign Origin",
        csrf_cookie: true,
        token: Some(CSRF),
        origin: Some("https://evil.example"),
        fetch_site: None,
    },
    CrossSite {
        how: "look-alike Origin",
        csrf_cookie: true,
        token: Some(CSRF),
        origin: Some("https://deploy.example.org.evil.com"),
        fetch_site: None,
    },
    CrossSite {
        how: "Origin null",
        csrf_cookie: true,
        token: Some(CSRF),
        origin: Some("null"),
        fetch_site: None,
    },
    CrossSite {
        how: "Sec-Fetch-Site: cross-site",
        csrf_cookie: true,
        token: Some(CSRF),
        origin: None,
        fetch_site: Some("cross-site"),
    },
    CrossSite {
        how: "Sec-Fetch-Site: same-site",
        csrf_cookie: true,
        token: Some(CSRF),
        origin: None,
        fetch_site: Some("same-site"),
    },
    CrossSite {
        how: "neither Origin nor Sec-Fetch-Site",
        csrf_cookie: true,
        token: Some(CSRF),
        origin: None,
        fetch_site: None,
    },
];

impl CrossSite {
    /// The request to `path`; `body` is the well-formed one (a page form's
    /// `csrf` field is replaced by this variant's token).
    fn request(&self, path: &str, body: &str) -> Request<Body> {
        let api = path.starts_with("/api/");
        let cookies = if self.csrf_cookie {
            format!("{SESSION}; {CSRF_COOKIE}")
        } else {
            SESSION.to_string()
        };
        let ct = if api {
            "application/json"
        } else {
            "application/x-www-form-urlencoded"
        };
        let mut b = Request::post(path)
            .header(header::COOKIE, cookies)
            .header(header::CONTENT_TYPE, ct);
        let body = if api {
            if let Some(t) = self.token {
                b = b.header("x-csrf-token", t);
            }
            body.to_string()
        } else {
            let field = self.token.map(|t| format!("csrf={t}&")).unwrap_or_default();
            body.replace("csrf=csrf-token-123&", &field)
        };
        if let Some(o) = self.origin {
            b = b.header(header::ORIGIN, o);
        }
        if let Some(f) = self.fetch_site {
            b = b.header("sec-fetch-site", f);
        }
        b.body(Body::from(body)).unwrap()
    }
}

#[tokio::test]
async fn cross_site_posts_are_refused_with_403_before_any_rpc() {
    for (path, body) in all_posts() {
        for variant in CROSS_SITE {
            let how = variant.how;
            let res = send(variant.request(path, body)).await;
            // 403, not 503: the down executor was never asked.
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}: {how}");
            assert_security_headers(&res, path);
            if path.starts_with("/api/") {
                assert_eq!(json(res).await["error"], "cross_site", "{path}: {how}");
            } else {
                assert_html_page(res, path, how).await;
            }
        }
    }
}

#[tokio::test]
async fn a_cross_site_sign_in_form_gets_an_html_page_never_json() {
    // The TOTP and sign-out forms once answered a CSRF failure with JSON.
    for path in SIGN_IN_POSTS {
        for variant in CROSS_SITE {
            let res = send(variant.request(path, FORM_BODY)).await;
            assert_eq!(
                res.status(),
                StatusCode::FORBIDDEN,
                "{path}: {}",
                variant.how
            );
            assert_html_page(res, path, variant.how).await;
        }
    }
}

/// An HTML page saying the request was refused, not a JSON body.
async fn assert_html_page(res: axum::response::Response, path: &str, how: &str) {
    let ct = content_type(&res);
    assert!(ct.starts_with("text/html"), "{path}: {how}: {ct}");
    let body = text(res).await;
    assert!(body.contains("Not allowed"), "{path}: {how}: {body}");
    assert!(body.contains("request refused"), "{path}: {how}: {body}");
}

#[tokio::test]
async fn a_well_formed_post_does_reach_the_executor() {
    // The control for the test above: the same requests with the right
    // Origin and token get past the web's checks and find the executor down.
    for (path, body) in all_posts() {
        let res = send(good_post(path, true).body(Body::from(body)).unwrap()).await;
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
    }
}

#[tokio::test]
async fn api_posts_need_a_json_content_type() {
    for (path, body) in API_POSTS {
        for ct in [
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            None,
        ] {
            let mut b = Request::post(*path)
                .header(header::ORIGIN, ORIGIN)
                .header(header::COOKIE, format!("{SESSION}; {CSRF_COOKIE}"))
                .header("x-csrf-token", CSRF);
            if let Some(ct) = ct {
                b = b.header(header::CONTENT_TYPE, ct);
            }
            let res = send(b.body(Body::from(*body)).unwrap()).await;
            assert_eq!(
                res.status(),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{path} {ct:?}"
            );
            assert_eq!(json(res).await["error"], "unsupported_media_type");
        }
    }
}

#[tokio::test]
async fn api_bodies_over_the_limit_are_413() {
    let huge = format!(
        r#"{{"changes":"{}","totp":"123456"}}"#,
        "1 ".repeat(40 * 1024)
    );
    for path in ["/api/jobs", "/api/jobs/1/respond", "/api/jobs/1/ready"] {
        let res = send(
            good_post(path, true)
                .body(Body::from(huge.clone()))
                .unwrap(),
        )
        .await;
        assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        assert_eq!(json(res).await["error"], "too_large");
    }
}

#[tokio::test]
async fn bad_api_bodies_are_refused_with_400_before_any_rpc() {
    let posts: &[(&str, &str, &str)] = &[
        (
            "/api/jobs",
            r#"{"changes":"123; rm -rf /","totp":"123456"}"#,
            "shell metacharacters",
        ),
        (
            "/api/jobs",
            r#"{"changes":"$(id)","totp":"123456"}"#,
            "shell metacharacters",
        ),
        (
            "/api/jobs",
            r#"{"changes":"--config=evil.cfg","totp":"123456"}"#,
            "options cannot be passed",
        ),
        (
            "/api/jobs",
            r#"{"changes":"１２３","totp":"123456"}"#,
            "digits 0-9",
        ),
        (
            "/api/jobs",
            r#"{"changes":"","totp":"123456"}"#,
            "no change given",
        ),
        (
            "/api/jobs",
            r#"{"changes":[],"totp":"123456"}"#,
            "no change given",
        ),
        (
            "/api/jobs",
            r#"{"changes":[0],"totp":"123456"}"#,
            "0 is not a Gerrit change number",
        ),
        (
            "/api/jobs",
            r#"{"changes":[1,2,3,4,5,6,7,8,9,10,11],"totp":"123456"}"#,
            "too many changes",
        ),
        (
            "/api/jobs",
            r#"{"changes":"https://evil.example/r/1","totp":"123456"}"#,
            "not this deployment's Gerrit",
        ),
        (
            "/api/jobs",
            r#"{"changes":"123","totp":"12345"}"#,
            "exactly 6 digits",
        ),
        (
            "/api/jobs",
            r#"{"changes":"123","totp":"123456","argv":["-h"]}"#,
            "unknown field",
        ),
        ("/api/jobs", r#"{"changes":"123""#, "JSON body was refused"),
        ("/api/jobs/0/ready", "{}", "0 is not a job id"),
        ("/api/jobs/x/cancel", "{}", "a job id is a positive number"),
        ("/api/jobs/1/finish", r#"{"force":true}"#, "unknown field"),
        (
            "/api/jobs/1/revert",
            r#"{"totp":"１２３４５６"}"#,
            "exactly 6 digits",
        ),
        (
            "/api/jobs/1/respond",
            r#"{"prompt_id":3,"key":"y","line":"x"}"#,
            "not both",
        ),
        (
            "/api/jobs/1/respond",
            r#"{"prompt_id":3}"#,
            "no answer given",
        ),
        (
            "/api/jobs/1/respond",
            r#"{"prompt_id":0,"key":"y"}"#,
            "prompt id",
        ),
        (
            "/api/jobs/1/respond",
            r#"{"prompt_id":3,"line":"a\nb"}"#,
            "one line",
        ),
    ];
    for (path, body, needle) in posts {
        let res = send(good_post(path, true).body(Body::from(*body)).unwrap()).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{path} {body}");
        let v = json(res).await;
        assert_eq!(v["error"], "bad_request");
        assert!(
            v["message"].as_str().unwrap().contains(needle),
            "{path} {body}: {v}"
        );
    }
}

#[tokio::test]
async fn bad_api_queries_are_refused_with_400_before_any_rpc() {
    let gets: &[(&str, &str)] = &[
        ("/api/jobs?state=bogus", "not a job state"),
        ("/api/jobs?user=Root", "user filter"),
        ("/api/jobs?before=-1", "not a job id"),
        ("/api/jobs?limit=1000", "limit"),
        ("/api/jobs/abc", "a job id is a positive number"),
        ("/api/jobs/1/log?after=x", "after must be"),
        ("/api/jobs/1/log?limit=0", "limit"),
        ("/api/changes?input=123%3Bid", "shell metacharacters"),
        ("/api/changes?input=", "no change given"),
    ];
    for (path, needle) in gets {
        let res = send(get(path, &[SESSION])).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{path}");
        assert!(
            json(res).await["message"]
                .as_str()
                .unwrap()
                .contains(needle),
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_bad_history_filter_is_a_400_page_with_a_clear_message() {
    let res = send(get("/history?state=%3Cscript%3E", &[SESSION])).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let html = text(res).await;
    assert!(
        html.contains("is not a job state; the states are queued,"),
        "{html}"
    );
    assert!(html.contains("&lt;script&gt;"));
    assert!(!html.contains("<script>"));
}
