//! The OpenID Connect authorization-code flow, as the relying party. Trust: the
//! code comes from spiderpig-web (untrusted), every answer from the IDP is
//! untrusted until checked here. `state`, `nonce` and the PKCE verifier are
//! generated here and never leave this process except inside the authorization
//! URL (state, nonce, the S256 challenge) and the token request (verifier).
//!
//! openidconnect checks the signature (keys from the issuer's JWKS only, asymmetric
//! algorithms only), exact `iss`, `aud` (no untrusted extra audience), `exp`, `iat`
//! (hooked to our clock) and `nonce`; [`checks`] adds the header rules (`alg`,
//! no `jku`/`jwk`/`x5u`/`x5c`/`crit`), `azp`, `sub`, the user name and the groups.

mod checks;
mod secret;
mod transport;

use std::fmt;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreIdTokenClaims, CoreIdTokenVerifier,
    CoreJsonWebKeySet, CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, HttpRequest, IssuerUrl, JsonWebKeySetUrl, Nonce,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, SignatureVerificationError,
    TokenResponse,
};
use spiderpig_policy::Username;

pub use secret::ClientSecret;

use super::token::random_urlsafe;
use crate::config::OidcConfig;
use crate::error::{ExecutorError, Result};

/// Bytes of randomness in `state`, `nonce` and the PKCE verifier (256 bits each).
const RANDOM_BYTES: usize = 32;
/// Longest authorization code passed on to the IDP.
const MAX_CODE_BYTES: usize = 2048;
/// At most one JWKS re-fetch (for an unknown `kid`) per this period.
const JWKS_REFRESH_INTERVAL_MS: i64 = 60_000;

/// What [`OidcClient::begin`] generated for one login; sealed by [`super::SealedLogins`].
pub struct PendingLogin {
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
    pub created_ms: i64,
}

impl fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingLogin")
            .field("state", &"..")
            .field("nonce", &"..")
            .field("pkce_verifier", &"..")
            .field("created_ms", &self.created_ms)
            .finish()
    }
}

/// A person as the IDP vouches for them. The identity is (`issuer`, `subject`);
/// `username` and `groups` come from the configured claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub issuer: String,
    pub subject: String,
    pub username: Username,
    pub groups: Vec<String>,
}

type Client = CoreClient<
    EndpointSet,      // authorization
    EndpointNotSet,   // device authorization
    EndpointNotSet,   // introspection
    EndpointNotSet,   // revocation
    EndpointSet,      // token
    EndpointMaybeSet, // userinfo
>;

/// The relying party: discovery metadata, the issuer's keys and our client.
pub struct OidcClient {
    client: Client,
    issuer: IssuerUrl,
    client_id: String,
    jwks_uri: JsonWebKeySetUrl,
    jwks: Mutex<CoreJsonWebKeySet>,
    last_jwks_refresh_ms: Mutex<Option<i64>>,
    scopes: Vec<String>,
    username_claim: String,
    groups_claim: String,
    clock_skew_secs: u32,
    http: reqwest::Client,
}

impl fmt::Debug for OidcClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcClient")
            .field("issuer", &self.issuer.as_str())
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

fn bad_config(key: &str, reason: impl Into<String>) -> ExecutorError {
    ExecutorError::BadConfig {
        key: key.into(),
        reason: reason.into(),
    }
}

fn login_failed(reason: impl Into<String>) -> ExecutorError {
    ExecutorError::LoginFailed(reason.into())
}

/// https, or http to a loopback address (tests and the demo).
fn check_endpoint(what: &str, url: &url::Url) -> Result<()> {
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    };
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(bad_config(
            "oidc.issuer",
            format!("the IDP's {what} `{url}` is not https"),
        )),
    }
}

