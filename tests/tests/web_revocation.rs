//! Ending a session through the web and through the admin socket
//! (docs/SECURITY-TESTS.md case 18): after a logout, `ctl logout USER`,
//! `ctl logout --all` or `ctl ban USER`, the old cookie is refused on HTTP
//! and on the WebSocket upgrade, and a WebSocket that was open gets
//! `{"type":"revoked"}` and close 4001 within a second.

use std::future::Future;
use std::time::{Duration, Instant};

use spiderpig_proto::v1 as pb;
use spiderpig_proto::v1::logout_user_request::Who;
use spiderpig_tests::web::{Browser, WebHarness, WebOptions, refused_status};

/// Revocation must reach an open socket within this.
const WITHIN: Duration = Duration::from_secs(1);

/// Sign `user` in, open a socket and wait for its first queue snapshot (so
/// its executor stream is open); run `revoke`; then check the socket is
/// told and closed in time, and the old cookie is refused everywhere.
async fn assert_revokes<F, Fut>(web: &WebHarness, user: &str, revoke: F) -> anyhow::Result<()>
where
    F: FnOnce(Browser) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let mut b = web.browser();
    b.login(user, &format!("{user}-pass")).await?;
    let token = b.session().expect("session");
    let mut ws = b.ws().await?;
    ws.wait_for(Duration::from_secs(5), |f| f["type"] == "queue")
        .await?;

    revoke(b).await?;
    let revoked_at = Instant::now();
    let frame = ws.wait_for(WITHIN, |f| f["type"] == "revoked").await?;
    assert!(frame["reason"].is_string(), "{frame}");
    assert_eq!(ws.close_code(WITHIN).await?, Some(4001));
    assert!(
        revoked_at.elapsed() <= WITHIN,
        "took {:?}",
        revoked_at.elapsed()
    );

    let cookie = format!("__Host-spiderpig={token}");
    let me = web
        .browser()
        .get_with("/api/me", &[("cookie", &cookie)])
        .await?;
    assert_eq!(me.status(), 401, "the old cookie still works on HTTP");
    let page = web.browser().get_with("/", &[("cookie", &cookie)]).await?;
    assert_eq!(page.status(), 303);
    assert_eq!(page.headers()["location"], "/login");
    let upgrade = web
        .ws_raw(&[("origin", &web.origin), ("cookie", &cookie)], None)
        .await;
    let err = upgrade.err().expect("the old cookie opened a WebSocket");
    assert_eq!(refused_status(&err), Some(401), "{err}");
    Ok(())
}

