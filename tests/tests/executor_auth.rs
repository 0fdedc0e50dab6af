//! Signing in through the executor's `Deployer` socket, end to end: the real
//! OpenID Provider, the OIDC callback checks, group mapping and identity,
//! and the audit of every sign-in outcome. SECURITY-TESTS.md cases 1, 2, 8
//! and the sign-in part of 48. The relying party alone (forged ID tokens,
//! `iss`, `aud`, `nonce`, `alg`: cases 3–7) is tested in `oidc_executor.rs`;
//! the TOTP step of signing in (cases 9–15) in `executor_totp.rs`.
//!
//! Every refusal also checks that nothing happened ([`support::snapshot`]):
//! no session, no job, no scap run. Time moves only with the harness clock.

#[path = "support/auth.rs"]
mod support;

use std::process::Stdio;
use std::time::Duration;

use spiderpig_executor::ExecutorError;
use spiderpig_executor::auth::totp::TotpSecret;
use spiderpig_executor::clock::Clock;
use spiderpig_proto::v1 as pb;
use spiderpig_tests::executor::{Harness, HarnessOptions, REDIRECT};
use spiderpig_tests::idp::{CLIENT_ID, idp_dir};
use support::*;
use tokio::io::{AsyncBufReadExt, BufReader};
use tonic::Code;

async fn harness() -> Harness {
    Harness::start(HarnessOptions::default())
        .await
        .expect("harness")
}

// ───────────────────────────── the OIDC callback ─────────────────────────────

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callback_with_missing_wrong_or_foreign_state_or_binding_is_refused() {
    let h = harness().await;
    let mut c = h.deployer();
    let cb = idp_callback(&mut c, "deployer1", "deployer1-pass").await;
    // A login another browser began: its binding is real, but not this one's.
    let other = c
        .begin_login(pb::BeginLoginRequest { ctx: ctx() })
        .await
        .unwrap()
        .into_inner();
    let other_state = query(&other.authorize_url, "state");
    let mut flipped = cb.state.clone().into_bytes();
    flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();

    let before = snapshot(&h).await;
    let audit_before = audit(&h).await;
    let cases: [(&str, &str, &str); 6] = [
        ("missing state", &cb.binding, ""),
        ("wrong state", &cb.binding, "not-the-state"),
        ("state with one character changed", &cb.binding, &flipped),
        ("another login's state", &cb.binding, &other_state),
        ("missing binding", "", &cb.state),
        ("another login's binding", &other.login_binding, &cb.state),
    ];
    for (why, binding, state) in cases {
        let refused = complete(&mut c, binding, state, &cb.code)
            .await
            .expect_err(why);
        assert_refused(&refused, &ExecutorError::LoginStateInvalid);
    }
    // Malformed fields are refused before the engine looks at them.
    for (why, binding, state) in [
        ("oversized state", cb.binding.clone(), "s".repeat(129)),
        (
            "non-ASCII state",
            cb.binding.clone(),
            format!("{}é", cb.state),
        ),
        ("oversized binding", "b".repeat(513), cb.state.clone()),
    ] {
        let refused = complete(&mut c, &binding, &state, &cb.code)
            .await
            .expect_err(why);
        assert_code(&refused, Code::InvalidArgument);
    }
    assert_eq!(
        snapshot(&h).await,
        before,
        "a refused callback changed state"
    );
    // A mismatch does not spend the login: the real callback still works.
    let done = complete(&mut c, &cb.binding, &cb.state, &cb.code)
        .await
        .expect("the real callback");
    assert_eq!(done.username, "deployer1");
    // Anyone can send these: they are counted, not written one by one. A
    // minute on, the tick has written them as summaries (the background tick
    // may have split them), which add up to the refusals and nothing else.
    // (After the real callback: the IDP's token is checked on this clock.)
    h.clock.advance_secs(61);
    h.engine().tick().expect("tick");
    let written = audit_since(&h, &audit_before).await;
    assert!(
        written
            .iter()
            .filter(|r| r.action != "login.idp_success")
            .all(|r| r.action == "login.state_invalid" && !r.success && r.client_addr == "-"),
        "only summaries of refused callbacks were written: {written:?}"
    );
    assert_eq!(
        unmatched_callbacks(&written),
        cases.len() as u64,
        "the summaries count every refused callback, none of the malformed requests"
    );
}

