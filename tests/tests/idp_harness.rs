//! The test OpenID Provider (`tests/idp`) and its Rust harness, over real HTTP.

use std::time::Duration;

use anyhow::Context;
use data_encoding::BASE64URL_NOPAD;
use serde_json::Value;
use sha2::{Digest, Sha256};
use spiderpig_tests::idp::{IdpOptions, TestIdp, login_via_forms, random_urlsafe};

const REDIRECT: &str = "http://127.0.0.1:9/oidc/callback";

struct Pkce {
    verifier: String,
    challenge: String,
}

fn pkce() -> Pkce {
    let verifier = random_urlsafe(32).unwrap(); // 43 characters
    let challenge = BASE64URL_NOPAD.encode(&Sha256::digest(verifier.as_bytes()));
    Pkce {
        verifier,
        challenge,
    }
}

struct Request {
    state: String,
    nonce: String,
    pkce: Pkce,
}

fn new_request() -> Request {
    Request {
        state: random_urlsafe(16).unwrap(),
        nonce: random_urlsafe(16).unwrap(),
        pkce: pkce(),
    }
}

fn authorize_url(idp: &TestIdp, req: &Request, extra: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(&format!("{}/auth", idp.issuer)).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &idp.client_id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", "openid profile groups")
        .append_pair("state", &req.state)
        .append_pair("nonce", &req.nonce)
        .append_pair("code_challenge", &req.pkce.challenge)
        .append_pair("code_challenge_method", "S256")
        .extend_pairs(extra);
    url.into()
}

