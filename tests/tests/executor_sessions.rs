//! Sessions through the executor's `Deployer` socket, end to end: tokens
//! issued at sign-in and replaced at TOTP, logout (own, by an admin, of
//! everyone, by a ban) ending every call and every open Watch stream within
//! a second, idle and absolute time-outs on the injected clock, and what a
//! compromised web can do without a full session. SECURITY-TESTS.md cases
//! 17, 18 (the executor's side; cookies and WebSockets are the web's), 19
//! and 35.
//!
//! Every refusal also checks that nothing happened ([`support::snapshot`]).
//! Time moves only with the harness clock.

#[path = "support/auth.rs"]
mod support;

use std::collections::HashSet;

use spiderpig_executor::ExecutorError;
use spiderpig_executor::auth::totp::TotpSecret;
use spiderpig_executor::clock::Clock;
use spiderpig_proto::v1 as pb;
use spiderpig_proto::v1::logout_user_request::Who;
use spiderpig_tests::executor::{Harness, HarnessOptions, SignedIn};
use spiderpig_tests::idp::random_urlsafe;
use support::*;
use tonic::Code;

async fn harness() -> Harness {
    Harness::start(HarnessOptions::default())
        .await
        .expect("harness")
}

async fn login(h: &Harness, user: &str) -> SignedIn {
    h.login(user, &format!("{user}-pass"))
        .await
        .expect("sign in")
}

/// Another full session of an enrolled user, without moving the clock: its
/// first login spent the current step, so this one uses the next.
async fn second_session(h: &Harness, user: &str, secret: &TotpSecret) -> String {
    let pre = pre_session(h, user, &format!("{user}-pass")).await;
    verify(&mut h.deployer(), &pre, &code_off(h, secret, 1))
        .await
        .expect("a second session")
        .session
        .expect("session")
        .token
}

/// A session token as the proto promises: 43 base64url characters, 256 bits.
#[track_caller]
fn assert_token_shape(token: &str) {
    assert_eq!(token.len(), 43, "{token:?}");
    assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{token:?}"
    );
    let bytes = data_encoding::BASE64URL_NOPAD
        .decode(token.as_bytes())
        .expect("base64url");
    assert_eq!(bytes.len(), 32, "256 bits");
}

/// Make every open Watch stream receive a FreezeChanged event.
async fn freeze(h: &Harness) {
    h.admin()
        .freeze(pb::FreezeRequest {
            reason: "probing open streams".into(),
            until_ms: 0,
        })
        .await
        .expect("Freeze");
}

async fn sessions_of(h: &Harness, user: &str) -> usize {
    snapshot(h)
        .await
        .sessions
        .iter()
        .filter(|(_, u, _)| u == user)
        .count()
}

// ───────────────────────────── issuing tokens ─────────────────────────────

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_login_issues_a_new_256_bit_token_and_totp_replaces_it() {
    let h = harness().await;
    let mut c = h.deployer();
    let pre1 = pre_session(&h, "deployer1", "deployer1-pass").await;
    let who = who_am_i(&mut c, &pre1).await.unwrap();
    assert!(!who.totp_passed && !who.totp_enrolled);
    let secret = c
        .enrol_totp(pb::EnrolTotpRequest {
            ctx: ctx(),
            session: session(&pre1),
        })
        .await
        .unwrap()
        .into_inner()
        .secret_base32;
    let secret = TotpSecret::from_base32(&secret).unwrap();
    let full1 = verify(&mut c, &pre1, &h.totp(&secret, 0))
        .await
        .unwrap()
        .session
        .unwrap()
        .token;
    // The pre-TOTP token is dead everywhere once TOTP passed.
    assert_token_dead(&h, &pre1, 1, &h.totp(&secret, 1)).await;

    // A second browser: its own tokens, and the first browser keeps its own.
    let pre2 = pre_session(&h, "deployer1", "deployer1-pass").await;
    assert!(!who_am_i(&mut c, &pre2).await.unwrap().totp_passed);
    let full2 = verify(&mut c, &pre2, &h.totp(&secret, 1))
        .await
        .unwrap()
        .session
        .unwrap()
        .token;
    assert_token_dead(&h, &pre2, 1, &h.totp(&secret, 1)).await;
    let tokens = [&pre1, &full1, &pre2, &full2];
    for t in tokens {
        assert_token_shape(t);
    }
    assert_eq!(
        tokens.iter().collect::<HashSet<_>>().len(),
        4,
        "all different"
    );
    for t in [&full1, &full2] {
        let who = who_am_i(&mut c, t).await.unwrap();
        assert!(who.totp_passed);
        assert_eq!(who.username, "deployer1");
    }

    // No token reaches the audit trail or the admins' session list.
    let sessions = h
        .admin()
        .list_sessions(pb::ListSessionsRequest {})
        .await
        .unwrap()
        .into_inner()
        .sessions;
    assert_eq!(sessions.len(), 2);
    let shown = format!("{sessions:?} {:?}", audit(&h).await);
    for t in tokens {
        assert!(!shown.contains(&t[..16]), "a token leaked: {shown}");
    }
    for s in &sessions {
        assert!(tokens.iter().all(|t| !t.contains(&s.id)));
    }
}

