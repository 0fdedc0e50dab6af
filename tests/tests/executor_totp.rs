//! The TOTP second factor through the executor's `Deployer` socket, end to
//! end: enrolment, the time-step window, single use (also under concurrent
//! requests), malformed codes, the lock-out and its persistence.
//! SECURITY-TESTS.md cases 9–15. RFC 6238's vectors (case 9) and the
//! constant-time comparison are unit tests in
//! `spiderpig-executor/src/auth/totp/tests.rs`; no request carries a client
//! time (case 12), so there is nothing to ignore at this level.
//!
//! Every refusal also checks that nothing happened ([`support::snapshot`]).
//! Time moves only with the harness clock.

#[path = "support/auth.rs"]
mod support;

use spiderpig_executor::ExecutorError;
use spiderpig_executor::auth::totp::{LOCKOUT_MS, TotpSecret};
use spiderpig_proto::v1 as pb;
use spiderpig_tests::executor::{Harness, HarnessOptions};
use support::*;
use tonic::{Code, Status};

async fn harness() -> Harness {
    Harness::start(HarnessOptions::default())
        .await
        .expect("harness")
}

/// Neither the secret nor its otpauth form appears in `text`.
#[track_caller]
fn assert_no_secret(text: &str, secret: &TotpSecret) {
    let b32 = secret.to_base32();
    assert!(!text.contains(&b32), "the TOTP secret leaked: {text}");
    assert!(
        !text.contains(&b32.to_lowercase()),
        "the TOTP secret leaked: {text}"
    );
}

