//! The relying party against `tests/idp/hostile-idp.mjs`: a provider that runs a
//! correct code + PKCE exchange and then hands back forged or malformed ID tokens.
//! Every refusal also checks that nothing else happened: the login state is spent
//! (a retry finds nothing), the IDP's code was used once, and no key was fetched
//! from a location the token named.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::*;

const CLIENT_ID: &str = "spiderpig-test";

struct HostileIdp {
    issuer: String,
    config: OidcConfig,
    _child: Child,
    _dir: tempfile::TempDir,
}

impl HostileIdp {
    async fn start(extra_args: &[&str]) -> HostileIdp {
        let dir = tempfile::tempdir().unwrap();
        let secret_file = dir.path().join("client-secret");
        std::fs::write(
            &secret_file,
            format!("{}\n", spiderpig_tests::idp::random_urlsafe(32).unwrap()),
        )
        .unwrap();
        let script = spiderpig_tests::idp::idp_dir().join("hostile-idp.mjs");
        let mut child = Command::new(std::env::var("NODE").unwrap_or_else(|_| "node".into()))
            .arg(script)
            .args(["--client-id", CLIENT_ID, "--redirect-uri", REDIRECT])
            .arg("--client-secret-file")
            .arg(&secret_file)
            .args(extra_args)
            // The script exits when its stdin closes, so it never outlives the test.
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("spawning node hostile-idp.mjs");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("hostile IDP: no READY line within 60 s")
            .unwrap()
            .expect("hostile IDP exited before READY");
        let issuer = line
            .strip_prefix("READY ")
            .expect("READY line")
            .trim()
            .to_owned();
        let config = oidc_config(&issuer, CLIENT_ID, &secret_file);
        HostileIdp {
            issuer,
            config,
            _child: child,
            _dir: dir,
        }
    }

    async fn client(&self) -> OidcClient {
        client_for(&self.config)
            .await
            .expect("discovery against the hostile IDP")
    }