// ───────────────────────────── ending sessions ─────────────────────────────

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_ends_the_session_on_every_call_and_its_watch_stream() {
    let h = harness().await;
    let d1 = login(&h, "deployer1").await;
    let d1b = second_session(&h, "deployer1", &d1.secret).await;
    let d2 = login(&h, "deployer2").await;
    let mut gone = vec![open_watch(&h, &d1.token).await];
    let mut kept = vec![open_watch(&h, &d1b).await, open_watch(&h, &d2.token).await];
    let before = snapshot(&h).await;

    h.deployer()
        .logout(pb::LogoutRequest {
            ctx: ctx(),
            session: d1.session(),
        })
        .await
        .expect("Logout");
    all_revoked_within_1s(&mut gone).await;
    assert_token_dead(&h, &d1.token, 1, &code_off(&h, &d1.secret, 1)).await;

    // Only that session ended: the same user's other browser, and others, stay.
    let after = snapshot(&h).await;
    assert_eq!(after.sessions.len(), before.sessions.len() - 1);
    let mut c = h.deployer();
    who_am_i(&mut c, &d1b).await.expect("the other browser");
    who_am_i(&mut c, &d2.token).await.expect("another user");
    freeze(&h).await;
    for s in &mut kept {
        still_open(s).await;
    }
    assert_eq!(count(&audit(&h).await, "logout"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_logout_of_a_user_ends_all_their_sessions_and_streams_only() {
    let h = harness().await;
    let d1 = login(&h, "deployer1").await;
    let d1b = second_session(&h, "deployer1", &d1.secret).await;
    let d1_pre = pre_session(&h, "deployer1", "deployer1-pass").await;
    let d2 = login(&h, "deployer2").await;
    let mut gone = vec![open_watch(&h, &d1.token).await, open_watch(&h, &d1b).await];
    let mut kept = open_watch(&h, &d2.token).await;

    let ended = h
        .admin()
        .logout_user(pb::LogoutUserRequest {
            who: Some(Who::Username("deployer1".into())),
            reason: "laptop stolen".into(),
        })
        .await
        .expect("LogoutUser")
        .into_inner()
        .sessions_ended;
    assert_eq!(ended, 3, "two full sessions and a pre-TOTP one");
    for reason in all_revoked_within_1s(&mut gone).await {
        assert!(reason.contains("admin"), "{reason}");
    }
    let code = code_off(&h, &d1.secret, 1);
    for t in [&d1.token, &d1b, &d1_pre] {
        assert_token_dead(&h, t, 1, &code).await;
    }
    assert_eq!(sessions_of(&h, "deployer1").await, 0);

    who_am_i(&mut h.deployer(), &d2.token)
        .await
        .expect("deployer2 stays");
    freeze(&h).await;
    still_open(&mut kept).await;
    let trail = audit(&h).await;
    assert_eq!(count(&trail, "admin.logout"), 1);
    let r = trail.iter().find(|r| r.action == "admin.logout").unwrap();
    assert_eq!(r.target, "user deployer1");
    assert_eq!(r.reason, "laptop stolen");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_logout_of_everyone_ends_every_session_and_stream() {
    let h = harness().await;
    let d1 = login(&h, "deployer1").await;
    let d2 = login(&h, "deployer2").await;
    let a1 = login(&h, "admin1").await;
    let pre = pre_session(&h, "deployer2", "deployer2-pass").await;
    let mut streams = Vec::new();
    for t in [&d1.token, &d2.token, &a1.token] {
        streams.push(open_watch(&h, t).await);
    }
    let ended = h
        .admin()
        .logout_user(pb::LogoutUserRequest {
            who: Some(Who::Everyone(true)),
            reason: "rotating".into(),
        })
        .await
        .expect("LogoutUser everyone")
        .into_inner()
        .sessions_ended;
    assert_eq!(ended, 4);
    all_revoked_within_1s(&mut streams).await;
    for (t, secret) in [
        (&d1.token, &d1.secret),
        (&d2.token, &d2.secret),
        (&a1.token, &a1.secret),
        (&pre, &d2.secret),
    ] {
        assert_token_dead(&h, t, 1, &code_off(&h, secret, 1)).await;
    }
    assert!(snapshot(&h).await.sessions.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ban_ends_sessions_and_streams_and_refuses_sign_in_until_unbanned() {
    let h = harness().await;
    let d1 = login(&h, "deployer1").await;
    let d2 = login(&h, "deployer2").await;
    let mut c = h.deployer();
    let job = submit(&mut c, &d1.token, &[301], &code_off(&h, &d1.secret, 1))
        .await
        .expect("a job");
    let d1_pre = pre_session(&h, "deployer1", "deployer1-pass").await;
    let mut gone = vec![open_watch(&h, &d1.token).await];
    let mut kept = open_watch(&h, &d2.token).await;

    let ban = h
        .admin()
        .ban(pb::BanRequest {
            username: "deployer1".into(),
            reason: "compromised account".into(),
        })
        .await
        .expect("Ban")
        .into_inner();
    assert_eq!(ban.sessions_ended, 2);
    assert_eq!(ban.jobs_cancelled, vec![job.id]);
    all_revoked_within_1s(&mut gone).await;
    for t in [&d1.token, &d1_pre] {
        assert_token_dead(&h, t, job.id, &code_off(&h, &d1.secret, 2)).await;
    }
    who_am_i(&mut c, &d2.token).await.expect("deployer2 stays");
    freeze(&h).await;
    still_open(&mut kept).await;

    // A banned user cannot sign in again.
    let before = snapshot(&h).await;
    let audit_before = audit(&h).await;
    let cb = idp_callback(&mut c, "deployer1", "deployer1-pass").await;
    let refused = complete(&mut c, &cb.binding, &cb.state, &cb.code)
        .await
        .expect_err("banned");
    assert_code(&refused, Code::PermissionDenied);
    assert_refused(&refused, &ExecutorError::Banned);
    assert_eq!(snapshot(&h).await, before, "no session for a banned user");
    let written = audit_since(&h, &audit_before).await;
    assert_eq!(written.len(), 1, "{written:?}");
    assert_eq!(
        (written[0].action.as_str(), written[0].success),
        ("login.refused", false)
    );

    h.admin()
        .unban(pb::UnbanRequest {
            username: "deployer1".into(),
            reason: "cleaned up".into(),
        })
        .await
        .expect("Unban");
    let pre = pre_session(&h, "deployer1", "deployer1-pass").await;
    h.clock.advance_secs(30); // steps T and T+1 were spent above
    let full = verify(&mut c, &pre, &code_off(&h, &d1.secret, 1))
        .await
        .expect("signs in after the unban")
        .session
        .unwrap()
        .token;
    assert_eq!(who_am_i(&mut c, &full).await.unwrap().username, "deployer1");
}

// ───────────────────────────── time-outs ─────────────────────────────

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_session_ends_after_the_idle_time_out() {
    let h = harness().await;
    let idle_ms = h.config.timeouts.session_idle_secs as i64 * 1000;
    let d1 = login(&h, "deployer1").await;
    let pre = pre_session(&h, "deployer2", "deployer2-pass").await;
    let mut c = h.deployer();

    // A call just before the time-out keeps the session; the time-out then
    // counts from that call.
    for _ in 0..2 {
        h.clock.advance_ms(idle_ms - 1000);
        let who = who_am_i(&mut c, &d1.token)
            .await
            .expect("active within the idle time-out");
        assert_eq!(
            who.expires_at_ms,
            h.clock.now_ms() + idle_ms,
            "WhoAmI reports the renewed idle time-out"
        );
    }
    h.engine().tick().expect("tick");
    let before = snapshot(&h).await;
    assert_eq!(
        before.sessions.len(),
        1,
        "the idle pre-TOTP session is gone"
    );
    h.clock.advance_ms(idle_ms);
    h.engine().tick().expect("tick");
    assert_token_dead(&h, &d1.token, 1, &code_off(&h, &d1.secret, 1)).await;
    assert_token_dead(&h, &pre, 1, "000000").await;
    assert!(snapshot(&h).await.sessions.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_active_session_still_ends_at_the_absolute_time_out() {
    let h = harness().await;
    let idle_ms = h.config.timeouts.session_idle_secs as i64 * 1000;
    let absolute_ms = h.config.timeouts.session_absolute_secs as i64 * 1000;
    let d1 = login(&h, "deployer1").await;
    let signed_in_at = h.clock.now_ms();
    let mut c = h.deployer();
    // A call every 20 minutes: never idle.
    let every_ms = 20 * 60 * 1000;
    let mut calls = 0;
    while h.clock.now_ms() + every_ms < signed_in_at + absolute_ms {
        h.clock.advance_ms(every_ms);
        let who = who_am_i(&mut c, &d1.token)
            .await
            .unwrap_or_else(|s| panic!("refused after {calls} calls: {s:?}"));
        let now = h.clock.now_ms();
        assert_eq!(
            who.expires_at_ms,
            (now + idle_ms).min(signed_in_at + absolute_ms)
        );
        calls += 1;
    }
    assert_eq!(calls, 35, "12 h in 20-minute steps");
    h.clock.advance_ms(every_ms); // exactly 12 h after sign-in
    assert_token_dead(&h, &d1.token, 1, &code_off(&h, &d1.secret, 1)).await;
    assert!(snapshot(&h).await.sessions.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_stream_ends_when_its_session_expires() {
    let h = harness().await;
    let d1 = login(&h, "deployer1").await;
    let d2 = login(&h, "deployer2").await;
    let mut streams = vec![open_watch(&h, &d1.token).await];
    // deployer2 stays active; deployer1 does not.
    let half = h.config.timeouts.session_idle_secs as i64 / 2 + 1;
    h.clock.advance_secs(half);
    who_am_i(&mut h.deployer(), &d2.token).await.unwrap();
    let mut kept = open_watch(&h, &d2.token).await;
    h.clock.advance_secs(half);
    h.engine().tick().expect("tick");
    all_revoked_within_1s(&mut streams).await;
    freeze(&h).await;
    still_open(&mut kept).await;
}

// ───────────────────────────── a compromised web ─────────────────────────────

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_without_a_full_session_cannot_queue_answer_cancel_or_read() {
    let h = harness().await;
    let d1 = login(&h, "deployer1").await;
    let d2 = login(&h, "deployer2").await;
    let mut c = h.deployer();
    let active = submit(&mut c, &d1.token, &[501], &code_off(&h, &d1.secret, 1))
        .await
        .unwrap();
    let queued = submit(&mut c, &d2.token, &[502], &code_off(&h, &d2.secret, 1))
        .await
        .unwrap();
    assert_eq!(active.state, pb::JobState::AwaitingReady as i32);
    assert_eq!(queued.state, pb::JobState::Queued as i32);
    // The owner of the active job, half signed in (password, no TOTP).
    let pre = pre_session(&h, "deployer1", "deployer1-pass").await;
    h.clock.advance_secs(30);
    // A right, unused code: the web may have seen one typed.
    let fresh = code_off(&h, &d1.secret, 1);

    let mut flipped = d1.token.clone().into_bytes();
    flipped[10] = if flipped[10] == b'A' { b'B' } else { b'A' };
    let garbage: Vec<Option<pb::Session>> = [
        String::new(),
        "garbage".into(),
        "A".repeat(43),
        random_urlsafe(32).unwrap(),
        String::from_utf8(flipped).unwrap(),
        format!("{}A", d1.token),
        d1.token[..42].to_string(),
        format!("{}=", d1.token),
        d1.token.to_uppercase(),
        "é".repeat(43),
        "x".repeat(10_000),
    ]
    .into_iter()
    .map(|t| session(&t))
    .chain([None])
    .collect();

    let before = snapshot(&h).await;
    let audit_before = audit(&h).await;
    for s in garbage {
        for job in [active.id, queued.id] {
            assert_session_dead(&h, s.clone(), job, &fresh).await;
        }
    }
    for job in [active.id, queued.id] {
        for (name, outcome) in job_calls(&h, session(&pre), job, &fresh).await {
            let status = outcome
                .err()
                .unwrap_or_else(|| panic!("{name} accepted a pre-TOTP session"));
            assert_refused(&status, &ExecutorError::TotpRequired);
            assert!(!status.message().contains(&pre[..16]), "{name} echoed it");
        }
    }
    assert_eq!(snapshot(&h).await, before, "nothing happened");
    assert_eq!(h.invocations().len(), 0, "scap never ran");
    let written = audit_since(&h, &audit_before).await;
    assert!(
        written.iter().all(|r| !r.success),
        "only refusals may be recorded: {written:?}"
    );
    // The code the web replayed is still unused: no TOTP state was touched.
    let job = submit(&mut c, &d1.token, &[503], &fresh)
        .await
        .expect("the owner's own request with that code");
    assert_eq!(job.state, pb::JobState::Queued as i32);
}