fn query(url: &url::Url, key: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

async fn discovery(idp: &TestIdp) -> Value {
    reqwest::get(idp.discovery_url())
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// POST the code to the token endpoint with client_secret_basic; returns (status, JSON body).
async fn exchange(
    idp: &TestIdp,
    code: &str,
    verifier: &str,
    secret: &str,
) -> (reqwest::StatusCode, Value) {
    let token_endpoint = discovery(idp).await["token_endpoint"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = reqwest::Client::new()
        .post(token_endpoint)
        .basic_auth(&idp.client_id, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap())
}

fn jwt_part(jwt: &str, i: usize) -> Value {
    let part = jwt.split('.').nth(i).expect("three-part JWT");
    serde_json::from_slice(&BASE64URL_NOPAD.decode(part.as_bytes()).unwrap()).unwrap()
}

/// Log in as `user` and return the authorization code, checking `state` and `iss`.
async fn code_for(idp: &TestIdp, req: &Request, user: &str) -> anyhow::Result<String> {
    let back = login_via_forms(
        &authorize_url(idp, req, &[]),
        user,
        &format!("{user}-pass"),
        REDIRECT,
    )
    .await?;
    assert_eq!(
        query(&back, "state").as_deref(),
        Some(req.state.as_str()),
        "{back}"
    );
    assert_eq!(
        query(&back, "iss").as_deref(),
        Some(idp.issuer.as_str()),
        "{back}"
    );
    query(&back, "code").with_context(|| format!("no code in {back}"))
}

#[tokio::test]
async fn discovery_document() {
    let idp = TestIdp::start(&[REDIRECT]).await.unwrap();
    assert!(
        idp.issuer.starts_with("http://127.0.0.1:"),
        "{}",
        idp.issuer
    );
    assert!(!idp.issuer.ends_with('/'));
    let d = discovery(&idp).await;
    assert_eq!(d["issuer"], idp.issuer.as_str());
    let methods = d["code_challenge_methods_supported"].as_array().unwrap();
    assert_eq!(methods, &vec![Value::from("S256")]);
    assert_eq!(
        d["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256"])
    );
    assert_eq!(d["response_types_supported"], serde_json::json!(["code"]));
    let scopes = d["scopes_supported"].as_array().unwrap();
    assert!(scopes.contains(&Value::from("groups")));

    // JWKS: one RSA signing key, no private parts.
    let jwks: Value = reqwest::get(d["jwks_uri"].as_str().unwrap())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{jwks}");
    assert_eq!(keys[0]["kty"], "RSA");
    assert!(keys[0].get("d").is_none(), "private key published: {jwks}");

    // The secret file is private and never printed.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&idp.client_secret_file)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(!idp.logs().contains(&idp.client_secret()));
    assert!(!format!("{idp:?}").contains(&idp.client_secret()));
}

#[tokio::test]
async fn authorization_without_pkce_is_refused() {
    let idp = TestIdp::start(&[REDIRECT]).await.unwrap();
    let req = new_request();
    // No code_challenge at all.
    let mut url = url::Url::parse(&authorize_url(&idp, &req, &[])).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !k.starts_with("code_challenge"))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    let back = login_via_forms(url.as_str(), "deployer1", "deployer1-pass", REDIRECT)
        .await
        .unwrap();
    assert_eq!(
        query(&back, "error").as_deref(),
        Some("invalid_request"),
        "{back}"
    );
    assert!(query(&back, "code").is_none(), "{back}");

    // `plain` is not accepted either.
    let mut url = url::Url::parse(&authorize_url(&idp, &req, &[])).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "code_challenge_method" {
                "plain".into()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    let back = login_via_forms(url.as_str(), "deployer1", "deployer1-pass", REDIRECT)
        .await
        .unwrap();
    assert_eq!(
        query(&back, "error").as_deref(),
        Some("invalid_request"),
        "{back}"
    );
    assert!(query(&back, "code").is_none(), "{back}");
}

#[tokio::test]
async fn unregistered_redirect_uri_is_refused_without_redirecting() {
    let idp = TestIdp::start(&[REDIRECT]).await.unwrap();
    let req = new_request();
    let url = authorize_url(&idp, &req, &[]).replace("127.0.0.1%3A9", "evil.example");
    let err = login_via_forms(&url, "deployer1", "deployer1-pass", "http://evil.example")
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("redirect_uri"), "{err:#}");
}

#[tokio::test]
async fn full_code_flow_for_deployer1() {
    let idp = TestIdp::start(&[REDIRECT]).await.unwrap();
    let req = new_request();
    let code = code_for(&idp, &req, "deployer1").await.unwrap();

    let (status, body) = exchange(&idp, &code, &req.pkce.verifier, &idp.client_secret()).await;
    assert_eq!(status, 200, "{body}\n{}", idp.logs());
    assert_eq!(body["token_type"], "Bearer");
    let id_token = body["id_token"].as_str().expect("id_token");

    let header = jwt_part(id_token, 0);
    assert_eq!(header["alg"], "RS256");
    let jwks: Value = reqwest::get(format!("{}/jwks", idp.issuer))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"][0]["kid"], header["kid"]);

    let claims = jwt_part(id_token, 1);
    assert_eq!(claims["iss"], idp.issuer.as_str(), "{claims}");
    assert_eq!(claims["aud"], idp.client_id.as_str(), "{claims}");
    assert_eq!(claims["nonce"], req.nonce.as_str(), "{claims}");
    assert_eq!(claims["sub"], "sub-deployer1", "{claims}");
    assert_eq!(claims["preferred_username"], "deployer1", "{claims}");
    assert_eq!(
        claims["groups"],
        serde_json::json!(["deployers"]),
        "{claims}"
    );
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert_eq!(exp - iat, 3600, "{claims}");
}

#[tokio::test]
async fn client_secret_post_also_works() {
    let idp = TestIdp::start(&[REDIRECT]).await.unwrap();
    let req = new_request();
    let code = code_for(&idp, &req, "admin1").await.unwrap();
    let res = reqwest::Client::new()
        .post(format!("{}/token", idp.issuer))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &req.pkce.verifier),
            ("client_id", &idp.client_id),
            ("client_secret", &idp.client_secret()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let claims = jwt_part(body["id_token"].as_str().unwrap(), 1);
    assert_eq!(claims["preferred_username"], "admin1");
    assert_eq!(claims["groups"], serde_json::json!(["admins"]));
}

#[tokio::test]
async fn wrong_password_issues_no_code() {
    let idp = TestIdp::start(&[REDIRECT]).await.unwrap();
    let req = new_request();
    let url = authorize_url(&idp, &req, &[]);
    let err = login_via_forms(&url, "deployer1", "deployer2-pass", REDIRECT)
        .await
        .unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("Invalid username or password"), "{msg}");
    assert!(msg.contains("401"), "{msg}");
    let err = login_via_forms(&url, "nobody", "nobody-pass", REDIRECT)
        .await
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("Invalid username or password"),
        "{err:#}"
    );
    let err = login_via_forms(&url, "deployer1", "", REDIRECT)
        .await
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("Invalid username or password"),
        "{err:#}"
    );
}

