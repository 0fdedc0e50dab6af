//! The browser-facing defences of spiderpig-web over the real stack
//! (docs/SECURITY-TESTS.md cases 16, 20, 21 and 23): cookie attributes and a
//! new session id at sign-in, CSRF and Origin checks that leave nothing
//! behind, security headers on every kind of response, and scap output that
//! reaches a page only as text; and, in `connections`, the time-outs and
//! caps that keep idle or half-sent connections from taking the process
//! down (security review F6).

use serde_json::{Value, json};
use spiderpig_proto::v1 as pb;
use spiderpig_tests::web::{Browser, WebHarness, WebOptions, cookie_value, id_of};

#[path = "web_security/connections.rs"]
mod connections;

const SESSION: &str = "__Host-spiderpig";

/// The attributes a `__Host-` cookie must have (and no `Domain`).
fn assert_host_cookie(set_cookie: &str) {
    let attrs: Vec<String> = set_cookie
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    for want in ["secure", "httponly", "path=/"] {
        assert!(attrs.iter().any(|a| a == want), "{set_cookie}: no {want}");
    }
    assert!(
        attrs.iter().any(|a| a.starts_with("samesite=")),
        "{set_cookie}: no SameSite"
    );
    assert!(
        !attrs.iter().any(|a| a.starts_with("domain")),
        "{set_cookie}: has a Domain"
    );
    assert!(set_cookie.starts_with("__Host-"), "{set_cookie}");
}