/// F2: logins begun and abandoned by anyone take no room in the executor
/// (they are sealed into the browser's cookie): after thousands, more than
/// the configured memory of spent logins, a real user still signs in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_logins_never_stop_a_real_user_signing_in() {
    let h = harness().await;
    let mut c = h.deployer();
    let spent = h.config.limits.spent_logins;
    for _ in 0..spent.max(2000) {
        let begun = c
            .begin_login(pb::BeginLoginRequest { ctx: ctx() })
            .await
            .expect("BeginLogin is never refused for being busy")
            .into_inner();
        assert!(begun.login_binding.len() <= spiderpig_policy::limits::MAX_LOGIN_BINDING_BYTES);
    }
    let d1 = h
        .login("deployer1", "deployer1-pass")
        .await
        .expect("a real sign-in");
    assert_eq!(
        who_am_i(&mut c, &d1.token).await.unwrap().username,
        "deployer1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completed_callback_cannot_be_replayed() {
    let h = harness().await;
    let mut c = h.deployer();
    let cb = idp_callback(&mut c, "deployer1", "deployer1-pass").await;
    let done = complete(&mut c, &cb.binding, &cb.state, &cb.code)
        .await
        .expect("the first callback");
    assert_eq!(done.username, "deployer1");
    assert_eq!(done.role, pb::Role::Deployer as i32);
    assert!(!done.totp_enrolled);

    let before = snapshot(&h).await;
    assert_eq!(before.sessions.len(), 1);
    for _ in 0..2 {
        let replay = complete(&mut c, &cb.binding, &cb.state, &cb.code)
            .await
            .expect_err("a replayed callback");
        assert_refused(&replay, &ExecutorError::LoginStateInvalid);
    }
    // The same code with a fresh login's binding and state: the IDP refuses
    // the code (spent, and issued for another PKCE verifier).
    let fresh = c
        .begin_login(pb::BeginLoginRequest { ctx: ctx() })
        .await
        .unwrap()
        .into_inner();
    let state = query(&fresh.authorize_url, "state");
    let refused = complete(&mut c, &fresh.login_binding, &state, &cb.code)
        .await
        .expect_err("a spent code under a fresh login");
    assert_refused(&refused, &ExecutorError::LoginFailed(String::new()));
    assert_eq!(snapshot(&h).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_after_the_login_time_out_is_refused() {
    let h = harness().await;
    let mut c = h.deployer();
    let cb = idp_callback(&mut c, "deployer1", "deployer1-pass").await;
    let before = snapshot(&h).await;
    h.clock
        .advance_secs(h.config.timeouts.login_secs as i64 + 1);
    let refused = complete(&mut c, &cb.binding, &cb.state, &cb.code)
        .await
        .expect_err("an expired login");
    assert_refused(&refused, &ExecutorError::LoginStateInvalid);
    assert_eq!(snapshot(&h).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_from_one_login_is_refused_with_another_logins_pkce_verifier() {
    let h = harness().await;
    let mut c = h.deployer();
    // Browser B starts a login; the attacker brings a code from login A.
    let b = c
        .begin_login(pb::BeginLoginRequest { ctx: ctx() })
        .await
        .unwrap()
        .into_inner();
    let b_state = query(&b.authorize_url, "state");
    let a = idp_callback(&mut c, "deployer1", "deployer1-pass").await;
    assert_ne!(
        query(&b.authorize_url, "code_challenge"),
        "",
        "PKCE S256 is used"
    );
    assert_eq!(query(&b.authorize_url, "code_challenge_method"), "S256");

    let before = snapshot(&h).await;
    let audit_before = audit(&h).await;
    let refused = complete(&mut c, &b.login_binding, &b_state, &a.code)
        .await
        .expect_err("code for another verifier");
    assert_refused(&refused, &ExecutorError::LoginFailed(String::new()));
    assert!(
        !refused.message().contains("token exchange"),
        "the detail stays in the executor's log: {}",
        refused.message()
    );
    assert_eq!(snapshot(&h).await, before);
    // Counted and summarised by the next tick (anyone who began a login can
    // send a bad code): one record, with the count and the last detail.
    h.engine().tick().expect("tick");
    let written = audit_since(&h, &audit_before).await;
    assert_eq!(written.len(), 1, "{written:?}");
    assert_eq!(written[0].action, "login.failure");
    assert!(!written[0].success);
    assert!(
        written[0]
            .reason
            .starts_with("1 sign-ins refused; the last: "),
        "{:?}",
        written[0]
    );
    // B's login was spent by the attempt.
    let again = complete(&mut c, &b.login_binding, &b_state, &a.code)
        .await
        .expect_err("spent");
    assert_refused(&again, &ExecutorError::LoginStateInvalid);
    assert_eq!(snapshot(&h).await, before);
}

// ───────────────────────────── who may sign in ─────────────────────────────

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_outside_the_configured_groups_is_refused_and_audited() {
    let h = harness().await;
    let mut c = h.deployer();
    let cb = idp_callback(&mut c, "outsider", "outsider-pass").await;
    let before = snapshot(&h).await;
    let audit_before = audit(&h).await;
    let refused = complete(&mut c, &cb.binding, &cb.state, &cb.code)
        .await
        .expect_err("outsider");
    assert_code(&refused, Code::PermissionDenied);
    assert_refused(&refused, &ExecutorError::NotAuthorized);
    assert!(
        refused.message().contains("not authorized"),
        "{}",
        refused.message()
    );
    assert_eq!(snapshot(&h).await, before, "no session for an outsider");
    let written = audit_since(&h, &audit_before).await;
    assert_eq!(written.len(), 1, "{written:?}");
    let r = &written[0];
    assert_eq!(r.action, "login.not_authorized");
    assert_eq!(r.actor, "outsider");
    assert!(!r.success);
    assert_eq!(r.client_addr, WEB_ADDR);
    assert_eq!(r.at_ms, h.clock.now_ms());
}

/// Kill the harness's IDP and start `idp.mjs` again on the same port (so the
/// issuer is the same) with other users, then restart the executor so it
/// fetches the new signing key. The returned child is killed when dropped.
async fn replace_idp_users(h: &mut Harness, users: serde_json::Value) -> tokio::process::Child {
    let issuer = h.idp.issuer.clone();
    let port = url::Url::parse(&issuer)
        .unwrap()
        .port()
        .expect("the issuer has a port");
    let pid = h.idp.pid().expect("the IDP runs") as i32;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("stopping our IDP");
    let users_file = h.dir.path().join("impostor-users.json");
    std::fs::write(&users_file, users.to_string()).unwrap();
    // The old process may hold the port for a moment after SIGKILL.
    for _ in 0..50 {
        let mut child =
            tokio::process::Command::new(std::env::var("NODE").unwrap_or_else(|_| "node".into()))
                .current_dir(idp_dir())
                .arg("idp.mjs")
                .args(["--port", &port.to_string(), "--issuer-host", "127.0.0.1"])
                .args(["--client-id", CLIENT_ID, "--redirect-uri", REDIRECT])
                .arg("--client-secret-file")
                .arg(&h.idp.client_secret_file)
                .arg("--users")
                .arg(&users_file)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .expect("spawning node idp.mjs");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let ready = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await;
        if let Ok(Ok(Some(line))) = ready {
            assert_eq!(line.strip_prefix("READY ").map(str::trim), Some(&*issuer));
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            h.shutdown().await;
            h.boot()
                .await
                .expect("the executor restarts against the new IDP");
            return child;
        }
        let _ = child.wait().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("could not restart the IDP on port {port}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_is_issuer_and_subject_never_the_username() {
    let mut h = harness().await;
    let d1 = h.login("deployer1", "deployer1-pass").await.unwrap();
    // The same subject always maps to the same user and TOTP secret.
    let again = pre_session(&h, "deployer1", "deployer1-pass").await;
    let who = who_am_i(&mut h.deployer(), &again).await.unwrap();
    assert_eq!(who.username, "deployer1");
    assert!(who.totp_enrolled);

    // The same issuer now vouches for a different subject calling itself
    // deployer1, and for deployer1's subject under another name.
    let _idp = replace_idp_users(
        &mut h,
        serde_json::json!([
            {"login": "deployer1", "password": "impostor-pass", "sub": "sub-impostor",
             "groups": ["deployers"]},
            {"login": "deployer9", "password": "deployer9-pass", "sub": "sub-deployer1",
             "groups": ["deployers"]},
            {"login": "deployer2", "password": "deployer2-pass", "groups": ["deployers"]},
        ]),
    )
    .await;
    let mut c = h.deployer();
    let before = snapshot(&h).await;
    let audit_before = audit(&h).await;
    for (user, password) in [
        ("deployer1", "impostor-pass"),
        ("deployer9", "deployer9-pass"),
    ] {
        let cb = idp_callback(&mut c, user, password).await;
        let refused = complete(&mut c, &cb.binding, &cb.state, &cb.code)
            .await
            .expect_err(user);
        assert_refused(&refused, &ExecutorError::LoginFailed(String::new()));
    }
    assert_eq!(snapshot(&h).await, before, "no session for either");
    let written = audit_since(&h, &audit_before).await;
    let actions: Vec<_> = written.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, ["login.refused", "login.refused"]);
    assert_eq!(written[0].actor, "deployer1");
    assert_eq!(written[1].actor, "deployer9");

    // The new IDP itself works: an unrelated user signs in.
    let d2 = h.login("deployer2", "deployer2-pass").await.unwrap();
    assert_eq!(
        who_am_i(&mut c, &d2.token).await.unwrap().username,
        "deployer2"
    );
    // And the real deployer1's session is untouched.
    assert_eq!(
        who_am_i(&mut c, &d1.token).await.unwrap().username,
        "deployer1"
    );
}

// ───────────────────────────── audit of sign-in ─────────────────────────────

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_sign_in_outcome_writes_exactly_one_audit_record() {
    let h = harness().await;
    let mut c = h.deployer();
    let now = h.clock.now_ms();
    // (action, success, actor) of the one record a step must write.
    let expect_one = |written: Vec<pb::AuditRecord>, action: &str, ok: bool, actor: &str| {
        assert_eq!(written.len(), 1, "{action}: {written:?}");
        let r = &written[0];
        assert_eq!(
            (r.action.as_str(), r.success, r.actor.as_str()),
            (action, ok, actor)
        );
        assert_eq!(r.client_addr, WEB_ADDR, "{action}: from where");
        assert_eq!(r.at_ms, now, "{action}: when, on the executor's clock");
    };

    // IDP part of a login.
    let cb = idp_callback(&mut c, "deployer1", "deployer1-pass").await;
    let a = audit(&h).await;
    let pre = complete(&mut c, &cb.binding, &cb.state, &cb.code)
        .await
        .unwrap()
        .session
        .unwrap()
        .token;
    expect_one(
        audit_since(&h, &a).await,
        "login.idp_success",
        true,
        "deployer1",
    );

    // Enrolment.
    let a = audit(&h).await;
    let enrolled = c
        .enrol_totp(pb::EnrolTotpRequest {
            ctx: ctx(),
            session: session(&pre),
        })
        .await
        .unwrap()
        .into_inner();
    expect_one(audit_since(&h, &a).await, "totp.enrol", true, "deployer1");
    let secret = TotpSecret::from_base32(&enrolled.secret_base32).unwrap();

    // A wrong TOTP code.
    let a = audit(&h).await;
    let wrong = verify(&mut c, &pre, &wrong_code(&h, &secret))
        .await
        .unwrap_err();
    assert_refused(&wrong, &ExecutorError::TotpWrong);
    expect_one(
        audit_since(&h, &a).await,
        "totp.failure",
        false,
        "deployer1",
    );

    // The right one: the login succeeds.
    let a = audit(&h).await;
    let full = verify(&mut c, &pre, &h.totp(&secret, 0))
        .await
        .unwrap()
        .session
        .unwrap()
        .token;
    expect_one(
        audit_since(&h, &a).await,
        "login.success",
        true,
        "deployer1",
    );

    // A replayed code is a TOTP failure too.
    let pre2 = pre_session(&h, "deployer1", "deployer1-pass").await;
    let a = audit(&h).await;
    let replay = verify(&mut c, &pre2, &h.totp(&secret, 0))
        .await
        .unwrap_err();
    assert_refused(&replay, &ExecutorError::TotpReplayed);
    expect_one(
        audit_since(&h, &a).await,
        "totp.failure",
        false,
        "deployer1",
    );

    // A callback with a bad state.
    let cb = idp_callback(&mut c, "deployer2", "deployer2-pass").await;
    let a = audit(&h).await;
    complete(&mut c, &cb.binding, "forged", &cb.code)
        .await
        .unwrap_err();
    // Counted, and written as a summary by the next tick (the background
    // one, or this): one record, from nowhere in particular.
    h.engine().tick().expect("tick");
    let written = audit_since(&h, &a).await;
    assert_eq!(written.len(), 1, "login.state_invalid: {written:?}");
    let r = &written[0];
    assert_eq!(
        (
            r.action.as_str(),
            r.success,
            r.actor.as_str(),
            r.client_addr.as_str()
        ),
        ("login.state_invalid", false, "-", "-")
    );
    assert_eq!(unmatched_callbacks(&written), 1);
    assert_eq!(
        r.at_ms, now,
        "login.state_invalid: when, on the executor's clock"
    );

    // A person outside the groups.
    let cb = idp_callback(&mut c, "outsider", "outsider-pass").await;
    let a = audit(&h).await;
    complete(&mut c, &cb.binding, &cb.state, &cb.code)
        .await
        .unwrap_err();
    expect_one(
        audit_since(&h, &a).await,
        "login.not_authorized",
        false,
        "outsider",
    );

    // A signed-in deployer acting on someone else's job.
    let d2 = h.login("deployer2", "deployer2-pass").await.unwrap();
    let job = submit(&mut c, &full, &[101], &h.totp(&secret, 1))
        .await
        .unwrap();
    let action = || pb::JobActionRequest {
        ctx: ctx(),
        session: session(&d2.token),
        job_id: job.id,
    };
    let before = snapshot(&h).await;
    for verb in ["cancel", "ready", "respond", "finish", "interrupt"] {
        let a = audit(&h).await;
        let mut c = h.deployer();
        let denied = match verb {
            "cancel" => c.cancel_job(action()).await,
            "ready" => c.ready(action()).await,
            "finish" => c.finish(action()).await,
            "interrupt" => c.interrupt(action()).await,
            _ => {
                c.respond(pb::RespondRequest {
                    ctx: ctx(),
                    session: session(&d2.token),
                    job_id: job.id,
                    prompt_id: 1,
                    answer: Some(pb::respond_request::Answer::ChoiceKey("y".into())),
                })
                .await
            }
        }
        .expect_err(verb);
        assert_refused(&denied, &ExecutorError::NotYourJob);
        expect_one(
            audit_since(&h, &a).await,
            "job.not_authorized",
            false,
            "deployer2",
        );
    }
    assert_eq!(snapshot(&h).await, before, "deployer1's job is untouched");
}

/// The refused callbacks counted by `login.state_invalid` summaries.
fn unmatched_callbacks(rows: &[pb::AuditRecord]) -> u64 {
    rows.iter()
        .filter(|r| r.action == "login.state_invalid")
        .map(|r| {
            let n = r.reason.split(' ').next().unwrap_or_default();
            n.parse::<u64>().expect("a summary starts with its count")
        })
        .sum()
}
