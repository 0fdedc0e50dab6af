//! The executor's OIDC relying party (`spiderpig_executor::auth`) against a real
//! OpenID Provider (`tests/idp/idp.mjs`, npm oidc-provider) and, in [`hostile`],
//! against a provider that forges ID tokens. SECURITY-TESTS.md cases 1–8.

#[path = "oidc_executor/hostile.rs"]
mod hostile;

use std::path::Path;

use spiderpig_executor::ExecutorError;
use spiderpig_executor::auth::{ClientSecret, Identity, OidcClient, PendingLogin, SealedLogins};
use spiderpig_executor::clock::{Clock, SystemClock};
use spiderpig_executor::config::OidcConfig;
use spiderpig_tests::idp::{IdpOptions, TestIdp, login_via_forms};

const REDIRECT: &str = "http://127.0.0.1:9/oidc/callback";

fn now_ms() -> i64 {
    SystemClock.now_ms()
}

fn oidc_config(issuer: &str, client_id: &str, secret_file: &Path) -> OidcConfig {
    OidcConfig {
        issuer: issuer.to_owned(),
        client_id: client_id.to_owned(),
        client_secret_file: secret_file.to_owned(),
        redirect_url: REDIRECT.to_owned(),
        groups_claim: "groups".into(),
        username_claim: "preferred_username".into(),
        scopes: vec!["profile".into(), "groups".into()],
        clock_skew_secs: 60,
    }
}

async fn client_for(config: &OidcConfig) -> Result<OidcClient, ExecutorError> {
    let secret = ClientSecret::from_file(&config.client_secret_file)?;
    OidcClient::discover(config, secret).await
}

async fn client_for_idp(idp: &TestIdp) -> OidcClient {
    client_for(&oidc_config(
        &idp.issuer,
        &idp.client_id,
        &idp.client_secret_file,
    ))
    .await
    .expect("discovery against the test IDP")
}