async fn admin_logout(web: &WebHarness, who: Who) -> anyhow::Result<u32> {
    let r = web
        .exec
        .admin()
        .logout_user(pb::LogoutUserRequest {
            who: Some(who),
            reason: "test: end the session".into(),
        })
        .await?
        .into_inner();
    Ok(r.sessions_ended)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_refuses_the_old_cookie_and_closes_open_sockets() -> anyhow::Result<()> {
    let web = WebHarness::start(WebOptions::default()).await?;
    assert_revokes(&web, "deployer1", |b| async move {
        let res = b.post_form("/logout", &[]).await?;
        assert_eq!(res.status(), 303);
        assert_eq!(res.headers()["location"], "/login");
        let cleared = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|c| c.starts_with("__Host-spiderpig=;") && c.contains("Max-Age=0"));
        assert!(cleared, "the session cookie is not cleared");
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctl_logout_user_refuses_the_old_cookie_and_closes_open_sockets() -> anyhow::Result<()> {
    let web = WebHarness::start(WebOptions::default()).await?;
    // Another user's session is not touched.
    let mut other = web.browser();
    other.login("deployer2", "deployer2-pass").await?;
    assert_revokes(&web, "deployer1", |_| async {
        let ended = admin_logout(&web, Who::Username("deployer1".into())).await?;
        assert!(ended >= 1);
        Ok(())
    })
    .await?;
    assert_eq!(other.json("/api/me").await?.0, 200);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctl_logout_all_refuses_the_old_cookie_and_closes_open_sockets() -> anyhow::Result<()> {
    let web = WebHarness::start(WebOptions::default()).await?;
    let mut other = web.browser();
    other.login("admin1", "admin1-pass").await?;
    assert_revokes(&web, "deployer2", |_| async {
        let ended = admin_logout(&web, Who::Everyone(true)).await?;
        assert!(ended >= 2);
        Ok(())
    })
    .await?;
    assert_eq!(
        other.json("/api/me").await?.0,
        401,
        "everyone means everyone"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctl_ban_refuses_the_old_cookie_closes_sockets_and_blocks_sign_in() -> anyhow::Result<()> {
    let web = WebHarness::start(WebOptions::default()).await?;
    assert_revokes(&web, "deployer1", |_| async {
        let r = web
            .exec
            .admin()
            .ban(pb::BanRequest {
                username: "deployer1".into(),
                reason: "test: ban".into(),
            })
            .await?
            .into_inner();
        assert!(r.banned);
        assert!(r.sessions_ended >= 1);
        Ok(())
    })
    .await?;
    // Signing in again gets no further than the callback.
    let b = web.browser();
    let callback = b.oidc("deployer1", "deployer1-pass").await?;
    assert_ne!(
        callback.headers().get("location").map(|l| l.as_bytes()),
        Some(&b"/totp"[..]),
        "a banned user got a session"
    );
    assert_eq!(b.json("/api/me").await?.0, 401);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_closes_only_that_sessions_sockets_and_the_others_keep_their_events()
-> anyhow::Result<()> {
    let web = WebHarness::start(WebOptions::default()).await?;
    // deployer1's socket opens first, so the shared global stream borrows
    // its session; its logout must not silence anyone else.
    let mut gone = web.browser();
    gone.login("deployer1", "deployer1-pass").await?;
    let mut gone_ws = gone.ws().await?;
    gone_ws
        .wait_for(Duration::from_secs(5), |f| f["type"] == "queue")
        .await?;
    let mut stays = web.browser();
    stays.login("deployer2", "deployer2-pass").await?;
    let mut stays_ws = stays.ws().await?;
    stays_ws
        .wait_for(Duration::from_secs(5), |f| f["type"] == "queue")
        .await?;

    let res = gone.post_form("/logout", &[]).await?;
    assert_eq!(res.status(), 303);
    gone_ws.wait_for(WITHIN, |f| f["type"] == "revoked").await?;
    assert_eq!(gone_ws.close_code(WITHIN).await?, Some(4001));

    // The other viewer's socket is open, not revoked, and still hears the queue.
    let job = stays.submit(serde_json::json!([42])).await?;
    let id = job["id"].clone();
    let frame = stays_ws
        .wait_for(Duration::from_secs(5), |f| {
            f["type"] == "revoked" || (f["type"] == "job" && f["job"]["id"] == id)
        })
        .await?;
    assert_eq!(frame["type"], "job", "{frame}");
    Ok(())
}

/// The sessions' ends come on the one shared global stream (no stream per
/// session): a session that is *not* the one the stream borrows is still
/// closed within a second, by token hash (logout) and by user (ctl logout),
/// and the borrowed one's sockets are untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_other_than_the_global_streams_is_closed_within_a_second() -> anyhow::Result<()> {
    let web = WebHarness::start(WebOptions::default()).await?;
    let mut sockets = Vec::new();
    let mut browsers = Vec::new();
    // deployer1 first: the global stream borrows its session.
    for user in ["deployer1", "deployer2", "admin1"] {
        let mut b = web.browser();
        b.login(user, &format!("{user}-pass")).await?;
        let mut ws = b.ws().await?;
        ws.wait_for(Duration::from_secs(5), |f| f["type"] == "queue")
            .await?;
        sockets.push(ws);
        browsers.push(b);
    }
    let hub = web.exec.engine().hub().clone();
    assert_eq!(hub.watchers(), 1, "one executor stream for all sessions");
    let mut admin_ws = sockets.pop().expect("admin1");
    let mut d2_ws = sockets.pop().expect("deployer2");
    let mut d1_ws = sockets.pop().expect("deployer1");

    let res = browsers[1].post_form("/logout", &[]).await?;
    assert_eq!(res.status(), 303);
    let at = Instant::now();
    d2_ws.wait_for(WITHIN, |f| f["type"] == "revoked").await?;
    assert_eq!(d2_ws.close_code(WITHIN).await?, Some(4001));
    assert!(at.elapsed() <= WITHIN, "took {:?}", at.elapsed());

    admin_logout(&web, Who::Username("admin1".into())).await?;
    let at = Instant::now();
    let frame = admin_ws
        .wait_for(WITHIN, |f| f["type"] == "revoked")
        .await?;
    assert_eq!(frame["reason"], "logged out by an admin", "{frame}");
    assert_eq!(admin_ws.close_code(WITHIN).await?, Some(4001));
    assert!(at.elapsed() <= WITHIN, "took {:?}", at.elapsed());

    // deployer1's socket is open and still hears the queue.
    let job = browsers[0].submit(serde_json::json!([42])).await?;
    let id = job["id"].clone();
    let frame = d1_ws
        .wait_for(Duration::from_secs(5), |f| {
            f["type"] == "revoked" || (f["type"] == "job" && f["job"]["id"] == id)
        })
        .await?;
    assert_eq!(frame["type"], "job", "{frame}");
    assert_eq!(browsers[0].json("/api/me").await?.0, 200);
    Ok(())
}