    async fn stats(&self) -> Value {
        reqwest::get(format!("{}/stats", self.issuer))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// One login through the executor's API with the ID token shaped by `mode`:
    /// begin, remember, authorize, take the state back, exchange.
    async fn login(&self, client: &OidcClient, mode: &str) -> Result<Identity, ExecutorError> {
        let logins = SealedLogins::new(4, 600_000).unwrap();
        let (url, pending) = client.begin(now_ms());
        let state = pending.state.clone();
        let binding = logins.seal(&pending, now_ms()).unwrap();
        let no_redirects = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let res = no_redirects
            .get(format!("{url}&mode={mode}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 302, "authorize in mode {mode}");
        let back = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
        assert_eq!(query(&back, "state").as_deref(), Some(state.as_str()));
        let code = query(&back, "code").unwrap();
        let pending = logins.take(&binding, &state, now_ms()).unwrap();
        let result = client.complete(pending, &code, now_ms()).await;
        // Whatever the outcome, the state is spent.
        let retry = logins.take(&binding, &state, now_ms());
        assert!(
            matches!(retry, Err(ExecutorError::LoginStateInvalid)),
            "mode {mode}"
        );
        result
    }

    /// Each mode is refused with `LoginFailed` whose (logged) detail names the
    /// check that caught it.
    async fn assert_refused(&self, cases: &[(&str, &str)]) {
        let client = self.client().await;
        for (mode, why) in cases {
            let detail = assert_login_failed(self.login(&client, mode).await, mode);
            eprintln!("refused as expected, mode {mode}: {detail}");
            assert!(
                detail.to_lowercase().contains(&why.to_lowercase()),
                "mode {mode}: expected the detail to mention {why:?}, got {detail:?}"
            );
        }
        let stats = self.stats().await;
        assert_eq!(
            stats["open_codes"], 0,
            "every code was exchanged once: {stats}"
        );
        assert_eq!(
            stats["evil_fetches"], 0,
            "no key was fetched from where a token pointed"
        );
        // The control: an honest token from the same provider still works.
        let identity = self.login(&client, "ok").await.unwrap();
        assert_eq!(identity.username.as_str(), "deployer1");
    }
}

#[tokio::test]
async fn id_token_with_wrong_or_missing_nonce_or_replayed_is_refused() {
    let idp = HostileIdp::start(&[]).await;
    let client = idp.client().await;
    // An honest login first, so `replay` has a real, validly signed token to resend.
    idp.login(&client, "ok").await.unwrap();
    idp.assert_refused(&[
        ("nonce-wrong", "nonce"),
        ("nonce-missing", "nonce"),
        ("replay", "nonce"),
    ])
    .await;
}

#[tokio::test]
async fn id_token_from_another_issuer_is_refused() {
    let idp = HostileIdp::start(&[]).await;
    idp.assert_refused(&[("iss-other", "issuer"), ("iss-trailing-slash", "issuer")])
        .await;
}

#[tokio::test]
async fn id_token_for_another_or_no_or_an_extra_audience_is_refused() {
    let idp = HostileIdp::start(&[]).await;
    idp.assert_refused(&[
        ("aud-other", "audience"),
        ("aud-missing", "aud"),
        ("aud-extra", "untrusted-client"),
        ("azp-other", "azp"),
    ])
    .await;
}

#[tokio::test]
async fn unsigned_and_hmac_signed_id_tokens_are_refused() {
    let idp = HostileIdp::start(&[]).await;
    idp.assert_refused(&[
        ("alg-none", "none"),
        ("hs256-client-secret", "HS256"),
        ("hs256-client-secret-kid", "HS256"),
        ("hs256-public-key", "HS256"),
    ])
    .await;
}

#[tokio::test]
async fn id_token_naming_its_own_key_or_signed_by_another_is_refused() {
    let idp = HostileIdp::start(&[]).await;
    idp.assert_refused(&[
        ("jku", "jku"),
        ("jku-known-kid", "jku"),
        ("jwk", "jwk"),
        ("jwk-known-kid", "jwk"),
        ("x5u", "x5u"),
        ("evil-key-known-kid", "signature"),
        ("unknown-kid", "No matching key"),
        ("bad-signature", "signature"),
    ])
    .await;
}

#[tokio::test]
async fn expired_or_far_off_id_tokens_are_refused() {
    let idp = HostileIdp::start(&[]).await;
    idp.assert_refused(&[
        ("expired", "expired"),
        ("iat-future", "iat"),
        ("iat-past", "iat"),
    ])
    .await;
}

#[tokio::test]
async fn malformed_headers_and_claims_are_refused() {
    let idp = HostileIdp::start(&[]).await;
    idp.assert_refused(&[
        ("typ-access-token", "type"),
        ("crit", "crit"),
        ("sub-missing", "sub"),
        ("username-bad", "user name"),
        ("username-missing", "preferred_username"),
        ("groups-not-array", "groups"),
    ])
    .await;
}

#[tokio::test]
async fn bad_token_responses_are_refused() {
    let idp = HostileIdp::start(&[]).await;
    idp.assert_refused(&[
        ("id-token-missing", "no ID token"),
        ("token-error", "invalid_grant"),
        ("token-redirect", "redirects are not followed"),
        ("token-huge", "larger than"),
    ])
    .await;
}

#[tokio::test]
async fn asymmetric_algorithms_are_accepted_and_missing_groups_mean_none() {
    let idp = HostileIdp::start(&[]).await;
    let client = idp.client().await;
    for mode in ["ok", "es256", "ps256"] {
        let identity = idp
            .login(&client, mode)
            .await
            .unwrap_or_else(|e| panic!("{mode}: {e:?}"));
        assert_eq!(identity.groups, ["deployers"], "{mode}");
        assert_eq!(identity.issuer, idp.issuer);
    }
    let identity = idp.login(&client, "groups-missing").await.unwrap();
    assert!(identity.groups.is_empty());
}

#[tokio::test]
async fn a_rotated_key_is_found_by_one_jwks_refetch() {
    let idp = HostileIdp::start(&[]).await;
    let client = idp.client().await;
    assert_eq!(idp.stats().await["jwks_fetches"], 1);
    let identity = idp.login(&client, "rotated").await.unwrap();
    assert_eq!(identity.username.as_str(), "deployer1");
    assert_eq!(idp.stats().await["jwks_fetches"], 2);
    // An unknown key right after does not trigger another fetch (rate limit).
    let detail = assert_login_failed(idp.login(&client, "unknown-kid").await, "unknown kid");
    assert!(detail.contains("No matching key"), "{detail}");
    assert_eq!(idp.stats().await["jwks_fetches"], 2);
}

#[tokio::test]
async fn discovery_naming_another_issuer_refuses_to_start() {
    let idp = HostileIdp::start(&["--discovery-issuer", "https://idp.evil.example"]).await;
    match client_for(&idp.config).await {
        Err(ExecutorError::BadConfig { key, .. }) => assert_eq!(key, "oidc.issuer"),
        other => panic!("expected BadConfig, got {other:?}"),
    }
}

#[tokio::test]
async fn discovery_with_a_plain_http_remote_token_endpoint_refuses_to_start() {
    let idp = HostileIdp::start(&["--token-endpoint", "http://idp.evil.example/token"]).await;
    match client_for(&idp.config).await {
        Err(ExecutorError::BadConfig { key, reason }) => {
            assert_eq!(key, "oidc.issuer");
            assert!(reason.contains("token endpoint"), "{reason}");
        }
        other => panic!("expected BadConfig, got {other:?}"),
    }
}