fn query(url: &url::Url, key: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// A copy of a pending login with another verifier (or nonce), for the
/// tests that splice values from two logins.
fn spliced(a: &PendingLogin, verifier_from: &PendingLogin) -> PendingLogin {
    PendingLogin {
        state: a.state.clone(),
        nonce: a.nonce.clone(),
        pkce_verifier: verifier_from.pkce_verifier.clone(),
        created_ms: a.created_ms,
    }
}

/// Sign in through the IDP's forms; returns the pending login and the code.
async fn sign_in(client: &OidcClient, user: &str) -> (PendingLogin, String) {
    let (url, pending) = client.begin(now_ms());
    let back = login_via_forms(&url, user, &format!("{user}-pass"), REDIRECT)
        .await
        .unwrap();
    assert_eq!(
        query(&back, "state").as_deref(),
        Some(pending.state.as_str())
    );
    let code = query(&back, "code").unwrap_or_else(|| panic!("no code in {back}"));
    (pending, code)
}

fn assert_login_failed<T: std::fmt::Debug>(result: Result<T, ExecutorError>, why: &str) -> String {
    match result {
        Err(ExecutorError::LoginFailed(detail)) => {
            let shown = ExecutorError::LoginFailed(detail.clone()).to_string();
            assert!(
                !shown.contains(&detail),
                "the detail is never shown: {shown}"
            );
            detail
        }
        other => panic!("{why}: expected LoginFailed, got {other:?}"),
    }
}

#[tokio::test]
async fn deployer_signs_in_with_identity_and_groups() {
    let idp = TestIdp::start(&[REDIRECT]).await.unwrap();
    let client = client_for_idp(&idp).await;
    let (pending, code) = sign_in(&client, "deployer1").await;
    let identity = client.complete(pending, &code, now_ms()).await.unwrap();
    assert_eq!(
        identity,
        Identity {
            issuer: idp.issuer.clone(),
            subject: "sub-deployer1".into(),
            username: "deployer1".parse().unwrap(),
            groups: vec!["deployers".into()],
        }
    );
}

#[tokio::test]
async fn outsider_gets_an_identity_without_groups() {
    // Refusing the role is the engine's job; here the identity must be right.
    let idp = TestIdp::start(&[REDIRECT]).await.unwrap();
    let client = client_for_idp(&idp).await;
    let (pending, code) = sign_in(&client, "outsider").await;
    let identity = client.complete(pending, &code, now_ms()).await.unwrap();
    assert_eq!(identity.username.as_str(), "outsider");
    assert_eq!(identity.subject, "sub-outsider");
    assert!(identity.groups.is_empty());
}

#[tokio::test]
async fn callback_state_must_match_and_is_usable_once() {
    let idp = TestIdp::start(&[REDIRECT]).await.unwrap();
    let client = client_for_idp(&idp).await;
    let logins = SealedLogins::new(16, 600_000).unwrap();
    let (url, pending) = client.begin(now_ms());
    let state = pending.state.clone();
    let binding = logins.seal(&pending, now_ms()).unwrap();
    // Another browser's login, begun at the same time.
    let (_, theirs) = client.begin(now_ms());
    let their_binding = logins.seal(&theirs, now_ms()).unwrap();
    let back = login_via_forms(&url, "deployer1", "deployer1-pass", REDIRECT)
        .await
        .unwrap();
    let code = query(&back, "code").unwrap();
    assert_eq!(query(&back, "state").unwrap(), state);

    // Missing, wrong, or presented from another browser (binding): nothing.
    for (b, s) in [
        (&binding, ""),
        (&binding, "wrong"),
        (&their_binding, state.as_str()),
    ] {
        let refused = logins.take(b, s, now_ms());
        assert!(
            matches!(refused, Err(ExecutorError::LoginStateInvalid)),
            "{s:?}"
        );
    }
    let pending = logins.take(&binding, &state, now_ms()).unwrap();
    let identity = client.complete(pending, &code, now_ms()).await.unwrap();
    assert_eq!(identity.username.as_str(), "deployer1");
    // Already used.
    let again = logins.take(&binding, &state, now_ms());
    assert!(matches!(again, Err(ExecutorError::LoginStateInvalid)));
}

#[tokio::test]
async fn code_issued_for_another_pkce_verifier_is_refused() {
    let idp = TestIdp::start(&[REDIRECT]).await.unwrap();
    let client = client_for_idp(&idp).await;
    let (pending, code) = sign_in(&client, "deployer1").await;
    let (_, other) = client.begin(now_ms());
    let detail = assert_login_failed(
        client
            .complete(spliced(&pending, &other), &code, now_ms())
            .await,
        "code with another verifier",
    );
    assert!(detail.contains("token exchange"), "{detail}");
}

#[tokio::test]
async fn a_code_is_exchanged_at_most_once() {
    let idp = TestIdp::start(&[REDIRECT]).await.unwrap();
    let client = client_for_idp(&idp).await;
    let (pending, code) = sign_in(&client, "deployer1").await;
    let copy = spliced(&pending, &pending);
    client.complete(pending, &code, now_ms()).await.unwrap();
    assert_login_failed(
        client.complete(copy, &code, now_ms()).await,
        "second exchange",
    );
}

#[tokio::test]
async fn discovery_for_a_trailing_slash_issuer_refuses_to_start() {
    let idp = TestIdp::start(&[REDIRECT]).await.unwrap();
    let issuer = format!("{}/", idp.issuer);
    match client_for(&oidc_config(
        &issuer,
        &idp.client_id,
        &idp.client_secret_file,
    ))
    .await
    {
        Err(ExecutorError::BadConfig { key, reason }) => {
            assert_eq!(key, "oidc.issuer");
            assert!(reason.contains(&idp.issuer), "{reason}");
        }
        other => panic!("expected BadConfig, got {other:?}"),
    }
}

#[tokio::test]
async fn a_wrong_client_secret_gets_no_identity() {
    let idp = TestIdp::start(&[REDIRECT]).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("secret");
    std::fs::write(&wrong, "not-the-client-secret-at-all\n").unwrap();
    let client = client_for(&oidc_config(&idp.issuer, &idp.client_id, &wrong))
        .await
        .unwrap();
    let (pending, code) = sign_in(&client, "deployer1").await;
    let detail = assert_login_failed(
        client.complete(pending, &code, now_ms()).await,
        "wrong secret",
    );
    assert!(detail.contains("invalid_client"), "{detail}");
}

#[tokio::test]
async fn id_token_with_an_extra_audience_from_the_real_idp_is_refused() {
    let opts = IdpOptions {
        extra_audiences: vec!["untrusted-client".into()],
        ..Default::default()
    };
    let idp = TestIdp::start_with(&[REDIRECT], opts).await.unwrap();
    let client = client_for_idp(&idp).await;
    let (pending, code) = sign_in(&client, "deployer1").await;
    let detail = assert_login_failed(client.complete(pending, &code, now_ms()).await, "extra aud");
    assert!(detail.contains("untrusted-client"), "{detail}");
}

#[tokio::test]
async fn an_id_token_past_its_exp_on_our_clock_is_refused() {
    // The executor's clock is injected: 5 s after a 1 s token was issued is
    // past `exp` while `iat` is still within the allowed skew.
    let opts = IdpOptions {
        id_token_ttl: Some(1),
        ..Default::default()
    };
    let idp = TestIdp::start_with(&[REDIRECT], opts).await.unwrap();
    let client = client_for_idp(&idp).await;
    let (pending, code) = sign_in(&client, "deployer1").await;
    let detail = assert_login_failed(
        client.complete(pending, &code, now_ms() + 5_000).await,
        "expired",
    );
    assert!(detail.to_lowercase().contains("expired"), "{detail}");
}
