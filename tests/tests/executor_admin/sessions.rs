//! `ctl ban`/`unban`, `ctl logout USER`/`--all`, `ctl sessions`,
//! `ctl totp reset` (case 18: the old token is refused and open streams end
//! within a second).

use data_encoding::BASE64URL_NOPAD;
use sha2::{Digest, Sha256};
use spiderpig_client::{RequestContext, Session};
use spiderpig_policy::TotpCode;
use spiderpig_proto::v1 as pb;
use tonic::Code;

use crate::support::*;

/// The gRPC status behind a failed harness login.
fn login_refusal(e: &anyhow::Error) -> &tonic::Status {
    e.downcast_ref::<tonic::Status>()
        .unwrap_or_else(|| panic!("not a gRPC refusal: {e:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ban_ends_sessions_cancels_queued_jobs_and_refuses_login_until_unban() -> anyhow::Result<()>
{
    let h = start().await?;
    let ctl = Ctl::new(&h);
    let mut d1 = sign_in(&h, "deployer1").await?;
    let mut d2 = sign_in(&h, "deployer2").await?;
    let j1 = d1.submit(&h, &[42]).await?.id;
    let j2 = d2.submit(&h, &[43]).await?.id;
    let j3 = d2.submit(&h, &[44]).await?.id;
    let j4 = d1.submit(&h, &[45]).await?.id;
    let mut banned_tab = Watch::open(&h, &d2.user.token).await?;
    let mut other_tab = Watch::open(&h, &d1.user.token).await?;

    let out = ctl
        .json(&["ban", "deployer2", "--reason", "laptop stolen"])
        .await;
    assert_eq!(text(&out["username"]), "deployer2");
    assert_eq!(out["banned"], true);
    assert_eq!(int(&out["sessions_ended"]), 1);
    assert_eq!(out["jobs_cancelled"], serde_json::json!([j2, j3]));

    let why = banned_tab.ends_revoked(PROMPTLY).await?;
    assert!(why.contains("banned"), "{why}");
    assert!(token_refused(&h, &d2.user.token).await);
    for j in [j2, j3] {
        assert_eq!(d1.state(j).await?, pb::JobState::Cancelled);
    }
    // Nobody else is touched: deployer1 keeps the lock, the queue and the tab.
    assert!(!token_refused(&h, &d1.user.token).await);
    assert_eq!(d1.state(j1).await?, pb::JobState::AwaitingReady);
    other_tab
        .queue_where(PROMPTLY, |q| queued_ids(q) == vec![j4])
        .await?;

    let mut client = h.client();
    let refused = h
        .idp_login(&mut client, "deployer2", "deployer2-pass")
        .await
        .expect_err("a banned user cannot log in");
    let status = login_refusal(&refused);
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(status.message().contains("banned"), "{status:?}");

    let table = ctl
        .ok(&["unban", "deployer2", "--reason", "laptop found"])
        .await;
    assert_eq!(field(&table, "user"), "deployer2");
    assert_eq!(field(&table, "banned"), "no");
    let token = d2.sign_in_again(&h).await?;
    assert!(!token_refused(&h, &token).await);

    let records = audit(&h).await?;
    let admin: Vec<(&str, &str, &str, &str)> = records
        .iter()
        .filter(|r| r.action.starts_with("admin."))
        .map(|r| {
            (
                r.actor.as_str(),
                r.action.as_str(),
                r.target.as_str(),
                r.reason.as_str(),
            )
        })
        .collect();
    assert_eq!(
        admin,
        vec![
            ("admin:root", "admin.ban", "user deployer2", "laptop stolen"),
            (
                "admin:root",
                "admin.unban",
                "user deployer2",
                "laptop found"
            ),
        ]
    );
    assert!(
        records
            .iter()
            .any(|r| r.action == "login.refused" && r.actor == "deployer2" && !r.success)
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_of_one_user_ends_only_their_sessions_at_once() -> anyhow::Result<()> {
    let h = start().await?;
    let ctl = Ctl::new(&h);
    let mut d1 = sign_in(&h, "deployer1").await?;
    let mut d2 = sign_in(&h, "deployer2").await?;
    let mut tab1 = Watch::open(&h, &d1.user.token).await?;
    let mut tab2 = Watch::open(&h, &d2.user.token).await?;

    let out = ctl
        .ok(&["logout", "deployer1", "--reason", "left the team"])
        .await;
    assert_eq!(field(&out, "sessions ended"), "1");
    let why = tab1.ends_revoked(PROMPTLY).await?;
    assert!(why.contains("logged out"), "{why}");
    assert!(token_refused(&h, &d1.user.token).await);

    // deployer2's session and tab go on.
    assert!(!token_refused(&h, &d2.user.token).await);
    let j = d2.submit(&h, &[42]).await?.id;
    tab2.queue_where(PROMPTLY, |q| q.active.as_ref().is_some_and(|a| a.id == j))
        .await?;

    // A logout is not a ban: deployer1 may sign in again.
    let again = d1.sign_in_again(&h).await?;
    assert!(!token_refused(&h, &again).await);

    let logouts = audited(&h, "admin.logout").await?;
    assert_eq!(logouts.len(), 1);
    assert_eq!(logouts[0].actor, "admin:root");
    assert_eq!(logouts[0].target, "user deployer1");
    assert_eq!(logouts[0].reason, "left the team");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_all_ends_every_session_at_once() -> anyhow::Result<()> {
    let h = start().await?;
    let ctl = Ctl::new(&h);
    let d1 = sign_in(&h, "deployer1").await?;
    let d2 = sign_in(&h, "deployer2").await?;
    let admin = sign_in(&h, "admin1").await?;
    let mut tabs = Vec::new();
    for p in [&d1, &d2, &admin] {
        tabs.push(Watch::open(&h, &p.user.token).await?);
    }

    let out = ctl
        .json(&["logout", "--all", "--reason", "rotating the keys"])
        .await;
    assert_eq!(int(&out["sessions_ended"]), 3);
    for tab in &mut tabs {
        tab.ends_revoked(PROMPTLY).await?;
    }
    for p in [&d1, &d2, &admin] {
        assert!(
            token_refused(&h, &p.user.token).await,
            "{}",
            p.user.username
        );
    }
    let status = ctl.json(&["status"]).await;
    assert_eq!(int(&status["sessions"]), 0);
    assert_eq!(ctl.ok(&["sessions"]).await, "No sessions.\n");

    // `logout` names a user or --all, not both and not neither.
    assert_eq!(ctl.run(&["logout", "--reason", "x"]).await.code, Some(2));
    assert_eq!(
        ctl.run(&["logout", "deployer1", "--all", "--reason", "x"])
            .await
            .code,
        Some(2)
    );
    let logouts = audited(&h, "admin.logout").await?;
    assert_eq!(logouts.len(), 1);
    assert_eq!(logouts[0].target, "everyone");
    assert_eq!(logouts[0].reason, "rotating the keys");
    Ok(())
}

/// Every way a token could show up in output: itself, a long piece of it,
/// its SHA-256 (what the store keeps) in hex and in base64url.
fn token_traces(token: &str) -> Vec<String> {
    let hash = Sha256::digest(token.as_bytes());
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    let mut traces = vec![token.to_string(), hex, BASE64URL_NOPAD.encode(&hash)];
    let chars: Vec<char> = token.chars().collect();
    traces.extend(chars.windows(12).map(|w| w.iter().collect::<String>()));
    traces
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_lists_who_is_signed_in_and_never_a_token() -> anyhow::Result<()> {
    let h = start().await?;
    let ctl = Ctl::new(&h);
    let d1 = sign_in(&h, "deployer1").await?;
    let d2 = sign_in(&h, "deployer2").await?;
    // admin1 is between the IDP and TOTP: a pre-TOTP session.
    let mut client = h.client();
    let pending = h.idp_login(&mut client, "admin1", "admin1-pass").await?;

    let table = ctl.ok(&["sessions"]).await;
    let json_text = ctl.ok(&["--json", "sessions"]).await;
    for token in [&d1.user.token, &d2.user.token, &pending.token] {
        for trace in token_traces(token) {
            assert!(!table.contains(&trace), "token material in:\n{table}");
            assert!(
                !json_text.contains(&trace),
                "token material in:\n{json_text}"
            );
        }
    }

    let json: serde_json::Value = serde_json::from_str(&json_text)?;
    let mut seen: Vec<(String, String, bool)> = json["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .map(|s| {
            (
                text(&s["username"]).to_string(),
                text(&s["role"]).to_string(),
                s["totp_passed"].as_bool().expect("totp_passed"),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        vec![
            ("admin1".into(), "admin".into(), false),
            ("deployer1".into(), "deployer".into(), true),
            ("deployer2".into(), "deployer".into(), true),
        ]
    );
    let mut ids: Vec<&str> = json["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .map(|s| text(&s["id"]))
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "each session has its own public id");
    for id in ids {
        let user = table
            .lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_else(|| panic!("session {id} not in:\n{table}"));
        assert!(
            user.contains(" passed ") || user.contains(" pending "),
            "{user}"
        );
    }
    assert_eq!(
        table.lines().count(),
        4,
        "a header and three rows:\n{table}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn totp_reset_ends_sessions_and_the_next_login_enrols_again() -> anyhow::Result<()> {
    let h = start().await?;
    let ctl = Ctl::new(&h);
    let d1 = sign_in(&h, "deployer1").await?;
    let d2 = sign_in(&h, "deployer2").await?;
    let mut tab = Watch::open(&h, &d1.user.token).await?;

    let out = ctl
        .ok(&["totp", "reset", "deployer1", "--reason", "lost phone"])
        .await;
    assert_eq!(field(&out, "sessions ended"), "1");
    let why = tab.ends_revoked(PROMPTLY).await?;
    assert!(why.contains("TOTP"), "{why}");
    assert!(token_refused(&h, &d1.user.token).await);
    assert!(!token_refused(&h, &d2.user.token).await);

    // The IDP part still works, but the executor asks for enrolment, and the
    // old secret no longer opens a session.
    let mut client = h.client();
    let pre = h
        .idp_login(&mut client, "deployer1", "deployer1-pass")
        .await?;
    assert!(!pre.enrolled, "CompleteLogin says totp_enrolled=false");
    let old_code = TotpCode::parse(&h.totp(&d1.user.secret, 1))?;
    let old = client
        .verify_totp(
            &Session::new(&pre.token),
            &RequestContext::default(),
            &old_code,
        )
        .await
        .expect_err("the old secret is gone");
    assert_ne!(old.code(), Code::Ok);
    let fresh = h.login("deployer1", "deployer1-pass").await?;
    assert_ne!(
        fresh.secret.to_base32(),
        d1.user.secret.to_base32(),
        "a new secret"
    );
    assert!(!token_refused(&h, &fresh.token).await);

    let resets = audited(&h, "admin.totp_reset").await?;
    assert_eq!(resets.len(), 1);
    assert_eq!(resets[0].actor, "admin:root");
    assert_eq!(resets[0].target, "user deployer1");
    assert_eq!(resets[0].reason, "lost phone");
    Ok(())
}