impl OidcClient {
    /// Fetch the discovery document and the JWKS. Refuses (naming `oidc.issuer`)
    /// when the document's `issuer` is not byte for byte the configured one (a
    /// trailing slash counts), or an endpoint is missing or not https. A network
    /// failure is `Internal` (worth retrying), a wrong answer `BadConfig`.
    pub async fn discover(config: &OidcConfig, client_secret: ClientSecret) -> Result<OidcClient> {
        let http = transport::build_client().map_err(|e| ExecutorError::Internal(e.0))?;
        let issuer = IssuerUrl::new(config.issuer.clone())
            .map_err(|e| bad_config("oidc.issuer", format!("not a URL: {e}")))?;
        let fetch = |req: HttpRequest| transport::send(http.clone(), req);
        let metadata = CoreProviderMetadata::discover_async(issuer.clone(), &fetch)
            .await
            .map_err(|e| match e {
                openidconnect::DiscoveryError::Request(e) => {
                    ExecutorError::Internal(format!("OIDC discovery for {}: {e}", config.issuer))
                }
                other => bad_config(
                    "oidc.issuer",
                    format!("OIDC discovery failed: {}", transport::error_chain(&other)),
                ),
            })?;
        Self::from_metadata(config, client_secret, metadata, http)
    }

    /// Build the client from discovery metadata (with its JWKS), checking it.
    fn from_metadata(
        config: &OidcConfig,
        client_secret: ClientSecret,
        metadata: CoreProviderMetadata,
        http: reqwest::Client,
    ) -> Result<OidcClient> {
        // openidconnect compares the same strings; this says so where it matters.
        if metadata.issuer().as_str() != config.issuer {
            return Err(bad_config(
                "oidc.issuer",
                format!("the IDP calls itself `{}`", metadata.issuer().as_str()),
            ));
        }
        let token_url = metadata
            .token_endpoint()
            .cloned()
            .ok_or_else(|| bad_config("oidc.issuer", "the IDP announces no token endpoint"))?;
        check_endpoint(
            "authorization endpoint",
            metadata.authorization_endpoint().url(),
        )?;
        check_endpoint("token endpoint", token_url.url())?;
        check_endpoint("JWKS URI", metadata.jwks_uri().url())?;
        let redirect = RedirectUrl::new(config.redirect_url.clone())
            .map_err(|e| bad_config("oidc.redirect_url", format!("not a URL: {e}")))?;

        let issuer = metadata.issuer().clone();
        let jwks_uri = metadata.jwks_uri().clone();
        let jwks = metadata.jwks().clone();
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(config.client_id.clone()),
            Some(openidconnect::ClientSecret::new(
                client_secret.expose().to_owned(),
            )),
        )
        .set_token_uri(token_url)
        .set_redirect_uri(redirect);
        Ok(OidcClient {
            client,
            issuer,
            client_id: config.client_id.clone(),
            jwks_uri,
            jwks: Mutex::new(jwks),
            last_jwks_refresh_ms: Mutex::new(None),
            scopes: config.scopes.clone(),
            username_claim: config.username_claim.clone(),
            groups_claim: config.groups_claim.clone(),
            clock_skew_secs: config.clock_skew_secs,
            http,
        })
    }

    /// The configured (and announced) issuer.
    pub fn issuer(&self) -> &str {
        self.issuer.as_str()
    }

    /// Start a login: the authorization URL (response_type=code, scope `openid`
    /// plus the configured scopes, state, nonce, PKCE S256) and what to keep.
    pub fn begin(&self, now_ms: i64) -> (String, PendingLogin) {
        let state = random_urlsafe(RANDOM_BYTES);
        let nonce = random_urlsafe(RANDOM_BYTES);
        let verifier = PkceCodeVerifier::new(random_urlsafe(RANDOM_BYTES));
        let challenge = PkceCodeChallenge::from_code_verifier_sha256(&verifier);
        let (state_for_url, nonce_for_url) = (state.clone(), nonce.clone());
        let mut request = self
            .client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state_for_url),
                move || Nonce::new(nonce_for_url),
            )
            .set_pkce_challenge(challenge);
        for scope in self.scopes.iter().filter(|s| s.as_str() != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, _, _) = request.url();
        let pending = PendingLogin {
            state,
            nonce,
            pkce_verifier: verifier.secret().clone(),
            created_ms: now_ms,
        };
        (url.into(), pending)
    }

    /// Exchange `code` (client_secret_basic, with the PKCE verifier) and check
    /// the ID token. Any failure is `LoginFailed(detail)`: the detail is for the
    /// log only. The pending login is consumed whatever happens.
    pub async fn complete(
        &self,
        pending: PendingLogin,
        code: &str,
        now_ms: i64,
    ) -> Result<Identity> {
        let code_ok = code.bytes().all(|b| b.is_ascii_graphic());
        if code.is_empty() || code.len() > MAX_CODE_BYTES || !code_ok {
            return Err(login_failed("the authorization code is malformed"));
        }
        let fetch = |req: HttpRequest| transport::send(self.http.clone(), req);
        let response = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier))
            .request_async(&fetch)
            .await
            .map_err(|e| login_failed(format!("token exchange: {}", transport::error_chain(&e))))?;
        let id_token = response
            .id_token()
            .ok_or_else(|| login_failed("the token response has no ID token"))?;
        let raw = id_token.to_string();
        checks::check_header(&raw).map_err(login_failed)?;
        let claims = self
            .verify(id_token, &Nonce::new(pending.nonce), now_ms)
            .await?;

        let payload = checks::payload(&raw).map_err(login_failed)?;
        checks::check_azp(&payload, &self.client_id).map_err(login_failed)?;
        let subject = claims.subject().as_str();
        checks::check_subject(subject).map_err(login_failed)?;
        let username = checks::username(&payload, &self.username_claim).map_err(login_failed)?;
        let groups = checks::groups(&payload, &self.groups_claim).map_err(login_failed)?;
        Ok(Identity {
            issuer: claims.issuer().as_str().to_owned(),
            subject: subject.to_owned(),
            username,
            groups,
        })
    }

    /// Verify with the keys we have; on an unknown key id, re-fetch the JWKS
    /// (at most once a minute) and try once more.
    async fn verify(
        &self,
        token: &CoreIdToken,
        nonce: &Nonce,
        now_ms: i64,
    ) -> Result<CoreIdTokenClaims> {
        match self.verify_with_current_keys(token, nonce, now_ms) {
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) if self.may_refresh(now_ms) => {
                tracing::info!(issuer = %self.issuer.as_str(), "ID token names an unknown key: re-fetching the JWKS");
                self.refresh_keys().await?;
                self.verify_with_current_keys(token, nonce, now_ms)
            }
            other => other,
        }
        .map_err(|e| login_failed(format!("ID token refused: {}", transport::error_chain(&e))))
    }

    fn verify_with_current_keys(
        &self,
        token: &CoreIdToken,
        nonce: &Nonce,
        now_ms: i64,
    ) -> std::result::Result<CoreIdTokenClaims, ClaimsVerificationError> {
        let keys = self.jwks.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let now: DateTime<Utc> = DateTime::from_timestamp_millis(now_ms).unwrap_or_default();
        let skew = self.clock_skew_secs;
        // A public-client verifier holds no client secret, so even a misconfigured
        // algorithm list could not turn the secret into a signing key.
        let verifier = CoreIdTokenVerifier::new_public_client(
            ClientId::new(self.client_id.clone()),
            self.issuer.clone(),
            keys,
        )
        .set_allowed_algs(checks::ALLOWED_ALGS.iter().map(|(_, alg)| alg.clone()))
        .set_time_fn(move || now)
        .set_issue_time_verifier_fn(move |iat| {
            checks::check_issued_at(iat.timestamp(), now_ms, skew)
        })
        // Extra audiences are untrusted: this is openidconnect's default, spelled out.
        .set_other_audience_verifier_fn(|_| false);
        token.claims(&verifier, nonce).cloned()
    }

    fn may_refresh(&self, now_ms: i64) -> bool {
        let mut last = self
            .last_jwks_refresh_ms
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let allowed = last.is_none_or(|t| now_ms.saturating_sub(t) >= JWKS_REFRESH_INTERVAL_MS);
        if allowed {
            *last = Some(now_ms);
        }
        allowed
    }

    /// Re-fetch the issuer's JWKS (key rotation). Keeps the old keys on failure.
    pub async fn refresh_keys(&self) -> Result<()> {
        let fetch = |req: HttpRequest| transport::send(self.http.clone(), req);
        let keys = CoreJsonWebKeySet::fetch_async(&self.jwks_uri, &fetch)
            .await
            .map_err(|e| login_failed(format!("JWKS re-fetch: {}", transport::error_chain(&e))))?;
        *self.jwks.lock().unwrap_or_else(|e| e.into_inner()) = keys;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