/// The secret is nowhere in the statuses (message and metadata) nor in the
/// audit trail.
async fn assert_secret_kept(h: &Harness, secret: &TotpSecret, statuses: &[Status]) {
    for s in statuses {
        assert_no_secret(&format!("{} {:?}", s.message(), s.metadata()), secret);
    }
    for r in audit(h).await {
        assert_no_secret(&format!("{r:?}"), secret);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_totp_secret_is_shown_at_enrolment_only() {
    let h = harness().await;
    let mut c = h.deployer();
    let mut statuses = Vec::new();
    let cb = idp_callback(&mut c, "deployer1", "deployer1-pass").await;
    let done = complete(&mut c, &cb.binding, &cb.state, &cb.code)
        .await
        .unwrap();
    assert!(!done.totp_enrolled, "a new user has no TOTP yet");
    let pre = done.session.unwrap().token;
    let enrol = || pb::EnrolTotpRequest {
        ctx: ctx(),
        session: session(&pre),
    };
    let first = c.enrol_totp(enrol()).await.unwrap().into_inner();
    let secret = TotpSecret::from_base32(&first.secret_base32).expect("base32 secret");
    assert_eq!(first.secret_base32.len(), 32, "160-bit secret");
    assert!(
        first
            .otpauth_uri
            .starts_with("otpauth://totp/SpiderPig:deployer1?"),
        "{}",
        first.otpauth_uri
    );
    assert_eq!(query(&first.otpauth_uri, "secret"), first.secret_base32);
    assert_eq!(query(&first.otpauth_uri, "digits"), "6");
    assert_eq!(query(&first.otpauth_uri, "period"), "30");
    assert_eq!(query(&first.otpauth_uri, "algorithm"), "SHA1");
    // Until a code is confirmed, asking again shows the same secret (the
    // page may be reloaded); it is not replaced.
    let second = c.enrol_totp(enrol()).await.unwrap().into_inner();
    assert_eq!(second.secret_base32, first.secret_base32);
    // Not confirmed yet: the job calls are closed to this session.
    let refused = submit(&mut c, &pre, &[1], &h.totp(&secret, 0))
        .await
        .unwrap_err();
    assert_refused(&refused, &ExecutorError::TotpRequired);
    statuses.push(refused);

    let full = verify(&mut c, &pre, &h.totp(&secret, 0))
        .await
        .expect("the first code confirms the enrolment")
        .session
        .unwrap()
        .token;
    let who = who_am_i(&mut c, &full).await.unwrap();
    assert!(who.totp_enrolled && who.totp_passed);

    // Never again: not from the full session, not from a new login.
    let refused = c
        .enrol_totp(pb::EnrolTotpRequest {
            ctx: ctx(),
            session: session(&full),
        })
        .await
        .unwrap_err();
    assert_code(&refused, Code::FailedPrecondition);
    assert_refused(&refused, &ExecutorError::TotpAlreadyEnrolled);
    statuses.push(refused);
    let cb = idp_callback(&mut c, "deployer1", "deployer1-pass").await;
    let done = complete(&mut c, &cb.binding, &cb.state, &cb.code)
        .await
        .unwrap();
    assert!(done.totp_enrolled);
    let pre2 = done.session.unwrap().token;
    let before = snapshot(&h).await;
    let refused = c
        .enrol_totp(pb::EnrolTotpRequest {
            ctx: ctx(),
            session: session(&pre2),
        })
        .await
        .unwrap_err();
    assert_code(&refused, Code::FailedPrecondition);
    statuses.push(refused);
    assert_eq!(snapshot(&h).await, before);
    // The old secret still works (it was not replaced).
    verify(&mut c, &pre2, &h.totp(&secret, 1))
        .await
        .expect("the enrolled secret is unchanged");
    assert_secret_kept(&h, &secret, &statuses).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_for_the_previous_step_is_accepted_and_two_steps_away_refused() {
    let h = harness().await;
    let d1 = h.login("deployer1", "deployer1-pass").await.unwrap(); // spends step T
    let mut c = h.deployer();
    let pre_a = pre_session(&h, "deployer1", "deployer1-pass").await;
    let pre_b = pre_session(&h, "deployer1", "deployer1-pass").await;

    // The user reads a code, and it reaches us one step later.
    h.clock.advance_secs(30);
    let typed = h.totp(&d1.secret, 0); // T+1
    h.clock.advance_secs(30); // now T+2
    let full = verify(&mut c, &pre_a, &typed)
        .await
        .expect("a code for the previous step");
    who_am_i(&mut c, &full.session.unwrap().token)
        .await
        .expect("a full session");

    let before = snapshot(&h).await;
    let window: Vec<String> = (-1..=1).map(|o| code_off(&h, &d1.secret, o)).collect();
    for offset in [-2, 2, -3, 3] {
        let code = code_off(&h, &d1.secret, offset);
        if window.contains(&code) {
            continue; // a 1-in-10^6 collision with an acceptable code
        }
        let refused = verify(&mut c, &pre_b, &code)
            .await
            .expect_err("a code two or more steps away");
        assert_refused(&refused, &ExecutorError::TotpWrong);
    }
    assert_eq!(snapshot(&h).await, before);
    let who = who_am_i(&mut c, &pre_b).await.unwrap();
    assert!(!who.totp_passed, "still a pre-TOTP session");
    // T+3 was never used; it is the next step and is accepted.
    verify(&mut c, &pre_b, &code_off(&h, &d1.secret, 1))
        .await
        .expect("the next step");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_totp_code_is_usable_once_and_older_steps_are_spent_with_it() {
    let h = harness().await;
    let d1 = h.login("deployer1", "deployer1-pass").await.unwrap(); // spends T
    let mut c = h.deployer();
    let pre_a = pre_session(&h, "deployer1", "deployer1-pass").await;
    let pre_b = pre_session(&h, "deployer1", "deployer1-pass").await;
    h.clock.advance_secs(30); // now T+1

    // The user's phone runs ahead: T+2 is accepted and spends T+1 too.
    let ahead = code_off(&h, &d1.secret, 1);
    let older = code_off(&h, &d1.secret, 0);
    assert_ne!(ahead, older);
    verify(&mut c, &pre_a, &ahead).await.expect("T+2");

    let before = snapshot(&h).await;
    let audit_before = audit(&h).await;
    let again = verify(&mut c, &pre_b, &ahead)
        .await
        .expect_err("the same code twice");
    assert_refused(&again, &ExecutorError::TotpReplayed);
    let earlier = verify(&mut c, &pre_b, &older)
        .await
        .expect_err("a code for an earlier step");
    assert_refused(&earlier, &ExecutorError::TotpReplayed);
    // Step-up for a job checks the same state.
    for code in [&ahead, &older] {
        let refused = submit(&mut c, &d1.token, &[7], code)
            .await
            .expect_err("a spent code for SubmitJob");
        assert_refused(&refused, &ExecutorError::TotpReplayed);
    }
    assert_eq!(snapshot(&h).await, before, "no session, no job");
    assert_eq!(
        count(&audit_since(&h, &audit_before).await, "totp.failure"),
        4
    );
    // Replays are not guesses: they do not count towards the lock-out.
    h.clock.advance_secs(60); // T+3: T+2 was the last one spent
    let job = submit(&mut c, &d1.token, &[7], &h.totp(&d1.secret, 0))
        .await
        .expect("a fresh code");
    assert_eq!(job.changes, vec![7]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_verifications_with_one_code_let_exactly_one_through() {
    let h = harness().await;
    let d1 = h.login("deployer1", "deployer1-pass").await.unwrap();
    let mut pres = Vec::new();
    for _ in 0..4 {
        pres.push(pre_session(&h, "deployer1", "deployer1-pass").await);
    }
    h.clock.advance_secs(30);
    let code = h.totp(&d1.secret, 0);
    let before = snapshot(&h).await;
    let tasks: Vec<_> = pres
        .iter()
        .map(|pre| {
            let (mut c, pre, code) = (h.deployer(), pre.clone(), code.clone());
            tokio::spawn(async move { verify(&mut c, &pre, &code).await })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(s) => assert_refused(&s, &ExecutorError::TotpReplayed),
        }
    }
    assert_eq!(ok, 1, "exactly one of four concurrent requests passes");
    let after = snapshot(&h).await;
    let full = |s: &Snapshot| s.sessions.iter().filter(|(_, _, t)| *t).count();
    assert_eq!(full(&after), full(&before) + 1);
    assert_eq!(after.sessions.len(), before.sessions.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_submissions_with_one_code_queue_exactly_one_job() {
    let h = harness().await;
    let d1 = h.login("deployer1", "deployer1-pass").await.unwrap();
    h.clock.advance_secs(30);
    let code = h.totp(&d1.secret, 0);
    let before = snapshot(&h).await;
    let tasks: Vec<_> = (0..4u64)
        .map(|n| {
            let (mut c, token, code) = (h.deployer(), d1.token.clone(), code.clone());
            tokio::spawn(async move { submit(&mut c, &token, &[100 + n], &code).await })
        })
        .collect();
    let mut jobs = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(job) => jobs.push(job),
            Err(s) => assert_refused(&s, &ExecutorError::TotpReplayed),
        }
    }
    assert_eq!(jobs.len(), 1, "exactly one job: {jobs:?}");
    let after = snapshot(&h).await;
    assert_eq!(after.jobs.len(), before.jobs.len() + 1);
    assert_eq!(after.active.map(|(id, _)| id), Some(jobs[0].id));
    assert!(after.queued.is_empty());
    assert_eq!(after.invocations, 0, "scap is not started before Ready");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_totp_codes_are_invalid_argument_and_do_not_count_as_failures() {
    let h = harness().await;
    let d1 = h.login("deployer1", "deployer1-pass").await.unwrap();
    let mut c = h.deployer();
    let pre = pre_session(&h, "deployer1", "deployer1-pass").await;
    h.clock.advance_secs(30);
    let right = h.totp(&d1.secret, 0);
    let fullwidth: String = right
        .chars()
        .map(|d| char::from_u32(0xFF10 + d.to_digit(10).unwrap()).unwrap())
        .collect();
    let arabic: String = right
        .chars()
        .map(|d| char::from_u32(0x0660 + d.to_digit(10).unwrap()).unwrap())
        .collect();
    let malformed = [
        String::new(),
        right[..5].to_string(),
        format!("{right}0"),
        format!("0{right}"),
        format!(" {right}"),
        format!("{right} "),
        format!("{right}\n"),
        format!("{} {}", &right[..3], &right[3..]),
        format!("{}-{}", &right[..3], &right[3..]),
        format!("+{}", &right[1..]),
        "12345a".into(),
        "abcdef".into(),
        "0x1234".into(),
        fullwidth,
        arabic,
        format!("{right}\0"),
        "9".repeat(10_000),
    ];
    let before = snapshot(&h).await;
    let audit_before = audit(&h).await;
    for code in &malformed {
        let refused = verify(&mut c, &pre, code).await.expect_err(code);
        assert_code(&refused, Code::InvalidArgument);
        assert_refused(&refused, &ExecutorError::TotpMalformed);
        let refused = submit(&mut c, &d1.token, &[5], code).await.expect_err(code);
        assert_code(&refused, Code::InvalidArgument);
    }
    assert_eq!(snapshot(&h).await, before, "nothing happened");
    assert_eq!(
        count(&audit_since(&h, &audit_before).await, "totp.failure"),
        0,
        "malformed input is refused before any check"
    );
    // 34 malformed codes did not count towards the 5-failure lock-out.
    verify(&mut c, &pre, &right)
        .await
        .expect("the right code still works");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_wrong_codes_lock_the_account_for_15_minutes_across_restarts() {
    let mut h = harness().await;
    let d1 = h.login("deployer1", "deployer1-pass").await.unwrap();
    let d2 = h.login("deployer2", "deployer2-pass").await.unwrap();
    let pre1 = pre_session(&h, "deployer1", "deployer1-pass").await;
    let pre2 = pre_session(&h, "deployer2", "deployer2-pass").await;
    h.clock.advance_secs(30);
    let mut statuses = Vec::new();
    let mut c = h.deployer();

    for _ in 0..4 {
        let s = verify(&mut c, &pre1, &wrong_code(&h, &d1.secret))
            .await
            .unwrap_err();
        assert_refused(&s, &ExecutorError::TotpWrong);
        statuses.push(s);
    }
    // The count is in the store, not in memory.
    h.shutdown().await;
    h.boot().await.unwrap();
    let mut c = h.deployer();
    let s = verify(&mut c, &pre1, &wrong_code(&h, &d1.secret))
        .await
        .unwrap_err();
    assert_code(&s, Code::ResourceExhausted);
    assert_refused(&s, &ExecutorError::TotpLockedOut { until_ms: 0 });
    statuses.push(s);

    // Locked: even the right code is refused, for sign-in and for step-up.
    h.shutdown().await;
    h.boot().await.unwrap();
    let mut c = h.deployer();
    let before = snapshot(&h).await;
    let right = h.totp(&d1.secret, 0);
    let s = verify(&mut c, &pre1, &right).await.unwrap_err();
    assert_code(&s, Code::ResourceExhausted);
    statuses.push(s);
    let s = submit(&mut c, &d1.token, &[9], &h.totp(&d1.secret, 1))
        .await
        .unwrap_err();
    assert_code(&s, Code::ResourceExhausted);
    statuses.push(s);
    assert_eq!(snapshot(&h).await, before, "nothing happened while locked");

    // Another user is not affected.
    verify(&mut c, &pre2, &h.totp(&d2.secret, 1))
        .await
        .expect("deployer2 signs in");

    // 15 minutes after the fifth failure, and not a second earlier (asked
    // with the full session's step-up: the half-login itself has ended by
    // then, a pre-TOTP session living only `login_secs`).
    h.clock.advance_ms(LOCKOUT_MS - 1000);
    let s = submit(&mut c, &d1.token, &[9], &h.totp(&d1.secret, 0))
        .await
        .unwrap_err();
    assert_code(&s, Code::ResourceExhausted);
    statuses.push(s);
    let ended = verify(&mut c, &pre1, &h.totp(&d1.secret, 0))
        .await
        .unwrap_err();
    assert_code(&ended, Code::Unauthenticated);
    h.clock.advance_secs(1);
    submit(&mut c, &d1.token, &[9], &h.totp(&d1.secret, 0))
        .await
        .expect("the lock-out is over");
    assert_secret_kept(&h, &d1.secret, &statuses).await;
}
