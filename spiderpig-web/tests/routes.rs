//! The router, driven with `oneshot`: what every page and API route does
//! for visitors without a session, for cross-site requests, for wrong
//! methods and bodies, and when the executor is down.
//!
//! The executor socket points at a path that does not exist, so any RPC
//! fails at once with `ExecutorDown` (503). A refusal with any other status
//! therefore proves that the request was refused before anything was asked
//! of the executor: nothing happened.

#[path = "routes/refusals.rs"]
mod refusals;
#[path = "routes/support.rs"]
mod support;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};

use support::*;

#[tokio::test]
async fn pages_send_visitors_without_a_session_to_the_login_page() {
    for path in PAGES {
        let res = send(get(path, &[])).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(location(&res), "/login", "{path}");
        assert_security_headers(&res, path);
    }
}

#[tokio::test]
async fn page_forms_without_a_session_send_to_the_login_page() {
    for path in PAGE_POSTS {
        let res = send(good_post(path, false).body(Body::from(FORM_BODY)).unwrap()).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(location(&res), "/login", "{path}");
    }
}

#[tokio::test]
async fn the_api_without_a_session_answers_401_json_never_a_redirect() {
    let mut requests: Vec<(String, Request<Body>)> = API_GETS
        .iter()
        .map(|p| (p.to_string(), get(p, &[CSRF_COOKIE])))
        .collect();
    for (path, body) in API_POSTS {
        requests.push((
            path.to_string(),
            good_post(path, false).body(Body::from(*body)).unwrap(),
        ));
    }
    for (path, req) in requests {
        let res = send(req).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert!(!res.headers().contains_key(header::LOCATION), "{path}");
        assert_security_headers(&res, &path);
        let v = json(res).await;
        assert_eq!(v["error"], "unauthenticated", "{path}");
        assert!(
            v["message"].as_str().unwrap().contains("not signed in"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn get_on_a_post_only_route_is_405() {
    for path in POST_ONLY {
        let res = send(get(path, &[SESSION, CSRF_COOKIE])).await;
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED, "{path}");
        assert_security_headers(&res, path);
    }
    for method in [Method::PUT, Method::DELETE, Method::PATCH] {
        for path in ["/api/jobs", "/api/jobs/1", "/api/queue", "/jobs/1"] {
            let req = Request::builder()
                .method(method.clone())
                .uri(path)
                .body(Body::empty())
                .unwrap();
            assert_eq!(
                send(req).await.status(),
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}"
            );
        }
    }
}

#[tokio::test]
async fn executor_down_gives_503_json() {
    for path in API_GETS {
        let res = send(get(path, &[SESSION])).await;
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert_security_headers(&res, path);
        let v = json(res).await;
        assert_eq!(v["error"], "executor_down", "{path}");
        assert!(
            v["message"].as_str().unwrap().contains("not reachable"),
            "{path}"
        );
    }
    for (path, body) in API_POSTS {
        let res = send(good_post(path, true).body(Body::from(*body)).unwrap()).await;
        assert_eq!(json(res).await["error"], "executor_down", "{path}");
    }
}

#[tokio::test]
async fn executor_down_pages_say_so_with_503() {
    for path in PAGES {
        let res = send(get(path, &[SESSION])).await;
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert_security_headers(&res, path);
        let ct = content_type(&res);
        assert!(ct.starts_with("text/html"), "{path}: {ct}");
        assert!(
            text(res).await.contains("executor is not reachable"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn security_headers_are_on_every_kind_of_response() {
    let cases: Vec<(&str, Request<Body>, StatusCode)> = vec![
        ("login page", get("/login", &[]), StatusCode::OK),
        ("health", get("/healthz", &[]), StatusCode::OK),
        ("asset", get("/assets/app.js", &[]), StatusCode::OK),
        (
            "missing asset",
            get("/assets/nope.js", &[]),
            StatusCode::NOT_FOUND,
        ),
        ("unknown path", get("/nope", &[]), StatusCode::NOT_FOUND),
        (
            "unknown API path",
            get("/api/nope", &[SESSION]),
            StatusCode::NOT_FOUND,
        ),
        (
            "wrong method",
            get("/api/jobs/1/ready", &[]),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        ("redirect", get("/", &[]), StatusCode::SEE_OTHER),
        ("401", get("/api/queue", &[]), StatusCode::UNAUTHORIZED),
        (
            "503",
            get("/api/queue", &[SESSION]),
            StatusCode::SERVICE_UNAVAILABLE,
        ),
    ];
    for (what, req, status) in cases {
        let res = send(req).await;
        assert_eq!(res.status(), status, "{what}");
        assert_security_headers(&res, what);
    }
}
