//! Unit tests without a network; the flow against real and hostile IDPs is in
//! `tests/tests/oidc_executor.rs`.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

use data_encoding::BASE64URL_NOPAD;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::*;

const ISSUER: &str = "https://idp.example.org";

fn config() -> OidcConfig {
    OidcConfig {
        issuer: ISSUER.into(),
        client_id: "spiderpig".into(),
        client_secret_file: PathBuf::from("/unused"),
        redirect_url: "https://deploy.example.org/oidc/callback".into(),
        groups_claim: "groups".into(),
        username_claim: "preferred_username".into(),
        scopes: vec!["openid".into(), "profile".into(), "groups".into()],
        clock_skew_secs: 60,
    }
}

fn secret() -> ClientSecret {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(b"client-secret-value\n").unwrap();
    ClientSecret::from_file(f.path()).unwrap()
}

fn metadata(overrides: serde_json::Value) -> CoreProviderMetadata {
    let mut doc = json!({
        "issuer": ISSUER,
        "authorization_endpoint": format!("{ISSUER}/auth"),
        "token_endpoint": format!("{ISSUER}/token"),
        "jwks_uri": format!("{ISSUER}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    });
    for (k, v) in overrides.as_object().unwrap() {
        if v.is_null() {
            doc.as_object_mut().unwrap().remove(k);
        } else {
            doc[k] = v.clone();
        }
    }
    serde_json::from_value(doc).unwrap()
}

fn client_from(overrides: serde_json::Value) -> Result<OidcClient> {
    OidcClient::from_metadata(
        &config(),
        secret(),
        metadata(overrides),
        transport::build_client().unwrap(),
    )
}

fn params(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

#[test]
fn begin_asks_for_code_flow_with_pkce_s256_state_and_nonce() {
    let client = client_from(json!({})).unwrap();
    let (url, pending) = client.begin(1234);
    assert!(url.starts_with(&format!("{ISSUER}/auth?")));
    let p = params(&url);
    assert_eq!(p["response_type"], "code");
    assert_eq!(p["client_id"], "spiderpig");
    assert_eq!(
        p["redirect_uri"],
        "https://deploy.example.org/oidc/callback"
    );
    assert_eq!(p["scope"], "openid profile groups", "openid once, first");
    assert_eq!(p["state"], pending.state);
    assert_eq!(p["nonce"], pending.nonce);
    assert_eq!(p["code_challenge_method"], "S256");
    let challenge = BASE64URL_NOPAD.encode(&Sha256::digest(pending.pkce_verifier.as_bytes()));
    assert_eq!(p["code_challenge"], challenge);
    assert!(
        !url.contains(&pending.pkce_verifier),
        "the verifier stays here"
    );
    assert!(!url.contains("client-secret-value"));
    assert_eq!(pending.created_ms, 1234);
    for value in [&pending.state, &pending.nonce, &pending.pkce_verifier] {
        assert_eq!(value.len(), 43, "256 bits, base64url");
    }
}

#[test]
fn every_login_gets_fresh_values() {
    let client = client_from(json!({})).unwrap();
    let (_, a) = client.begin(0);
    let (_, b) = client.begin(0);
    assert_ne!(a.state, b.state);
    assert_ne!(a.nonce, b.nonce);
    assert_ne!(a.pkce_verifier, b.pkce_verifier);
    assert_ne!(a.state, a.nonce);
}

#[test]
fn pending_login_and_client_debug_show_no_secrets() {
    let client = client_from(json!({})).unwrap();
    let (_, pending) = client.begin(0);
    let shown = format!("{pending:?} {client:?}");
    for secret in [&pending.state, &pending.nonce, &pending.pkce_verifier] {
        assert!(!shown.contains(secret.as_str()), "{shown}");
    }
    assert!(!shown.contains("client-secret-value"));
}

#[test]
fn discovery_metadata_for_another_issuer_is_refused() {
    for other in [
        format!("{ISSUER}/"),
        "https://IDP.example.org".into(),
        "https://evil.example".into(),
    ] {
        match client_from(json!({ "issuer": other })) {
            Err(ExecutorError::BadConfig { key, .. }) => assert_eq!(key, "oidc.issuer"),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn endpoints_must_be_https_and_the_token_endpoint_present() {
    let refused = [
        json!({ "token_endpoint": null }),
        json!({ "token_endpoint": "http://idp.example.org/token" }),
        json!({ "authorization_endpoint": "http://idp.example.org/auth" }),
        json!({ "jwks_uri": "http://10.0.0.1/jwks" }),
    ];
    for overrides in refused {
        assert!(
            matches!(
                client_from(overrides.clone()),
                Err(ExecutorError::BadConfig { .. })
            ),
            "{overrides}"
        );
    }
    assert!(client_from(json!({ "jwks_uri": "https://keys.example.net/jwks" })).is_ok());
}

#[test]
fn http_is_allowed_only_to_loopback() {
    let ok = url::Url::parse("http://127.0.0.1:8080/token").unwrap();
    let ok6 = url::Url::parse("http://[::1]/token").unwrap();
    let bad = url::Url::parse("http://192.168.1.1/token").unwrap();
    let bad_name = url::Url::parse("http://localhost.evil.example/token").unwrap();
    assert!(check_endpoint("t", &ok).is_ok() && check_endpoint("t", &ok6).is_ok());
    assert!(check_endpoint("t", &bad).is_err() && check_endpoint("t", &bad_name).is_err());
}

#[tokio::test]
async fn malformed_codes_are_refused_before_any_request() {
    // The token endpoint is unroutable: reaching it would fail differently.
    let client = client_from(json!({ "token_endpoint": "https://192.0.2.1/token" })).unwrap();
    let long = "a".repeat(MAX_CODE_BYTES + 1);
    for code in ["", "has space", "new\nline", "é", long.as_str()] {
        let (_, pending) = client.begin(0);
        match client.complete(pending, code, 0).await {
            Err(ExecutorError::LoginFailed(detail)) => {
                assert!(detail.contains("malformed"), "{detail}")
            }
            other => panic!("{code:?}: {other:?}"),
        }
    }
}

#[test]
fn login_failed_shows_no_detail_to_the_client() {
    let e = login_failed("ID token refused: nonce mismatch");
    assert!(!e.to_string().contains("nonce"));
}

/// openidconnect's own layer, without our header pre-check: even with the client
/// secret published as a JWKS key, HS256 and `none` are refused by the allowed
/// algorithm list (our pre-check refuses them earlier in `complete`).
#[test]
fn the_verifier_alone_refuses_hmac_and_unsigned_tokens() {
    use hmac::{Hmac, Mac};
    use std::str::FromStr;

    let jwks = json!({ "keys": [{
        "kty": "oct", "kid": "oct-1", "use": "sig",
        "k": BASE64URL_NOPAD.encode(b"client-secret-value"),
    }]});
    let mut meta = metadata(json!({}));
    meta = meta.set_jwks(serde_json::from_value(jwks).unwrap());
    let client = OidcClient::from_metadata(
        &config(),
        secret(),
        meta,
        transport::build_client().unwrap(),
    )
    .unwrap();
    let now_ms = 1_800_000_000_000_i64;
    let claims = json!({
        "iss": ISSUER, "aud": "spiderpig", "sub": "sub-x", "nonce": "n",
        "iat": now_ms / 1000, "exp": now_ms / 1000 + 300,
    });
    let enc = |v: &serde_json::Value| BASE64URL_NOPAD.encode(v.to_string().as_bytes());
    let input = format!(
        "{}.{}",
        enc(&json!({"alg": "HS256", "typ": "JWT", "kid": "oct-1"})),
        enc(&claims)
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(b"client-secret-value").unwrap();
    mac.update(input.as_bytes());
    let hs256 = format!(
        "{input}.{}",
        BASE64URL_NOPAD.encode(&mac.finalize().into_bytes())
    );
    let none = format!("{}.{}.", enc(&json!({"alg": "none"})), enc(&claims));

    for raw in [hs256, none] {
        let token = CoreIdToken::from_str(&raw).unwrap();
        let verdict = client.verify_with_current_keys(&token, &Nonce::new("n".into()), now_ms);
        // Refused at the algorithm step, after iss/aud passed: nothing else caught it.
        assert!(
            matches!(
                verdict,
                Err(ClaimsVerificationError::SignatureVerification(
                    SignatureVerificationError::DisallowedAlg(_)
                        | SignatureVerificationError::NoSignature
                ))
            ),
            "{verdict:?}"
        );
    }
}