#[tokio::test]
async fn outsider_has_empty_groups() {
    let idp = TestIdp::start(&[REDIRECT]).await.unwrap();
    let req = new_request();
    let code = code_for(&idp, &req, "outsider").await.unwrap();
    let (status, body) = exchange(&idp, &code, &req.pkce.verifier, &idp.client_secret()).await;
    assert_eq!(status, 200, "{body}");
    let claims = jwt_part(body["id_token"].as_str().unwrap(), 1);
    assert_eq!(claims["sub"], "sub-outsider");
    assert_eq!(claims["preferred_username"], "outsider");
    assert_eq!(claims["groups"], serde_json::json!([]), "{claims}");
}

#[tokio::test]
async fn code_is_single_use() {
    let idp = TestIdp::start(&[REDIRECT]).await.unwrap();
    let req = new_request();
    let code = code_for(&idp, &req, "deployer2").await.unwrap();
    let (status, body) = exchange(&idp, &code, &req.pkce.verifier, &idp.client_secret()).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = exchange(&idp, &code, &req.pkce.verifier, &idp.client_secret()).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant", "{body}");
}

#[tokio::test]
async fn wrong_verifier_or_secret_is_refused() {
    let idp = TestIdp::start(&[REDIRECT]).await.unwrap();

    let req = new_request();
    let code = code_for(&idp, &req, "deployer1").await.unwrap();
    let other = pkce();
    let (status, body) = exchange(&idp, &code, &other.verifier, &idp.client_secret()).await;
    assert_eq!(
        (status.as_u16(), &body["error"]),
        (400, &Value::from("invalid_grant")),
        "{body}"
    );

    let req = new_request();
    let code = code_for(&idp, &req, "deployer1").await.unwrap();
    let (status, body) = exchange(&idp, &code, &req.pkce.verifier, "not-the-secret-at-all").await;
    assert_eq!(
        (status.as_u16(), &body["error"]),
        (401, &Value::from("invalid_client")),
        "{body}"
    );
}

#[tokio::test]
async fn test_knobs_extra_audience_and_ttl() {
    let opts = IdpOptions {
        extra_audiences: vec!["someone-else".into()],
        id_token_ttl: Some(5),
        ..Default::default()
    };
    let idp = TestIdp::start_with(&[REDIRECT], opts).await.unwrap();
    let req = new_request();
    let code = code_for(&idp, &req, "deployer1").await.unwrap();
    let (status, body) = exchange(&idp, &code, &req.pkce.verifier, &idp.client_secret()).await;
    assert_eq!(status, 200, "{body}\n{}", idp.logs());
    let id_token = body["id_token"].as_str().unwrap();
    let claims = jwt_part(id_token, 1);
    assert_eq!(
        claims["aud"],
        serde_json::json!([idp.client_id, "someone-else"]),
        "{claims}"
    );
    assert_eq!(claims["azp"], idp.client_id.as_str());
    assert_eq!(claims["groups"], serde_json::json!(["deployers"]));
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        5
    );
    assert_eq!(jwt_part(id_token, 0)["alg"], "RS256");
}

#[tokio::test]
async fn users_override() {
    let opts = IdpOptions {
        users: Some(serde_json::json!([
            {"login": "carol", "password": "carol-pass", "groups": ["deployers", "admins"], "sub": "u-42"}
        ])),
        ..Default::default()
    };
    let idp = TestIdp::start_with(&[REDIRECT], opts).await.unwrap();
    let req = new_request();
    let url = authorize_url(&idp, &req, &[]);
    assert!(
        login_via_forms(&url, "deployer1", "deployer1-pass", REDIRECT)
            .await
            .is_err()
    );
    let code = code_for(&idp, &req, "carol").await.unwrap();
    let (status, body) = exchange(&idp, &code, &req.pkce.verifier, &idp.client_secret()).await;
    assert_eq!(status, 200, "{body}");
    let claims = jwt_part(body["id_token"].as_str().unwrap(), 1);
    assert_eq!(claims["sub"], "u-42");
    assert_eq!(claims["groups"], serde_json::json!(["deployers", "admins"]));
}

#[tokio::test]
async fn provider_stops_when_dropped() {
    let idp = TestIdp::start(&[REDIRECT]).await.unwrap();
    let issuer = idp.issuer.clone();
    drop(idp);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let mut gone = false;
    for _ in 0..50 {
        if client.get(format!("{issuer}/jwks")).send().await.is_err() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "provider still answering after drop");
}