/// A browser with only this session cookie (and nothing else in its jar).
async fn me_with_cookie(web: &WebHarness, token: &str) -> anyhow::Result<u16> {
    let res = web
        .browser()
        .get_with("/api/me", &[("cookie", &format!("{SESSION}={token}"))])
        .await?;
    Ok(res.status().as_u16())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_cookie_is_host_prefixed_and_renewed_after_totp() -> anyhow::Result<()> {
    let web = WebHarness::start(WebOptions::default()).await?;
    let mut b = web.browser();
    let trace = b.login("deployer1", "deployer1-pass").await?;

    // Every cookie set on the way carries the __Host- attributes.
    for c in trace.callback_cookies.iter().chain(&trace.totp_cookies) {
        assert_host_cookie(c);
    }
    let pre = cookie_value(&trace.callback_cookies, SESSION).expect("session at callback");
    let full = cookie_value(&trace.totp_cookies, SESSION).expect("session after TOTP");
    assert_eq!(pre, trace.pre_totp_token);
    assert_eq!(full, trace.token);

    // A new session id once TOTP is passed; the pre-TOTP one is dead.
    assert_ne!(pre, full, "session fixation: the id survived the TOTP step");
    assert!(
        full.len() >= 22,
        "token too short for 128 bits: {}",
        full.len()
    );
    assert_eq!(me_with_cookie(&web, &full).await?, 200);
    assert_eq!(me_with_cookie(&web, &pre).await?, 401);
    let page = web
        .browser()
        .get_with("/totp", &[("cookie", &format!("{SESSION}={pre}"))])
        .await?;
    assert_eq!(page.status(), 303);
    assert_eq!(page.headers()["location"], "/login");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_from_another_browsers_login_gives_no_session() -> anyhow::Result<()> {
    let web = WebHarness::start(WebOptions::default()).await?;
    // The victim's browser is sent a callback URL from a login the attacker
    // started (login CSRF): the login is bound to the attacker's browser.
    let attacker = web.browser();
    let start = attacker.get("/login/start").await?;
    let authorize = start.headers()["location"].to_str()?.to_string();
    let callback = format!("{}/oidc/callback", web.origin);
    let back =
        spiderpig_tests::idp::login_via_forms(&authorize, "deployer2", "deployer2-pass", &callback)
            .await?;
    let victim = web.browser();
    let res = victim
        .get(&format!("/oidc/callback?{}", back.query().unwrap_or("")))
        .await?;
    assert_eq!(res.status(), 400, "the callback was accepted");
    assert_eq!(victim.session(), None);
    let sessions = web
        .exec
        .admin()
        .list_sessions(pb::ListSessionsRequest {})
        .await?
        .into_inner();
    assert!(sessions.sessions.is_empty(), "{sessions:?}");
    // Without the login cookie the web does not ask the executor at all (F1):
    // had it asked, the next tick would audit one unmatched callback.
    web.exec.engine().tick()?;
    let audit = web.exec.engine().audit_trail(0, 10_000)?;
    assert!(
        audit.iter().all(|(_, r)| r.action != "login.state_invalid"),
        "the executor was asked about a callback with no binding: {audit:?}"
    );
    Ok(())
}

/// F2: a thousand sign-ins begun and abandoned through the web (cookies
/// thrown away, redirects not followed) leave nothing to crowd out a real
/// one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_sign_ins_through_the_web_do_not_stop_a_real_one() -> anyhow::Result<()> {
    // Each abandoned sign-in is its own client, as in a flood; the
    // per-address connection cap (F6) is not what this test is about.
    let opts = WebOptions {
        limits: vec!["connections_per_client = 2048".into()],
        ..Default::default()
    };
    let web = WebHarness::start(opts).await?;
    for _ in 0..1000 {
        let res = web.browser().get("/login/start").await?;
        assert_eq!(res.status(), 303, "a sign-in could not even start");
    }
    let mut b = web.browser();
    b.login("deployer1", "deployer1-pass").await?;
    let (status, me) = b.json("/api/me").await?;
    assert_eq!((status, me["username"].as_str()), (200, Some("deployer1")));
    Ok(())
}

/// Nothing was queued and scap was never started.
async fn assert_nothing_happened(web: &WebHarness, b: &Browser) -> anyhow::Result<()> {
    let queue = web
        .exec
        .admin()
        .list_queue(pb::ListQueueRequest {})
        .await?
        .into_inner();
    assert!(queue.active.is_none(), "a job holds the lock: {queue:?}");
    assert!(queue.queued.is_empty(), "a job was queued: {queue:?}");
    assert!(web.exec.invocations().is_empty(), "scap was started");
    let (status, jobs) = b.json("/api/jobs").await?;
    assert_eq!((status, &jobs["jobs"]), (200, &json!([])));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_posts_are_refused_and_change_nothing() -> anyhow::Result<()> {
    let web = WebHarness::start(WebOptions::default()).await?;
    let mut b = web.browser();
    b.login("deployer1", "deployer1-pass").await?;
    let csrf = b.csrf().expect("CSRF cookie");
    let origin = web.origin.clone();
    let look_alike = format!("{origin}.evil.com");
    // One code for every attempt: had any attempt reached the executor, the
    // code would be spent and the final, proper request refused.
    let code = b.totp()?;
    let body = json!({"changes": [42], "totp": code});
    let attempts: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("no CSRF token", vec![("origin", &origin)]),
        (
            "wrong CSRF token",
            vec![
                ("origin", &origin),
                ("x-csrf-token", "AAAAAAAAAAAAAAAAAAAAAAAA"),
            ],
        ),
        (
            "foreign Origin",
            vec![("origin", "https://evil.example"), ("x-csrf-token", &csrf)],
        ),
        (
            "look-alike Origin",
            vec![("origin", &look_alike), ("x-csrf-token", &csrf)],
        ),
        (
            "null Origin",
            vec![("origin", "null"), ("x-csrf-token", &csrf)],
        ),
        (
            "Sec-Fetch-Site: cross-site",
            vec![("sec-fetch-site", "cross-site"), ("x-csrf-token", &csrf)],
        ),
        (
            "neither Origin nor Sec-Fetch-Site",
            vec![("x-csrf-token", &csrf)],
        ),
    ];
    for (what, headers) in &attempts {
        let res = b.post_json_with("/api/jobs", &body, headers).await?;
        assert_eq!(res.status(), 403, "{what}");
        let err: Value = res.json().await?;
        assert_eq!(err["error"], "cross_site", "{what}");
    }
    // The same through the page form.
    let form = b
        .client
        .post(format!("{origin}/deploy/new"))
        .header("origin", "https://evil.example")
        .form(&[("csrf", csrf.as_str()), ("changes", "42"), ("totp", &code)])
        .send()
        .await?;
    assert_eq!(form.status(), 403);
    assert_nothing_happened(&web, &b).await?;

    // GET never changes anything: POST-only routes answer 405.
    for path in [
        "/api/jobs/1/ready",
        "/api/jobs/1/cancel",
        "/api/jobs/1/finish",
        "/api/jobs/1/respond",
        "/jobs/1/cancel",
        "/jobs/1/ready",
        "/logout",
    ] {
        assert_eq!(b.get(path).await?.status(), 405, "GET {path}");
    }
    let put = b.client.put(format!("{origin}/api/jobs")).send().await?;
    assert_eq!(put.status(), 405);
    assert_nothing_happened(&web, &b).await?;

    // The proper request with the very same code still works.
    let job = b.submit_with_code(json!([42]), &code).await?;
    let id = id_of(&job);
    assert_eq!(job["state"], "awaiting_ready");

    // A cross-site cancel of that job is refused too, and the job stays.
    let evil = [
        ("origin", "https://evil.example"),
        ("x-csrf-token", csrf.as_str()),
    ];
    let res = b
        .post_json_with(&format!("/api/jobs/{id}/cancel"), &json!({}), &evil)
        .await?;
    assert_eq!(res.status(), 403);
    let res = b
        .client
        .post(format!("{origin}/jobs/{id}/cancel"))
        .header("sec-fetch-site", "cross-site")
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await?;
    assert_eq!(res.status(), 403);
    assert_eq!(b.get(&format!("/jobs/{id}/cancel")).await?.status(), 405);
    let (_, now) = b.json(&format!("/api/jobs/{id}")).await?;
    assert_eq!(now["state"], "awaiting_ready");
    Ok(())
}

/// The headers every response must carry (on TLS).
fn assert_security_headers(what: &str, res: &reqwest::Response) {
    let h = res.headers();
    let get = |name: &str| {
        h.get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("{what}: no {name}"))
            .to_string()
    };
    let csp = get("content-security-policy");
    for directive in [
        "script-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(
            csp.split(';').any(|d| d.trim() == directive),
            "{what}: CSP lacks {directive}: {csp}"
        );
    }
    for bad in ["unsafe-inline", "unsafe-eval", "*"] {
        assert!(!csp.contains(bad), "{what}: CSP has {bad}: {csp}");
    }
    let hsts = get("strict-transport-security");
    let max_age: u64 = hsts
        .split(';')
        .find_map(|p| p.trim().strip_prefix("max-age="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{what}: HSTS without max-age: {hsts}"));
    assert!(max_age >= 31_536_000, "{what}: HSTS max-age {max_age}");
    assert_eq!(get("x-content-type-options"), "nosniff", "{what}");
    let referrer = get("referrer-policy");
    assert!(
        ["no-referrer", "same-origin", "strict-origin"].contains(&referrer.as_str()),
        "{what}: Referrer-Policy {referrer}"
    );
    assert_eq!(get("x-frame-options"), "DENY", "{what}");
    // Only assets may be cached.
    if !what.contains("asset") {
        assert_eq!(get("cache-control"), "no-store", "{what}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_response_carries_the_security_headers() -> anyhow::Result<()> {
    let web = WebHarness::start(WebOptions::default()).await?;
    let anon = web.browser();
    let mut b = web.browser();
    b.login("deployer1", "deployer1-pass").await?;
    let checks: Vec<(&str, &Browser, &str, u16)> = vec![
        ("sign-in page", &anon, "/login", 200),
        ("redirect to sign in", &anon, "/", 303),
        ("redirect to the IDP", &anon, "/login/start", 303),
        ("API without a session", &anon, "/api/me", 401),
        ("not authorized page", &anon, "/not-authorized", 403),
        ("unknown path", &anon, "/no/such/page", 404),
        ("GET on a POST route", &anon, "/api/jobs/1/ready", 405),
        ("asset", &anon, "/assets/app.js", 200),
        ("missing asset", &anon, "/assets/nope.js", 404),
        ("health", &anon, "/healthz", 200),
        ("dashboard", &b, "/", 200),
        ("API", &b, "/api/queue", 200),
        ("bad job id page", &b, "/jobs/abc", 400),
        ("bad job id API", &b, "/api/jobs/0", 400),
        ("missing job", &b, "/api/jobs/999999", 404),
        ("missing job page", &b, "/jobs/999999", 404),
        (
            "refused change list",
            &b,
            "/deploy/new?changes=%24%28id%29",
            400,
        ),
        ("history", &b, "/history", 200),
    ];
    for (what, who, path, status) in checks {
        let res = who.get(path).await?;
        assert_eq!(res.status().as_u16(), status, "{what}: GET {path}");
        assert_security_headers(what, &res);
    }
    let refused = b
        .post_json_with(
            "/api/jobs",
            &json!({}),
            &[("origin", "https://evil.example")],
        )
        .await?;
    assert_eq!(refused.status(), 403);
    assert_security_headers("cross-site refusal", &refused);
    let not_json = b
        .client
        .post(format!("{}/api/jobs", web.origin))
        .header("origin", &web.origin)
        .header("x-csrf-token", b.csrf().unwrap_or_default())
        .body("changes=42")
        .send()
        .await?;
    assert_eq!(not_json.status(), 415);
    assert_security_headers("unsupported media type", &not_json);
    Ok(())
}

/// HTML-escape as maud does.
fn escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scap_output_reaches_pages_only_as_text() -> anyhow::Result<()> {
    let web = WebHarness::start(WebOptions::default()).await?;
    let mut b = web.browser();
    b.login("deployer1", "deployer1-pass").await?;
    // 1007: scap prints JSON that looks like prompts (a forged or missing
    // iokey) between the real ones.
    let id = id_of(&b.submit(json!([1007])).await?);
    b.act(id, "ready").await?;
    b.answer(id, "Backport the changes?", "y").await?;
    let asking = b
        .wait_job(id, "asking to continue", |j| {
            j["prompt"]["text"]
                .as_str()
                .is_some_and(|t| t.contains("Continue with deployment?"))
        })
        .await?;
    // The pending prompt's text and labels, escaped on the page.
    let page = b.get(&format!("/jobs/{id}")).await?.text().await?;
    let prompt_text = asking["prompt"]["text"].as_str().unwrap();
    assert!(
        page.contains(&escaped(prompt_text)),
        "prompt text not shown"
    );
    b.answer(id, "Continue with deployment?", "y").await?;
    b.wait_state(id, "awaiting_finish").await?;

    let records = b.log_records(id).await?;
    let forged: Vec<&str> = records
        .iter()
        .filter_map(|r| r["text"].as_str())
        .filter(|t| t.contains("\"type\"") && t.contains("prompt"))
        .collect();
    assert!(
        !forged.is_empty(),
        "the forged prompts are in the log as lines"
    );
    let page = b.get(&format!("/jobs/{id}")).await?.text().await?;
    for text in &forged {
        assert!(!page.contains(text), "raw scap output in the page: {text}");
        assert!(page.contains(&escaped(text)), "scap output missing: {text}");
    }
    // The page's script and its vocabulary (a JSON data block, not run).
    spiderpig_tests::web::assert_only_page_scripts(&page);
    assert_eq!(
        page.matches(r#"<script type="application/json" id="vocab">"#)
            .count(),
        1
    );
    assert!(!page.contains('\u{1b}'), "terminal controls in the page");
    let txt = b.get(&format!("/jobs/{id}/log.txt")).await?.text().await?;
    assert!(!txt.contains('\u{1b}'), "terminal controls in log.txt");
    for text in &forged {
        assert!(txt.contains(text), "log.txt is plain text: {text}");
    }

    // The WebSocket carries the same records, as JSON strings.
    let mut ws = b.ws().await?;
    ws.watch(id, 0).await?;
    let last = records.last().and_then(|r| r["seq"].as_u64()).unwrap();
    let mut seen: Vec<Value> = Vec::new();
    while seen.last().and_then(|r| r["seq"].as_u64()) != Some(last) {
        let frame = ws
            .wait_for(std::time::Duration::from_secs(10), |f| f["type"] == "log")
            .await?;
        assert_eq!(frame["job"], id);
        seen.extend(frame["records"].as_array().cloned().unwrap_or_default());
    }
    assert_eq!(seen, records, "WebSocket and API disagree");
    Ok(())
}
